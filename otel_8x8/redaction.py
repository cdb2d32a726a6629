"""Keep phone numbers and secrets out of everything the instrumentation records.

The rule is deliberately blunt: any run of 7 or more digits (optionally starting with ``+``,
separated by at most three spaces, dashes, dots or parentheses, as in ``+65 - 9123 - 4567``) is a
phone number. That over-redacts some dates and ids in free text, which is the safe side to err on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from .hosts import authority_end

if TYPE_CHECKING:
    from .templates import PathInfo

REDACTED = "REDACTED"

_SECRET_QUERY_KEYS = frozenset(
    {
        "apikey",
        "api_key",
        "api-key",
        "key",
        "token",
        "access_token",
        "access-token",
        "api_token",
        "apitoken",
        "auth",
        "auth_token",
        "authorization",
        "client_secret",
        "secret",
        "signature",
        "sig",
        "password",
        "passwd",
        "pwd",
    }
)
# Free text (error and exception messages, which carry URLs) is redacted in two passes. First the secrets:
# a URL's user:password@ is dropped, the value of a secret key=value (a query parameter quoted in a message)
# and a Bearer token are replaced. Then, outside UUIDs (umid, errorId, batchId: kept whole, otherwise their
# digit groups joined by dashes would look like phone numbers, and a phone number could run on into one),
# any 7+ digit run is a phone number. Every repetition is bounded or cannot backtrack into its neighbour:
# the time is linear in the text's length.
_SECRETS_RE = re.compile(
    r"(?P<scheme>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://)(?P<userinfo>[^/\s@?#'\"<>]+@)"
    r"|(?P<key>(?<![A-Za-z0-9_\-])(?:"
    + "|".join(sorted((re.escape(key) for key in _SECRET_QUERY_KEYS), key=len, reverse=True))
    + r")=)(?P<value>[^&\s'\"<>;,)]+)"
    r"|(?P<bearer>\bBearer\s+)[A-Za-z0-9\-._~+/]+=*",
    re.IGNORECASE,
)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_SPLIT_RE = re.compile(rf"\b({_UUID})\b")
_PHONE_RE = re.compile(r"\+?(?:\d[\s\-().]{0,3}){6,}\d")
MAX_TEXT = 512
"""Recorded free text (error messages) is cut to this many characters."""


def _replace_secret(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "userinfo":
        return match.group("scheme")
    if kind == "value":
        return match.group("key") + REDACTED
    return match.group("bearer") + REDACTED


_NO_ASCII_DIGITS = str.maketrans("", "", "0123456789")


def _may_hold_secret(text: str) -> bool:
    """False when ``_SECRETS_RE`` cannot match: each of its branches needs ``://``, ``=`` or ``bearer``."""
    return "=" in text or "://" in text or "bearer" in text.lower()


def _may_hold_phone(text: str) -> bool:
    """False when ``_PHONE_RE`` cannot match: it needs 7 digits (any Unicode digit: only ASCII text is counted)."""
    return not text.isascii() or len(text) - len(text.translate(_NO_ASCII_DIGITS)) >= 7


def _redact(text: str) -> str:
    """``_redact_all``, skipping the passes that cannot match: the regular expressions are the costly part of an
    error call's own work, and most messages hold no secret and many no number."""
    if _may_hold_secret(text):
        text = _SECRETS_RE.sub(_replace_secret, text)
    return _redact_phones(text) if _may_hold_phone(text) else text


def _redact_all(text: str) -> str:
    return _redact_phones(_SECRETS_RE.sub(_replace_secret, text))


def _redact_phones(text: str) -> str:
    parts = _UUID_SPLIT_RE.split(text) if "-" in text else [text]  # odd indices: the UUIDs
    return "".join(part if index % 2 else _PHONE_RE.sub(REDACTED, part) for index, part in enumerate(parts))


def redact_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` without phone-number-like digit runs, secret ``key=value`` values, Bearer tokens and URL
    credentials, cut to ``limit`` characters."""
    if len(text) > 4 * limit:  # what is cut anyway is not scanned; no digits left dangling at the cut
        text = text[: 4 * limit].rstrip("0123456789+-(). \t\n")
    text = _redact(text)
    return text if len(text) <= limit else text[:limit] + "…"


_UUID_RE = re.compile(_UUID)


def redact_id(value: str) -> str:
    """An id 8x8 answered with (errorId, umid, batchId): a UUID as it is, anything else through redact_text."""
    return value if _UUID_RE.fullmatch(value) else redact_text(value)


def redact_url(url: str, path_info: PathInfo | None = None) -> str:
    """``url`` without credentials, secret query values or phone numbers.

    Segments that the template knows to be phone numbers are replaced whole; every other
    part goes through the digit-run rule (after percent-decoding, so ``%2B65...`` is caught).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _redact_component(url)
    end = authority_end(rest)
    authority, remainder = rest[:end], rest[end:]
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    remainder = remainder.partition("#")[0]
    path, qsep, query = remainder.partition("?")
    segments = path.split("/")
    if path_info is not None:
        for index in path_info.phone_segments:
            if index < len(segments):
                segments[index] = REDACTED
    path = "/".join(_redact_component(segment) for segment in segments)
    if qsep:
        query = "&".join(_redact_query_pair(pair) for pair in query.split("&"))
        return f"{scheme}://{authority}{path}?{query}"
    return f"{scheme}://{authority}{path}"


def _redact_component(component: str) -> str:
    """One URL component (path segment, query key or value), unchanged unless it holds a phone number."""
    decoded = unquote(component.replace("+", " ")) if "%" in component or "+" in component else component
    redacted = _redact(decoded)
    if redacted == decoded:
        return component
    return quote(redacted, safe="@:!$'()*,;-._~")


def _redact_query_pair(pair: str) -> str:
    key, eq, value = pair.partition("=")
    if eq and unquote(key).lower() in _SECRET_QUERY_KEYS:
        return f"{key}={REDACTED}"
    return f"{_redact_component(key)}{eq}{_redact_component(value)}" if eq else _redact_component(pair)
