"""Shared fixtures: a real fake-8x8 server on 127.0.0.1, SDK in-memory exporters, the instrumentor."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight

from .support import LoggingHandler, on_error_logger, serving

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
except ImportError:
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef,unused-ignore]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )

API_KEY = "sk-test-SECRET-3f9a7c"
PHONE = "+6591234567"


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def client_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.kind is SpanKind.CLIENT]

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        if data is None:
            return points
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def log_records(self) -> list[Any]:
        return [data.log_record for data in self.logs.get_finished_logs()]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    try:
        with on_error_logger(LoggingHandler(logger_provider=logger_provider)):
            yield Telemetry(tracer_provider, meter_provider, spans, reader, logs)
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()


@pytest.fixture
def fake() -> Iterator[FakeEightByEight]:
    with FakeEightByEight() as server:
        yield server


@pytest.fixture(scope="module")
def _module_fake() -> Iterator[FakeEightByEight]:
    with FakeEightByEight() as server:
        yield server


@pytest.fixture
def shared_fake(_module_fake: FakeEightByEight) -> FakeEightByEight:
    """One fake server for a whole module, reset before each test: for modules with many short tests, where
    starting and stopping one per test costs seconds. A module uses it by defining ``fake`` as ``shared_fake``."""
    _module_fake.reset()
    return _module_fake


@pytest.fixture
def instrumented(telemetry: Telemetry, fake: FakeEightByEight) -> Iterator[EightByEightInstrumentor]:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        hosts=[fake.netloc],
    )
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


class _PlainHandler(http.server.BaseHTTPRequestHandler):
    """A server that is not 8x8: answers 200 "plain" to anything."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"code": 1002, "message": "not 8x8"}'
        self.send_response(400 if self.path.startswith("/error") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[str]:
    """Base URL of a local server that is not configured as 8x8."""
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PlainHandler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"
