"""Memory of an instrumented process over 100,000 calls: it must stay flat.

Run (from the repository root)::

    python benchmarks/bench_memory.py                  # 100,000 calls, a few minutes
    python benchmarks/bench_memory.py --calls 20000    # shorter

The calls go through otel-8x8's real hook points (``requests.Session.send``, ``httpx.Client.send``,
``httpx.AsyncClient.send``) but are answered in-process (a requests adapter, ``httpx.MockTransport``),
so that 100,000 calls take minutes. They are mixed, in a cycle of ten: sends answered 200 (the
``umid`` is read), 8x8 errors 1002 (HTTP 400: parse, attributes, log record, counter), Number Lookup
calls with a different phone number each time (every URL is new: the path-template and host caches
must stay bounded), and calls to a host that is not 8x8.

The SDK is set up as in production, with exporters that drop what they get: ``BatchSpanProcessor``,
``BatchLogRecordProcessor`` behind a ``LoggingHandler`` on the root logger, and a
``PeriodicExportingMetricReader``. tracemalloc counts the Python memory in use at 10%, 50% and 100%
of the calls (after flushing the pipelines and a full garbage collection), and the lines of code
that grew between 10% and 100%.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import logging
import time
import tracemalloc
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import requests
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from otel_8x8 import EightByEightInstrumentor

SMS = "https://sms.8x8.com/api/v1/subaccounts/acme-prod"
LOOKUP = "https://lookup.8x8.com/api/v1/subaccounts/acme-prod/phones"
OTHER = "https://api.example.com/v2/orders"
TARGET_GROWTH_BYTES = 256 * 1024
"""Flat: less than this between 10% and 100% of the calls (under 3 bytes per call at 100,000)."""


class _DropSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _DropLogs(LogRecordExporter):
    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _DropMetrics(MetricExporter):
    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def _answer(method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
    """What 8x8 (or the other host) answers, in-process."""
    if url.startswith(OTHER):
        return 200, b'{"status":"ok"}'
    if body and b"FAIL 1002" in body:
        envelope = {
            "code": 1002,
            "message": "Invalid MSISDN +6591234567",
            "errorId": str(uuid.uuid4()),
            "timestamp": "2026-11-25T05:52:01.85Z",
        }
        return 400, json.dumps(envelope).encode()
    if "/phones/" in url:
        return 200, b'{"msisdn":"+6591234567","countryCode":"SG","status":"Active"}'
    answer = {"umid": str(uuid.uuid4()), "destination": "+6591234567", "status": {"state": "Queued"}}
    return 200, json.dumps(answer).encode()


class _Adapter(BaseAdapter):
    """Answers requests in-process; ``Session.send`` (otel-8x8's hook) runs as usual above it."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        status, content = _answer(request.method or "GET", request.url or "", body)
        response = requests.Response()
        response.status_code = status
        response._content = content
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def _mock(request: httpx.Request) -> httpx.Response:
    status, content = _answer(request.method, str(request.url), request.content)
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


def _plan(i: int) -> tuple[str, str, str, Mapping[str, str] | None]:
    """Call ``i`` of the cycle of ten: (client, method, url, json body)."""
    send = {"destination": "+6591234567", "text": "hello"}
    fail = {"destination": "+6591234567", "text": "FAIL 1002"}
    phone = f"{LOOKUP}/+65{90000000 + i}"
    return [
        ("requests", "POST", f"{SMS}/messages", send),
        ("httpx", "POST", f"{SMS}/messages", fail),
        ("async", "GET", phone, None),
        ("requests", "POST", f"{SMS}/messages", fail),
        ("httpx", "POST", f"{SMS}/messages", send),
        ("async", "POST", f"{SMS}/messages", fail),
        ("requests", "GET", phone, None),
        ("httpx", "POST", OTHER, send),
        ("requests", "POST", OTHER, send),
        ("async", "POST", f"{SMS}/messages", send),
    ][i % 10]


def _format_bytes(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


async def _run(calls: int, top: int) -> int:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_DropSpans()))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(_DropMetrics(), export_interval_millis=1000)]
    )
    metrics.set_meter_provider(meter_provider)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(_DropLogs()))
    set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider))
    EightByEightInstrumentor().instrument()

    session = requests.Session()
    session.mount("https://", _Adapter())
    client = httpx.Client(transport=httpx.MockTransport(_mock))
    async_client = httpx.AsyncClient(transport=httpx.MockTransport(_mock))
    sync_clients: dict[str, Callable[..., Any]] = {"requests": session.request, "httpx": client.request}

    def settle() -> int:
        tracer_provider.force_flush()
        logger_provider.force_flush()
        meter_provider.force_flush()
        gc.collect()
        current: int = tracemalloc.get_traced_memory()[0]
        return current

    checkpoints = sorted({max(1, calls // 10), max(1, calls // 2), calls})
    tracemalloc.start(1)
    started = time.perf_counter()
    memory: dict[int, int] = {}
    first: tracemalloc.Snapshot | None = None
    statuses: dict[int, int] = {}
    for i in range(calls):
        name, method, url, body = _plan(i)
        if name == "async":
            response: Any = await async_client.request(method, url, json=body)
        else:
            response = sync_clients[name](method, url, json=body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if i + 1 in checkpoints:
            memory[i + 1] = settle()
            print(
                f"{i + 1:>8,} calls: {_format_bytes(memory[i + 1]):>12} traced ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            if first is None:
                first = tracemalloc.take_snapshot()
    last = tracemalloc.take_snapshot()
    tracemalloc.stop()
    await async_client.aclose()
    client.close()
    session.close()

    start, end = checkpoints[0], checkpoints[-1]
    growth = memory[end] - memory[start]
    per_call = growth / max(1, end - start)
    verdict = "flat" if growth < TARGET_GROWTH_BYTES else "NOT flat"
    print(f"answers: {dict(sorted(statuses.items()))}")
    for a, b in itertools.pairwise(checkpoints):
        print(f"growth {a:,} -> {b:,} calls: {(memory[b] - memory[a]) / 1024:+,.1f} KiB")
    print(
        f"growth {start:,} -> {end:,} calls: {growth / 1024:+,.1f} KiB ({per_call:+.2f} bytes/call); "
        f"target < {_format_bytes(TARGET_GROWTH_BYTES)}: {verdict}"
    )
    if first is not None and top > 0:
        ignore = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"))
        diffs = last.filter_traces(ignore).compare_to(first.filter_traces(ignore), "lineno")
        print(f"largest differences between {start:,} and {end:,} calls, by line:")
        for stat in diffs[:top]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7} blocks  {stat.traceback[0]}")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="calls in all (default 100,000)")
    parser.add_argument("--top", type=int, default=8, help="lines of code to show that grew the most (default 8)")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args.calls, args.top))


if __name__ == "__main__":
    raise SystemExit(main())
