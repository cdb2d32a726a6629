"""Parse what 8x8 answers, defensively: error envelopes and the few success shapes worth reading.

The body is whatever the server (or a gateway in front of it) sent: HTML, nothing, truncated
or wrongly typed JSON. Parsing never raises; fields that are missing or of the wrong type are
``None``, and the caller then categorises from the HTTP status.

Shapes understood:

- the error envelope ``{"code", "message", "errorId", "timestamp"}`` (SMS, Chat Apps, Verification,
  Number Lookup, Contacts), including the rate limiter's ``{"code": 429, "message"}``;
- Number Masking errors ``{"errorId", "statusCode": "-2003", "statusMessage", "timestamp"}``;
- Voice callflow answers ``{"sessionStatus": "CREATED"|"NOT_CREATED", "callFlowRequestId", "statusCode",
  "statusMessage"}``;
- a Number Lookup failure inside HTTP 200: ``{"status": {"state": "error", "errorCode", "errorMessage"}}``;
- a single send ``{"umid", ...}`` and a batch ``{"batchId", "acceptedCount", "rejectedCount", "messages"}``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .texts import exportable

MAX_ENVELOPE_BYTES = 64 * 1024
"""Bodies longer than this are not parsed: no 8x8 error envelope is anywhere near that size."""

MAX_BATCH_BYTES = 4 * 1024 * 1024
"""Batch answers list every message; they are parsed up to this size."""

_MAX_ID_LENGTH = 128
_MAX_REASONS = 32
_INT64 = 2**63
_NUMERIC = re.compile(r"-?[0-9]{1,18}")
_DECODER = json.JSONDecoder()
_JSON_WHITESPACE = " \t\n\r"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-32's begin with UTF-16's


@dataclass(frozen=True)
class Envelope:
    """The fields of an error answer that were present and well typed."""

    code: int | None = None
    message: str | None = None
    error_id: str | None = None
    session_status: str | None = None  # Voice callflows only
    failure: str | None = None  # a failure 8x8 reported inside HTTP 2xx: its error.type (NOT_CREATED, LOOKUP_ERROR)

    @property
    def voice_failure(self) -> bool:
        """A Voice callflow that was not created (8x8 may say so with HTTP 200)."""
        if self.session_status is None:
            return False
        return self.session_status == "NOT_CREATED" or (self.code is not None and self.code < 0)


EMPTY = Envelope()


@dataclass(frozen=True)
class Batch:
    """What a batch send answered: counts and the distinct rejection reasons."""

    batch_id: str | None = None
    accepted: int | None = None
    rejected: int | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    codes: dict[str, int] = field(default_factory=dict)  # reason -> the errorCode given with it (Chat Apps)


def parse_object(body: bytes | None, limit: int = MAX_ENVELOPE_BYTES) -> Mapping[str, Any] | None:
    """The JSON object in ``body``, or None when it is absent, too big or not a JSON object."""
    if not body or len(body) > limit:
        return None
    if body.startswith(_BOMS) or body[:1] == b"\x00":  # a byte order mark, or UTF-16/32-BE: json.loads tells which
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        if stripped[1:2] == b"\x00":  # UTF-16-LE or UTF-32-LE without a BOM: json.loads tells which
            data = json.loads(stripped)
        else:  # what json.loads does with UTF-8, without its encoding detection and whitespace regexes
            text = stripped.decode("utf-8", "surrogatepass")
            data, end = _DECODER.raw_decode(text)
            if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
                return None  # "Extra data"
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def envelope_of(data: Mapping[str, Any] | None) -> Envelope:
    """The error fields of a parsed answer (``EMPTY`` for None)."""
    if data is None:
        return EMPTY
    code = _as_code(data.get("code"), numeric_text=True)  # what the app's r.json() reads: "1200" too
    message = _as_text(data.get("message"))
    if code is None:  # Number Masking and Voice say statusCode / statusMessage
        code = _as_code(data.get("statusCode"), numeric_text=True)
        message = message or _as_text(data.get("statusMessage"))
    session_status = data.get("sessionStatus")
    session_status = session_status if isinstance(session_status, str) else None
    envelope = Envelope(
        code=code,
        message=message,
        error_id=_as_id(data.get("errorId")) or _as_id(data.get("callFlowRequestId")),  # the id Voice support asks for
        session_status=session_status,
    )
    return replace(envelope, failure="NOT_CREATED") if envelope.voice_failure else envelope


def lookup_failure(data: Mapping[str, Any] | None) -> Envelope:
    """A Number Lookup answer (HTTP 200) whose ``status.state`` is ``error``: its ``errorCode`` and message."""
    status = data.get("status") if data is not None else None
    if not isinstance(status, dict):
        return EMPTY
    state = status.get("state")
    if not isinstance(state, str) or state.lower() != "error":
        return EMPTY
    return Envelope(
        code=_as_code(status.get("errorCode"), numeric_text=True),
        message=_as_text(status.get("errorMessage")),
        error_id=_as_id(data.get("requestId")) if data is not None else None,
        failure="LOOKUP_ERROR",
    )


def parse_envelope(body: bytes | None) -> Envelope:
    """The envelope in ``body``, or ``EMPTY`` when the body is not a usable JSON object."""
    return envelope_of(parse_object(body))


def umid_of(data: Mapping[str, Any] | None) -> str | None:
    """The ``umid`` of a single send's answer."""
    return _as_id(data.get("umid")) if data is not None else None


