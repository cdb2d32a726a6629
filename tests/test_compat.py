"""One test per entry of otel_8x8/compat.py: the installed libraries still have and do what otel-8x8 relies on.

Against real objects of each library (responses from a real local server, wrapt's own wrappers); the
compatibility matrix (scripts/compat) runs this module against the oldest and newest supported versions.
"""

from __future__ import annotations

import gc
import gzip
import http.server
import io
import subprocess
import sys
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import aiohttp
import httpx
import pytest
import requests
import urllib3
import wrapt
import yarl
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider

from otel_8x8 import compat

from .support import serving

BODY = b'{"code": 1002, "message": "Invalid MSISDN"}' * 50


class _GzipHandler(http.server.BaseHTTPRequestHandler):
    """Answers BODY gzip-encoded (Content-Encoding: gzip)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        encoded = gzip.compress(BODY)
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def gzip_url() -> Iterator[str]:
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GzipHandler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/"


# --- OpenTelemetry API ------------------------------------------------------------------------


def test_suppress_http_instrumentation_key_is_what_the_context_manager_sets() -> None:
    assert context.get_value(compat.SUPPRESS_HTTP_INSTRUMENTATION_KEY) is None
    with suppress_http_instrumentation():
        assert context.get_value(compat.SUPPRESS_HTTP_INSTRUMENTATION_KEY) is True
    # Set directly, as otel-8x8 does, it suppresses as the context manager does.
    token = context.attach(Context({**context.get_current(), compat.SUPPRESS_HTTP_INSTRUMENTATION_KEY: True}))
    try:
        assert not compat.is_http_instrumentation_enabled()
    finally:
        context.detach(token)
    # The fallback finds the same key.
    assert compat.key_set_by(suppress_http_instrumentation) == compat.SUPPRESS_HTTP_INSTRUMENTATION_KEY


def test_span_key_is_where_the_trace_api_finds_the_current_span() -> None:
    span = TracerProvider().get_tracer("compat").start_span("s")
    try:
        assert isinstance(Context(), dict)
        base = context.set_value("other", 1)
        ctx = Context({**base, compat.SPAN_KEY: span})
        assert trace.get_current_span(ctx) is span
        assert context.get_value("other", ctx) == 1
        token = context.attach(ctx)
        try:
            assert trace.get_current_span() is span
        finally:
            context.detach(token)
    finally:
        span.end()


# --- opentelemetry-instrumentation --------------------------------------------------------------


def test_is_instrumentation_enabled_follows_suppress_instrumentation() -> None:
    assert compat.is_instrumentation_enabled()
    with suppress_instrumentation():
        assert not compat.is_instrumentation_enabled()
    with suppress_http_instrumentation():
        assert compat.is_instrumentation_enabled()


def test_is_http_instrumentation_enabled_follows_both_suppressions() -> None:
    assert compat.is_http_instrumentation_enabled()
    with suppress_http_instrumentation():
        assert not compat.is_http_instrumentation_enabled()
    with suppress_instrumentation():
        assert not compat.is_http_instrumentation_enabled()
    assert compat.is_http_instrumentation_enabled()


def test_base_instrumentor_calls_the_private_hooks_once_each() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Probe(compat.BaseInstrumentor):  # type: ignore[misc]
        def instrumentation_dependencies(self) -> tuple[str, ...]:
            return ()

        def _instrument(self, **kwargs: Any) -> None:
            calls.append(("instrument", kwargs))

        def _uninstrument(self, **kwargs: Any) -> None:
            calls.append(("uninstrument", kwargs))

    probe = Probe()
    probe.instrument(hosts=["gw.example.com"])
    probe.instrument(hosts=["again"])  # already instrumented: not called again
    assert probe.is_instrumented_by_opentelemetry
    assert Probe() is probe  # one instance per class, which otel-8x8's uninstrument() relies on
    probe.uninstrument()
    assert not probe.is_instrumented_by_opentelemetry
    assert [name for name, _ in calls] == ["instrument", "uninstrument"]
    assert calls[0][1]["hosts"] == ["gw.example.com"]


# --- requests, httpx, urllib3 ------------------------------------------------------------------


def test_body_if_read_with_requests(gzip_url: str) -> None:
    with requests.get(gzip_url, stream=True, timeout=5) as streamed:
        assert compat.body_if_read(streamed) is None
        assert streamed.content == BODY
        assert compat.body_if_read(streamed) == BODY
    with requests.get(gzip_url, timeout=5) as read:
        assert compat.body_if_read(read) == BODY


def test_body_if_read_with_httpx(gzip_url: str) -> None:
    with httpx.Client() as client:
        with client.stream("GET", gzip_url) as streamed:
            assert compat.body_if_read(streamed) is None
            assert streamed.read() == BODY
            assert compat.body_if_read(streamed) == BODY
        assert compat.body_if_read(client.get(gzip_url)) == BODY


class _Recording(httpx.SyncByteStream):
    def __init__(self, inner: Any, seen: list[bytes]) -> None:
        self.inner, self.seen, self.closed = inner, seen, False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.seen.append(chunk)
            yield chunk

    def close(self) -> None:
        self.closed = True
        self.inner.close()


class _AsyncRecording(httpx.AsyncByteStream):
    def __init__(self, inner: Any, seen: list[bytes]) -> None:
        self.inner, self.seen, self.closed = inner, seen, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.seen.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


async def test_swap_httpx_stream_sees_what_the_application_reads(gzip_url: str) -> None:
    seen: list[bytes] = []
    wrappers: list[Any] = []

    def wrap(stream: Any) -> Any:
        kind = _AsyncRecording if isinstance(stream, httpx.AsyncByteStream) else _Recording
        wrappers.append(kind(stream, seen))
        return wrappers[-1]

    with httpx.Client() as client, client.stream("GET", gzip_url) as response:
        compat.swap_httpx_stream(response, wrap)
        assert response.read() == BODY
    async with httpx.AsyncClient() as aclient, aclient.stream("GET", gzip_url) as aresponse:
        compat.swap_httpx_stream(aresponse, wrap)
        assert await aresponse.aread() == BODY
    assert [type(w) for w in wrappers] == [_Recording, _AsyncRecording]
    assert all(w.closed for w in wrappers)
    assert gzip.decompress(b"".join(seen)) == BODY + BODY  # the raw (still encoded) chunks, both responses


def test_stream_decodes_reads_how_requests_calls_urllib3(gzip_url: str) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    chunks: list[bytes] = []
    closed: list[bool] = []

    def shadow(raw: Any) -> None:  # on this instance only, as streams.tap_raw does
        cls = type(raw)

        def stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
            calls.append((args, kwargs))
            for chunk in cls.stream(raw, *args, **kwargs):
                chunks.append(chunk)
                yield chunk

        def close() -> None:
            closed.append(True)
            cls.close(raw)

        raw.stream, raw.close = stream, close

    with requests.get(gzip_url, stream=True, timeout=5) as response:
        shadow(response.raw)
        assert response.content == BODY
    assert len(calls) == 1
    assert compat.stream_decodes(*calls[0])
    assert b"".join(chunks) == BODY  # decoded, as stream_decodes said
    with requests.get(gzip_url, stream=True, timeout=5) as unread:
        shadow(unread.raw)
    assert closed == [True]  # an unread body is closed through raw.close()
    assert not compat.stream_decodes((1024, False), {})
    assert compat.stream_decodes((1024,), {"decode_content": True})


# --- wrapt ---------------------------------------------------------------------------------


def _wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return ("wrapped", wrapped(*args, **kwargs))


def test_proxy_base_is_a_base_of_function_wrappers_whose_target_can_be_repointed() -> None:
    proxy = wrapt.FunctionWrapper(lambda: "first", _wrapper)
    assert isinstance(proxy, compat.PROXY_BASE)
    assert not isinstance(lambda: None, compat.PROXY_BASE)
    proxy.__wrapped__ = lambda: "second"
    assert proxy() == ("wrapped", "second")


def test_bound_wrapper_parent_is_the_function_wrapper() -> None:
    class Session:
        def send(self) -> str:
            return "sent"

    wrapper = wrapt.FunctionWrapper(Session.__dict__["send"], _wrapper)
    setattr(Session, "send", wrapper)  # noqa: B010  (as patching.Patch does)
    assert compat.bound_wrapper_parent(Session.send) is wrapper  # read through the class
    assert compat.bound_wrapper_parent(Session().send) is wrapper  # and through an instance
    assert Session().send() == ("wrapped", "sent")  # type: ignore[comparison-overlap]
    assert compat.bound_wrapper_parent(wrapper) is None
    assert compat.bound_wrapper_parent(Session.__init__) is None


# --- Python --------------------------------------------------------------------------------

AT_EXIT = """
import atexit

