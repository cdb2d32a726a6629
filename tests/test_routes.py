"""Every documented 8x8 operation (the route table from 8x8's OpenAPI specifications) gets its own span name and
8x8's template, with 8x8's placeholder names; no concrete segment of a path ever reaches a template."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_8x8 import EightByEightInstrumentor
from otel_8x8 import attributes as A
from otel_8x8.call import describe_call
from otel_8x8.hosts import DEFAULT_HOSTS, HostMatcher, Target
from otel_8x8.products import ALL_ROUTES, PRODUCTS, route_table
from otel_8x8.products.routes_table import ROUTES, SERVERS
from otel_8x8.routes import Route, is_placeholder
from otel_8x8.templates import MAX_DEPTH, VOCABULARY, path_info
from otel_8x8.testing import FakeEightByEight

from .conftest import Telemetry
from .support import PHONE, concrete

PHONE_VALUES = ("6591234567", "6531234567")


def hosts_of(route: Route) -> tuple[str, ...]:
    return route.hosts or SERVERS[route.product]


def expected_span_name(route: Route) -> str:
    """``{METHOD} {template}``, and the product in brackets where another product documents the same method and
    path (read from the raw table, not from otel-8x8's registry)."""
    products = {product for product, method, path, _, _ in ROUTES if (method, path) == (route.method, route.template)}
    name = f"{route.method} {route.template}"
    return f"{name} ({route.product})" if len(products) > 1 else name


def test_the_table_holds_8x8s_105_documented_operations() -> None:
    assert len(ALL_ROUTES) == len(ROUTES) == 105
    assert {route.product for route in ALL_ROUTES} == set(PRODUCTS)
    assert len({(r.product, r.method, r.template) for r in ALL_ROUTES}) == 105
    assert all(route.operation_id for route in ALL_ROUTES)


def test_every_documented_host_is_an_8x8_host_of_its_product() -> None:
    documented = {(host, route.product) for route in ALL_ROUTES for host in hosts_of(route)}
    assert len(documented) == 24  # 5 products x 4 regions, voice (and its legacy host), automation, video
    for host, product in documented:
        assert DEFAULT_HOSTS[host].product == product, host


@pytest.mark.parametrize("route", ALL_ROUTES, ids=lambda r: f"{r.product}:{r.operation_id}")
def test_every_operation_gets_its_template_on_each_of_its_hosts(route: Route) -> None:
    matcher = HostMatcher()
    path = concrete(route)
    for host in hosts_of(route):
        call = describe_call(route.method, f"https://{host}{path}?x=1", matcher.match(host))
        assert call.span_name == expected_span_name(route)
        assert call.attributes[A.URL_TEMPLATE] == route.template
        assert call.attributes[A.PRODUCT] == route.product
        for phone in PHONE_VALUES:
            assert phone not in str(call.attributes[A.URL_FULL])
        if "{subAccountId}" in route.template:
            assert call.attributes[A.SUBACCOUNT_ID] == "acme-prod_01"


def test_no_two_operations_share_a_span_name() -> None:
    names: dict[str, list[str]] = defaultdict(list)
    for route in ALL_ROUTES:
        for host in hosts_of(route):
            call = describe_call(route.method, f"https://{host}{concrete(route)}", HostMatcher().match(host))
            names[call.span_name].append(f"{route.product}:{route.operation_id}")
    shared = {name: sorted(set(ops)) for name, ops in names.items() if len(set(ops)) > 1}
    assert not shared
    assert len(names) == 105


def test_only_the_paths_several_products_document_alike_carry_the_product_in_their_name() -> None:
    qualified = [route for route in ALL_ROUTES if expected_span_name(route) != f"{route.method} {route.template}"]
    assert len(qualified) == 25  # 8 SMS/Chat Apps pairs, 3 SMS/Chat Apps/Voice log export triples
    assert {route.product for route in qualified} == {"sms", "chatapps", "voice"}
    sms = HostMatcher().match("sms.8x8.com")
    assert describe_call("GET", "https://sms.8x8.com/api/v1/accounts/acme/balance", sms).span_name == (
        "GET /api/v1/accounts/{accountId}/balance"
    )
    assert describe_call("POST", "https://sms.8x8.com/api/v1/subaccounts/acme/messages", sms).span_name == (
        "POST /api/v1/subaccounts/{subAccountId}/messages (sms)"
    )
    # a host that does not tell the product (a gateway): the plain name, as the product is unknown
    gateway = describe_call("POST", "https://gw.example/api/v1/subaccounts/acme/messages", Target(None, None))
    assert gateway.span_name == "POST /api/v1/subaccounts/{subAccountId}/messages"


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        # literal segments are tried before placeholders
        ("POST", "/api/v1/accounts/a-1/contacts/batches/createContacts", "contacts/batches/createContacts"),
        ("POST", "/api/v1/accounts/a-1/contacts/batches/deleteContacts", "contacts/batches/deleteContacts"),
        ("POST", "/api/v1/accounts/a-1/groups/batches/moveContacts", "groups/batches/moveContacts"),
        ("GET", "/api/v1/accounts/a-1/contacts/5561234", "contacts/{contactId}"),
        ("POST", "/api/v1/accounts/a-1/contacts/blacklist/6591234567", "contacts/blacklist/{msisdn}"),
        # method-aware: DELETE .../messages/batch/{batchId} is not GET .../messages/{umid}
        ("DELETE", "/api/v1/subaccounts/acme/messages/batch/b-1", "messages/batch/{batchId}"),
        ("GET", "/api/v1/subaccounts/acme/messages/exports/77", "messages/exports/{jobId}"),
        # an undocumented method on a documented path keeps the path's template
        ("PUT", "/api/v1/subaccounts/acme/messages", "subaccounts/{subAccountId}/messages"),
        # empty segments and a trailing slash are ignored
        ("POST", "//api/v1//subaccounts/acme/messages/", "subaccounts/{subAccountId}/messages"),
    ],
)
def test_matching_rules(method: str, path: str, template: str) -> None:
    info = path_info(method, path, None)
    assert info.template.endswith("/" + template)
    documented = method != "PUT"
    assert (info.operation_id is not None) is documented  # an undocumented method is no documented operation


