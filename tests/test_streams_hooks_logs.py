"""Streaming responses, user hooks, the JSON log formatter, and what the app keeps seeing."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import linecache
import logging
from typing import Any

import httpx
import pytest
import requests
from pythonjsonlogger.json import JsonFormatter

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

from .conftest import API_KEY, Telemetry
from .support import on_error_logger

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MESSAGES = "/api/v1/subaccounts/acme/messages"
BIG = b"x" * (1 << 20)


def _instrument(telemetry: Telemetry, fake: FakeEightByEight, **options: Any) -> EightByEightInstrumentor:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        hosts=[fake.netloc],
        **options,
    )
    return instrumentor


def test_requests_stream_is_not_read_by_the_instrumentation(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("GET", "/api/v1/subaccounts/acme/messages/exports/j1", Reply(status=200, body=BIG))
    fake.script("POST", MESSAGES, Reply(status=400, body={"code": 1002, "message": "Invalid MSISDN"}))

    big = requests.get(fake.url + "/api/v1/subaccounts/acme/messages/exports/j1", headers=AUTH, stream=True)
    assert getattr(big, "_content_consumed") is False  # noqa: B009 -- nothing read behind the app's back
    assert sum(len(chunk) for chunk in big.iter_content(65536)) == len(BIG)

    error = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
    assert getattr(error, "_content_consumed") is False  # noqa: B009
    assert error.json()["code"] == 1002  # the app can still read all of it
    assert error.elapsed.total_seconds() > 0

    spans = telemetry.client_spans()
    assert [s.attributes["http.response.status_code"] for s in spans if s.attributes] == [200, 400]
    error_attrs = dict(spans[1].attributes or {})
    assert error_attrs["com.8x8.error.category"] == "invalid_request"
    assert error_attrs["com.8x8.error.code"] == 1002  # from what the app itself read
    [record] = telemetry.log_records()
    assert (record.trace_id, record.span_id) == (spans[1].context.trace_id, spans[1].context.span_id)


@pytest.mark.parametrize("client", ["requests", "httpx", "httpx-async"])
def test_streamed_error_span_stays_open_until_the_app_is_done(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    envelope = error_envelope(1200, "Unauthorized Access", 401)
    fake.script("POST", MESSAGES, envelope)
    url = fake.url + MESSAGES

    if client == "requests":
        response = requests.post(url, json={}, headers=AUTH, stream=True)
        assert telemetry.client_spans() == []  # open while the app has not read the body
        body = response.content
    elif client == "httpx":
        with httpx.Client() as http, http.stream("POST", url, json={}, headers=AUTH) as streamed:
            assert telemetry.client_spans() == []
            body = streamed.read()
    else:

        async def run() -> bytes:
            async with httpx.AsyncClient() as http, http.stream("POST", url, json={}, headers=AUTH) as streamed:
                assert telemetry.client_spans() == []
                return await streamed.aread()

        body = asyncio.run(run())

    assert json.loads(body)["code"] == 1200
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.code"] == 1200
    assert attrs["com.8x8.error.id"] == json.loads(body)["errorId"]
    assert attrs["com.8x8.error.category"] == "auth"
    [point] = telemetry.metric_points("com.8x8.api.errors")
    assert point.attributes["com.8x8.error.code"] == 1200


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_streamed_error_closed_unread_ends_the_span_with_the_status_category(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1300, "Not found", 404))

    if client == "requests":
        response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
        response.close()
    else:
        with httpx.Client() as http, http.stream("POST", fake.url + MESSAGES, json={}, headers=AUTH):
            pass

    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.category"] == "not_found"
    assert "com.8x8.error.code" not in attrs
    assert len(telemetry.log_records()) == 1


def test_streamed_gzip_error_is_decoded_for_the_span(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    raw = json.dumps({"code": 3038, "message": "Template not found", "errorId": "e-1"}).encode()
    fake.script("POST", MESSAGES, Reply(status=400, body=gzip.compress(raw), headers={"Content-Encoding": "gzip"}))

    with httpx.Client() as http, http.stream("POST", fake.url + MESSAGES, json={}, headers=AUTH) as streamed:
        assert json.loads(streamed.read()) == json.loads(raw)
    response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
    assert response.json()["code"] == 3038

    spans = telemetry.client_spans()
    assert [(s.attributes or {}).get("com.8x8.error.code") for s in spans] == [3038, 3038]
    assert [(s.attributes or {}).get("com.8x8.error.category") for s in spans] == ["template", "template"]


def test_streamed_big_error_body_is_not_copied(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    big = json.dumps({"code": 1002, "message": "x" * (2 << 20)}).encode()
    fake.script("POST", MESSAGES, Reply(status=400, body=big))

    response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
    assert response.content == big

    [span] = telemetry.client_spans()
    assert "com.8x8.error.code" not in (span.attributes or {})  # beyond the parse limit: not parsed
    assert (span.attributes or {})["com.8x8.error.category"] == "invalid_request"


def test_httpx_stream_is_not_read_by_the_instrumentation(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("GET", "/api/v1/subaccounts/acme/messages/exports/j1", Reply(status=200, body=BIG))
    fake.script("POST", MESSAGES, Reply(status=503, body="<html>busy</html>", content_type="text/html"))
    url = fake.url + "/api/v1/subaccounts/acme/messages/exports/j1"

    with httpx.Client() as client, client.stream("GET", url, headers=AUTH) as response:
        assert response.is_stream_consumed is False
        assert sum(len(chunk) for chunk in response.iter_bytes()) == len(BIG)

    async def run() -> bytes:
        async with httpx.AsyncClient() as client, client.stream("POST", fake.url + MESSAGES, headers=AUTH) as response:
            assert response.is_stream_consumed is False
            return await response.aread()

    assert asyncio.run(run()) == b"<html>busy</html>"
    spans = sorted(telemetry.client_spans(), key=lambda s: s.start_time or 0)
    assert len(spans) == 2
    assert spans[1].attributes is not None
    assert spans[1].attributes["com.8x8.error.category"] == "server_error"
    assert spans[1].attributes["com.8x8.error.retryable"] is True


def test_hooks_see_the_span_and_their_failures_never_reach_the_app(
    fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    seen: list[str] = []

    def request_hook(span: Any, request: Any) -> None:
        seen.append(f"request {request.method}")
        span.set_attribute("app.tenant", "t1")
        raise RuntimeError("a broken request hook")

    def response_hook(span: Any, request: Any, response: Any) -> None:
        seen.append(f"response {response.status_code}")
        raise ValueError("a broken response hook")

    instrumentor = _instrument(telemetry, fake, request_hook=request_hook, response_hook=response_hook)
    try:
        assert requests.post(fake.url + MESSAGES, json={"text": "FAIL 1002"}, headers=AUTH).status_code == 400
        assert httpx.post(fake.url + MESSAGES, json={"text": "hi"}, headers=AUTH).status_code == 200
    finally:
        instrumentor.uninstrument()

    assert seen == ["request POST", "response 400", "request POST", "response 200"]
    spans = telemetry.client_spans()
    assert [s.attributes["app.tenant"] for s in spans if s.attributes] == ["t1", "t1"]
    assert spans[0].attributes is not None and spans[0].attributes["com.8x8.error.code"] == 1002


def test_error_log_reads_well_through_a_json_formatter(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s %(pathname)s %(funcName)s %(lineno)d"))
    with on_error_logger(handler):
        requests.post(fake.url + MESSAGES, json={"destination": "+6591234567", "text": "FAIL 1002"}, headers=AUTH)

    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    [span] = telemetry.client_spans()
    assert record["levelname"] == "WARNING"
    assert record["name"] == "otel_8x8"
    assert "1002" in record["message"] and "invalid_request" in record["message"]
    assert record["com.8x8.error.code"] == 1002
    assert record["com.8x8.error.id"] == (span.attributes or {})["com.8x8.error.id"]
    assert record["com.8x8.error.category"] == "invalid_request"
    assert record["com.8x8.error.retryable"] is False
    assert record["url.template"] == "/api/v1/subaccounts/{subAccountId}/messages"
    assert "6591234567" not in line
    assert API_KEY not in line
    # Where the record says it comes from is a real place: the line that defines the function it names.
    source_line = linecache.getline(record["pathname"], record["lineno"])
    assert f"def {record['funcName']}(" in source_line


@pytest.mark.parametrize("hosts_env", ["{netloc}", "*.nowhere.invalid,{netloc}=sms"])
def test_hosts_from_the_environment(
    fake: FakeEightByEight, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch, hosts_env: str
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_8X8_HOSTS", hosts_env.format(netloc=fake.netloc))
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        requests.post(fake.url + MESSAGES, json={"text": "hi"}, headers=AUTH)
    finally:
        instrumentor.uninstrument()

    [span] = telemetry.client_spans()
    assert span.attributes is not None
    assert span.attributes.get("com.8x8.product") == ("sms" if "=sms" in hosts_env else None)


# --- the application's own hooks ---------------------------------------------------------------------------


def _raise_for_status_requests(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    response.raise_for_status()


def _read_then_raise_requests(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    assert response.content  # the app's hook reads the body itself
    response.raise_for_status()


def _call_raising(client: str, url: str, read_first: bool) -> BaseException:
    """A call whose response hook raises the error status, as apps do with raise_for_status."""
    if client == "requests":
        hook = _read_then_raise_requests if read_first else _raise_for_status_requests
        with pytest.raises(requests.HTTPError) as raised:
            requests.post(url, json={}, headers=AUTH, hooks={"response": hook})
        return raised.value

    def sync_hook(response: httpx.Response) -> None:
        if read_first:
            response.read()
        response.raise_for_status()

    async def async_hook(response: httpx.Response) -> None:
        if read_first:
            await response.aread()
        response.raise_for_status()

    if client == "httpx":
        with httpx.Client(event_hooks={"response": [sync_hook]}) as http, pytest.raises(httpx.HTTPStatusError) as err:
            http.post(url, json={}, headers=AUTH)
        return err.value

    async def run() -> None:
        async with httpx.AsyncClient(event_hooks={"response": [async_hook]}) as http:
            await http.post(url, json={}, headers=AUTH)

    with pytest.raises(httpx.HTTPStatusError) as raised_async:
        asyncio.run(run())
    return raised_async.value


@pytest.mark.parametrize("read_first", [False, True], ids=["body-unread", "hook-reads-body"])
@pytest.mark.parametrize("client", ["requests", "httpx", "httpx-async"])
def test_an_error_raised_by_a_response_hook_is_still_an_8x8_error(
    client: str, read_first: bool, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    reply = error_envelope(1400, "Too many requests", 429, error_id="e-429")
    fake.script("POST", MESSAGES, Reply(reply.status, reply.body, retry_after=3))

    raised = _call_raising(client, fake.url + MESSAGES, read_first)

    assert getattr(raised, "response").status_code == 429  # noqa: B009 -- the app's own exception, untouched
    [span] = telemetry.client_spans()
    assert span.end_time is not None
    attrs = dict(span.attributes or {})
    assert attrs["http.response.status_code"] == 429
    assert attrs["error.type"] == "429"
    assert attrs["com.8x8.error.category"] == "rate_limit"
    assert attrs["com.8x8.retry_after"] == 3.0
    # The code and errorId are known only when the body was read (the library raised before reading it).
    assert attrs.get("com.8x8.error.code") == (1400 if read_first else None)
    assert attrs.get("com.8x8.error.id") == ("e-429" if read_first else None)
    [event] = span.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == f"{type(raised).__module__}.{type(raised).__qualname__}"
    [point] = telemetry.metric_points("com.8x8.api.errors")
    assert point.value == 1 and point.attributes["com.8x8.error.category"] == "rate_limit"
    [record] = telemetry.log_records()
    assert record.span_id == span.context.span_id
    assert API_KEY not in json.dumps(attrs) + str(span.status.description) + json.dumps(dict(event.attributes or {}))


def test_a_response_hook_that_reads_a_streamed_error_feeds_it_and_the_span_ends_after_the_hook(
    fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400, error_id="e-1"))

    def response_hook(span: Any, request: Any, response: Any) -> None:
        body = response.read() if isinstance(response, httpx.Response) else response.content
        span.set_attribute("app.body_length", len(body))

    instrumentor = _instrument(telemetry, fake, response_hook=response_hook)
    try:
        streamed = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
        assert streamed.json()["code"] == 1002
        streamed.close()
        with httpx.Client() as client, client.stream("POST", fake.url + MESSAGES, json={}, headers=AUTH) as response:
            assert json.loads(response.read())["code"] == 1002
        ended_while_the_app_holds_them = len(telemetry.client_spans())
    finally:
        instrumentor.uninstrument()

    assert ended_while_the_app_holds_them == 2  # not waiting for the responses to be garbage-collected
    for span in telemetry.client_spans():
        attrs = dict(span.attributes or {})
        assert attrs["com.8x8.error.code"] == 1002 and attrs["com.8x8.error.id"] == "e-1"
        # Set by the hook while the span was still open.
        assert isinstance(attrs["app.body_length"], int) and attrs["app.body_length"] > 0


def test_requests_raw_stays_the_library_object(fake: FakeEightByEight, telemetry: Telemetry) -> None:
    """With stream=True, ``response.raw`` of an error is the very urllib3 response, iterable line by line."""
    body = b'{"code":1002,"message":"Invalid MSISDN","errorId":"e1"}\nline2\n'
    fake.script("POST", MESSAGES, Reply(status=400, body=body))

    def read_raw() -> tuple[str, bytes, list[bytes]]:
        response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
        with response:
            return type(response.raw).__qualname__, next(response.raw), list(response.raw)

    plain = read_raw()
    instrumentor = _instrument(telemetry, fake)
    try:
        observed = read_raw()
    finally:
        instrumentor.uninstrument()

    assert observed == plain
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["com.8x8.error.category"] == "invalid_request"


class _Strange(Exception):
    """An application exception whose ``response`` attribute itself raises."""

    @property
    def response(self) -> Any:
        raise RuntimeError("no response here")


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_an_exception_from_a_hook_reaches_the_app_unchanged_whatever_it_carries(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    strange = _Strange("raised by the app's hook")

    def raise_it(*args: Any, **kwargs: Any) -> None:
        raise strange

    with pytest.raises(_Strange) as raised:
        if client == "requests":
            requests.post(fake.url + MESSAGES, json={}, headers=AUTH, hooks={"response": raise_it})
        else:
            with httpx.Client(event_hooks={"response": [raise_it]}) as http:
                http.post(fake.url + MESSAGES, json={}, headers=AUTH)

    assert raised.value is strange
    [span] = telemetry.client_spans()
    assert str((span.attributes or {})["error.type"]).endswith("_Strange")