def report():
    from otel_8x8.compat import finalizers_shut_down
    print("at exit:", finalizers_shut_down())

atexit.register(report)  # before weakref.finalize's own exit hook: runs after it

import weakref

from otel_8x8.compat import finalizers_shut_down

class Response:
    pass

kept = Response()
weakref.finalize(kept, print, "finalized")
print("running:", finalizers_shut_down())
"""


@pytest.mark.e2e  # a subprocess
def test_finalizers_shut_down_once_the_exit_hook_has_run() -> None:
    assert compat.finalizers_shut_down() is False
    assert weakref.finalize._shutdown is False  # type: ignore[attr-defined]
    completed = subprocess.run([sys.executable, "-c", AT_EXIT], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["running: False", "finalized", "at exit: True"]


# --- urllib3 and io (the urllib3 hook) -------------------------------------------------------------


def test_preloaded_body_is_there_only_once_urllib3_has_read_it(gzip_url: str) -> None:
    with urllib3.PoolManager() as pool:
        preloaded = pool.request("GET", gzip_url)
        assert compat.preloaded_body(preloaded) == BODY  # decoded, as the application gets it
        streamed = pool.request("GET", gzip_url, preload_content=False)
        assert compat.preloaded_body(streamed) is None
        assert streamed.read(cache_content=True) == BODY
        assert compat.preloaded_body(streamed) == BODY
        streamed.release_conn()


class _Finalized(io.RawIOBase):
    """Records, in close(), whether compat.finalizing() saw io's finalizer calling it."""

    seen: ClassVar[list[bool]] = []

    def close(self) -> None:
        _Finalized.seen.append(compat.finalizing(self))
        super().close()