def test_a_gateway_host_tells_the_product_by_the_route() -> None:
    """On a host that does not tell (a gateway, the fake 8x8), the route does, when only one product has it."""
    assert path_info("POST", "/api/v1/accounts/a/definitions", None).product == "automation"
    assert path_info("GET", "/api/v1/subaccounts/a/phones/+6591234567", None).product == "lookup"
    assert path_info("POST", "/api/v1/subaccounts/a/messages", None).product is None  # SMS and Chat Apps alike
    assert path_info("POST", "/api/v1/subaccounts/a/messages", "chatapps").product == "chatapps"
    # Video's /{link} takes any one-segment path: only on Video's own hosts
    assert path_info("GET", "/favicon.ico", "video").template == "/{link}"
    assert path_info("GET", "/favicon.ico", None).template == "/{id}"


@pytest.mark.parametrize("name", ["6591234567", "65-9123-4567", "+6591234567", "%2B6591234567", "65.9123.4567"])
def test_a_phone_number_is_never_recorded_as_a_subaccount(name: str) -> None:
    assert path_info("POST", f"/api/v1/subaccounts/{name}/messages", "sms").subaccount_id is None
    assert path_info("POST", f"/sms/v1/{name}/single", "sms").subaccount_id is None


# --- property: no concrete segment reaches a template ------------------------------------------------

_TEXT = st.text(st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=12)
_PHONES = st.from_regex(r"\+?[0-9]{7,15}", fullmatch=True)
_IDS = st.uuids().map(str) | st.integers(0, 10**12).map(str)
_SEGMENT = _TEXT | _PHONES | _IDS | st.sampled_from(sorted(VOCABULARY))
_ALLOWED = VOCABULARY | {s for r in ALL_ROUTES for s in r.segments if is_placeholder(s)}


