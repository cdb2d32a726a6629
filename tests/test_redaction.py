"""Phone numbers and secrets never reach recorded text or URLs; ids and UUIDs survive."""

from __future__ import annotations

import re
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_8x8 import redaction
from otel_8x8.redaction import MAX_TEXT, redact_text, redact_url
from otel_8x8.templates import parse_path

UMID = "1cc1eda1-f5dd-ea11-8288-0263195dd35a"
UUID_RE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
LOOKUP = "https://lookup.8x8.com/api/v1/subaccounts/acme/phones/"
BLACKLIST = "https://contacts.8x8.com/api/v1/subaccounts/acme/contacts/blacklist/"


def redact_url_as_recorded(url: str) -> str:
    """redact_url with the path info describe_call gives it."""
    path = "/" + url.split("://", 1)[1].partition("/")[2].partition("?")[0].partition("#")[0]
    return redact_url(url, parse_path(path))


# --- redact_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["+6591234567", "+65 9123 4567", "(555) 123-4567", "6591234567", "+1-555-123-4567", "+65 - 9123 - 4567"]
)
def test_phone_removed_from_text(phone: str) -> None:
    out = redact_text(f"Invalid MSISDN {phone} in request")
    assert not re.search(r"\d", out), out
    assert out.startswith("Invalid MSISDN ")
    assert out.endswith(" in request")


@pytest.mark.parametrize(
    "text",
    [
        "Unable to find group with id 6776",
        "Object wasn't found or is already expired",
        "Quota exceeded. Please try again in 1 second(s).",
        "Request size must not exceed 100 MB",
    ],
)
def test_short_numbers_kept(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "uuid", [UMID, "3f0c1a2b-1234-1234-1234-123456789012", "123456ab-1234-5678-9abc-123456789012", UMID.upper()]
)
def test_uuid_kept(uuid: str) -> None:
    text = f"errorId {uuid} for message"
    assert redact_text(text) == text


def test_uuid_kept_next_to_redacted_phone() -> None:
    out = redact_text(f"Invalid MSISDN +6591234567, errorId {UMID}")
    assert UMID in out
    assert "6591234567" not in out


def test_truncated_to_max_text() -> None:
    text = "a" * (MAX_TEXT * 3)
    out = redact_text(text)
    assert out.startswith("a" * MAX_TEXT)
    assert out.count("a") == MAX_TEXT
    assert len(out) <= MAX_TEXT + 1  # room for one ellipsis mark
    assert redact_text("a" * MAX_TEXT) == "a" * MAX_TEXT


def test_truncation_after_redaction() -> None:
    out = redact_text("+6591234567 " * 200)
    assert not re.search(r"\d", out)
    assert len(out) <= MAX_TEXT + 1


