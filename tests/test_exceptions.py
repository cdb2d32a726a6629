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
from otel_8x8.testing import FakeEightByEight
from otel_8x8.testing.fake_api import error_envelope

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


SPACED_PHONE = "+65 9123 4567"
LOOKUP_PATH = f"/api/v1/subaccounts/acme/phones/{SPACED_PHONE}"
MESSAGES = "/api/v1/subaccounts/acme/messages"


def _recorded_texts(telemetry: Telemetry) -> list[str]:
    """The exported span's status description and exception event messages, one string each."""
    [span] = telemetry.client_spans()
    texts = [span.status.description or ""]
    texts += [str((event.attributes or {}).get("exception.message", "")) for event in span.events]
    return texts


def _assert_no_phone(texts: list[str], quoted: bool = True) -> None:
    """No piece of SPACED_PHONE in any of ``texts``; with ``quoted``, the message did hold it, now redacted."""
    assert not quoted or any("REDACTED" in text for text in texts), texts
    for text in texts:
        for piece in ("9123", "4567", "+65", "%2B65", "65%20", "65+9"):
            assert piece not in text, text
        assert "\n" not in text and "\r" not in text, text


@pytest.mark.parametrize("where", ["query", "path"])
def test_a_refused_connection_records_no_url_encoded_phone(telemetry: Telemetry, where: str) -> None:
    """requests quotes the URL as sent (``?to=%2B65+9123+4567``, ``/phones/+65%209123%204567``); httpx's
    ConnectError does not quote it, and is checked all the same."""
    netloc = refused_netloc()
    path, params = (LOOKUP_PATH, None) if where == "path" else (MESSAGES, {"to": SPACED_PHONE})
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[netloc]
    )
    try:
        with pytest.raises(requests.ConnectionError) as raised:
            requests.get(f"http://{netloc}{path}", params=params, timeout=5)
        assert "9123" in str(raised.value)  # the message did quote it
        _assert_no_phone(_recorded_texts(telemetry))
        telemetry.spans.clear()
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as client:
            client.get(f"http://{netloc}{path}", params=params)
        _assert_no_phone(_recorded_texts(telemetry), quoted=False)
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def answering_400(fake: FakeEightByEight) -> FakeEightByEight:
    fake.script(None, r"/api/v1/subaccounts/acme/.*", error_envelope(1002, "Invalid request", 400))
    return fake


def test_raise_for_status_in_a_requests_hook_records_no_phone(
    telemetry: Telemetry, instrumented: Any, answering_400: FakeEightByEight
) -> None:
    session = requests.Session()
    session.hooks["response"].append(lambda response, *args, **kwargs: response.raise_for_status())
    for path, params in ((LOOKUP_PATH, None), (MESSAGES, {"to": SPACED_PHONE})):
        with pytest.raises(requests.HTTPError) as raised:
            session.get(answering_400.url + path, params=params, timeout=5)
        assert "9123" in str(raised.value)
        _assert_no_phone(_recorded_texts(telemetry))
        telemetry.spans.clear()


def test_raise_for_status_in_an_httpx_hook_records_no_phone(
    telemetry: Telemetry, instrumented: Any, answering_400: FakeEightByEight
) -> None:
    """httpx's HTTPStatusError message also holds a newline ("...\\nFor more information check: ...")."""

    def raise_for_status(response: httpx.Response) -> None:
        response.raise_for_status()

    with httpx.Client(timeout=5, event_hooks={"response": [raise_for_status]}) as client:
        for path, params in ((LOOKUP_PATH, None), (MESSAGES, {"to": SPACED_PHONE})):
            with pytest.raises(httpx.HTTPStatusError) as raised:
                client.get(answering_400.url + path, params=params)
            assert "9123" in str(raised.value) and "\n" in str(raised.value)
            _assert_no_phone(_recorded_texts(telemetry))
            telemetry.spans.clear()


def test_an_error_message_cannot_forge_a_log_line(
    telemetry: Telemetry, instrumented: Any, fake: FakeEightByEight
) -> None:
    """8x8's message goes to the span, the log record and the metric's neighbours: one line, whatever it holds."""
    forged = "Invalid request\n2026-01-01 00:00:00 ERROR forged line\r\x1b[2Kapi key: Zk9SECRET"
    fake.script("POST", "/api/v1/subaccounts/acme/messages", error_envelope(1002, forged, 400))
    requests.post(fake.url + "/api/v1/subaccounts/acme/messages", json={}, timeout=5)
    [span] = telemetry.client_spans()
    records = telemetry.log_records()
    assert records
    texts = [span.status.description or "", *(str(record.body) for record in records)]
    texts += [str(value) for record in records for value in (record.attributes or {}).values()]
    texts += [str(value) for value in (span.attributes or {}).values()]
    for text in texts:
        assert "\n" not in text and "\r" not in text and "\x1b" not in text, text
        assert "Zk9SECRET" not in text, text
    assert any("\\n" in text and "forged" in text for text in texts)
