"""Path templates with 8x8's placeholder names, subaccount ids, phone segments; describe_call on top."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_8x8.call import describe_call
from otel_8x8.hosts import HostMatcher, Target
from otel_8x8.templates import PLACEHOLDERS, VOCABULARY, parse_path

UMID = "1cc1eda1-f5dd-ea11-8288-0263195dd35a"
SUB = "/api/v1/subaccounts/acme"
ACC = "/api/v1/accounts/acme-acc"

# (concrete path, expected template), from the facts file's path list.
PATHS = [
    # SMS
    (f"{SUB}/messages", "/api/v1/subaccounts/{subAccountId}/messages"),
    (f"{SUB}/messages/batch", "/api/v1/subaccounts/{subAccountId}/messages/batch"),
    (f"{SUB}/messages/batch/{UMID}", "/api/v1/subaccounts/{subAccountId}/messages/batch/{batchId}"),
    (f"{SUB}/messages/{UMID}", "/api/v1/subaccounts/{subAccountId}/messages/{umid}"),
    (f"{SUB}/messages/{UMID}/feedback", "/api/v1/subaccounts/{subAccountId}/messages/{umid}/feedback"),
    (f"{SUB}/surveys/s-1234567/messages", "/api/v1/subaccounts/{subAccountId}/surveys/{surveyId}/messages"),
    (f"{SUB}/surveys/42/messages/batch", "/api/v1/subaccounts/{subAccountId}/surveys/{surveyId}/messages/batch"),
    (f"{SUB}/messages/exports", "/api/v1/subaccounts/{subAccountId}/messages/exports"),
    (f"{SUB}/messages/exports/98765", "/api/v1/subaccounts/{subAccountId}/messages/exports/{jobId}"),
    (f"{ACC}/prices", "/api/v1/accounts/{accountId}/prices"),
    (f"{ACC}/balance", "/api/v1/accounts/{accountId}/balance"),
    (f"{ACC}/webhooks", "/api/v1/accounts/{accountId}/webhooks"),
    # Chat Apps
    (f"{SUB}/messages/{UMID}/read", "/api/v1/subaccounts/{subAccountId}/messages/{umid}/read"),
    (f"{SUB}/lon", "/api/v1/subaccounts/{subAccountId}/lon"),
    (f"{SUB}/lon/batch", "/api/v1/subaccounts/{subAccountId}/lon/batch"),
    (f"{SUB}/events", "/api/v1/subaccounts/{subAccountId}/events"),
    (f"{SUB}/files", "/api/v1/subaccounts/{subAccountId}/files"),
    (f"{ACC}/channels/ch-77/templates", "/api/v1/accounts/{accountId}/channels/{channelId}/templates"),
    (f"{ACC}/channels/ch-77/flows", "/api/v1/accounts/{accountId}/channels/{channelId}/flows"),
    # Verification (v2)
    ("/api/v2/subaccounts/acme/sessions", "/api/v2/subaccounts/{subAccountId}/sessions"),
    (f"/api/v2/subaccounts/acme/sessions/{UMID}", "/api/v2/subaccounts/{subAccountId}/sessions/{sessionId}"),
    # Number Lookup, Contacts
    (f"{SUB}/phones/+6591234567", "/api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"),
    (f"{SUB}/phones/%2B6591234567", "/api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"),
    (f"{SUB}/contacts/blacklist/6591234567", "/api/v1/subaccounts/{subAccountId}/contacts/blacklist/{msisdn}"),
    # Voice
    (f"{SUB}/callflows", "/api/v1/subaccounts/{subAccountId}/callflows"),
    (f"{SUB}/webhooks", "/api/v1/subaccounts/{subAccountId}/webhooks"),
    (f"{SUB}/numbers/6531234567", "/api/v1/subaccounts/{subAccountId}/numbers/{number}"),
    (f"{SUB}/recordings/{UMID}", "/api/v1/subaccounts/{subAccountId}/recordings/{sessionId}"),
    # Legacy wavecell
    ("/sms/v1/acme/single", "/sms/v1/{subAccountId}/single"),
    ("/sms/v1/acme/many", "/sms/v1/{subAccountId}/many"),
    ("/config/v1/webhook", "/config/v1/webhook"),
]


@pytest.mark.parametrize(("path", "template"), PATHS)
def test_template(path: str, template: str) -> None:
    assert parse_path(path).template == template


@pytest.mark.parametrize(("path", "template"), [(p, t) for p, t in PATHS if "{subAccountId}" in t])
def test_subaccount_extracted(path: str, template: str) -> None:
    assert parse_path(path).subaccount_id == "acme"


# --- subaccount ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc", "a-b.c_d&e", "ACME01", "x" * 50])
def test_valid_subaccount_id(name: str) -> None:
    info = parse_path(f"/api/v1/subaccounts/{name}/messages")
    assert info.subaccount_id == name
    assert info.template == "/api/v1/subaccounts/{subAccountId}/messages"


@pytest.mark.parametrize("name", ["ab", "x" * 51, "acme!", "ac%20me", "acme%2Fco", "acme~1", "%2B6591234567"])
def test_invalid_subaccount_id_rejected_but_templated(name: str) -> None:
    info = parse_path(f"/api/v1/subaccounts/{name}/messages")
    assert info.subaccount_id is None
    assert info.template == "/api/v1/subaccounts/{subAccountId}/messages"


@pytest.mark.parametrize("name", ["messages", "sms", "batch", "phones"])
def test_subaccount_named_like_a_keyword(name: str) -> None:
    info = parse_path(f"/api/v1/subaccounts/{name}/messages")
    assert info.template == "/api/v1/subaccounts/{subAccountId}/messages"
    assert info.subaccount_id == name


@pytest.mark.parametrize("name", ["messages", "sms"])
def test_legacy_subaccount_named_like_a_keyword(name: str) -> None:
    info = parse_path(f"/sms/v1/{name}/single")
    assert info.template == "/sms/v1/{subAccountId}/single"
    assert info.subaccount_id == name


# --- phone segments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "phone"),
    [
        (f"{SUB}/phones/+6591234567", "+6591234567"),
        (f"{SUB}/phones/%2B6591234567", "%2B6591234567"),
        (f"{SUB}/contacts/blacklist/6591234567", "6591234567"),
        (f"{SUB}/numbers/6531234567", "6531234567"),
    ],
)
def test_phone_segments(path: str, phone: str) -> None:
    info = parse_path(path)
    segments = path.split("/")
    assert [segments[i] for i in info.phone_segments] == [phone]


@pytest.mark.parametrize("path", [f"{SUB}/messages/{UMID}", f"{SUB}/messages", "/sms/v1/acme/single"])
def test_no_phone_segments(path: str) -> None:
    assert parse_path(path).phone_segments == ()


# --- property: bounded cardinality --------------------------------------------------------------

ALLOWED_PLACEHOLDERS = {*PLACEHOLDERS.values(), "{id}", "{subAccountId}"}
_segment = st.sampled_from(sorted(VOCABULARY)) | st.text(
    st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=15
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_segment, max_size=10))
def test_template_has_bounded_cardinality(segments: list[str]) -> None:
    template = parse_path("/" + "/".join(segments)).template
    assert not re.search(r"\d{3,}", template)
    for part in template.split("/"):
        assert part == "" or part in VOCABULARY or part in ALLOWED_PLACEHOLDERS, part
    assert all(re.fullmatch(r"\{[A-Za-z]+\}", p) for p in ALLOWED_PLACEHOLDERS)


# --- describe_call ------------------------------------------------------------------------------


@pytest.fixture
def matcher() -> HostMatcher:
    return HostMatcher()


def _target(matcher: HostMatcher, host: str) -> Target:
    target = matcher.match(host)
    assert target is not None
    return target


def test_describe_send(matcher: HostMatcher) -> None:
    url = "https://sms.8x8.com/api/v1/subaccounts/acme/messages"
    call = describe_call("POST", url, _target(matcher, "sms.8x8.com"))
    assert call.span_name == "POST /api/v1/subaccounts/{subAccountId}/messages (sms)"
    attrs = call.attributes
    assert attrs["http.request.method"] == "POST"
    assert attrs["server.address"] == "sms.8x8.com"
    assert attrs["server.port"] == 443
    assert attrs["url.full"] == url
    assert attrs["url.template"] == "/api/v1/subaccounts/{subAccountId}/messages"
    assert attrs["com.8x8.product"] == "sms"
    assert attrs["com.8x8.region"] == "ap"
    assert attrs["com.8x8.subaccount.id"] == "acme"
    assert "http.request.method_original" not in attrs


def test_describe_lookup_has_no_phone(matcher: HostMatcher) -> None:
    url = "https://lookup.us.8x8.com/api/v1/subaccounts/acme/phones/+6591234567"
    call = describe_call("GET", url, _target(matcher, "lookup.us.8x8.com"))
    full = call.attributes["url.full"]
    assert isinstance(full, str)
    assert "6591234567" not in full
    assert full.startswith("https://lookup.us.8x8.com/api/v1/subaccounts/acme/phones/")
    assert call.span_name == "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    assert call.attributes["com.8x8.product"] == "lookup"
    assert call.attributes["com.8x8.region"] == "us"


def test_describe_unknown_method(matcher: HostMatcher) -> None:
    call = describe_call("FOO", "https://sms.8x8.com/api/v1/subaccounts/acme/messages", _target(matcher, "sms.8x8.com"))
    assert call.attributes["http.request.method"] == "_OTHER"
    assert call.attributes["http.request.method_original"] == "FOO"
    assert call.span_name == "HTTP /api/v1/subaccounts/{subAccountId}/messages"


def test_describe_explicit_port_and_credentials(matcher: HostMatcher) -> None:
    url = "https://user:secret@sms.8x8.uk:8443/api/v1/subaccounts/acme/messages?apikey=k#frag"
    call = describe_call("get", url, _target(matcher, "sms.8x8.uk"))
    assert call.attributes["server.port"] == 8443
    assert call.attributes["server.address"] == "sms.8x8.uk"
    assert call.attributes["http.request.method"] == "GET"
    assert call.attributes["com.8x8.region"] == "eu"
    full = call.attributes["url.full"]
    assert isinstance(full, str)
    assert "secret" not in full and "user" not in full and "frag" not in full
    assert "apikey=k" not in full
