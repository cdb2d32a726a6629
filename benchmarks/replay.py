"""The SDK's floor: what recording an instrumentation's telemetry for one call costs the SDK alone.

``capture()`` makes one call with an instrumentation active and keeps what it recorded: its span (name,
kind, attributes, status, events), its metric points and its log records. ``Telemetry.around()`` turns a
plain, uninstrumented call into one that records exactly that telemetry straight through the OpenTelemetry
API, with none of an HTTP instrumentation's own work (no hook, no URL or body parsing, no decisions):
one span with every attribute given at start and made current, the trace context injected into a
carrier (as every HTTP client instrumentation does), the call, the status, the events, the metric points
and the log records, then the span ends.

What an instrumentation adds above its floor is its own work; the floor is what any instrumentation
recording the same telemetry with the same SDK pays. ``bench_instructions.py`` counts both.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import Token
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status
from opentelemetry.util.types import Attributes

T = TypeVar("T")
Instrument = Callable[[TracerProvider, MeterProvider], Callable[[], None]]
"""Instruments with the given providers; returns what uninstruments."""

_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@dataclass(frozen=True)
class Point:
    """One metric measurement: ``kind`` is "histogram" or "counter"."""

    name: str
    unit: str
    kind: str
    value: float
    attributes: Attributes


@dataclass(frozen=True)
class Record:
    """A log record as made by ``Logger.makeRecord``: enough to make it again."""

    name: str
    level: int
    pathname: str
    lineno: int
    msg: object
    args: Any
    func: str | None
    extra: dict[str, Any]


@dataclass(frozen=True)
class Telemetry:
    """What an instrumentation recorded for one call."""

    span_name: str
    span_kind: SpanKind
    span_attributes: Attributes
    status: Status
    events: Sequence[tuple[str, Attributes]]
    points: Sequence[Point]
    records: Sequence[Record] = field(default_factory=tuple)

    def around(self, send: Callable[[], T], *providers: Any) -> Callable[[], T]:
        """``send`` (uninstrumented) with this telemetry recorded per call, through the global providers or
        the given ``tracer_provider, meter_provider``."""
        start, finish = self._recording(*providers)

        def call() -> T:
            span, token = start()
            try:
                result = send()
                finish(span)
            finally:
                context.detach(token)
                span.end()
            return result

        return call

    def around_async(self, send: Callable[[], Awaitable[T]], *providers: Any) -> Callable[[], Awaitable[T]]:
        """The same for a coroutine function."""
        start, finish = self._recording(*providers)

        async def call() -> T:
            span, token = start()
            try:
                result = await send()
                finish(span)
            finally:
                context.detach(token)
                span.end()
            return result

        return call

    def _recording(
        self, tracer_provider: Any = None, meter_provider: Any = None
    ) -> tuple[Callable[[], tuple[trace.Span, Token[Context]]], Callable[[trace.Span], None]]:
        """What happens before the call (span started and current, trace context injected) and after it
        (status, events, metric points, log records)."""
        tracer = trace.get_tracer("floor", tracer_provider=tracer_provider)
        meter = metrics.get_meter("floor", meter_provider=meter_provider)
        measures: list[tuple[Callable[[float, Attributes], None], float, Attributes]] = []
        for point in self.points:
            if point.kind == "histogram":
                measures.append((meter.create_histogram(point.name, point.unit).record, point.value, point.attributes))
            else:
                measures.append((meter.create_counter(point.name, point.unit).add, point.value, point.attributes))
        loggers = [(logging.getLogger(record.name), record) for record in self.records]
        name, kind, attributes, status, events = (
            self.span_name,
            self.span_kind,
            self.span_attributes,
            self.status,
            self.events,
        )
        has_status = status.status_code is not trace.StatusCode.UNSET

        def start() -> tuple[trace.Span, Token[Context]]:
            span = tracer.start_span(name, kind=kind, attributes=attributes)
            token = context.attach(trace.set_span_in_context(span))
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            return span, token

        def finish(span: trace.Span) -> None:
            if has_status:
                span.set_status(status)
            for event_name, event_attributes in events:
                span.add_event(event_name, event_attributes)
            for measure, value, point_attributes in measures:
                measure(value, point_attributes)
            for logger, r in loggers:
                logger.handle(
                    logger.makeRecord(r.name, r.level, r.pathname, r.lineno, r.msg, r.args, None, r.func, r.extra)
                )

        return start, finish


def instrumenting(instrumentor: Any, **options: Any) -> Instrument:
    """``capture()``'s ``instrument`` for a ``BaseInstrumentor``: instrument it on the given providers, with
    ``options``; uninstrument it after."""

    def instrument(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> Callable[[], None]:
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **options)

        def uninstrument() -> None:
            instrumentor.uninstrument()

        return uninstrument

    return instrument


class _Keep(logging.Handler):
    """Keeps the records of one logger and its children."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.NOTSET)
        self.name_prefix = name + "."
        self.logger_name = name
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == self.logger_name or record.name.startswith(self.name_prefix):
            self.records.append(record)


def capture(instrument: Instrument, send: Callable[[], Any], logger: str = "otel_8x8") -> Telemetry | None:
    """Make one call with ``instrument`` active (on providers of its own) and return what it recorded (None: no
    span). Log records are those of ``logger`` and its children (it must propagate to the root logger); they
    reach no handler but the capture's: the handlers of every logger are set aside meanwhile."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    keep = _Keep(logger)
    root = logging.getLogger()
    try:
        uninstrument = instrument(tracer_provider, meter_provider)
        loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
        handlers = {each: each.handlers[:] for each in loggers}
        for each in loggers:
            each.handlers[:] = []
        root.handlers[:] = [keep]
        try:
            send()
        finally:
            for each, kept in handlers.items():
                each.handlers[:] = kept
            uninstrument()
        finished = spans.get_finished_spans()
        points = _points(reader)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    if not finished:
        return None
    if len(finished) != 1:
        raise RuntimeError(f"expected one span from the instrumentation, got {len(finished)}")
    span: ReadableSpan = finished[0]
    return Telemetry(
        span.name,
        span.kind,
        dict(span.attributes or {}),
        span.status,
        tuple((event.name, dict(event.attributes or {})) for event in span.events),
        points,
        tuple(_record(r) for r in keep.records),
    )


def _points(reader: InMemoryMetricReader) -> tuple[Point, ...]:
    points: list[Point] = []
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for dp in metric.data.data_points:
                    if isinstance(dp, HistogramDataPoint):
                        points.append(
                            Point(metric.name, metric.unit or "", "histogram", dp.sum / max(dp.count, 1), dp.attributes)
                        )
                    elif isinstance(dp, NumberDataPoint):
                        points.append(Point(metric.name, metric.unit or "", "counter", dp.value, dp.attributes))
    return tuple(points)


def _record(record: logging.LogRecord) -> Record:
    extra = {key: value for key, value in record.__dict__.items() if key not in _STANDARD_RECORD_KEYS}
    return Record(
        record.name, record.levelno, record.pathname, record.lineno, record.msg, record.args, record.funcName, extra
    )
