"""aiohttp: every way an application reads (or drops) a response, raise_for_status, the trace context, and
what the application sees, against a real fake-8x8 server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.streams import StreamReader
from opentelemetry.sdk.trace import ReadableSpan

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FAIL_HEADER, FakeEightByEight, Reply, error_envelope

from .conftest import API_KEY, PHONE, Telemetry

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MESSAGES = "/api/v1/subaccounts/acme/messages"
BATCH = "/api/v1/subaccounts/acme/messages/batch"
LOOKUP = f"/api/v1/subaccounts/acme/phones/{PHONE}"

Reader = Callable[[aiohttp.ClientResponse], Awaitable[bytes]]


async def _read(response: aiohttp.ClientResponse) -> bytes:
    return await response.read()


async def _text(response: aiohttp.ClientResponse) -> bytes:
    return (await response.text()).encode()


async def _json(response: aiohttp.ClientResponse) -> bytes:
    return json.dumps(await response.json()).encode()


async def _content_read_n(response: aiohttp.ClientResponse) -> bytes:
    chunks = []
    while chunk := await response.content.read(7):
        chunks.append(chunk)
    return b"".join(chunks)


async def _iter_chunked(response: aiohttp.ClientResponse) -> bytes:
    return b"".join([chunk async for chunk in response.content.iter_chunked(5)])


async def _iter_any(response: aiohttp.ClientResponse) -> bytes:
    return b"".join([chunk async for chunk in response.content.iter_any()])


async def _lines(response: aiohttp.ClientResponse) -> bytes:
    return b"".join([line async for line in response.content])


async def _iter_chunks(response: aiohttp.ClientResponse) -> bytes:
    return b"".join([chunk async for chunk, _ in response.content.iter_chunks()])


READERS: dict[str, Reader] = {
    "read": _read,
    "text": _text,
    "json": _json,
    "content.read(n)": _content_read_n,
    "iter_chunked": _iter_chunked,
    "iter_any": _iter_any,
    "async-for": _lines,
    "iter_chunks": _iter_chunks,
}


def _session(**kwargs: Any) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), **kwargs)


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def _wait_for_spans(telemetry: Telemetry, count: int) -> list[ReadableSpan]:
    deadline = time.monotonic() + 10
    while len(telemetry.client_spans()) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return telemetry.client_spans()


@pytest.mark.parametrize("reader", list(READERS))
async def test_the_error_envelope_is_read_from_what_the_app_reads(
    reader: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    async with _session() as session, session.post(fake.url + MESSAGES, json={"text": "FAIL 1002"}, headers=AUTH) as r:
        assert r.status == 400
        assert telemetry.client_spans() == []  # open until the app has read the body
        body = await READERS[reader](r)
        [span] = telemetry.client_spans()  # ended as soon as the app had read it all
        assert type(r.content) is StreamReader

    assert json.loads(body)["code"] == 1002
    attrs = _attrs(span)
    assert attrs["http.response.status_code"] == 400
    assert attrs["com.8x8.error.code"] == 1002
    assert attrs["com.8x8.error.category"] == "invalid_request"
    assert PHONE not in str(attrs) + str(span.status.description)
    [record] = telemetry.log_records()
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    [errors] = telemetry.metric_points("com.8x8.api.errors")
    assert errors.value == 1


@pytest.mark.parametrize("reader", ["read", "json", "content.read(n)", "iter_chunked"])
async def test_a_success_answer_is_read_from_what_the_app_reads(
    reader: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    async with _session() as session:
        async with session.post(fake.url + MESSAGES, json={"destination": PHONE, "text": "hi"}, headers=AUTH) as r:
            assert telemetry.client_spans() == []
            sent = json.loads(await READERS[reader](r))
        batch = await session.post(
            fake.url + BATCH, json={"messages": [{"text": "ok"}, {"text": "FAIL 1002"}]}, headers=AUTH
        )
        await batch.read()
        lookup = await session.get(fake.url + LOOKUP, headers={**AUTH, FAIL_HEADER: "2000"})
        assert lookup.status == 200
        await lookup.json()

    send_span, batch_span, lookup_span = telemetry.client_spans()
    assert _attrs(send_span)["com.8x8.message.umid"] == sent["umid"]
    assert _attrs(batch_span)["com.8x8.batch.accepted_count"] == 1
    assert _attrs(batch_span)["com.8x8.batch.rejected_count"] == 1
    assert "error.type" not in _attrs(send_span)
    assert _attrs(lookup_span)["error.type"] != "200"  # a failure 8x8 reports inside a 2xx answer
    assert _attrs(lookup_span)["com.8x8.error.code"] == 2000
    assert sum(point.count for point in telemetry.metric_points("http.client.request.duration")) == 3


@pytest.mark.parametrize("how", ["release", "close", "context-exit", "partly-read-then-release"])
async def test_a_body_the_app_lets_go_unread_ends_the_span_with_the_status(
    how: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1300, "Not found", 404))
    async with _session() as session:
        response = await session.post(fake.url + MESSAGES, json={}, headers=AUTH)
        if how == "context-exit":
            async with response:
                pass
        else:
            if how == "partly-read-then-release":
                assert len(await response.content.read(3)) == 3
            response.close() if how == "close" else response.release()
        [span] = telemetry.client_spans()
        assert type(response.content) is StreamReader

    attrs = _attrs(span)
    assert attrs["http.response.status_code"] == 404
    assert attrs["com.8x8.error.category"] == "not_found"
    assert "com.8x8.error.code" not in attrs  # the app never read the whole envelope
    assert len(telemetry.log_records()) == 1


async def test_a_response_the_app_drops_unread_still_ends_its_span(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1200, "Unauthorized", 401))
    async with _session() as session:
        response = await session.post(fake.url + MESSAGES, json={}, headers=AUTH)
        assert response.status == 401
        del response
        gc.collect()
        [span] = await _wait_for_spans(telemetry, 1)

    assert _attrs(span)["com.8x8.error.category"] == "auth"


@pytest.mark.parametrize("where", ["session", "request"])
async def test_raise_for_status_records_the_status_and_the_exception_redacted(
    where: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    on_session = {"raise_for_status": True} if where == "session" else {}
    on_request = {"raise_for_status": True} if where == "request" else {}
    async with _session(**on_session) as session:
        with pytest.raises(aiohttp.ClientResponseError) as raised:
            await session.get(fake.url + LOOKUP, headers={**AUTH, FAIL_HEADER: "1002"}, **on_request)

    assert type(raised.value) is aiohttp.ClientResponseError
    assert raised.value.status == 400
    assert PHONE in str(raised.value)  # the app's exception is untouched…
    [span] = telemetry.client_spans()
    attrs = _attrs(span)
    assert attrs["http.response.status_code"] == 400
    assert attrs["error.type"] == "400"
    assert attrs["com.8x8.error.category"] == "invalid_request"
    [event] = span.events
    assert event.name == "exception"
    assert PHONE not in str(dict(event.attributes or {}))  # …what is exported is redacted
    assert PHONE not in str(attrs) + str(span.status.description)
    assert PHONE[1:] not in str(attrs) + str(dict(event.attributes or {}))


async def test_the_trace_context_goes_out_without_touching_the_apps_headers(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    headers = {**AUTH, "X-App": "1"}
    before = dict(headers)
    async with _session(headers={"X-Session": "s"}) as session:
        async with session.post(fake.url + MESSAGES, json={"text": "hi"}, headers=headers) as response:
            await response.read()
        async with session.post(fake.url + MESSAGES, json={"text": "hi"}) as response:  # no headers of its own
            await response.read()

    assert headers == before
    first, second = telemetry.client_spans()
    for span, request in zip((first, second), fake.requests, strict=True):
        context = span.get_span_context()
        assert context is not None
        ids = f"{context.trace_id:032x}-{context.span_id:016x}"
        assert request.headers["traceparent"] == f"00-{ids}-{int(context.trace_flags):02x}"
        assert request.headers["X-Session"] == "s"
    assert fake.requests[0].headers["X-App"] == "1"


async def test_another_host_is_left_alone(
    other_server: str, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    async with _session() as session, session.post(other_server + "/error", json={}) as response:
        assert type(response.content) is StreamReader
        assert json.loads(await response.read())["code"] == 1002
    assert telemetry.client_spans() == []


@pytest.mark.parametrize("auto_decompress", [True, False])
async def test_a_gzip_error_is_decoded_for_the_span_whatever_the_app_reads(
    auto_decompress: bool, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    raw = json.dumps({"code": 3038, "message": "Template not found", "errorId": "e-1"}).encode()
    fake.script("POST", MESSAGES, Reply(status=400, body=gzip.compress(raw), headers={"Content-Encoding": "gzip"}))
    async with (
        _session(auto_decompress=auto_decompress) as session,
        session.post(fake.url + MESSAGES, json={}, headers=AUTH) as response,
    ):
        body = await response.read()

    assert (gzip.decompress(body) if not auto_decompress else body) == raw
    [span] = telemetry.client_spans()
    assert _attrs(span)["com.8x8.error.code"] == 3038


async def test_hooks_get_the_request_and_the_response(fake: FakeEightByEight, telemetry: Telemetry) -> None:
    seen: list[Any] = []

    def request_hook(span: Any, request: Any) -> None:
        seen.append(request)
        request.headers["X-Hooked"] = "yes"

    def response_hook(span: Any, request: Any, response: Any) -> None:
        seen.append(response)

    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        hosts=[fake.netloc],
        request_hook=request_hook,
        response_hook=response_hook,
    )
    try:
        async with _session() as session, session.post(fake.url + MESSAGES, json={"text": "hi"}) as response:
            await response.read()
    finally:
        instrumentor.uninstrument()

    request, hooked_response = seen
    assert (request.method, str(request.url)) == ("POST", fake.url + MESSAGES)
    assert hooked_response is response
    assert fake.requests[0].headers["X-Hooked"] == "yes"


async def test_uninstrument_restores_aiohttp(fake: FakeEightByEight, telemetry: Telemetry) -> None:
    def current() -> list[Any]:
        methods = ("_read_nowait_chunk", "feed_eof", "set_exception")
        return [aiohttp.ClientSession.__dict__["_request"], *(StreamReader.__dict__[name] for name in methods)]

    originals = current()
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    assert all(now is not original for now, original in zip(current(), originals, strict=True))
    instrumentor.uninstrument()
    assert all(now is original for now, original in zip(current(), originals, strict=True))

    async with _session() as session, session.post(fake.url + MESSAGES, json={"text": "FAIL 1002"}) as response:
        await response.read()
    assert telemetry.client_spans() == []
    assert "traceparent" not in fake.requests[0].headers


# --- what the application sees: the same with and without otel-8x8 ------------------------------------


async def _observe(fake: FakeEightByEight, reader: str, text: str, **request: Any) -> dict[str, Any]:
    """Everything the application can see of one call, read with ``reader``."""
    seen: dict[str, Any] = {}
    async with _session() as session:
        try:
            async with session.post(fake.url + MESSAGES, json={"text": text}, headers=AUTH, **request) as r:
                seen["types"] = (type(r), type(r.content), isinstance(r.content, StreamReader))
                seen["status"] = (r.status, r.reason, r.ok)
                seen["headers"] = sorted((k, v) for k, v in r.headers.items() if k not in ("Date", "traceparent"))
                seen["body"] = await READERS[reader](r)
                seen["after"] = (type(r.content), r.content.at_eof(), r.closed)
                seen["again"] = await r.read() if reader in ("read", "text", "json") else None
        except Exception as exc:
            seen["error"] = (type(exc), exc.args if not isinstance(exc, aiohttp.ClientResponseError) else exc.status)
    for key in ("body", "again"):
        if seen.get(key):
            seen[key] = _stable(json.loads(seen[key]))
    return seen


def _stable(value: Any) -> Any:
    """An answer without what the fake makes new on every call (ids, timestamps)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in ("umid", "errorId", "timestamp")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("text", ["hi", "FAIL 1002", "FAIL 429", "FAIL 2000"])
async def test_the_app_sees_what_it_would_without_otel_8x8(
    reader: str, text: str, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    plain = await _observe(fake, reader, text)
    raising_plain = await _observe(fake, reader, text, raise_for_status=True)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    try:
        observed = await _observe(fake, reader, text)
        raising_observed = await _observe(fake, reader, text, raise_for_status=True)
    finally:
        instrumentor.uninstrument()

    assert observed == plain
    assert raising_observed == raising_plain
    assert len(telemetry.client_spans()) == 2
