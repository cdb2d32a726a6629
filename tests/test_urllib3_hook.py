"""urllib3 used directly (``PoolManager.request``/``urlopen``, as clients generated from 8x8's specifications do),
against a real fake-8x8 server on 127.0.0.1: every way of reading a body, retries, redirects, headers, faults.

The shared suites (test_calls, test_hostile_bodies, test_success_shapes, test_coexistence) also run urllib3
with ``preload_content=True`` through tests/clients.py.
"""

from __future__ import annotations

import gc
import gzip
import http.server
import io
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import urllib3
from opentelemetry.sdk.trace import ReadableSpan

import otel_8x8.urllib3_hook
import otel_8x8.urllib3_tap
from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

from .conftest import API_KEY, PHONE, Telemetry
from .helpers_faults import CountingSpanProcessor, boom, refused_netloc
from .support import on_error_logger, serving

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MESSAGES = "/api/v1/subaccounts/acme/messages"
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"
ENVELOPE = error_envelope(1200, "Unauthorized Access", 401)


def _post(pool: urllib3.PoolManager, url: str, text: str = "hi", **kwargs: Any) -> Any:
    body = json.dumps({"destination": PHONE, "text": text}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    return pool.request("POST", url, body=body, headers=headers, **kwargs)


def _read_all_by_amt(response: Any) -> bytes:
    out = b""
    while chunk := response.read(5):
        out += chunk
    return out


# How an application reads a response opened with preload_content=False.
READERS: dict[str, Callable[[Any], bytes]] = {
    "data": lambda r: bytes(r.data),
    "read": lambda r: bytes(r.read()),
    "read-amt-loop": _read_all_by_amt,
    "stream": lambda r: b"".join(r.stream(7)),
    "iterate-lines": lambda r: b"".join(r),
    "io-buffered-reader": lambda r: io.BufferedReader(r, 8).read(),
    "read-cache-content": lambda r: r.read(cache_content=True) and bytes(r.data),
}
if hasattr(urllib3.HTTPResponse, "read1"):  # urllib3 2.x
    READERS["read1-loop"] = lambda r: b"".join(iter(lambda: r.read1(6), b""))


def _wait_for_spans(telemetry: Telemetry, count: int) -> list[ReadableSpan]:
    deadline = time.monotonic() + 10
    while len(telemetry.client_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return telemetry.client_spans()


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    with urllib3.PoolManager(timeout=10, retries=False) as manager:
        yield manager


# --- preload_content=False: the span ends when the application is done with the body --------------------------


@pytest.mark.parametrize("reader", list(READERS))
def test_streamed_error_is_read_from_what_the_app_reads(
    reader: str,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    instrumented: EightByEightInstrumentor,
    pool: urllib3.PoolManager,
) -> None:
    fake.script("POST", MESSAGES, ENVELOPE)
    response = _post(pool, fake.url + MESSAGES, preload_content=False)
    assert response.tell() == 0  # nothing read behind the app's back
    assert telemetry.client_spans() == []  # open while the app has not read the body

    body = READERS[reader](response)

    assert body == ENVELOPE.encoded_body()
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert span.name == f"POST {TEMPLATE}"
    assert attrs["com.8x8.error.code"] == 1200
    assert attrs["com.8x8.error.id"] == json.loads(body)["errorId"]
    assert attrs["com.8x8.error.category"] == "auth"
    [record] = telemetry.log_records()
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    response.release_conn()
    assert len(telemetry.client_spans()) == 1  # finished once


@pytest.mark.parametrize("end", ["release_conn", "drain_conn", "close"])
def test_streamed_error_ended_unread_ends_the_span_with_the_status_category(
    end: str,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    instrumented: EightByEightInstrumentor,
    pool: urllib3.PoolManager,
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1300, "Not found", 404))
    response = _post(pool, fake.url + MESSAGES, preload_content=False)
    assert telemetry.client_spans() == []

    getattr(response, end)()

    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.category"] == "not_found"
    assert attrs["http.response.status_code"] == 404
    if end != "drain_conn":  # urllib3 1.26 drains through read(): then the code is known
        assert "com.8x8.error.code" not in attrs
    assert len(telemetry.log_records()) == 1


def test_a_partly_read_error_ends_on_release_with_what_was_read(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor, pool: urllib3.PoolManager
) -> None:
    fake.script("POST", MESSAGES, ENVELOPE)
    response = _post(pool, fake.url + MESSAGES, preload_content=False)
    assert response.read(10) == ENVELOPE.encoded_body()[:10]
    assert telemetry.client_spans() == []

    response.release_conn()

    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.category"] == "auth"
    assert "com.8x8.error.code" not in attrs  # ten bytes are no envelope


def test_a_streamed_success_is_not_held_open(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor, pool: urllib3.PoolManager
) -> None:
    big = b"x" * (1 << 20)
    fake.script("GET", MESSAGES + "/exports/j1", Reply(status=200, body=big))
    response = pool.request("GET", fake.url + MESSAGES + "/exports/j1", headers=AUTH, preload_content=False)

    [span] = telemetry.client_spans()  # a success ends at once
    assert response.tell() == 0
    assert "release_conn" not in vars(response)  # nothing shadowed
    assert sum(len(chunk) for chunk in response.stream(65536)) == len(big)
    assert (span.attributes or {})["http.response.status_code"] == 200


def test_a_dropped_streamed_error_ends_its_span_off_the_app_thread(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor, pool: urllib3.PoolManager
) -> None:
    """Dropped unread: urllib3's response closes itself in its finalizer; finishing there, on the app's thread,
    could wait for a lock the app holds. otel-8x8's own thread finishes instead."""
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400))
    lock = threading.Lock()
    threads: list[int] = []

    class LockingHandler(logging.Handler):
        def emit(self, record: Any) -> None:
            threads.append(threading.get_ident())
            if lock.acquire(timeout=2):
                lock.release()

    with on_error_logger(LockingHandler()):
        with lock:
            response = _post(pool, fake.url + MESSAGES, preload_content=False)
            assert response.status == 400
            del response
            gc.collect()
        [span] = _wait_for_spans(telemetry, 1)

    assert threads and threading.get_ident() not in threads
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.category"] == "invalid_request"
    assert "com.8x8.error.code" not in attrs  # nobody read the body


