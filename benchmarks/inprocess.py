"""What the in-process benchmarks share: 8x8's answers without a network, and the SDK set up as in production.

``bench_memory.py``, ``profile_paths.py`` and ``bench_decision.py`` answer calls in the client process (a
requests adapter, ``httpx.MockTransport``), so that what they measure is the library's and otel-8x8's work,
not the network's, while otel-8x8's real hooks on ``Session.send`` / ``Client.send`` run as usual.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

OTHER = "https://api.example.com/v2/orders"
"""A host that is not 8x8's: answered 200 with a small JSON body."""
FAIL = b"FAIL 1002"
"""A request body containing this is answered with 8x8's error 1002 (HTTP 400)."""


def error_body(error_id: str | None = None) -> bytes:
    """8x8's error envelope for code 1002, with a new errorId unless one is given."""
    envelope = {
        "code": 1002,
        "message": "Invalid MSISDN +6591234567",
        "errorId": error_id or str(uuid.uuid4()),
        "timestamp": "2026-11-25T05:52:01.85Z",
    }
    return json.dumps(envelope).encode()


def answer(url: str, body: bytes | None) -> tuple[int, bytes]:
    """What 8x8 (or the other host) answers to a call: (status, body)."""
    if url.startswith(OTHER):
        return 200, b'{"status":"ok"}'
    if body and FAIL in body:
        return 400, error_body()
    if "/phones/" in url:
        return 200, b'{"msisdn":"+6591234567","countryCode":"SG","status":"Active"}'
    sent = {"umid": str(uuid.uuid4()), "destination": "+6591234567", "status": {"state": "Queued"}}
    return 200, json.dumps(sent).encode()


class InProcessAdapter(BaseAdapter):
    """Answers requests in-process; ``Session.send`` (otel-8x8's hook) runs as usual above it."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        status, content = answer(request.url or "", body)
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


def requests_session() -> requests.Session:
    session = requests.Session()
    session.mount("https://", InProcessAdapter())
    return session


def _mock(request: httpx.Request) -> httpx.Response:
    status, content = answer(str(request.url), request.content)
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


def httpx_transport() -> httpx.MockTransport:
    """For ``httpx.Client`` and ``httpx.AsyncClient`` alike (MockTransport is both)."""
    return httpx.MockTransport(_mock)


class _Connections:
    """Stands in for the httpcore connection pool of an ``httpx.HTTPTransport``: answers in-process."""

    def handle_request(self, request: Any) -> Any:
        import httpcore

        url = request.url
        full = f"{url.scheme.decode()}://{url.host.decode()}{url.target.decode()}"
        status, content = answer(full, b"".join(request.stream))
        return httpcore.Response(status, headers=[(b"Content-Type", b"application/json")], content=content)

    def close(self) -> None:
        pass


def httpx_real_transport() -> httpx.HTTPTransport:
    """httpx's own ``HTTPTransport`` (which opentelemetry-instrumentation-httpx wraps, unlike MockTransport),
    with its connection pool answering in-process."""
    transport = httpx.HTTPTransport()
    transport._pool = _Connections()  # type: ignore[assignment]
    return transport


def log_every_error() -> None:
    """Turn otel-8x8's log limit off (``OTEL_PYTHON_8X8_LOG_LIMIT=0``) unless the environment sets it: the
    benchmarks of a single error call measure an error that is logged, as every error was before the limit
    (``bench_storm.py`` measures the limit). Inherited by the worker processes."""
    os.environ.setdefault("OTEL_PYTHON_8X8_LOG_LIMIT", "0")


# --- exporters --------------------------------------------------------------------------------------------


class SpanSink(SpanExporter):
    """Drops spans; with ``encode``, first encodes each batch to OTLP protobuf bytes, as the OTLP exporter does."""

    def __init__(self, encode: bool = False) -> None:
        self.encode = encode

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.encode:
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

            encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


class LogSink(LogRecordExporter):
    """Drops log records; with ``encode``, first encodes each batch to OTLP protobuf bytes."""

    def __init__(self, encode: bool = False) -> None:
        self.encode = encode

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if self.encode:
            from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

            encode_logs(batch).SerializeToString()
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class MetricSink(MetricExporter):
    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


@dataclass(frozen=True)
class Sdk:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider

    def flush(self) -> None:
        """Export every span and log record still queued (what a call leaves to the batch processors)."""
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def install_sdk(
    spans: SpanExporter | None = None,
    logs: LogRecordExporter | None = None,
    reader: MetricReader | None = None,
    resource: Resource | None = None,
    batch_logs: bool = True,
) -> Sdk:
    """The SDK as an application sets it up, made global.

    Traces: a ``BatchSpanProcessor`` to ``spans`` (default: drop). Logs: a ``LoggingHandler`` on the root logger,
    a ``BatchLogRecordProcessor`` to ``logs`` (default: drop; ``batch_logs=False``: a ``SimpleLogRecordProcessor``,
    to time the emit itself). Metrics: ``reader`` (default: an in-memory reader, read only on demand).
    """
    resource = resource or Resource.create({})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(spans or SpanSink()))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader or InMemoryMetricReader()])
    metrics.set_meter_provider(meter_provider)
    logger_provider = LoggerProvider(resource=resource)
    log_exporter = logs or LogSink()
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(log_exporter) if batch_logs else SimpleLogRecordProcessor(log_exporter)
    )
    set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider))
    return Sdk(tracer_provider, meter_provider, logger_provider)
