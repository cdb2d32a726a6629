"""Helpers for the fault tests: clients that capture what the library produced beneath the
instrumentation, and tracer/meter/logging/exporter parts that raise."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.metrics import (
    Counter,
    Histogram,
    Meter,
    NoOpCounter,
    NoOpHistogram,
    NoOpMeter,
    NoOpMeterProvider,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanContext, Tracer, TracerProvider
from opentelemetry.util.types import Attributes

import otel_8x8.interceptor
import otel_8x8.recorder
from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight

from .conftest import API_KEY, Telemetry
from .support import LoggingHandler, on_error_logger

try:
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # older SDKs
    from opentelemetry.sdk._logs.export import LogExporter as LogRecordExporter  # type: ignore[assignment,no-redef,unused-ignore]
    from opentelemetry.sdk._logs.export import LogExportResult as LogRecordExportResult  # type: ignore[assignment,no-redef,unused-ignore]

__all__ = ["LogRecordExportResult", "LogRecordExporter", "LoggingHandler"]

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MESSAGES = "/api/v1/subaccounts/acme/messages"


class Boom(Exception):
    """Raised by the broken parts below."""


# --- clients that see what the library produced ---------------------------------------------------


@dataclass
class Outcome:
    """What the application got, and what the library produced beneath the instrumentation."""

    response: Any = None
    error: BaseException | None = None
    beneath: list[object] = field(default_factory=list)

    @property
    def got(self) -> object:
        return self.error if self.error is not None else self.response

    def unchanged(self) -> bool:
        """The application got the very object the library produced (response or exception)."""
        return bool(self.beneath) and self.got is self.beneath[-1]


class CapturingAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, seen: list[object]) -> None:
        super().__init__()
        self.seen = seen

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().send(request, *args, **kwargs)
        except BaseException as exc:
            self.seen.append(exc)
            raise
        self.seen.append(response)
        return response


class CapturingTransport(httpx.HTTPTransport):
    def __init__(self, seen: list[object]) -> None:
        super().__init__()
        self.seen = seen

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except BaseException as exc:
            self.seen.append(exc)
            raise
        self.seen.append(response)
        return response


class CapturingAsyncTransport(httpx.AsyncHTTPTransport):
    def __init__(self, seen: list[object]) -> None:
        super().__init__()
        self.seen = seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except BaseException as exc:
            self.seen.append(exc)
            raise
        self.seen.append(response)
        return response


def call_requests(method: str, url: str, json: Any = None, timeout: float = 10) -> Outcome:
    outcome = Outcome()
    with requests.Session() as session:
        session.mount("http://", CapturingAdapter(outcome.beneath))
        try:
            outcome.response = session.request(method, url, json=json, headers=AUTH, timeout=timeout)
        except Exception as exc:
            outcome.error = exc
    return outcome


def call_httpx(method: str, url: str, json: Any = None, timeout: float = 10) -> Outcome:
    outcome = Outcome()
    with httpx.Client(transport=CapturingTransport(outcome.beneath), timeout=timeout) as client:
        try:
            outcome.response = client.request(method, url, json=json, headers=AUTH)
        except Exception as exc:
            outcome.error = exc
    return outcome


def call_httpx_async(method: str, url: str, json: Any = None, timeout: float = 10) -> Outcome:
    outcome = Outcome()

    async def run() -> None:
        async with httpx.AsyncClient(transport=CapturingAsyncTransport(outcome.beneath), timeout=timeout) as client:
            try:
                outcome.response = await client.request(method, url, json=json, headers=AUTH)
            except Exception as exc:
                outcome.error = exc

    asyncio.run(run())
    return outcome


def _capturing_trace_config(seen: list[object]) -> aiohttp.TraceConfig:
    """Sees the response (or exception) aiohttp produced, inside ``ClientSession._request``."""

    async def on_end(session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        seen.append(params.response)

    async def on_exception(session: Any, context: Any, params: aiohttp.TraceRequestExceptionParams) -> None:
        seen.append(params.exception)

    config = aiohttp.TraceConfig()
    config.on_request_end.append(on_end)
    config.on_request_exception.append(on_exception)
    return config


def call_aiohttp(method: str, url: str, json: Any = None, timeout: float = 10) -> Outcome:
    outcome = Outcome()

    async def run() -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout), trace_configs=[_capturing_trace_config(outcome.beneath)]
        ) as session:
            try:
                async with session.request(method, url, json=json, headers=AUTH) as response:
                    await response.read()
                    outcome.response = response
            except Exception as exc:
                outcome.error = exc

    asyncio.run(run())
    return outcome


def status_of(response: Any) -> int:
    """The status of a response of any of the clients."""
    return int(response.status if isinstance(response, aiohttp.ClientResponse) else response.status_code)


def json_of(response: Any) -> Any:
    """The JSON body of a response of any of the clients (an aiohttp response's body is already read)."""
    if isinstance(response, aiohttp.ClientResponse):
        return asyncio.run(response.json())
    return response.json()


CAPTURING_CLIENTS: dict[str, Callable[..., Outcome]] = {
    "requests": call_requests,
    "httpx": call_httpx,
    "httpx-async": call_httpx_async,
    "aiohttp": call_aiohttp,
}


def refused_netloc() -> str:
    """``127.0.0.1:port`` of a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


@contextmanager
def instrumented(telemetry: Telemetry, hosts: Sequence[str], **options: Any) -> Iterator[EightByEightInstrumentor]:
    options.setdefault("tracer_provider", telemetry.tracer_provider)
    options.setdefault("meter_provider", telemetry.meter_provider)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(hosts=list(hosts), **options)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


# --- tracing parts that raise -------------------------------------------------------------------


class RaisingSpan(Span):
    """A span every method of which raises."""

    def end(self, end_time: int | None = None) -> None:
        raise Boom("end")

    def get_span_context(self) -> SpanContext:
        raise Boom("get_span_context")

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        raise Boom("set_attributes")

    def set_attribute(self, key: str, value: Any) -> None:
        raise Boom("set_attribute")

    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        raise Boom("add_event")

    def update_name(self, name: str) -> None:
        raise Boom("update_name")

    def is_recording(self) -> bool:
        raise Boom("is_recording")

    def set_status(self, status: Any, description: str | None = None) -> None:
        raise Boom("set_status")

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        raise Boom("record_exception")


class RaisingTracer(Tracer):
    """``start_span`` raises (``mode="start"``) or returns a :class:`RaisingSpan` (``mode="span"``)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        if self.mode == "start":
            raise Boom("start_span")
        return RaisingSpan()

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise Boom("start_as_current_span")


class RaisingTracerProvider(TracerProvider):
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def get_tracer(self, *args: Any, **kwargs: Any) -> Tracer:
        if self.mode == "get_tracer":
            raise Boom("get_tracer")
        return RaisingTracer(self.mode)


class RaisingSpanProcessor(SpanProcessor):
    """A span processor whose ``on_start`` or ``on_end`` raises (the SDK does not catch these)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        if self.where == "on_start":
            raise Boom("on_start")

    def on_end(self, span: ReadableSpan) -> None:
        if self.where == "on_end":
            raise Boom("on_end")


class CountingSpanProcessor(SpanProcessor):
    """Counts spans started and ended."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class RaisingSpanExporter(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        raise Boom("export")


# --- metrics parts that raise -------------------------------------------------------------------


class RaisingCounter(NoOpCounter):
    def add(self, amount: int | float, attributes: Attributes = None, context: Context | None = None) -> None:
        raise Boom("add")


class RaisingHistogram(NoOpHistogram):
    def record(self, amount: int | float, attributes: Attributes = None, context: Context | None = None) -> None:
        raise Boom("record")


class RaisingMeter(NoOpMeter):
    """Instruments raise on ``add``/``record`` (``mode="use"``) or cannot be created (``mode="create"``)."""

    def __init__(self, name: str, mode: str) -> None:
        super().__init__(name)
        self.mode = mode

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        if self.mode == "create":
            raise Boom("create_counter")
        return RaisingCounter(name)

    def create_histogram(self, name: str, unit: str = "", description: str = "", **kwargs: Any) -> Histogram:
        if self.mode == "create":
            raise Boom("create_histogram")
        return RaisingHistogram(name)


class RaisingMeterProvider(NoOpMeterProvider):
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Meter:
        if self.mode == "get_meter":
            raise Boom("get_meter")
        return RaisingMeter(name, self.mode)


# --- logging parts ------------------------------------------------------------------------------


class RaisingHandler(logging.Handler):
    """``emit`` raises straight through (a handler that does not follow logging's convention)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.calls += 1
        raise Boom("emit")


class ConventionalFailingHandler(logging.Handler):
    """Fails the way the standard handlers do: ``handleError``, which prints when ``raiseExceptions``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.calls += 1
        try:
            raise Boom("cannot write the record")
        except Exception:
            self.handleError(record)


def current_span_is_invalid() -> bool:
    return trace.get_current_span() is trace.INVALID_SPAN


# --- shared by the fault tests ----------------------------------------------------------------------

CONNECT_ERRORS = {
    "requests": requests.exceptions.ConnectionError,
    "httpx": httpx.ConnectError,
    "httpx-async": httpx.ConnectError,
    "aiohttp": aiohttp.ClientConnectorError,
}
TIMEOUT_ERRORS = {
    "requests": requests.exceptions.ReadTimeout,
    "httpx": httpx.ReadTimeout,
    "httpx-async": httpx.ReadTimeout,
    "aiohttp": asyncio.TimeoutError,  # the builtin TimeoutError from Python 3.11, its own class on 3.10
}


def qualified(kind: type) -> str:
    """The ``error.type`` of an exception class: a builtin's (aiohttp's timeout) is its bare name."""
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def three_calls(client: str, fake: FakeEightByEight, refused: str) -> tuple[Outcome, Outcome, Outcome]:
    """A success, an 8x8 error and a refused connection, each checked to be exactly what the library gave."""
    call = CAPTURING_CLIENTS[client]
    before = context.get_current()
    ok = call("POST", fake.url + MESSAGES, json={"text": "hi"})
    failed = call("POST", fake.url + MESSAGES, json={"text": "FAIL 1002"})
    refused_outcome = call("POST", f"http://{refused}{MESSAGES}", json={"text": "hi"})
    assert context.get_current() == before  # nothing left attached
    assert current_span_is_invalid()

    assert ok.error is None and ok.unchanged(), ok.error
    assert status_of(ok.response) == 200 and "umid" in json_of(ok.response)
    assert failed.error is None and failed.unchanged(), failed.error
    assert status_of(failed.response) == 400 and json_of(failed.response)["code"] == 1002
    assert isinstance(refused_outcome.error, CONNECT_ERRORS[client])
    assert refused_outcome.unchanged()
    return ok, failed, refused_outcome


def boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("simulated failure inside otel-8x8")


class HttpCallingHandler(logging.Handler):
    """A handler that ships every record with an HTTP call to an 8x8 host (capped, to stop a loop)."""

    CAP = 50

    def __init__(self, url: str) -> None:
        super().__init__(logging.DEBUG)
        self.url = url
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}:{record.levelname}:{record.getMessage()}")
        if len(self.records) > self.CAP:
            return
        requests.post(self.url, json={"text": "FAIL 2000"}, headers=AUTH, timeout=5)