SECRET_KEYS = [
    "apikey",
    "ApiKey",
    "api_key",
    "api-key",
    "token",
    "access_token",
    "api_token",
    "client_secret",
    "password",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_query_value_removed_from_text(key: str) -> None:
    """Exception messages quote the URL ("Max retries exceeded with url: /…?apikey=…")."""
    text = f"Max retries exceeded with url: /api/v1/subaccounts/acme/messages?{key}=sk-live-SECRET42&page=2 (Caused by"
    out = redact_text(text)
    assert "SECRET42" not in out
    assert out == text.replace("sk-live-SECRET42", "REDACTED")


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Authorization: Bearer eyJhbGciOi.J9-x_y~z+/= rejected", "eyJhbGciOi"),
        ("for url 'https://alice:s3cret@sms.8x8.com/api/v1/x'", "s3cret"),
        ("request to http://user@127.0.0.1:8080/a failed", "user@"),
    ],
)
def test_tokens_and_url_credentials_removed_from_text(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert out.split(" ")[0] == text.split(" ")[0]


@pytest.mark.parametrize("text", ["monkey=banana", "keyboard=qwerty", "tokens_used=12", "a secret-free message"])
def test_names_that_merely_contain_a_secret_key_are_kept(text: str) -> None:
    assert redact_text(text) == text


# --- redact_url ---------------------------------------------------------------------------------


def test_userinfo_stripped() -> None:
    out = redact_url_as_recorded("https://alice:s3cret@sms.8x8.com/api/v1/subaccounts/acme/messages")
    assert out == "https://sms.8x8.com/api/v1/subaccounts/acme/messages"


@pytest.mark.parametrize(
    "url",
    [
        LOOKUP + "+6591234567",
        LOOKUP + "%2B6591234567",
        LOOKUP + "%2b6591234567",
        LOOKUP + "6591234567",
        BLACKLIST + "6591234567",
        BLACKLIST + "%2B6591234567",
    ],
)
def test_phone_path_segment_redacted(url: str) -> None:
    out = redact_url_as_recorded(url)
    assert "6591234567" not in out
    prefix = url.rpartition("/")[0] + "/"
    assert out.startswith(prefix)
    assert out != prefix


@pytest.mark.parametrize("url", [LOOKUP + "%2B6591234567", BLACKLIST + "+6591234567"])
def test_phone_path_segment_redacted_without_path_info(url: str) -> None:
    assert "6591234567" not in redact_url(url)


@pytest.mark.parametrize("key", ["APIKEY", *SECRET_KEYS])
def test_secret_query_value_redacted(key: str) -> None:
    out = redact_url_as_recorded(f"https://sms.8x8.com/api/v1/subaccounts/acme/messages?{key}=sk_live_abc&page=2")
    assert "sk_live_abc" not in out
    assert out.startswith("https://sms.8x8.com/api/v1/subaccounts/acme/messages?")
    assert out.endswith("&page=2")


@pytest.mark.parametrize("value", ["%2B6591234567", "+6591234567", "6591234567", "%2B65%209123%204567"])
def test_phone_query_value_redacted(value: str) -> None:
    out = redact_url_as_recorded(f"https://sms.8x8.com/api/v1/subaccounts/acme/messages?to={value}&limit=10")
    assert "6591234567" not in out
    assert "9123" not in out
    assert "to=" in out
    assert out.endswith("&limit=10")


def test_fragment_dropped() -> None:
    out = redact_url_as_recorded("https://sms.8x8.com/api/v1/subaccounts/acme/messages?limit=10#+6591234567")
    assert out == "https://sms.8x8.com/api/v1/subaccounts/acme/messages?limit=10"
    out = redact_url_as_recorded("https://sms.8x8.com/api/v1/subaccounts/acme/messages#section")
    assert out == "https://sms.8x8.com/api/v1/subaccounts/acme/messages"


@pytest.mark.parametrize(
    "url",
    [
        f"https://sms.8x8.com/api/v1/subaccounts/acme/messages/{UMID}",
        f"https://sms.8x8.com/api/v1/subaccounts/acme/messages/{UMID}/feedback",
        f"https://verify.8x8.com/api/v2/subaccounts/acme/sessions/{UMID}",
        "https://sms.8x8.com/api/v1/subaccounts/acme/messages?limit=100&page=2",
    ],
)
def test_harmless_url_unchanged(url: str) -> None:
    assert redact_url_as_recorded(url) == url


# --- properties ---------------------------------------------------------------------------------

NON_HEX_NON_DIGIT = st.characters(exclude_categories=["Nd", "Cs"]).filter(lambda c: c not in string.hexdigits)
phones = st.builds(
    lambda plus, digits: plus + digits,
    st.sampled_from(["", "+"]),
    st.text(alphabet="0123456789", min_size=7, max_size=15),
)


def _without_uuids(text: str) -> str:
    return UUID_RE.sub("", text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), NON_HEX_NON_DIGIT, phones, NON_HEX_NON_DIGIT, st.text(max_size=60))
def test_no_digit_run_survives_redact_text(left: str, before: str, phone: str, after: str, right: str) -> None:
    out = redact_text(left + before + phone + after + right)
    assert not re.search(r"\d{7,}", _without_uuids(out)), out


