"""The 8x8 error catalog: every known error code, its description and its category.

This module is the single source of truth for error codes. The tables of docs/codes.md are
checked against it by a test, and ``python -m otel_8x8 codes`` prints it.

Sources: 8x8's "API Error codes" page, formerly "HTTP Error Codes" (SMS API and Chat Apps API codes), and the
codes seen elsewhere in 8x8's public API documentation (Verification, Number Lookup,
Contacts, request size limits).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType


class Category(str, enum.Enum):
    """The closed set of error categories recorded as ``com.8x8.error.category``."""

    INVALID_REQUEST = "invalid_request"
    TEMPLATE = "template"
    FALLBACK = "fallback"
    AUTH = "auth"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED = "unsupported"
    SERVER_ERROR = "server_error"
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        """Whether a client may retry a call that failed with this category."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({Category.RATE_LIMIT, Category.SERVER_ERROR})


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the catalog."""

    code: int
    description: str
    category: Category

    @property
    def retryable(self) -> bool:
        return self.category.retryable


_C = Category

# code -> (description, category). Descriptions are 8x8's own current wording (typos included),
# so that they can be recognised from the documentation.
_ENTRIES: dict[int, tuple[str, Category]] = {
    # HTTP numbers used as codes by the API gateway (rate limiting answers {"code": 429}).
    429: ("Too Many Requests (quota exceeded)", _C.RATE_LIMIT),
    # SMS API, Chat Apps API
    1000: ("Invalid parameter", _C.INVALID_REQUEST),
    1001: ("Illegal SubAccountId", _C.INVALID_REQUEST),
    1002: ("Invalid MSISDN", _C.INVALID_REQUEST),
    1003: ("Invalid Encoding", _C.INVALID_REQUEST),
    1004: ("Invalid Text", _C.INVALID_REQUEST),
    1005: ("Invalid Source", _C.INVALID_REQUEST),
    1006: ("Invalid Expiry", _C.INVALID_REQUEST),
    1007: ("Invalid SMS Template", _C.INVALID_REQUEST),
    1008: ("Invalid ID", _C.INVALID_REQUEST),
    1009: ("Invalid Country Code", _C.INVALID_REQUEST),
    1010: ("Parameter out of range", _C.INVALID_REQUEST),
    1011: ("Invalid Schedule Time", _C.INVALID_REQUEST),
    1012: ("Invalid Ip Address", _C.INVALID_REQUEST),
    1014: ("Insecure Protocol — unsupported TLS version", _C.UNSUPPORTED),
    1100: ("Bulk limit reached", _C.RATE_LIMIT),
    1200: ("Unauthorized Access", _C.AUTH),
    1201: ("Access forbidden", _C.FORBIDDEN),
    1300: ("Not found", _C.NOT_FOUND),
    1400: ("Resending interval violation", _C.RATE_LIMIT),
    1404: ("Session not found", _C.NOT_FOUND),
    2000: ("Internal Error", _C.SERVER_ERROR),
    2001: ("Function not implemented", _C.UNSUPPORTED),
    2002: ("Unsupported API version", _C.UNSUPPORTED),
    2003: ("Unsupported product", _C.UNSUPPORTED),
    3001: ("Missed User", _C.INVALID_REQUEST),
    3002: ("Missed MSISDN", _C.INVALID_REQUEST),
    3003: ("Invalid MSISDN", _C.INVALID_REQUEST),
    3004: ("Missed Content", _C.INVALID_REQUEST),
    3005: ("Missed Text", _C.INVALID_REQUEST),
    3006: ("Too long text", _C.INVALID_REQUEST),
    3007: ("Missed Media URL", _C.INVALID_REQUEST),
    3008: ("Invalid Media URL", _C.INVALID_REQUEST),
    3009: ("Too long ClientMessageId", _C.INVALID_REQUEST),
    3010: ("Invalid Content Type", _C.INVALID_REQUEST),
    3011: ("Too long SMS Source", _C.INVALID_REQUEST),
    3012: ("Missed messages", _C.INVALID_REQUEST),
    3013: ("Too much messages", _C.INVALID_REQUEST),
    3014: ("Too long ClientBatchId", _C.INVALID_REQUEST),
    3015: ("Missed UserId", _C.INVALID_REQUEST),
    3016: ("Missed WeChatUserId", _C.INVALID_REQUEST),
    3017: ("Too long Fallback text", _C.FALLBACK),
    3018: ("Invalid Country code", _C.INVALID_REQUEST),
    3019: ("Missed FacebookUserId", _C.INVALID_REQUEST),
    3020: ("Invalid DR Callback URL", _C.INVALID_REQUEST),
    3021: ("Empty or Invalid Location", _C.INVALID_REQUEST),
    3022: ("Invalid Fallback Channel", _C.FALLBACK),
    3023: ("Invalid Fallback Delay range", _C.FALLBACK),
    3024: ("Invalid Fallback Status", _C.FALLBACK),
    3025: ("Invalid Fallback Status Delivered", _C.FALLBACK),
    3026: ("Invalid Fallback Status Read", _C.FALLBACK),
    3027: ("Invalid Fallback SubAccount Channel", _C.FALLBACK),
    3028: ("Missed ZaloUserId", _C.INVALID_REQUEST),
    3029: ("Missed UMID", _C.INVALID_REQUEST),
    3030: ("Empty Template", _C.TEMPLATE),
    3031: ("Invalid Template Name Length", _C.TEMPLATE),
    3032: ("Invalid Template Name", _C.TEMPLATE),
    3033: ("Too much template parameters passed", _C.TEMPLATE),
    3034: ("Invalid template components combination", _C.TEMPLATE),
    3035: ("SubAccount don’t have channels, supported templates", _C.TEMPLATE),  # noqa: RUF001
    3036: ("Empty Template language", _C.TEMPLATE),
    3037: ("Invalid Template language", _C.TEMPLATE),
    3038: ("Template not found", _C.TEMPLATE),
    3039: ("Invalid Template Component type", _C.TEMPLATE),
    3040: ("Empty template parameters", _C.TEMPLATE),
    3041: ("Invalid Template parameter", _C.TEMPLATE),
    3042: ("Invalid Template parameter type", _C.TEMPLATE),
    3043: ("Template Text parameter length exceeded", _C.TEMPLATE),
    3044: ("Template Location parameter empty", _C.TEMPLATE),
    3045: ("Template parameter not allowed", _C.TEMPLATE),
    3046: ("Template parameter URL is invalid", _C.TEMPLATE),
    3047: ("Missed WhatsApp UserID", _C.INVALID_REQUEST),
    3048: ("Using ChatGroupId with UserId not allowed", _C.INVALID_REQUEST),
    3049: ("Invalid button parameter", _C.INVALID_REQUEST),
    3050: ("Missed KakaoId", _C.INVALID_REQUEST),
    3051: ("Invalid Fallback ChannelID", _C.FALLBACK),
    3052: ("Invalid Template Component SubType", _C.TEMPLATE),
    3053: ("Invalid index", _C.TEMPLATE),
    3060: ("Template is being deleted", _C.CONFLICT),
    4018: ("Invalid jobId", _C.NOT_FOUND),
    5003: ("Contacts group conflict", _C.CONFLICT),
    7001: ("Request size must not exceed 100 MB", _C.PAYLOAD_TOO_LARGE),
    # Number Lookup (developer.8x8.com "Number Lookup error codes")
    2004: ("Provider Timeout", _C.SERVER_ERROR),
    2005: ("Provider Error", _C.SERVER_ERROR),
    2006: (
        "The pricing plan for that request plan is not configured for particular SubAccount",
        _C.FORBIDDEN,
    ),
    2007: ("Billing error. Not enough Account balance", _C.FORBIDDEN),
    6000: ("Live lookup on destination operator is currently not available", _C.UNSUPPORTED),
    6001: ("SIM card is offline", _C.NOT_FOUND),
    6002: ("Mobile subscriber not reachable", _C.NOT_FOUND),
    6003: ("SIM card is deactivated", _C.NOT_FOUND),
    6004: ("Routing error", _C.SERVER_ERROR),
    6005: ("SIM card is full", _C.NOT_FOUND),
    # Voice: callflow validation, answered with sessionStatus NOT_CREATED (developer.8x8.com
    # "Voice Status Codes"), sometimes with HTTP 200.
    -1001: ("Invalid JSON request body", _C.INVALID_REQUEST),
    -1002: ("Speech profile or language parameter invalid", _C.INVALID_REQUEST),
    -1003: ("Valid maxDigits required when minDigits provided", _C.INVALID_REQUEST),
    -1004: ("DTMF callback url not provided", _C.INVALID_REQUEST),
    -1005: ("Valid overallTimeout is required when digitTimeout provided", _C.INVALID_REQUEST),
    -1006: ("OverallTimeout should be greater than digitTimeout", _C.INVALID_REQUEST),
    -1007: ("Invalid action type was used", _C.INVALID_REQUEST),
    -1008: ("Valid maxDigits is required when completeOnHash is false", _C.INVALID_REQUEST),
    -1009: ("Invalid call flow entry provided", _C.INVALID_REQUEST),
    -1010: ("Some actions are provided beyond the allowed count", _C.INVALID_REQUEST),
    -1011: ("Multiple destination phone numbers found in the request", _C.INVALID_REQUEST),
    -1012: ("Invalid Callflow: Incorrect use of action Hangup", _C.INVALID_REQUEST),
    -1013: ("Invalid Callflow: First action should be a MakeCall action", _C.INVALID_REQUEST),
    -1014: ("Source or caller ID is not allowed", _C.FORBIDDEN),
    -1015: ("The validity period of the call flow request has expired", _C.INVALID_REQUEST),
    -1016: ("Invalid Callflow Content: Some special characters are invalid/unaccepted", _C.INVALID_REQUEST),
    -1017: ("Invalid MSISDN format in Destination", _C.INVALID_REQUEST),
    -1018: ("Invalid Callflow: Execute Scenario cannot be processed together with other actions", _C.INVALID_REQUEST),
    -1019: ("Invalid Callflow Content: scenarioName is null or empty", _C.INVALID_REQUEST),
    -1020: (
        "Invalid Callflow: Invalid scenarioName or the account doesn't have permission to execute this scenario",
        _C.FORBIDDEN,
    ),
    # Voice session and Number Masking errors ("Voice Error Codes", "Error Codes (Number Masking)").
    -2001: ("An internal error has occurred", _C.SERVER_ERROR),
    -2002: ("An internal connectivity error has occurred", _C.SERVER_ERROR),
    -2003: ("The call flow provided is invalid", _C.INVALID_REQUEST),
    -2004: ("No coverage available for requested area", _C.UNSUPPORTED),
    -2005: ("Unable to synthesize text to speech", _C.SERVER_ERROR),
    -2006: ("Unable to download file for playback", _C.INVALID_REQUEST),
    -2007: ("The validity period of the call flow request has expired", _C.INVALID_REQUEST),
    -2008: ("The provided source MSISDN or caller ID is not whitelisted", _C.FORBIDDEN),
    -2009: ("The scenario parameters provided is invalid", _C.INVALID_REQUEST),
    -2010: ("The trunk capacity has been exceeded", _C.RATE_LIMIT),
    -9999: ("An unknown error has occurred", _C.UNKNOWN),
}

CATALOG: Mapping[int, ErrorCode] = MappingProxyType(
    {code: ErrorCode(code, description, category) for code, (description, category) in sorted(_ENTRIES.items())}
)
"""Every known 8x8 error code, read-only."""

# HTTP status -> category, used when the body carries no code the catalog knows.
_STATUS_CATEGORY: Mapping[int, Category] = MappingProxyType(
    {
        400: _C.INVALID_REQUEST,
        401: _C.AUTH,
        403: _C.FORBIDDEN,
        404: _C.NOT_FOUND,
        405: _C.UNSUPPORTED,
        409: _C.CONFLICT,
        410: _C.UNSUPPORTED,
        413: _C.PAYLOAD_TOO_LARGE,
        422: _C.INVALID_REQUEST,
        426: _C.UNSUPPORTED,
        429: _C.RATE_LIMIT,
    }
)

STATUS_CATEGORIES: Mapping[int, Category] = _STATUS_CATEGORY

# 8x8's earlier wording of codes it has since reworded: a batch rejection reason may still carry it.
_FORMER_DESCRIPTIONS: Mapping[int, str] = MappingProxyType({1003: "Invalid Endoding", 3053: "Invalid Button index"})

# Batch rejection reasons are free text; match them to the SMS / Chat Apps codes (1000-3999) whose
# description (current or former) they start with, longest description first, first code of a duplicated description.
_REASON_PREFIXES: tuple[tuple[str, int], ...] = tuple(
    sorted(
        {
            **{former.lower(): code for code, former in _FORMER_DESCRIPTIONS.items()},
            **{
                entry.description.lower(): entry.code
                for entry in sorted(CATALOG.values(), key=lambda e: -e.code)
                if 1000 <= entry.code < 4000
            },
        }.items(),
        key=lambda item: -len(item[0]),
    )
)
"""The HTTP statuses with a category of their own (any other 5xx is ``server_error``)."""


def lookup(code: int) -> ErrorCode | None:
    """The catalog entry for ``code``, or ``None`` when 8x8 sent a code we do not know."""
    return CATALOG.get(code)


def category_for_status(status: int) -> Category:
    """The category of an error response judged from its HTTP status alone."""
    category = _STATUS_CATEGORY.get(status)
    if category is not None:
        return category
    if 500 <= status <= 599:
        return Category.SERVER_ERROR
    return Category.UNKNOWN


def categorize(code: int | None, status: int) -> Category:
    """The category of an error: from the catalog when it knows ``code``, else from the HTTP status."""
    if code is not None:
        entry = CATALOG.get(code)
        if entry is not None:
            return entry.category
    return category_for_status(status)


def code_for_reason(reason: str) -> int | None:
    """The code whose description a batch rejection reason starts with ("Invalid MSISDN format..." -> 1002)."""
    text = reason.strip().lower()
    for prefix, code in _REASON_PREFIXES:
        if text.startswith(prefix):
            return code
    return None


def iter_catalog() -> Iterator[ErrorCode]:
    """All entries, in code order."""
    return iter(CATALOG.values())
