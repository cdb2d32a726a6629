"""Read what 8x8 answered a call: an error (HTTP >= 400, or a failure 8x8 reports inside a 2xx answer), or
what a success tells (a message's umid, a batch's counts and rejections).

Which shape an answer has is the product's knowledge (``products/``: each operation's ``answers``, each
product's ``codes``); the shapes themselves are parsed in ``envelope.py``. Nothing here writes telemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .call import Call
from .catalog import Category
from .envelope import (
    Batch,
    Envelope,
    envelope_of,
    lookup_failure,
    parse_envelope,
    parse_object,
    read_batch,
    umid_of,
)
from .products import categorize
from .redaction import redact_id, redact_text

HeaderGetter = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Sent:
    """A message 8x8 accepted: its umid (redacted), to match its delivery receipt."""

    umid: str


@dataclass(frozen=True)
class ErrorInfo:
    """What an error response says, ready to record."""

    status: int
    category: Category
    envelope: Envelope
    message: str | None  # redacted
    retry_after: float | None
    error_id: str | None = None  # redacted (a UUID passes whole; an echoed phone number would not)

    @property
    def error_type(self) -> str:
        # The HTTP status, as the semantic conventions say; a failure 8x8 reports inside a 2xx answer
        # has no error status, so its type is what the answer says (NOT_CREATED, LOOKUP_ERROR).
        return str(self.status) if self.status >= 400 else self.envelope.failure or "NOT_CREATED"


# The shapes of a 2xx answer that can report a failure: Voice callflows and Number Lookup.
_FAILURE_READERS: dict[str, Callable[[Mapping[str, Any] | None], Envelope]] = {
    "callflow": envelope_of,
    "lookup": lookup_failure,
}


def read_answer(call: Call, status: int, body: bytes | None, header: HeaderGetter) -> ErrorInfo | Sent | Batch | None:
    """What the answer tells: the error (HTTP >= 400, or a failure inside a 2xx answer), or on success what the
    call's operation answers with (``Call.kind``). ``body`` is what the application has read, or None: a 2xx
    body the application has not read is not looked at."""
    if status >= 400:
        return read_error(status, body, header, call.product)
    if call.kind is None or body is None:
        return None
    failure_reader = _FAILURE_READERS.get(call.kind)
    if failure_reader is not None:
        envelope = failure_reader(parse_object(body))
        return None if envelope.failure is None else _error_info(status, envelope, header, call.product)
    if call.kind == "send":
        umid = umid_of(parse_object(body))
        return Sent(redact_id(umid)) if umid is not None else None
    return read_batch(body)


def read_error(status: int, body: bytes | None, header: HeaderGetter, product: str | None = None) -> ErrorInfo:
    """Parse an error response (HTTP >= 400) of ``product``. ``body`` is None when the application has not read it."""
    return _error_info(status, parse_envelope(body), header, product)


def _error_info(status: int, envelope: Envelope, header: HeaderGetter, product: str | None) -> ErrorInfo:
    category = categorize(envelope.code, status, product)
    message = redact_text(envelope.message) if envelope.message else None
    error_id = redact_id(envelope.error_id) if envelope.error_id is not None else None
    return ErrorInfo(status, category, envelope, message, _retry_after(header("retry-after")), error_id)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 1e9 else None