def allowed(part: str) -> bool:
    return part in _ALLOWED or bool(re.fullmatch(r"\{[A-Za-z-]+\}", part))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    st.lists(_SEGMENT | st.just(""), max_size=40),
    st.sampled_from([None, *PRODUCTS]),
)
def test_no_concrete_segment_reaches_a_template(method: str, segments: list[str], product: str | None) -> None:
    info = path_info(method, "/" + "/".join(segments), product)
    parts = info.template.split("/")
    assert parts[0] == ""
    assert len(parts) <= MAX_DEPTH + 2
    for part in parts[1:]:
        assert (part == "" and info.template == "/") or allowed(part), (part, info.template)
    assert not re.search(r"\d{5,}", info.template)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL_ROUTES), st.data())
def test_any_values_in_a_routes_placeholders_give_its_template(route: Route, data: st.DataObject) -> None:
    table = route_table(route.product)
    literals = {segment for r in ALL_ROUTES for segment in r.segments if not is_placeholder(segment)}
    value = _TEXT | _PHONES | _IDS
    segments = [
        data.draw(value.filter(lambda v: v not in literals)) if is_placeholder(s) else s for s in route.segments
    ]
    match = table.match(route.method, "/" + "/".join(segments))
    assert match is not None
    assert (match.route.method, match.route.template) == (route.method, route.template)


# --- through an unmodified app, against the fake 8x8 -------------------------------------------------


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeEightByEight]]:
    """One fake 8x8 per product, each configured as that product's host (as a gateway per product would be)."""
    servers = {name: FakeEightByEight().start() for name in PRODUCTS}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def test_every_operation_called_through_requests_is_one_span_with_its_name(
    telemetry: Telemetry, fakes: dict[str, FakeEightByEight]
) -> None:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        hosts=[f"{fake.netloc}={name}" for name, fake in fakes.items()],
    )
    try:
        with requests.Session() as session:
            for route in ALL_ROUTES:
                url = fakes[route.product].url + concrete(route)
                session.request(route.method, url, headers={"Authorization": "Bearer k"}, json={}, timeout=10)
    finally:
        instrumentor.uninstrument()
    spans = telemetry.client_spans()
    assert [span.name for span in spans] == [expected_span_name(r) for r in ALL_ROUTES]
    assert len({span.name for span in spans}) == len(ALL_ROUTES)
    for span, route in zip(spans, ALL_ROUTES, strict=True):
        attributes = span.attributes or {}
        assert attributes[A.PRODUCT] == route.product
        assert attributes[A.URL_TEMPLATE] == route.template
        assert PHONE not in str(attributes[A.URL_FULL])


def test_literal_before_placeholder_and_method_before_path() -> None:
    from otel_8x8.routes import RouteTable

    table = RouteTable(
        [
            Route("p", "GET", "/a/{x}/c", "get-x-c"),
            Route("p", "GET", "/a/b/{y}", "get-b-y"),
            Route("p", "POST", "/a/{x}", "post-x"),
            Route("p", "GET", "/a/b", "get-b"),
        ]
    )

    def operation(method: str, path: str) -> str | None:
        match = table.match(method, path)
        return None if match is None else match.route.operation_id

    assert operation("GET", "/a/b/c") == "get-b-y"  # a literal wins where both match
    assert operation("GET", "/a/q/c") == "get-x-c"
    assert operation("GET", "/a/b") == "get-b"
    assert operation("POST", "/a/b") == "post-x"  # the method's route, though a literal of another matches
    assert operation("PUT", "/a/b") == "get-b"  # no route of that method: the path's
    assert operation("GET", "/a") is None
    match = table.match("GET", "/a/q/c")
    assert match is not None and match.values == (("{x}", "q"),) and match.indexes == (2,)
