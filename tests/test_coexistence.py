"""Exactly one CLIENT span per 8x8 call beside the contrib HTTP instrumentations, in any order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import urllib3
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, error_envelope

from .clients import CLIENTS
from .conftest import Telemetry

NAMES = ("8x8", "requests", "httpx", "urllib3")
AIOHTTP_NAMES = ("8x8", "aiohttp", "urllib3")  # aiohttp-client patches only aiohttp: its orders apart
# Which instrumentations can make a span for a call of each client.
SPAN_MAKERS = {
    "requests": {"8x8", "requests", "urllib3"},
    "httpx": {"8x8", "httpx"},
    "httpx-async": {"8x8", "httpx"},
    "urllib3": {"8x8", "urllib3"},
    "aiohttp": {"8x8", "aiohttp"},
}
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"

ORIGINALS = {
    "requests.Session.send": requests.Session.__dict__["send"],
    "httpx.Client.send": httpx.Client.__dict__["send"],
    "httpx.AsyncClient.send": httpx.AsyncClient.__dict__["send"],
    "httpx.HTTPTransport.handle_request": httpx.HTTPTransport.__dict__["handle_request"],
    "httpx.AsyncHTTPTransport.handle_async_request": httpx.AsyncHTTPTransport.__dict__["handle_async_request"],
    "urllib3.HTTPConnectionPool.urlopen": urllib3.HTTPConnectionPool.__dict__["urlopen"],
    "aiohttp.ClientSession._request": aiohttp.ClientSession.__dict__["_request"],
    "aiohttp.ClientSession.__init__": aiohttp.ClientSession.__dict__["__init__"],
    "aiohttp.StreamReader._read_nowait_chunk": aiohttp.StreamReader.__dict__["_read_nowait_chunk"],
}


def _restored() -> bool:
    """Every patched method is the library's own function again (identity: proxies compare equal)."""
    return all(_current()[name] is original for name, original in ORIGINALS.items())


def _current() -> dict[str, Any]:
    return {
        "requests.Session.send": requests.Session.__dict__["send"],
        "httpx.Client.send": httpx.Client.__dict__["send"],
        "httpx.AsyncClient.send": httpx.AsyncClient.__dict__["send"],
        "httpx.HTTPTransport.handle_request": httpx.HTTPTransport.__dict__["handle_request"],
        "httpx.AsyncHTTPTransport.handle_async_request": httpx.AsyncHTTPTransport.__dict__["handle_async_request"],
        "urllib3.HTTPConnectionPool.urlopen": urllib3.HTTPConnectionPool.__dict__["urlopen"],
        "aiohttp.ClientSession._request": aiohttp.ClientSession.__dict__["_request"],
        "aiohttp.ClientSession.__init__": aiohttp.ClientSession.__dict__["__init__"],
        "aiohttp.StreamReader._read_nowait_chunk": aiohttp.StreamReader.__dict__["_read_nowait_chunk"],
    }


def _instrumentors() -> dict[str, Any]:
    return {
        "8x8": EightByEightInstrumentor(),
        "requests": RequestsInstrumentor(),
        "httpx": HTTPXClientInstrumentor(),
        "urllib3": URLLib3Instrumentor(),
        "aiohttp": AioHttpClientInstrumentor(),
    }


@pytest.fixture
def clean() -> Iterator[None]:
    yield
    for instrumentor in _instrumentors().values():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    assert _restored()


def _check_calls(telemetry: Telemetry, fake: FakeEightByEight, active: set[str]) -> None:
    for client, call in CLIENTS.items():
        telemetry.spans.clear()
        result = call("POST", fake.url + "/api/v1/subaccounts/acme/messages", json={"text": "FAIL 1002"})
        assert result.status == 400
        spans = telemetry.client_spans()
        expected = 1 if active & SPAN_MAKERS[client] else 0
        assert len(spans) == expected, (client, sorted(active), [(s.name, s.instrumentation_scope) for s in spans])
        # The trace context that went out names the one span (injected once), or is absent with no span.
        sent = fake.requests[-1].headers.get("traceparent")
        assert sent == (_traceparent(spans[0]) if spans else None), (client, sorted(active), sent)
        if spans and "8x8" in active:
            [span] = spans
            assert span.name == f"POST {TEMPLATE}"
            assert span.attributes is not None
            assert span.attributes["com.8x8.error.code"] == 1002
            assert span.attributes["com.8x8.error.category"] == "invalid_request"
            assert span.status.status_code is StatusCode.ERROR
            assert span.status.description is not None and "Invalid MSISDN" in span.status.description