URL_SAFE = "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ_~."
url_text = st.text(alphabet=URL_SAFE, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["path", "lookup", "query_value", "query_key"]),
    url_text,
    phones,
    url_text,
    st.booleans(),
)
def test_redact_url_never_leaks_inserted_phone(where: str, left: str, phone: str, right: str, encode: bool) -> None:
    shown = phone.replace("+", "%2B") if encode else phone
    piece = left + shown + right
    base = "https://sms.8x8.com/api/v1/subaccounts/acme"
    url = {
        "path": f"{base}/messages/{piece}/feedback",
        "lookup": f"https://lookup.8x8.com/api/v1/subaccounts/acme/phones/{piece}",
        "query_value": f"{base}/messages?x=1&to={piece}&y=2",
        "query_key": f"{base}/messages?{piece}=1",
    }[where]
    digits = phone.lstrip("+")
    assert digits not in redact_url_as_recorded(url)
    assert digits not in redact_url(url)


@pytest.mark.parametrize(
    "text",
    [
        "a." * 50_000,
        "a-" * 50_000,
        "aaaaaaaa-aaaa-aaaa-aaaa-" * 4_000,
        "1 " * 50_000,
        "key=" * 20_000,
        "https://" + "a" * 100_000,
        "a://" * 30_000,
        "1" * 50_000 + "-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
    ],
    ids=["dots", "dashes", "uuid-like", "digits", "keys", "long-url", "schemes", "digits-then-uuid-tail"],
)
def test_redaction_takes_linear_time_on_hostile_text(text: str) -> None:
    """An 8x8 error message can be 64 KiB of anything: no input may make the redaction backtrack (a regex
    that did took ~50 s on the first input). The bound is ~100x what it takes here."""
    started = time.perf_counter()
    redact_text(text, limit=len(text) + 1)
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize("separator", [" - ", " ", "-", ", "])
@pytest.mark.parametrize("uuid", [UMID, "123456ab-1234-5678-9abc-123456789abc"])
def test_a_phone_number_does_not_run_on_into_a_uuid(separator: str, uuid: str) -> None:
    assert redact_text(f"to +6591234567{separator}{uuid} failed") == f"to REDACTED{separator}{uuid} failed"


def test_a_secret_that_looks_like_a_uuid_is_still_a_secret() -> None:
    assert redact_text(f"url: /x?apikey={UMID}&page=2") == "url: /x?apikey=REDACTED&page=2"


ARABIC_INDIC = "".join(chr(0x0660 + d) for d in (9, 1, 2, 3, 4, 5, 6, 7))  # \\d matches these digits too
FULLWIDTH = "".join(chr(0xFF10 + d) for d in (9, 1, 2, 3, 4, 5, 6, 7))

# Free text as 8x8 messages and exception messages have it: words, digits (ASCII and others), separators, and
# the pieces that wake the secret and phone passes up.
message_pieces = st.sampled_from(
    [
        "Invalid MSISDN ",
        "apikey=",
        "token=",
        "x=1",
        "https://",
        "user:pw@",
        "Bearer ",
        "BEARER ",
        "bEaReR\t",
        UMID,
        "+65 9123 4567",
        "91234",
        ARABIC_INDIC,
        FULLWIDTH,
        " - ",
        "(",
        ")",
        ".",
        "-",
        "é",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(message_pieces, st.text(max_size=8)), max_size=12))
def test_skipping_the_passes_that_cannot_match_changes_nothing(pieces: list[str]) -> None:
    """The shortcuts (no ``=``, ``://`` or ``bearer``: no secret pass; fewer than 7 digits: no phone pass) give
    exactly what running every pass gives."""
    text = "".join(pieces)
    assert redaction._redact(text) == redaction._redact_all(text)


@pytest.mark.parametrize(
    "text",
    [f"Invalid MSISDN {ARABIC_INDIC}", f"Invalid MSISDN {FULLWIDTH}", "call me: 6 5 9 1 2 3 4", "bearer\tabc.def"],
)
def test_what_the_shortcuts_must_not_skip(text: str) -> None:
    assert redaction._redact(text) != text
