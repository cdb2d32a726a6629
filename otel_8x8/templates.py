"""Turn a concrete 8x8 request path into its ``url.template``, with 8x8's placeholder names.

A path 8x8 documents is matched to its route (``routes.py``, routes from 8x8's OpenAPI specifications):
``/api/v1/subaccounts/acme/messages/7f0c.../feedback`` is
``/api/v1/subaccounts/{subAccountId}/messages/{umid}/feedback``. A path no route knows falls back to a
vocabulary rule: a segment that is not a word of 8x8's paths becomes a placeholder, empty segments are
dropped and the depth is capped. Either way the template (and the span name and the metrics built from it)
cannot carry an id, a phone number or any other high-cardinality value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from .products import ALL_ROUTES, PATH_WORDS, route_table
from .redaction import redact_text
from .routes import RouteMatch, is_placeholder

# The literal words of 8x8's API paths (SMS, Chat Apps, Verification, Number Lookup, Contacts,
# Voice, legacy wavecell). Anything else in a path is an identifier.
_WORDS = frozenset(
    {
        "api", "v1", "v2", "v3", "accounts", "subaccounts", "messages", "batch", "feedback",
        "surveys", "exports", "prices", "balance", "webhooks", "read", "lon", "events", "files",
        "channels", "templates", "flows", "sessions", "phones", "contacts", "blacklist", "groups",
        "callflows", "numbers", "recordings", "sms", "single", "many", "config", "webhook",
        "voice", "verify", "lookup", "chatapps", "status", "cancel", "download", "media",
    }
)  # fmt: skip
VOCABULARY = _WORDS | {segment for route in ALL_ROUTES for segment in route.segments if not is_placeholder(segment)}
"""The words of 8x8's paths: those of every documented route, and of the legacy APIs."""

# keyword -> the placeholder of the identifier that follows it.
PLACEHOLDERS = {
    "subaccounts": "{subAccountId}",
    "accounts": "{accountId}",
    "messages": "{umid}",
    "batch": "{batchId}",
    "surveys": "{surveyId}",
    "exports": "{jobId}",
    "sessions": "{sessionId}",
    "phones": "{phoneNumber}",
    "blacklist": "{msisdn}",
    "channels": "{channelId}",
    "templates": "{templateId}",
    "flows": "{flowId}",
    "files": "{fileId}",
    "groups": "{groupId}",
    "numbers": "{number}",
    "recordings": "{sessionId}",
    "webhooks": "{webhookId}",
    "callflows": "{sessionId}",
    "contacts": "{contactId}",
}

PHONE_PLACEHOLDERS = frozenset({"{phoneNumber}", "{msisdn}", "{number}"})
"""Placeholders whose value is a phone number (redacted in ``url.full``)."""

GENERIC_PLACEHOLDER = "{id}"

_SUBACCOUNT_RE = re.compile(r"^[A-Za-z0-9\-._&]{3,50}$")


@dataclass(frozen=True)
class PathInfo:
    """What the path of an 8x8 call tells."""

    template: str
    subaccount_id: str | None
    product: str | None  # the product the path tells (its route's, or its words'), else the host's
    phone_segments: tuple[int, ...]  # indexes (in path.split("/")) of segments holding phone numbers
    operation_id: str | None = None  # the documented operation, when a route matched


MAX_DEPTH = 12
"""A path no route knows keeps this many segments in its template; the rest become one ``{rest}``."""


@lru_cache(maxsize=2048)
def path_info(method: str, path: str, product: str | None = None) -> PathInfo:
    """Template, operation, subaccount and phone segments of a request path (without query string).

    ``product``: the host's (None for a host that does not tell, e.g. a gateway). Its routes are tried first,
    then every product's: the path is more specific than the host.
    """
    match = route_table(product).match(method, path) if product is not None else None
    if match is None:
        match = route_table(None).match(method, path)
    if match is None:
        return parse_path(path, product)
    if product not in match.products and len(match.products) == 1:
        (product,) = match.products
    elif product not in match.products:
        product = None  # a path several products document alike (SMS and Chat Apps messages)
    return _matched(match, product, method)


def _matched(match: RouteMatch, product: str | None, method: str) -> PathInfo:
    subaccount: str | None = None
    phones: list[int] = []
    for (placeholder, value), index in zip(match.values, match.indexes, strict=True):
        if placeholder == "{subAccountId}" and subaccount is None:
            subaccount = _subaccount(value)
        if placeholder in PHONE_PLACEHOLDERS:
            phones.append(index)
    operation = match.route.operation_id if match.route.method == method else None  # an undocumented method
    return PathInfo(match.route.template, subaccount, product, tuple(phones), operation)


def _subaccount(segment: str) -> str | None:
    """The subaccount id in a path segment, unless it is not one or looks like a phone number."""
    candidate = unquote(segment)
    if _SUBACCOUNT_RE.match(candidate) and redact_text(candidate) == candidate:
        return candidate
    return None


@lru_cache(maxsize=2048)
def parse_path(path: str, product: str | None = None) -> PathInfo:
    """The vocabulary rule, for a path no route knows: template, subaccount and product hint."""
    out: list[str] = []
    subaccount: str | None = None
    hint: str | None = None
    phones: list[int] = []
    previous = ""
    for index, segment in enumerate(path.split("/")):
        if segment == "":
            continue
        if len(out) == MAX_DEPTH:
            out.append("{rest}")
            break
        if segment in VOCABULARY and not _is_id_position(out, segment):
            out.append(segment)
            hint = hint or PATH_WORDS.get(segment)
            previous = segment
            continue
        placeholder = PLACEHOLDERS.get(previous, GENERIC_PLACEHOLDER)
        if previous == "v1" and len(out) == 2 and out[0] == "sms":
            placeholder = "{subAccountId}"  # legacy /sms/v1/{subAccountId}/single|many
        if placeholder == "{subAccountId}" and subaccount is None:
            subaccount = _subaccount(segment)
        if placeholder in PHONE_PLACEHOLDERS:
            phones.append(index)
        out.append(placeholder)
        previous = placeholder
    return PathInfo("/" + "/".join(out), subaccount, hint or product, tuple(phones))


def _is_id_position(out: list[str], segment: str) -> bool:
    """Where an account id stands, a vocabulary word is still an id (e.g. a subaccount named "sms")."""
    previous = out[-1] if out else ""
    if previous in ("subaccounts", "accounts"):
        return True
    return previous == "v1" and len(out) == 2 and out[0] == "sms"  # legacy /sms/v1/{subAccountId}/...