def test_finalizing_is_set_by_ios_finalizer_only(gzip_url: str) -> None:
    _Finalized.seen = []
    explicit = _Finalized()
    explicit.close()
    dropped = _Finalized()
    del dropped
    gc.collect()
    assert _Finalized.seen == [False, True]
    with urllib3.PoolManager() as pool:  # urllib3's HTTPResponse is such an io object
        response = pool.request("GET", gzip_url, preload_content=False)
        assert isinstance(response, io.IOBase)
        assert compat.finalizing(response) is False
        response.release_conn()


# --- aiohttp (the aiohttp hook) -------------------------------------------------------------------------------


async def test_every_request_method_of_a_session_awaits_request_once(gzip_url: str) -> None:
    original = getattr(aiohttp.ClientSession, compat.AIOHTTP_REQUEST)
    seen: list[str] = []

    async def spy(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        seen.append(method)
        return await original(self, method, url, **kwargs)

    setattr(aiohttp.ClientSession, compat.AIOHTTP_REQUEST, spy)
    try:
        async with aiohttp.ClientSession() as session:
            for response in (await session.get(gzip_url), await session.request("GET", gzip_url)):
                response.release()
            async with session.post(gzip_url, data=b"x") as posted:
                await posted.read()
    finally:
        setattr(aiohttp.ClientSession, compat.AIOHTTP_REQUEST, original)
    assert seen == ["GET", "GET", "POST"]


async def test_every_read_of_a_body_takes_its_bytes_through_read_chunk(gzip_url: str) -> None:
    original = getattr(aiohttp.StreamReader, compat.AIOHTTP_READ_CHUNK)
    taken: list[bytes] = []

    def spy(self: aiohttp.StreamReader, n: int) -> bytes:
        data: bytes = original(self, n)
        taken.append(data)
        return data

    async def read_all(response: aiohttp.ClientResponse) -> bytes:
        return await response.read()

    async def read_n(response: aiohttp.ClientResponse) -> bytes:
        parts = []
        while chunk := await response.content.read(100):
            parts.append(chunk)
        return b"".join(parts)

    async def chunked(response: aiohttp.ClientResponse) -> bytes:
        return b"".join([chunk async for chunk in response.content.iter_chunked(64)])

    async def any_(response: aiohttp.ClientResponse) -> bytes:
        return b"".join([chunk async for chunk in response.content.iter_any()])

    async def text(response: aiohttp.ClientResponse) -> bytes:
        return (await response.text()).encode()

    setattr(aiohttp.StreamReader, compat.AIOHTTP_READ_CHUNK, spy)
    try:
        async with aiohttp.ClientSession() as session:
            for read in (read_all, read_n, chunked, any_, text):
                taken.clear()
                async with session.get(gzip_url) as response:
                    assert await read(response) == BODY
                assert b"".join(taken) == BODY, read.__name__
    finally:
        setattr(aiohttp.StreamReader, compat.AIOHTTP_READ_CHUNK, original)


async def test_session_url_applies_the_sessions_base_url(gzip_url: str) -> None:
    async with aiohttp.ClientSession() as plain:
        assert compat.session_url(plain, gzip_url + "x?a=1") == yarl.URL(gzip_url + "x?a=1")
    async with aiohttp.ClientSession(base_url=gzip_url) as based:  # base_url: aiohttp 3.8 and newer
        assert compat.session_url(based, "/api/v1/x") == yarl.URL(gzip_url + "api/v1/x")