def test_a_dropped_response_is_freed_at_once(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor, pool: urllib3.PoolManager
) -> None:
    """No reference cycle through the shadowing functions: the response (and its socket) go when dropped."""
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400))
    gc.disable()
    try:
        response = _post(pool, fake.url + MESSAGES, preload_content=False)
        ref = weakref.ref(response)
        del response
        freed = ref() is None
    finally:
        gc.enable()

    assert freed
    [span] = _wait_for_spans(telemetry, 1)
    assert (span.attributes or {})["com.8x8.error.category"] == "invalid_request"


# --- Content-Encoding and decode_content ---------------------------------------------------------------------

RAW = json.dumps({"code": 3038, "message": "Template not found", "errorId": "e-1"}).encode()
COMPRESSED = gzip.compress(RAW)
GZIPPED = Reply(status=400, body=COMPRESSED, headers={"Content-Encoding": "gzip"})


@pytest.mark.parametrize(
    ("preload", "decode", "read", "app_gets"),
    [
        (True, True, lambda r: r.data, RAW),
        (True, False, lambda r: r.data, COMPRESSED),
        (False, True, lambda r: b"".join(r.stream(4)), RAW),
        (False, False, lambda r: r.read(decode_content=False), COMPRESSED),
        (False, None, lambda r: b"".join(r.stream(4, decode_content=False)), COMPRESSED),
    ],
    ids=["preload", "preload-raw", "stream", "read-raw", "stream-raw"],
)
def test_gzip_error_is_decoded_for_the_span_and_left_as_is_for_the_app(
    preload: bool,
    decode: bool | None,
    read: Callable[[Any], bytes],
    app_gets: bytes,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    pool: urllib3.PoolManager,
) -> None:
    fake.script("POST", MESSAGES, GZIPPED)
    options: dict[str, Any] = {"preload_content": preload}
    if decode is not None:
        options["decode_content"] = decode
    plain = read(_post(pool, fake.url + MESSAGES, **options))
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        response = _post(pool, fake.url + MESSAGES, **options)
        got = read(response)
        response.release_conn()
    finally:
        instrumentor.uninstrument()

    assert got == plain == app_gets
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["com.8x8.error.code"] == 3038
    assert (span.attributes or {})["com.8x8.error.category"] == "template"


# --- chunked answers: read_chunked() ---------------------------------------------------------------------------


class _ChunkedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    parts = (b'{"code": 1002, ', b'"message": "Invalid MSISDN", ', b'"errorId": "e-chunked"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in self.parts:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("read", ["read_chunked", "stream"])
def test_chunked_error_is_read_from_read_chunked(read: str, telemetry: Telemetry, pool: urllib3.PoolManager) -> None:
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChunkedHandler)) as server:
        netloc = f"127.0.0.1:{server.server_address[1]}"
        instrumentor = EightByEightInstrumentor()
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[netloc])
        try:
            response = _post(pool, f"http://{netloc}{MESSAGES}", preload_content=False)
            assert response.chunked and telemetry.client_spans() == []
            chunks = list(getattr(response, read)())
            response.release_conn()
        finally:
            instrumentor.uninstrument()

    assert b"".join(chunks) == b"".join(_ChunkedHandler.parts)
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["com.8x8.error.code"] == 1002
    assert (span.attributes or {})["com.8x8.error.id"] == "e-chunked"


