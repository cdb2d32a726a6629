"""Keep phone numbers and secrets out of everything the instrumentation records.

The rule is deliberately blunt: any run of 7 or more digits (optionally starting with ``+``) is a phone
number, whatever separates its digit groups: spaces (any number, NBSP and the other Unicode spaces
included), dashes (ASCII and the Unicode hyphens, dashes and minus sign), dots, ``·``, parentheses, ``/``,
``_``, ``,``, ``+``, zero-width characters, control characters, and the percent-encoded forms of these
(``%20``, ``%2B``, ``%2D``, ... also double-encoded, ``%2520``), so that ``+65 9123 4567`` is caught as
``%2B65+9123+4567`` and ``+65%209123%204567`` in a URL quoted by an exception message. That
over-redacts dates, IPv4 addresses and lists of small numbers in free text, which is the safe side to
err on.

Free text is then made safe for a log line: control characters cannot start a second line or drive a
terminal (see ``_escape_controls``).
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
        "x-api-key",
        "x_api_key",
        "key",
        "token",
        "access_token",
        "access-token",
        "access_key",
        "access-key",
        "accesskey",
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


def _name_pattern(key: str) -> str:
    """A secret key's name as free text spells it: ``api_key``, ``api-key``, ``api key``, ``apiKey``."""
    return "[-_ ]?".join(re.escape(word) for word in re.split(r"[-_]", key))


_NAMES = "|".join(sorted({_name_pattern(key) for key in _SECRET_QUERY_KEYS}, key=len, reverse=True))
_NOT_AFTER_NAME_CHAR = r"(?<![A-Za-z0-9_\-])"
_QUOTE = r"(?:\\?[\"'])"  # a quote, maybe escaped as a JSON string inside a repr has it
_VALUE = r"[^\s'\"\\<>;,&)}\]]+"
# Free text (error and exception messages, which carry URLs) is redacted in two passes. First the secrets:
#  * a URL's user:password@ is dropped;
#  * ``Authorization: [scheme] <credentials>`` keeps its scheme (Basic, Bearer, ...) and loses its credentials;
#  * the value of a secret name followed by ``=`` or ``:`` (a query parameter quoted in a message, a header,
#    a JSON member ``"apiKey": "..."``, ``token: ...``); a quoted value is replaced whole (up to 128 characters);
#  * the word after ``API key`` / ``access key`` / ``API token`` (``Invalid API key <key>``), unless it is a
#    plain lowercase word of up to 15 letters (``API key is missing``, ``API key provided``);
#  * a Bearer token anywhere.
# Then, outside UUIDs (umid, errorId, batchId: kept whole, otherwise their digit groups joined by dashes
# would look like phone numbers, and a phone number could run on into one), any 7+ digit run is a phone
# number. Every repetition is bounded or cannot backtrack into its neighbour: the time is linear in the
# text's length.
_SECRETS_RE = re.compile(
    r"(?P<scheme>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://)(?P<userinfo>[^/\s@?#'\"<>]+@)"
    rf"|(?P<auth>{_NOT_AFTER_NAME_CHAR}(?:proxy-)?authorization{_QUOTE}?\s*[:=]\s*{_QUOTE}?"
    rf"(?:(?:basic|bearer|digest|token|negotiate|ntlm|apikey|key|hmac)\s+)?){_VALUE}"
    rf"|(?P<name>{_NOT_AFTER_NAME_CHAR}(?:{_NAMES}){_QUOTE}?\s*[:=]\s*)"
    r"(?:(?P<quote>\\?[\"'])[^\"'\\\r\n]{1,128}(?P=quote)|(?P<open>\\?[\"']?)" + _VALUE + ")"
    rf"|(?P<phrase>{_NOT_AFTER_NAME_CHAR}(?:x[-_])?(?:api|access)[-_ ]?(?:key|token)\s+)"
    rf"(?![:=]|(?-i:[a-z]{{1,15}})[.,;:!?]?(?![A-Za-z0-9._~+/=\-]))(?P<phrase_open>{_QUOTE}?){_VALUE}"
    r"|(?P<bearer>\bBearer\s+)[A-Za-z0-9\-._~+/]+=*",
    re.IGNORECASE,
)
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_SEARCH_RE = re.compile(rf"\b{_UUID}\b")
# What may separate the digit groups of a phone number: whitespace (\s: NBSP and the Unicode spaces too),
# control characters, ASCII and Unicode dashes, hyphens and minus signs, dots and middle dots, parentheses,
# slash, underscore, comma, plus, zero-width characters, the soft hyphen, and the bidirectional marks and controls
# (a number copied from a right-to-left interface carries U+200E/U+200F); and these percent-encoded (maybe twice).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # marks, embeddings, overrides, isolates
_SEPARATOR_CHARS = (
    "\\s\\x00-\\x1f\\x7f-\\x9f"
    "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"
    ".\u00b7\u2022\u2027\u30fb\uff0e"
    "()/_,+\uff0c"
    "\u200b-\u200d\u2060\ufeff\u00ad" + _BIDI_CONTROLS
)
_PERCENT = "%(?:25)?"
_ENCODED_SEPARATOR_RE = re.compile(
    rf"{_PERCENT}(?:(?P<plus>2[Bb])|2[0C-Fc-f89]|5[Ff]|0[9AaDd]|[Cc]2{_PERCENT}(?:[Aa]0|[Bb]7|[Aa][Dd])"
    rf"|[Ee]2{_PERCENT}80{_PERCENT}(?:8[B-Fb-f]|9[0-5]|[Aa][A-Ea-e])|[Ee]2{_PERCENT}81{_PERCENT}[Aa][6-9]"
    rf"|[Ee]2{_PERCENT}88{_PERCENT}92|[Dd]8{_PERCENT}9[Cc])"
)
# The encoded separators are not in the phone pattern itself: their hex digits would let a match start inside
# one (``%20%20...`` would be scanned from every ``2``, quadratic). They are blanked out in a copy of the text,
# one for one, and the matches found in the copy are cut out of the text.
_PHONE_RE = re.compile(rf"(?:\+\s*)?(?:\d[{_SEPARATOR_CHARS}]*){{6,}}\d")
MAX_TEXT = 512
"""Recorded free text (error messages) is cut to this many characters."""


