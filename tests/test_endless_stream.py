"""An endless streamed error body: never buffered by the instrumentation, the span ends when the app stops."""

from __future__ import annotations

import http.server
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

from otel_8x8 import EightByEightInstrumentor

from .conftest import Telemetry
from .support import serving

CHUNK = b"x" * 65536
READ = 4 << 20  # what the app reads before it gives up


class _Endless(http.server.BaseHTTPRequestHandler):
    """503 with a chunked body that never ends (until the client goes away)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            prefix = b'{"code": 2000, "message": "'
            self.wfile.write(b"%x\r\n%s\r\n" % (len(prefix), prefix))
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    with serving(server):
        yield f"127.0.0.1:{server.server_address[1]}"


def _read_requests(url: str) -> int:
    read = 0
    with requests.get(url, stream=True, timeout=10) as response:
        for chunk in response.iter_content(65536):
            read += len(chunk)
            if read >= READ:
                break
    return read


def _read_httpx(url: str) -> int:
    read = 0
    with httpx.Client(timeout=10) as client, client.stream("GET", url) as response:
        for chunk in response.iter_raw(65536):
            read += len(chunk)
            if read >= READ:
                break
    return read


@pytest.mark.parametrize("read", [_read_requests, _read_httpx], ids=["requests", "httpx"])
def test_endless_error_stream_is_not_buffered(endless: str, telemetry: Telemetry, read: Any) -> None:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[endless]
    )
    url = f"http://{endless}/api/v1/subaccounts/acme/messages/exports/j1"
    try:
        read(url)  # warm-up: imports, pools, caches
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            assert read(url) >= READ
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
    finally:
        instrumentor.uninstrument()

    # The app held one chunk at a time; the instrumentation adds at most its 64 KiB copy, then drops it.
    assert peak < 1 << 20, f"{peak} bytes at peak while reading {READ}"
    spans = telemetry.client_spans()
    assert len(spans) == 2
    for span in spans:
        attrs = dict(span.attributes or {})
        assert attrs["http.response.status_code"] == 503
        assert attrs["com.8x8.error.category"] == "server_error"
        assert "com.8x8.error.code" not in attrs  # the body never ended: nothing to parse
        assert span.end_time is not None
