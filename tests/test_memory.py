"""Memory stays flat over 100,000 calls (successes and 8x8 errors, requests, httpx and async httpx, 8x8 and
other hosts), measured with tracemalloc.

The calls go through the hook points (``Session.send``, ``Client.send``, ``AsyncClient.send``) to transports
that build the answer in memory, and spans are dropped at their end, so what is measured is the
instrumentation (with the SDK it drives), not a network stack or an exporter.

Every 8x8 call has its own subaccount id, so the instrumentation's template cache is full and churning
throughout. tracemalloc slows every allocation down several times (tracing all 80,000 calls from the
20,000th to the 100,000th takes minutes), so:

- between the 20,000th and the 100,000th call, the number of live memory blocks (``sys.getallocatedblocks``,
  free per call) must not grow;
- tracemalloc traces the last calls: ``PRIMING`` calls (the caches turn over, so that what they hold is
  traced), then the last ``WINDOW`` calls, which must leave less than ``WINDOW_BOUND`` more behind.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import requests
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from otel_8x8 import EightByEightInstrumentor

from .support import on_error_logger

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out

CALLS = 100_000
WARM_UP = 20_000
# Calls traced before the window: the template cache (2048 paths) turns over and its dictionary, rebuilt
# about every 3,400 new paths, is rebuilt once, so that what the caches hold was allocated under tracing.
PRIMING = 4_000
WINDOW = 3_000
WINDOW_BOUND = 96 * 1024  # bytes left behind by the last WINDOW calls (33 bytes a call)
BLOCKS_BOUND = 5_000  # live memory blocks gained between the 20,000th and the 100,000th call (1 in 16 calls)
OTHER_HOSTS = 500
CLIENT_OF = (0, 1, 0, 2, 0, 1)  # 0: requests, 1: httpx, 2: async httpx
HEADERS = {"Authorization": "Bearer k", "Content-Type": "application/json"}
PAYLOAD = b'{"destination": "+6591234567", "text": "hi"}'

JSON = {"Content-Type": "application/json"}
HOSTS = ("sms.8x8.com", "sms.us.8x8.com", "chatapps.8x8.uk", "verify.8x8.id")
ERRORS = {  # answer kind -> (status, code, extra headers)
    "invalid": (400, 1002, {}),
    "auth": (401, 1200, {}),
    "rate": (429, 429, {"Retry-After": "1"}),
    "server": (500, 2000, {}),
}


def _kind(i: int) -> str:
    """What call ``i`` is answered: an error for 2 calls in 7, else a success."""
    if i % 7 == 1:
        return ("invalid", "auth", "rate", "server")[(i // 7) % 4]
    if i % 7 == 4:
        return "invalid"
    return "ok"


def _answer(kind: str, i: int) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of the answer to call ``i``: each carries its own umid or errorId."""
    if kind == "ok":
        return 200, b'{"umid": "u-%d", "status": {"state": "Queued"}}' % i, JSON
    status, code, headers = ERRORS[kind]
    body = b'{"code": %d, "message": "Invalid MSISDN +6591%06d", "errorId": "e-%d"}' % (code, i, i)
    return status, body, {**JSON, **headers}


class _InMemoryAdapter(requests.adapters.HTTPAdapter):
    """Answers without a network, like a test double or a caching adapter would."""

    def __init__(self, app: _App) -> None:
        super().__init__()
        self.app = app

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        status, body, headers = self.app.answer
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers.update(headers)
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response


class _DroppingProcessor(SpanProcessor):
    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        record.getMessage()
        self.records += 1


