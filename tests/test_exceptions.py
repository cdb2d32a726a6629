"""The application gets the very same exception object the library raised."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter

from otel_8x8 import EightByEightInstrumentor

from .conftest import Telemetry
from .helpers_faults import refused_netloc

URL = "https://sms.8x8.com/api/v1/subaccounts/acme/messages"


class _Boom(Exception):
    pass


class _RaisingAdapter(BaseAdapter):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise self.exc

    def close(self) -> None:
        pass


@pytest.fixture
def instrumented_default(telemetry: Telemetry) -> Any:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


def test_requests_exception_is_the_same_object(telemetry: Telemetry, instrumented_default: Any) -> None:
    boom = _Boom("connection reset by 8x8")
    session = requests.Session()
    session.mount("https://", _RaisingAdapter(boom))

    with pytest.raises(_Boom) as raised:
        session.post(URL, json={})

    assert raised.value is boom
    [span] = telemetry.client_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == f"{__name__}._Boom"
    assert span.end_time is not None


def test_httpx_exception_is_the_same_object(telemetry: Telemetry, instrumented_default: Any) -> None:
    boom = httpx.ConnectTimeout("timed out")

    def handler(request: httpx.Request) -> httpx.Response:
        raise boom

    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(httpx.ConnectTimeout) as raised:
        client.post(URL, json={})
    assert raised.value is boom

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await client.post(URL, json={})

    with pytest.raises(httpx.ConnectTimeout) as raised_async:
        asyncio.run(run())
    assert raised_async.value is boom

    spans = telemetry.client_spans()
    assert [s.attributes["error.type"] for s in spans if s.attributes] == ["httpx.ConnectTimeout"] * 2
    assert [s.attributes["com.8x8.product"] for s in spans if s.attributes] == ["sms", "sms"]


def test_keyboard_interrupt_still_propagates_and_ends_the_span(telemetry: Telemetry, instrumented_default: Any) -> None:
    interrupt = KeyboardInterrupt()
    session = requests.Session()
    session.mount("https://", _RaisingAdapter(interrupt))

    with pytest.raises(KeyboardInterrupt) as raised:
        session.get(URL)

    assert raised.value is interrupt
    [span] = telemetry.client_spans()
    assert span.end_time is not None


def test_a_failed_call_records_no_secret_from_the_exception_message(telemetry: Telemetry) -> None:
    """requests and httpx quote the URL in their exceptions: the query's key must not reach the span."""
    netloc = refused_netloc()
    secret = "sk-live-SECRET-3f9a7c"
    url = f"http://{netloc}/api/v1/subaccounts/acme/messages?apikey={secret}&to=%2B6591234567"
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[netloc]
    )
    try:
        with pytest.raises(requests.ConnectionError) as from_requests:
            requests.get(url, timeout=5)
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as client:
            client.get(url)
    finally:
        instrumentor.uninstrument()

    assert secret in str(from_requests.value)  # the app's exception is untouched
    spans = telemetry.client_spans()
    assert len(spans) == 2
    for span in spans:
        [event] = span.events
        recorded = json.dumps([dict(span.attributes or {}), dict(event.attributes or {}), span.status.description])
        assert "apikey=REDACTED" in recorded
        assert secret not in recorded and "6591234567" not in recorded