# --- what the application sees ---------------------------------------------------------------------------------


def _app_view(response: Any, read: Callable[[Any], bytes]) -> dict[str, Any]:
    return {
        "type": type(response),
        "status": response.status,
        "reason": response.reason,
        "headers": sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() != "date"),
        "body": read(response),
        "closed": response.closed,
        "tell": response.tell(),
    }


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("reader", ["preloaded", *READERS])
def test_the_app_sees_what_it_sees_without_otel_8x8(
    reader: str, status: int, fake: FakeEightByEight, telemetry: Telemetry, pool: urllib3.PoolManager
) -> None:
    reply = ENVELOPE if status == 400 else Reply(status=200, body={"umid": "u-1", "status": {"state": "Queued"}})
    fake.script("POST", MESSAGES, reply)
    read = (lambda r: bytes(r.data)) if reader == "preloaded" else READERS[reader]
    options: dict[str, Any] = {"preload_content": reader == "preloaded"}
    plain = _app_view(_post(pool, fake.url + MESSAGES, **options), read)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        response = _post(pool, fake.url + MESSAGES, **options)
        during = _app_view(response, read)
    finally:
        instrumentor.uninstrument()

    assert during == plain
    assert during["type"] is urllib3.HTTPResponse
    assert len(telemetry.client_spans()) == 1


def test_the_apps_headers_are_not_changed_and_the_trace_context_is_sent(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor, pool: urllib3.PoolManager
) -> None:
    headers = {**AUTH, "X-Mine": "1"}
    pool.request("GET", fake.url + MESSAGES + "/u-1", headers=headers)

    assert headers == {**AUTH, "X-Mine": "1"}
    [span] = telemetry.client_spans()
    [sent] = fake.requests
    assert sent.headers["traceparent"] == _traceparent(span)
    assert sent.headers["X-Mine"] == "1"


@pytest.mark.parametrize("how", ["pool-headers", "positional", "keyword"])
def test_a_connection_pool_used_directly(how: str, fake: FakeEightByEight, telemetry: Telemetry) -> None:
    """``HTTPConnectionPool.urlopen`` with the pool's own headers (none passed), or headers passed by position."""
    pool_headers = {**AUTH, "X-Pool": "p"}
    body = json.dumps({"text": "FAIL 1002"}).encode()
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    try:
        with urllib3.HTTPConnectionPool("127.0.0.1", fake.port, headers=dict(pool_headers)) as pool:
            if how == "pool-headers":
                response = pool.urlopen("POST", MESSAGES, body)
            elif how == "positional":
                response = pool.urlopen("POST", MESSAGES, body, dict(pool_headers))
            else:
                response = pool.urlopen(method="POST", url=MESSAGES, body=body, headers=dict(pool_headers))
            assert pool.headers == pool_headers
    finally:
        instrumentor.uninstrument()

    assert response.status == 400
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["url.full"] == fake.url + MESSAGES
    assert (span.attributes or {})["com.8x8.error.code"] == 1002
    [sent] = fake.requests
    assert sent.headers["traceparent"] == _traceparent(span)
    assert sent.headers["X-Pool"] == "p"


