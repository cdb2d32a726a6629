"""Turn a concrete 8x8 request path into its ``url.template``, with 8x8's placeholder names.

``/api/v1/subaccounts/acme/messages/7f0c.../feedback`` becomes
``/api/v1/subaccounts/{subAccountId}/messages/{umid}/feedback``. A segment that is not a word
of 8x8's path vocabulary never reaches the template, so the template (and the span name built
from it) cannot carry an id, a phone number or any other high-cardinality value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

# The literal words of 8x8's API paths (SMS, Chat Apps, Verification, Number Lookup, Contacts,
# Voice, legacy wavecell). Anything else in a path is an identifier.
VOCABULARY = frozenset(
    {
        "api", "v1", "v2", "v3", "accounts", "subaccounts", "messages", "batch", "feedback",
        "surveys", "exports", "prices", "balance", "webhooks", "read", "lon", "events", "files",
        "channels", "templates", "flows", "sessions", "phones", "contacts", "blacklist", "groups",
        "callflows", "numbers", "recordings", "sms", "single", "many", "config", "webhook",
        "voice", "verify", "lookup", "chatapps", "status", "cancel", "download", "media",
    }
)  # fmt: skip

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

# Words in a path that tell the product when the host does not (a gateway).
_PRODUCT_HINTS = {
    "sessions": "verify",
    "phones": "lookup",
    "contacts": "contacts",
    "callflows": "voice",
    "recordings": "voice",
    "lon": "chatapps",
    "channels": "chatapps",
    "files": "chatapps",
    "events": "chatapps",
}


@dataclass(frozen=True)
class PathInfo:
    """What the path of an 8x8 call tells."""

    template: str
    subaccount_id: str | None
    product_hint: str | None
    phone_segments: tuple[int, ...]  # indexes (in path.split("/")) of segments holding phone numbers


@lru_cache(maxsize=2048)
def parse_path(path: str) -> PathInfo:
    """Template, subaccount and product hint of an 8x8 request path (without query string)."""
    segments = path.split("/")
    out: list[str] = []
    subaccount: str | None = None
    hint: str | None = None
    phones: list[int] = []
    previous = ""
    for index, segment in enumerate(segments):
        if segment == "" or (segment in VOCABULARY and not _is_id_position(out, segment)):
            out.append(segment)
            hint = hint or _PRODUCT_HINTS.get(segment)
            previous = segment
            continue
        placeholder = PLACEHOLDERS.get(previous, GENERIC_PLACEHOLDER)
        if previous == "v1" and len(out) == 3 and out[1] == "sms":
            placeholder = "{subAccountId}"  # legacy /sms/v1/{subAccountId}/single|many
        if placeholder == "{subAccountId}" and subaccount is None:
            candidate = unquote(segment)
            if _SUBACCOUNT_RE.match(candidate):
                subaccount = candidate
        if placeholder in PHONE_PLACEHOLDERS:
            phones.append(index)
        out.append(placeholder)
        previous = placeholder
    return PathInfo("/".join(out), subaccount, hint, tuple(phones))


def _is_id_position(out: list[str], segment: str) -> bool:
    """Where an account id stands, a vocabulary word is still an id (e.g. a subaccount named "sms")."""
    previous = out[-1] if out else ""
    if previous in ("subaccounts", "accounts"):
        return True
    return previous == "v1" and len(out) == 3 and out[1] == "sms"  # legacy /sms/v1/{subAccountId}/...