def _replace_secret(match: re.Match[str]) -> str:
    if match.group("userinfo") is not None:
        return match.group("scheme")
    if match.group("auth") is not None:
        return match.group("auth") + REDACTED
    if match.group("name") is not None:
        quote_mark = match.group("quote")
        if quote_mark is not None:
            return f"{match.group('name')}{quote_mark}{REDACTED}{quote_mark}"
        return match.group("name") + match.group("open") + REDACTED
    if match.group("phrase") is not None:
        return match.group("phrase") + match.group("phrase_open") + REDACTED
    return match.group("bearer") + REDACTED


_NO_ASCII_DIGITS = str.maketrans("", "", "0123456789")


def _may_hold_secret(text: str) -> bool:
    """False when ``_SECRETS_RE`` cannot match: each of its branches needs ``:``, ``=``, ``bearer``, ``key`` or
    ``token``. (Of the non-ASCII characters that match an ASCII letter case-insensitively, only the Kelvin sign
    is in these words, and ``lower()`` turns it into ``k``.)"""
    if ":" in text or "=" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "key" in lowered or "token" in lowered


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


_HEX_LETTERS = frozenset("abcdefABCDEF")


def _is_kept_uuid(text: str, start: int, end: int) -> bool:
    """Whether the UUID-shaped ``text[start:end]`` is an id to keep whole rather than digits to redact.

    A real UUID (umid, errorId) is kept whole. A number in UUID shape is not, and goes through the phone rule:
    one without any hex letter (``65912345-6700-0000-0000-000000000000``: 3 in 10 million random UUIDs) or
    right after a ``+`` / ``%2B`` (``+65912345-6700-4abc-...``: no id is written so). A UUID with a hex letter
    is kept even when it starts with many decimal digits: 2.3% of random UUIDs have an all-decimal first
    group, and an id that lost its digits would be of no use to 8x8 support."""
    if _HEX_LETTERS.isdisjoint(text[start:end]):
        return False
    before = text[max(0, start - 3) : start]
    return not (before.endswith("+") or before.lower().endswith("%2b"))


