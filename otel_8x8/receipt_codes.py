"""8x8's delivery-receipt error codes: the ``status.errorCode`` of an ``outbound_message_status_changed`` webhook.

These are not the API error codes of :mod:`otel_8x8.catalog` (which come back in the answer to a call): they
arrive later, in the delivery receipt, and say why the operator or the chat channel did not deliver. The same
number means different things in the two tables (API ``1002`` is "Invalid MSISDN"; WhatsApp receipt ``1002``
is a rate limit), so receipt codes are always looked up with their product (``sms`` or ``chatapps``).

Sources (8x8's public developer documentation): "SMS Delivery Receipt Error Codes" (codes 0-61, the reasons
an SMS was not delivered) and "Messaging Apps Delivery Receipt Error Codes" (the general codes, which reuse
the SMS numbers with a chat-channel wording, then WhatsApp 1000-1054 and Viber 2000-2025). Descriptions are
8x8's own wording.

How a code was given one of the closed categories of :class:`~otel_8x8.catalog.Category` (the same judgement
as the API catalog made for the Number Lookup codes 6001-6005, so that one dashboard reads both):

- ``not_found``: the recipient cannot be reached or does not exist (absent, unknown or unidentified
  subscriber, handset off, full or busy, roaming, expired before delivery, not on the chat channel);
- ``invalid_request``: something in the message as sent is wrong (destination, source, format, length,
  parameters, media that cannot be fetched);
- ``forbidden``: someone refused it on purpose (operator barring, screening, spam or content filter, policy,
  opt-out, the recipient's or your own credit, permissions) - sending again unchanged will not help;
- ``rate_limit``: flooding, throttling, throughput or attempt limits - retryable later;
- ``server_error``: a failure inside 8x8, the operator or the channel (SMSC, HLR, TCAP, network, timeouts,
  routing, retries in progress) - retryable;
- ``unsupported``: the handset, the app version or the channel cannot take this kind of message;
- ``template``: WhatsApp/Viber template problems, and the 24-hour window that needs a template;
- ``auth``: credentials of the channel account (tokens, certificates, PINs);
- ``conflict``, ``payload_too_large``: as for the API codes;
- ``unknown``: 8x8 gives no reason ("No reason code", "Unknown error", "Delivery failure", "Local cancel"),
  and every code not listed here.

Codes that are not errors (SMS ``0`` "No reason code" on a delivered message, Viber ``2000`` "Successfully
sent") are in :data:`NO_ERROR_CODES`: a receipt carrying one is an error only when its state says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .catalog import Category

_C = Category


@dataclass(frozen=True)
class ReceiptCode:
    """One delivery-receipt error code of one product."""

    product: str  # "sms" or "chatapps"
    code: int
    description: str
    category: Category

    @property
    def retryable(self) -> bool:
        return self.category.retryable


_SMS: dict[int, tuple[str, Category]] = {
    0: ("No reason code", _C.UNKNOWN),
    1: ("Absent subscriber", _C.NOT_FOUND),
    2: ("Content related error", _C.INVALID_REQUEST),
    3: ("Data missing", _C.INVALID_REQUEST),
    4: ("Deferred delivery", _C.SERVER_ERROR),
    5: ("Pending upstream", _C.SERVER_ERROR),
    7: ("Delivery failure", _C.UNKNOWN),
    8: ("Deny", _C.FORBIDDEN),
    9: ("Equipment protocol error", _C.UNSUPPORTED),
    10: ("ESME external error", _C.SERVER_ERROR),
    11: ("Flooding", _C.RATE_LIMIT),
    12: ("HLR error", _C.SERVER_ERROR),
    13: ("Illegal subscriber or equipment", _C.FORBIDDEN),
    14: ("Internal error", _C.SERVER_ERROR),
    15: ("Invalid destination", _C.INVALID_REQUEST),
    16: ("Invalid format", _C.INVALID_REQUEST),
    17: ("Invalid message length", _C.INVALID_REQUEST),
    18: ("Invalid parameter", _C.INVALID_REQUEST),
    19: ("Invalid source address", _C.INVALID_REQUEST),
    20: ("Local cancel", _C.UNKNOWN),
    21: ("Memory capacity exceeded", _C.NOT_FOUND),  # the handset is full, as Number Lookup's "SIM card is full"
    22: ("Message being retried", _C.SERVER_ERROR),
    23: ("Network failure", _C.SERVER_ERROR),
    24: ("Age verification failure", _C.FORBIDDEN),
    25: ("Operation aborted by receiving network or user", _C.FORBIDDEN),
    26: ("Operation barred", _C.FORBIDDEN),
    27: ("Permanent operator error", _C.UNSUPPORTED),  # the operator cannot deliver: no coverage on this route
    28: ("Permanent phone error", _C.NOT_FOUND),
    29: ("Phone related error", _C.NOT_FOUND),
    30: ("Portability error", _C.SERVER_ERROR),
    31: ("Premium SMS error", _C.FORBIDDEN),
    32: ("Roaming subscriber", _C.NOT_FOUND),
    33: ("Route error", _C.SERVER_ERROR),  # as Number Lookup's "Routing error"
    34: ("Screening error", _C.FORBIDDEN),
    35: ("Service center congestion", _C.SERVER_ERROR),
    36: ("SMS expired", _C.NOT_FOUND),  # not delivered within its validity: the recipient was unreachable
    37: ("SMS facility not supported", _C.UNSUPPORTED),
    38: ("SMS malformed", _C.INVALID_REQUEST),
    39: ("SMSC cancel", _C.SERVER_ERROR),
    40: ("SMSC error", _C.SERVER_ERROR),
    41: ("SMSC reject", _C.FORBIDDEN),
    42: ("Source credit insufficiency", _C.FORBIDDEN),  # as the API's 2007 "Not enough Account balance"
    43: ("Spam filter", _C.FORBIDDEN),
    44: ("Subscriber billing issue", _C.FORBIDDEN),
    45: ("Subscriber busy for SMS", _C.NOT_FOUND),
    46: ("Subscriber not reachable", _C.NOT_FOUND),
    47: ("Subscriber temporary unavailable", _C.NOT_FOUND),
    48: ("System failure", _C.SERVER_ERROR),
    49: ("TCAP error", _C.SERVER_ERROR),
    50: ("Throttling error", _C.RATE_LIMIT),
    51: ("Time out error", _C.SERVER_ERROR),
    52: ("Unable to decode the response", _C.SERVER_ERROR),
    53: ("Unexpected data value", _C.INVALID_REQUEST),
    54: ("Unexpected error", _C.SERVER_ERROR),
    55: ("Unidentified subscriber", _C.NOT_FOUND),
    56: ("Unknown delivery state", _C.UNKNOWN),
    57: ("Unknown error", _C.UNKNOWN),
    58: ("Unknown service center", _C.SERVER_ERROR),
    59: ("Unknown subscriber", _C.NOT_FOUND),
    60: ("Content filtered", _C.FORBIDDEN),
    61: ("Session expired", _C.FORBIDDEN),
}

_CHATAPPS: dict[int, tuple[str, Category]] = {
    # General codes (the SMS numbers, worded for chat channels)
    1: ("Subscriber is not registered in this chat channel", _C.NOT_FOUND),
    2: ("Content Type is not supported by this channel", _C.UNSUPPORTED),
    3: ("The request is missing a required parameter", _C.INVALID_REQUEST),
    9: ("The receiver's app version is not capable of receiving business messages", _C.UNSUPPORTED),
    11: ("Too many messages sent to the recipient in a short period of time", _C.RATE_LIMIT),
    14: ("Internal error", _C.SERVER_ERROR),
    15: ("UserId is not valid for that channel or is part of blacklist on Connect", _C.INVALID_REQUEST),
    18: (
        "Invalid or missing parameters. Check that all required parameters are passed and are of the correct type",
        _C.INVALID_REQUEST,
    ),
    23: ("Channel connection error", _C.SERVER_ERROR),
    25: ("Message is intentionally undelivered by Channel", _C.FORBIDDEN),
    29: ("The specified parameter value is invalid", _C.INVALID_REQUEST),
    36: ("Message expired (not delivered at the requested time)", _C.NOT_FOUND),
    41: ("Message rejected by Chat channel", _C.FORBIDDEN),
    42: ("Not enough credit on Account wallet", _C.FORBIDDEN),
    43: ("Message filtered by anti-spam reason", _C.FORBIDDEN),
    46: ("Message sent to Channel, but user is not reachable for delivery", _C.NOT_FOUND),
    57: ("An unknown error occurred with no more specific reason available", _C.UNKNOWN),
    61: ("Message trashed by session expired reason", _C.FORBIDDEN),
    # WhatsApp (Meta's own code in parentheses)
    1000: ("AuthException — Unable to authenticate app user (WhatsApp: 0)", _C.AUTH),
    1001: ("API Method — Capability/permissions issue (WhatsApp: 3)", _C.FORBIDDEN),
    1002: ("API Too Many Calls — App rate limit reached (WhatsApp: 4)", _C.RATE_LIMIT),
    1003: ("Permission Denied — Permission not granted or removed (WhatsApp: 10)", _C.FORBIDDEN),
    1004: ("Parameter value not valid — Business phone number deleted (WhatsApp: 33)", _C.INVALID_REQUEST),
    1005: ("Invalid parameter — Misspelled or unsupported parameter (WhatsApp: 100)", _C.INVALID_REQUEST),
    1006: ("Access token expired (WhatsApp: 190)", _C.AUTH),
    1007: ("Temporarily blocked for policy violations (WhatsApp: 368)", _C.FORBIDDEN),
    1008: ("WABA rate limit reached (WhatsApp: 80007)", _C.RATE_LIMIT),
    1009: ("Rate limit hit — Message throughput limit reached (WhatsApp: 130429)", _C.RATE_LIMIT),
    1010: ("Number part of experiment (WhatsApp: 130472)", _C.FORBIDDEN),
    1011: ("Business account restricted in this country (WhatsApp: 130497)", _C.FORBIDDEN),
    1012: ("Something went wrong — Unknown error (WhatsApp: 131000)", _C.UNKNOWN),
    1013: ("Access denied — Permission not granted (WhatsApp: 131005)", _C.FORBIDDEN),
    1014: ("Required parameter is missing (WhatsApp: 131008)", _C.INVALID_REQUEST),
    1015: ("Parameter value is not valid (WhatsApp: 131009)", _C.INVALID_REQUEST),
    1016: ("Service unavailable — Temporary service downtime (WhatsApp: 131016)", _C.SERVER_ERROR),
    1017: ("Recipient cannot be sender (WhatsApp: 131021)", _C.INVALID_REQUEST),
    1018: ("Message undeliverable (WhatsApp: 131026)", _C.NOT_FOUND),
    1019: ("Account locked (WhatsApp: 131031)", _C.FORBIDDEN),
    1020: ("Display name approval needed (WhatsApp: 131037)", _C.FORBIDDEN),
    1021: ("Incorrect certificate (WhatsApp: 131045)", _C.AUTH),
    1022: ("Re-engagement message (outside 24-hour window) (WhatsApp: 131047)", _C.TEMPLATE),
    1023: ("Spam rate limit hit (WhatsApp: 131048)", _C.RATE_LIMIT),
    1024: ("Meta chose not to deliver (WhatsApp: 131049)", _C.FORBIDDEN),
    1025: ("Unsupported message type (WhatsApp: 131051)", _C.UNSUPPORTED),
    1026: ("Media download error (WhatsApp: 131052)", _C.INVALID_REQUEST),
    1027: ("Media upload error (WhatsApp: 131053)", _C.INVALID_REQUEST),
    1028: ("Sender/recipient pair rate limit hit (WhatsApp: 131056)", _C.RATE_LIMIT),
    1029: ("Account in maintenance mode (WhatsApp: 131057)", _C.SERVER_ERROR),
    1030: ("Template param count mismatch (WhatsApp: 132000)", _C.TEMPLATE),
    1031: ("Template does not exist (WhatsApp: 132001)", _C.TEMPLATE),
    1032: ("Template hydrated text too long (WhatsApp: 132005)", _C.TEMPLATE),
    1033: ("Template policy violation (WhatsApp: 132007)", _C.TEMPLATE),
    1034: ("Template param format mismatch (WhatsApp: 132012)", _C.TEMPLATE),
    1035: ("Template paused (WhatsApp: 132015)", _C.TEMPLATE),
    1036: ("Template disabled (WhatsApp: 132016)", _C.TEMPLATE),
    1037: ("Flow blocked (WhatsApp: 132068)", _C.FORBIDDEN),
    1038: ("Flow throttled (WhatsApp: 132069)", _C.RATE_LIMIT),
    1039: ("Incomplete deregistration (WhatsApp: 133000)", _C.CONFLICT),
    1040: ("Server temporarily unavailable (WhatsApp: 133004)", _C.SERVER_ERROR),
    1041: ("Two-step PIN mismatch (WhatsApp: 133005)", _C.AUTH),
    1042: ("Phone number re-verification needed (WhatsApp: 133006)", _C.AUTH),
    1043: ("Too many two-step PIN guesses (WhatsApp: 133008)", _C.RATE_LIMIT),
    1044: ("Two-step PIN guessed too fast (WhatsApp: 133009)", _C.RATE_LIMIT),
    1045: ("Phone number not registered (WhatsApp: 133010)", _C.NOT_FOUND),
    1046: ("Wait before registering phone number (WhatsApp: 133015)", _C.RATE_LIMIT),
    1047: ("Account register/deregister limit exceeded (WhatsApp: 133016)", _C.RATE_LIMIT),
    1048: ("Generic user error (WhatsApp: 135000)", _C.UNKNOWN),
    1049: ("Synchronisation request limit exceeded (WhatsApp: 2593107)", _C.RATE_LIMIT),
    1050: ("Synchronisation request outside allowed time window (WhatsApp: 2593108)", _C.INVALID_REQUEST),
    1051: (
        "The recipient has opted-out of receiving marketing messages from your business (WhatsApp: 131050)",
        _C.FORBIDDEN,
    ),
    1052: (
        "Call permission request cannot be sent because a permanent permission has already been approved "
        "by the user for this business account phone number. (WhatsApp: 138017)",
        _C.CONFLICT,
    ),
    1053: ("Call Permission Request limit reached for this business–consumer pair (WhatsApp: 138009)", _C.RATE_LIMIT),  # noqa: RUF001
    1054: ("Business-scoped User ID (BSUID) recipients are not supported for this message", _C.UNSUPPORTED),
    # Viber
    2000: ("Message sent successfully", _C.UNKNOWN),  # not an error, see NO_ERROR_CODES
    2001: ("Internal processing failure", _C.SERVER_ERROR),
    2002: ("Service ID unused or not yet uploaded", _C.INVALID_REQUEST),
    2003: ("Malformed request (e.g. JSON formatting)", _C.INVALID_REQUEST),
    2004: ("Unsupported or invalid message type", _C.UNSUPPORTED),
    2005: ("Required field like tracking_data is missing", _C.INVALID_REQUEST),
    2006: ("Viber server timeout", _C.SERVER_ERROR),
    2007: ("User has blocked this ID or all business messages", _C.FORBIDDEN),
    2008: ("Destination number not registered with Viber", _C.NOT_FOUND),
    2009: ("Device not compatible with Business Messages", _C.UNSUPPORTED),
    2010: ("Wrong IP or ID not whitelisted", _C.FORBIDDEN),
    2012: ("Missing or invalid 'label' parameter", _C.INVALID_REQUEST),
    2013: ("TTL is out of allowed range", _C.INVALID_REQUEST),
    2014: ("Exceeded 10-message session cap", _C.RATE_LIMIT),
    2015: ("File type not allowed for this feature", _C.UNSUPPORTED),
    2016: ("File name exceeds 25 character limit", _C.INVALID_REQUEST),
    2017: ("Thumbnail URL exceeds 1000 characters", _C.INVALID_REQUEST),
    2018: ("File size exceeds 200 MB", _C.PAYLOAD_TOO_LARGE),
    2019: ("Video duration exceeds 600 seconds", _C.PAYLOAD_TOO_LARGE),
    2020: ("The provided template ID is not found", _C.TEMPLATE),
    2021: ("Template variables did not pass the server validation", _C.TEMPLATE),
    2022: ("Version is not compatible to the message fields", _C.UNSUPPORTED),
    2023: ("The destination number is invalid or does not exist", _C.INVALID_REQUEST),
    2024: ("Message delivery failed because one or more List Message parameters are invalid", _C.INVALID_REQUEST),
    2025: ("Message delivery failed because one or more Carousel Message parameters are invalid", _C.INVALID_REQUEST),
}

PRODUCTS = ("sms", "chatapps")
"""The products that send delivery receipts, as recorded in ``com.8x8.product``."""


def _table(product: str, entries: Mapping[int, tuple[str, Category]]) -> Mapping[int, ReceiptCode]:
    return MappingProxyType(
        {
            code: ReceiptCode(product, code, description, category)
            for code, (description, category) in sorted(entries.items())
        }
    )


RECEIPT_CODES: Mapping[str, Mapping[int, ReceiptCode]] = MappingProxyType(
    {"sms": _table("sms", _SMS), "chatapps": _table("chatapps", _CHATAPPS)}
)
"""product -> code -> entry, read-only."""

NO_ERROR_CODES: Mapping[str, frozenset[int]] = MappingProxyType(
    {"sms": frozenset({0}), "chatapps": frozenset({0, 2000})}
)
"""Codes that on their own do not make a receipt an error."""


def lookup_receipt(code: int, product: str = "sms") -> ReceiptCode | None:
    """The entry for a receipt's ``errorCode`` in ``product``'s table (``sms`` when the product is not known)."""
    table = RECEIPT_CODES.get(product) or RECEIPT_CODES["sms"]
    return table.get(code)


def receipt_category(code: int | None, product: str = "sms") -> Category:
    """The category of a receipt error code; ``unknown`` for a code not in 8x8's table of ``product``."""
    if code is None:
        return Category.UNKNOWN
    entry = lookup_receipt(code, product)
    return entry.category if entry is not None else Category.UNKNOWN


def iter_receipt_codes(product: str | None = None) -> Iterator[ReceiptCode]:
    """All entries of one product, or of both (SMS first), in code order."""
    for name in PRODUCTS if product is None else (product,):
        yield from RECEIPT_CODES.get(name, {}).values()
