"""Parse 8x8's error envelope ``{"code", "message", "errorId", "timestamp"}`` defensively.

The body is whatever the server (or a gateway in front of it) sent: HTML, nothing, truncated
or wrongly typed JSON. Parsing never raises; fields that are missing or of the wrong type are
``None``, and the caller then categorises from the HTTP status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_ENVELOPE_BYTES = 64 * 1024
"""Bodies longer than this are not parsed: no 8x8 error envelope is anywhere near that size."""

_MAX_ID_LENGTH = 128
_INT64 = 2**63


@dataclass(frozen=True)
class Envelope:
    """The fields of an error envelope that were present and well typed."""

    code: int | None = None
    message: str | None = None
    error_id: str | None = None


EMPTY = Envelope()


def parse_envelope(body: bytes | None) -> Envelope:
    """The envelope in ``body``, or ``EMPTY`` when the body is not a usable JSON object."""
    if not body or len(body) > MAX_ENVELOPE_BYTES:
        return EMPTY
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return EMPTY
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return EMPTY
    if not isinstance(data, dict):
        return EMPTY
    return Envelope(
        code=_as_code(data.get("code")),
        message=_as_text(data.get("message")),
        error_id=_as_id(data.get("errorId")),
    )


def _as_code(value: object) -> int | None:
    # bool is an int subclass: {"code": true} is not a code.
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value
    return None


def _as_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_id(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_ID_LENGTH:
        return value
    return None