def read_batch(body: bytes) -> Batch | None:
    """A batch send's answer: its counts found without parsing the whole body; the whole body (up to
    ``MAX_BATCH_BYTES``) parsed only when messages were rejected, for their reasons.

    A batch answer lists every message (megabytes for a large batch) and the application parses it already:
    a second full parse cost as much as the application's own (27 ms for 3.5 MiB here), for counts that sit in
    three top-level keys. Most batches reject nothing.
    """
    accepted = _as_count(_key_value(body, b"acceptedCount"))
    rejected = _as_count(_key_value(body, b"rejectedCount"))
    if accepted is None and rejected is None:  # not a batch answer, or not UTF-8: what a full parse finds
        return batch_of(parse_object(body, limit=MAX_BATCH_BYTES))
    if rejected != 0:  # some were rejected (or it does not say): their reasons are in the messages
        return batch_of(parse_object(body, limit=MAX_BATCH_BYTES)) or Batch(None, accepted, rejected)
    return Batch(_as_id(_key_value(body, b"batchId")), accepted, rejected)


_WHITESPACE = b" \t\n\r"
_KEY_VALUE_BYTES = 256  # the longest value read by _key_value: a count or an id


def _key_value(body: bytes, key: bytes) -> object:
    """The value of the first member named ``key`` in a JSON text, found by its spelling: ``"key"`` preceded by
    ``{`` or ``,`` and followed by ``:`` can only be a member name (inside a string, a quote is escaped). Only
    scalars up to ``_KEY_VALUE_BYTES`` long are read; None when there is no such member."""
    needle = b'"' + key + b'"'
    start = 0
    while (found := body.find(needle, start)) >= 0:
        start = found + len(needle)
        before = found - 1
        while before >= 0 and body[before] in _WHITESPACE:
            before -= 1
        after = start
        while after < len(body) and body[after] in _WHITESPACE:
            after += 1
        if before < 0 or body[before] not in b"{," or body[after : after + 1] != b":":
            continue
        after += 1
        while after < len(body) and body[after] in _WHITESPACE:
            after += 1
        text = body[after : after + _KEY_VALUE_BYTES].decode("utf-8", "ignore")
        try:
            value, _ = _DECODER.raw_decode(text)
        except ValueError:
            return None
        return value
    return None


def batch_of(data: Mapping[str, Any] | None) -> Batch | None:
    """Counts and rejection reasons of a batch send's answer, or None if it is not one."""
    if data is None:
        return None
    accepted, rejected = _as_count(data.get("acceptedCount")), _as_count(data.get("rejectedCount"))
    if accepted is None and rejected is None:
        return None
    reasons: Counter[str] = Counter()
    codes: dict[str, int] = {}
    messages = data.get("messages")
    if isinstance(messages, list):
        for message in messages:
            rejection = _rejection(message)
            if rejection is None:
                continue
            reason, code = rejection
            if reason in reasons or len(reasons) < _MAX_REASONS:
                reasons[reason] += 1
                if code is not None:
                    codes[reason] = code
    return Batch(_as_id(data.get("batchId")), accepted, rejected, reasons, codes)


def _rejection(message: object) -> tuple[str, int | None] | None:
    """The reason and code of a rejected message: SMS says status.code REJECTED and a description, Chat Apps
    status.state "rejected", a numeric errorCode and an errorMessage."""
    if not isinstance(message, dict):
        return None
    status = message.get("status")
    if not isinstance(status, dict):
        return None
    state = status.get("code", status.get("state"))
    if not isinstance(state, str) or state.upper() != "REJECTED":
        return None
    code = _as_code(status.get("errorCode"), numeric_text=True)
    for key in ("description", "detail", "errorMessage"):
        text = _as_text(status.get(key))
        if text:
            return text, code
    return "REJECTED", code


def _as_code(value: object, numeric_text: bool = False) -> int | None:
    # bool is an int subclass: {"code": true} is not a code.
    if numeric_text and isinstance(value, str) and _NUMERIC.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    return None


def _as_count(value: object) -> int | None:
    code = _as_code(value)
    return code if code is not None and code >= 0 else None


def _as_text(value: object) -> str | None:
    return exportable(value) if isinstance(value, str) and value else None


def _as_id(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_ID_LENGTH:
        return exportable(value)
    return None