class _App:
    """Makes call ``i`` with one of the three clients (requests for half the calls: it costs the least),
    to an 8x8 host or (1 call in 10) another one."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy settings read from the environment at every call
        self.session.mount("https://", _InMemoryAdapter(self))
        self.client = httpx.Client(transport=httpx.MockTransport(self._httpx_answer), trust_env=False)
        self.async_client = httpx.AsyncClient(transport=httpx.MockTransport(self._httpx_answer), trust_env=False)
        self.loop = asyncio.new_event_loop()
        self.statuses: dict[int, int] = {}
        self.answer: tuple[int, bytes, dict[str, str]] = (200, b"", {})

    def _httpx_answer(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.answer
        return httpx.Response(status, content=body, headers=headers)

    def close(self) -> None:
        self.session.close()
        self.client.close()
        self.loop.run_until_complete(self.async_client.aclose())
        self.loop.close()

    def call(self, i: int) -> None:
        self.answer = _answer(_kind(i), i)
        if i % 10 == 0:  # not 8x8
            url = f"https://api-{i % OTHER_HOSTS}.example.com/v1/items/{i}"
        else:  # a distinct subaccount id every time, bounded only by the template cache
            url = f"https://{HOSTS[i % len(HOSTS)]}/api/v1/subaccounts/sub-{i}/messages"
        client = CLIENT_OF[i % len(CLIENT_OF)]
        if client == 0:
            prepared = requests.PreparedRequest()
            prepared.prepare(method="POST", url=url, headers=HEADERS, data=PAYLOAD)
            status = self.session.send(prepared).status_code
        elif client == 1:
            status = self.client.send(
                self.client.build_request("POST", url, headers=HEADERS, content=PAYLOAD)
            ).status_code
        else:
            request = self.async_client.build_request("POST", url, headers=HEADERS, content=PAYLOAD)
            status = self.loop.run_until_complete(self.async_client.send(request)).status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1


@contextmanager
def _quiet_logger() -> Iterator[_CountingHandler]:
    """The error log records go to a counting handler only. Entered in the test itself: pytest also
    attaches its capturing handler (which keeps every record) to loggers that do not propagate when
    the test starts."""
    logger = logging.getLogger("otel_8x8")
    propagate, logger.propagate = logger.propagate, False
    try:
        with on_error_logger(_CountingHandler()) as handler:
            yield handler
    finally:
        logger.propagate = propagate


def _live_blocks() -> int:
    gc.collect()
    return sys.getallocatedblocks()


def test_memory_is_flat_over_100_000_calls() -> None:
    processor = _DroppingProcessor()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(processor)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = EightByEightInstrumentor()
    # log_limit=0: every error's log record is made, as before the log limit (the limiter's own memory is
    # bounded by its key cap: tests/test_log_limit.py)
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, log_limit=0)
    app = _App()
    started = time.perf_counter()
    try:
        with _quiet_logger() as log:
            for i in range(WARM_UP):
                app.call(i)
            blocks_after_warm_up = _live_blocks()
            traced_from = CALLS - WINDOW - PRIMING
            for i in range(WARM_UP, traced_from):
                app.call(i)
            gc.collect()
            traced_started = time.perf_counter()
            tracemalloc.start()
            try:
                for i in range(traced_from, CALLS - WINDOW):
                    app.call(i)
                gc.collect()
                before_window = tracemalloc.get_traced_memory()[0]
                for i in range(CALLS - WINDOW, CALLS):
                    app.call(i)
                gc.collect()
                after_window = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            traced_seconds = time.perf_counter() - traced_started
            blocks_at_end = _live_blocks()
        data = reader.get_metrics_data()
    finally:
        elapsed = time.perf_counter() - started
        app.close()
        instrumentor.uninstrument()
        meter_provider.shutdown()
        tracer_provider.shutdown()

    # every call was made and observed: this measured the instrumentation at work, not idle
    assert sum(app.statuses.values()) == CALLS
    errors = sum(count for status, count in app.statuses.items() if status >= 400)
    other_hosts = len(range(0, CALLS, 10))
    errors_to_8x8 = sum(1 for i in range(CALLS) if i % 10 and _kind(i) != "ok")
    assert errors > errors_to_8x8 > 25_000
    assert processor.ended == CALLS - other_hosts
    assert log.records == errors_to_8x8
    assert data is not None
    points: list[Any] = [
        point
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == "com.8x8.api.errors"
        for point in metric.data.data_points
    ]
    assert sum(point.value for point in points) == errors_to_8x8

    growth = after_window - before_window
    assert growth < WINDOW_BOUND, f"the last {WINDOW} calls left {growth} more bytes behind"
    assert blocks_at_end - blocks_after_warm_up < BLOCKS_BOUND, (blocks_after_warm_up, blocks_at_end)
    print(  # shown with -s: the measured values and the time they took
        f"window growth {growth} B (traced {before_window} B before it); "
        f"blocks {blocks_after_warm_up} -> {blocks_at_end}; {elapsed:.1f} s, {traced_seconds:.1f} s of them traced"
    )