def _traceparent(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


# --- retries, redirects, requests -----------------------------------------------------------------------------


def test_retries_inside_one_urlopen_are_one_span(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, [Reply(status=503), Reply(status=503), error_envelope(1002, "Invalid MSISDN", 400)])
    retries = urllib3.Retry(total=3, status_forcelist=[503], allowed_methods=None, backoff_factor=0)
    with urllib3.PoolManager(timeout=10, retries=retries) as pool:
        response = _post(pool, fake.url + MESSAGES)

    assert response.status == 400
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["com.8x8.error.code"] == 1002
    assert len(fake.requests) == 3
    assert {sent.headers["traceparent"] for sent in fake.requests} == {_traceparent(span)}


def test_each_redirect_poolmanager_follows_is_a_call_of_its_own(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    old = "/api/v1/subaccounts/old/messages"
    fake.script("POST", old, Reply(status=307, headers={"Location": MESSAGES}))
    with urllib3.PoolManager(timeout=10) as pool:
        response = _post(pool, fake.url + old)

    assert response.status == 200
    first, second = telemetry.client_spans()
    assert (first.attributes or {})["http.response.status_code"] == 307
    assert (second.attributes or {})["http.response.status_code"] == 200
    assert [sent.path for sent in fake.requests] == [old, MESSAGES]
    assert [sent.headers["traceparent"] for sent in fake.requests] == [_traceparent(first), _traceparent(second)]


def test_a_requests_call_stays_one_span_and_its_raw_is_tapped_once(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, ENVELOPE)
    response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
    assert "release_conn" not in vars(response.raw)  # the urllib3 hook let requests' call pass
    assert response.json()["code"] == 1200

    [span] = telemetry.client_spans()
    assert (span.attributes or {})["com.8x8.error.code"] == 1200
    assert fake.requests[-1].headers["traceparent"] == _traceparent(span)  # once: repeated ones would be joined


# --- otel-8x8's own failures never reach the application -------------------------------------------------------

STEPS = {
    "full_url": (otel_8x8.urllib3_hook, "full_url"),
    "_with_own_headers": (otel_8x8.urllib3_hook, "_with_own_headers"),
    "_read_body": (otel_8x8.urllib3_hook, "_read_body"),
    "tap_response": (otel_8x8.urllib3_hook, "tap_response"),
    "_feed": (otel_8x8.urllib3_tap, "_feed"),
    "finish_when_collected": (otel_8x8.urllib3_hook, "finish_when_collected"),
}


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "stream"])
@pytest.mark.parametrize("step", list(STEPS))
def test_own_failure_at_each_step_never_reaches_the_app(
    step: str,
    preload: bool,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    pool: urllib3.PoolManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = refused_netloc()
    counting = CountingSpanProcessor()
    telemetry.tracer_provider.add_span_processor(counting)

    def three_calls() -> list[Any]:
        outcomes: list[Any] = []
        for url, text in ((fake.url, "hi"), (fake.url, "FAIL 1002"), (f"http://{refused}", "hi")):
            try:
                response = _post(pool, url + MESSAGES, text, preload_content=preload)
            except Exception as exc:
                outcomes.append(type(exc))
                continue
            outcomes.append((response.status, json.loads(response.data).get("code"), type(response)))
            response.release_conn()
        return outcomes

    plain = three_calls()
    owner, name = STEPS[step]
    monkeypatch.setattr(owner, name, boom)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc, refused])
    try:
        during = three_calls()
    finally:
        instrumentor.uninstrument()

    assert during == plain
    assert plain[1][:2] == (400, 1002)
    assert plain[2] is urllib3.exceptions.NewConnectionError  # retries=False: the error itself
    assert counting.started == counting.ended  # every span begun was ended


class _Unexpected(Exception):
    """An error urllib3 does not catch: it reaches the application as raised."""


def test_an_exception_reaches_the_app_as_the_very_object_raised(fake: FakeEightByEight, telemetry: Telemetry) -> None:
    raised = _Unexpected("no connection for you")

    class Pool(urllib3.HTTPConnectionPool):
        def _new_conn(self) -> Any:
            raise raised

    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, hosts=[fake.netloc])
    try:
        with Pool("127.0.0.1", fake.port, retries=False) as pool, pytest.raises(_Unexpected) as got:
            pool.urlopen("POST", MESSAGES, headers=dict(AUTH))
    finally:
        instrumentor.uninstrument()

    assert got.value is raised
    [span] = telemetry.client_spans()
    assert (span.attributes or {})["error.type"] == f"{__name__}._Unexpected"
    assert span.end_time is not None


def test_hooks_get_the_request_sent_and_the_response_and_their_failures_stay_out(
    fake: FakeEightByEight, telemetry: Telemetry, pool: urllib3.PoolManager
) -> None:
    seen: list[Any] = []

    def request_hook(span: Any, request: Any) -> None:
        seen.append(request)
        request.headers["X-Hooked"] = "yes"
        raise RuntimeError("a broken request hook")

    def response_hook(span: Any, request: Any, response: Any) -> None:
        seen.append(response)
        raise RuntimeError("a broken response hook")

    fake.script("POST", MESSAGES, ENVELOPE)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        hosts=[fake.netloc],
        request_hook=request_hook,
        response_hook=response_hook,
    )
    try:
        response = _post(pool, fake.url + MESSAGES)
    finally:
        instrumentor.uninstrument()

    request, hooked_response = seen
    assert isinstance(request, otel_8x8.urllib3_hook.RequestInfo)
    assert (request.method, request.url) == ("POST", fake.url + MESSAGES)
    assert json.loads(request.body)["destination"] == PHONE
    assert hooked_response is response and response.status == 401
    [span] = telemetry.client_spans()
    [sent] = fake.requests
    assert sent.headers["X-Hooked"] == "yes"
    assert sent.headers["traceparent"] == request.headers["traceparent"] == _traceparent(span)
    assert (span.attributes or {})["com.8x8.error.code"] == 1200