def _traceparent(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


ORDERS = list(itertools.permutations(NAMES)) + list(itertools.permutations(AIOHTTP_NAMES))
# The fast loop (-m "not e2e") tries otel-8x8 first and last among each set; CI runs every order.
FAST_ORDERS = {NAMES, NAMES[::-1], AIOHTTP_NAMES, AIOHTTP_NAMES[::-1]}
ORDER_PARAMS = [
    pytest.param(order, id="-".join(order), marks=() if order in FAST_ORDERS else pytest.mark.e2e) for order in ORDERS
]


@pytest.mark.parametrize("order", ORDER_PARAMS)
@pytest.mark.parametrize("reverse_uninstrument", [False, True], ids=["fifo", "lifo"])
def test_one_span_in_every_instrument_and_uninstrument_order(
    order: tuple[str, ...], reverse_uninstrument: bool, telemetry: Telemetry, fake: FakeEightByEight, clean: None
) -> None:
    instrumentors = _instrumentors()
    active: set[str] = set()
    for name in order:
        options: dict[str, Any] = {"hosts": [fake.netloc]} if name == "8x8" else {}
        instrumentors[name].instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **options
        )
        active.add(name)
    _check_calls(telemetry, fake, active)

    for name in reversed(order) if reverse_uninstrument else order:
        instrumentors[name].uninstrument()
        active.discard(name)
        _check_calls(telemetry, fake, active)

    assert _restored()


def test_instrument_twice_wraps_once(telemetry: Telemetry, fake: FakeEightByEight, clean: None) -> None:
    instrumentor = EightByEightInstrumentor()
    for _ in range(2):
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    wrapped = requests.Session.__dict__["send"]
    assert wrapped.__wrapped__ is ORIGINALS["requests.Session.send"]
    _check_calls(telemetry, fake, {"8x8"})
    instrumentor.uninstrument()
    assert _restored()


def test_reinstrument_after_being_buried(telemetry: Telemetry, fake: FakeEightByEight, clean: None) -> None:
    """8x8 under requests' instrumentation, removed, then instrumented again: still one span, all restored."""
    ours, theirs = EightByEightInstrumentor(), RequestsInstrumentor()
    ours.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    theirs.instrument(tracer_provider=telemetry.tracer_provider)
    ours.uninstrument()
    _check_calls(telemetry, fake, {"requests"})
    ours.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    _check_calls(telemetry, fake, {"requests", "8x8"})
    theirs.uninstrument()
    _check_calls(telemetry, fake, {"8x8"})
    ours.uninstrument()
    assert _restored()


def test_beside_contrib_urllib3_its_span_is_enriched_and_a_stream_is_not_held(
    fake: FakeEightByEight, telemetry: Telemetry, clean: None
) -> None:
    """opentelemetry-instrumentation-urllib3 owns the span (it ends it when urlopen returns): otel-8x8 adds
    the 8x8 attributes from what it knows then, and leaves a streamed body alone."""
    fake.script("POST", "/api/v1/subaccounts/acme/messages", error_envelope(1200, "Unauthorized Access", 401))
    contrib, ours = URLLib3Instrumentor(), EightByEightInstrumentor()
    contrib.instrument(tracer_provider=telemetry.tracer_provider)
    ours.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    try:
        with urllib3.PoolManager(timeout=10) as pool:
            response = pool.request(
                "POST", fake.url + "/api/v1/subaccounts/acme/messages", body=b"{}", preload_content=False
            )
        [span] = telemetry.client_spans()
        assert "release_conn" not in vars(response)
        assert json.loads(response.data)["code"] == 1200
    finally:
        ours.uninstrument()
        contrib.uninstrument()

    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.urllib3"
    attrs = dict(span.attributes or {})
    assert attrs["url.template"] == TEMPLATE
    assert "com.8x8.error.code" not in attrs  # the body was read after the span ended
    assert attrs["com.8x8.error.category"] == "auth"
    assert fake.requests[-1].headers["traceparent"] == _traceparent(span)