def check_logging_never_loops(
    client: str, failure: str, fake: FakeEightByEight, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error call with logger ``otel_8x8`` at DEBUG and a handler that makes an HTTP call to the fake
    for every record; ``failure`` simulates a fault that makes the instrumentation log."""
    if failure == "span-end-raises":
        telemetry.tracer_provider.add_span_processor(RaisingSpanProcessor("on_end"))
    elif failure == "describe_call-raises":
        monkeypatch.setattr(otel_8x8.interceptor, "describe_call", boom)
    elif failure == "record_answer-raises":
        monkeypatch.setattr(otel_8x8.recorder.Recorder, "record_answer", boom)
    logger = logging.getLogger("otel_8x8")
    handler = HttpCallingHandler(fake.url + MESSAGES)
    level = logger.level
    logger.setLevel(logging.DEBUG)  # setLevel, not an assignment: it clears the children's level caches
    try:
        with on_error_logger(handler), instrumented(telemetry, [fake.netloc]):
            at_start = len(handler.records)  # instrument()'s DEBUG note of what it patched
            outcome = CAPTURING_CLIENTS[client]("POST", fake.url + MESSAGES, json={"text": "FAIL 1002"})
    finally:
        logger.setLevel(level)

    assert outcome.error is None and outcome.unchanged()
    assert status_of(outcome.response) == 400
    # The application's call logs at most a couple of records (the 8x8 error, a debug note of the
    # simulated failure); the handler's own HTTP calls must not log (or trace) anything more.
    assert at_start == 1, handler.records
    assert len(handler.records) - at_start <= 2, handler.records
    assert len(fake.requests) == 1 + len(handler.records)
    assert len(telemetry.client_spans()) <= 1