def _blank_encoded(match: re.Match[str]) -> str:
    """An encoded separator as as many spaces (an encoded ``+`` as a ``+`` and spaces: a number's prefix)."""
    length = len(match.group())
    return "+" + " " * (length - 1) if match.group("plus") is not None else " " * length


def _sub_phones(text: str) -> str:
    if "%" not in text:
        return _PHONE_RE.sub(REDACTED, text)
    blanked = _ENCODED_SEPARATOR_RE.sub(_blank_encoded, text)  # the same length: positions carry over
    # Numbers found in the copy, and in the text itself: digits that only look like an encoded separator
    # ("%0900000": %09 is a tab) are still a number.
    spans = sorted([m.span() for m in _PHONE_RE.finditer(blanked)] + [m.span() for m in _PHONE_RE.finditer(text)])
    parts: list[str] = []
    done = 0
    for start, end in spans:
        if end <= done:
            continue
        if start >= done:
            parts.append(text[done:start])
            parts.append(REDACTED)
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _redact_phones(text: str) -> str:
    if "-" not in text:
        return _sub_phones(text)
    parts: list[str] = []
    done = 0
    for uuid in _UUID_SEARCH_RE.finditer(text):
        start, end = uuid.span()
        if _is_kept_uuid(text, start, end):
            parts.append(_sub_phones(text[done:start]))
            parts.append(uuid.group())
            done = end
    parts.append(_sub_phones(text[done:]))
    return "".join(parts)


# Log injection: a newline, carriage return or other line break in a message would let it forge a second log
# line, and an ESC sequence would drive the terminal that shows it. \n, \r and \t become the two characters
# ``\n``, ``\r``, ``\t``; every other C0 and C1 control character, DEL and the Unicode line and paragraph
# separators become U+FFFD, and so do the bidirectional marks and controls, which would reorder what a log viewer
# shows ("Trojan Source"). No replacement holds a digit: escaping cannot join two digit groups into a number.
_CONTROLS_RE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029{_BIDI_CONTROLS}]")
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(match: re.Match[str]) -> str:
    return _CONTROL_ESCAPES.get(match.group(), "\ufffd")


def _escape_controls(text: str) -> str:
    """``text`` with its control characters escaped; a printable text (the common case) is not scanned."""
    return text if text.isprintable() else _CONTROLS_RE.sub(_escape_control, text)


def _escape_all_controls(text: str) -> str:
    return _CONTROLS_RE.sub(_escape_control, text)


def _is_trailing_number_part(char: str) -> bool:
    return char.isdecimal() or char == "%" or _SEPARATOR_RE.fullmatch(char) is not None


_SEPARATOR_RE = re.compile(f"[{_SEPARATOR_CHARS}]")


def _cut(text: str, length: int) -> str:
    """``text[:length]`` without the digits and separators that end it: no part of a number is left dangling."""
    end = length
    while end > 0 and _is_trailing_number_part(text[end - 1]):
        end -= 1
    return text[:end]


def redact_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` without phone-number-like digit runs, secret ``key=value`` / ``key: value`` values, API keys,
    Bearer and other Authorization credentials and URL credentials, with its control characters escaped, cut
    to ``limit`` characters."""
    if len(text) > 4 * limit:  # what is cut anyway is not scanned; no digits left dangling at the cut
        text = _cut(text, 4 * limit)
    text = _escape_controls(_redact(text))
    return text if len(text) <= limit else text[:limit] + "…"


_UUID_RE = re.compile(_UUID)


def redact_id(value: str) -> str:
    """An id 8x8 answered with (errorId, umid, batchId): a UUID as it is (unless it is a phone number in UUID
    shape, see ``_is_kept_uuid``), anything else through redact_text."""
    if _UUID_RE.fullmatch(value) and _is_kept_uuid(value, 0, len(value)):
        return value
    return redact_text(value)


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
