"""Faults around and inside the instrumentation: the application still gets its own response or its
own exception, the very same object, and nothing loops."""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import requests
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import StatusCode

import otel_8x8.aiohttp_hook
import otel_8x8.aiohttp_streams
import otel_8x8.answers
import otel_8x8.call
import otel_8x8.hosts
import otel_8x8.interceptor
import otel_8x8.recorder
import otel_8x8.requests_hook
import otel_8x8.streams
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

from .conftest import Telemetry
from .helpers_faults import (
    AUTH,
    CAPTURING_CLIENTS,
    CONNECT_ERRORS,
    MESSAGES,
    TIMEOUT_ERRORS,
    Boom,
    ConventionalFailingHandler,
    CountingSpanProcessor,
    LoggingHandler,
    LogRecordExporter,
    LogRecordExportResult,
    RaisingHandler,
    RaisingMeterProvider,
    RaisingSpanExporter,
    RaisingSpanProcessor,
    RaisingTracerProvider,
    boom,
    check_logging_never_loops,
    instrumented,
    json_of,
    qualified,
    refused_netloc,
    status_of,
    three_calls,
)
from .support import on_error_logger

CLIENT_NAMES = list(CAPTURING_CLIENTS)


@pytest.fixture
def fake(shared_fake: FakeEightByEight) -> FakeEightByEight:
    return shared_fake


@pytest.fixture
def refused() -> str:
    return refused_netloc()


@pytest.fixture
def counting(telemetry: Telemetry) -> CountingSpanProcessor:
    processor = CountingSpanProcessor()
    telemetry.tracer_provider.add_span_processor(processor)
    return processor


# --- tracer, span, meter, logging, exporter that raise ----------------------------------------------


@pytest.mark.parametrize("client", CLIENT_NAMES)
@pytest.mark.parametrize("mode", ["start", "span"], ids=["start_span-raises", "span-methods-raise"])
def test_raising_tracer_never_reaches_the_app(
    client: str, mode: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry, capfd: Any
) -> None:
    with instrumented(telemetry, [fake.netloc, refused], tracer_provider=RaisingTracerProvider(mode)):
        three_calls(client, fake, refused)

    if mode == "start":  # no span at all, but the error is still counted and logged
        assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 1
        [record] = telemetry.log_records()
        assert "1002" in str(record.body)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_raising_span_with_user_hooks_never_reaches_the_app(
    client: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry
) -> None:
    calls: list[str] = []
    with instrumented(
        telemetry,
        [fake.netloc, refused],
        tracer_provider=RaisingTracerProvider("span"),
        request_hook=lambda span, request: calls.append("request"),
        response_hook=lambda span, request, response: calls.append("response"),
    ):
        three_calls(client, fake, refused)


@pytest.mark.parametrize("client", CLIENT_NAMES)
@pytest.mark.parametrize("where", ["on_start", "on_end"])
def test_raising_span_processor_never_reaches_the_app(
    client: str, where: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry, capfd: Any
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(RaisingSpanProcessor(where))
    with instrumented(telemetry, [fake.netloc, refused], tracer_provider=provider):
        three_calls(client, fake, refused)

    assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 1
    assert len(telemetry.log_records()) == 1
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_raising_counter_and_histogram_lose_nothing_else(
    client: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry, capfd: Any
) -> None:
    with instrumented(telemetry, [fake.netloc, refused], meter_provider=RaisingMeterProvider("use")):
        _, failed, _ = three_calls(client, fake, refused)

    spans = telemetry.client_spans()
    assert len(spans) == 3 and all(s.end_time is not None for s in spans)
    attrs = dict(spans[1].attributes or {})
    assert attrs["com.8x8.error.code"] == 1002
    assert attrs["com.8x8.error.id"] == json_of(failed.response)["errorId"]
    assert spans[1].status.status_code is StatusCode.ERROR
    assert dict(spans[2].attributes or {})["error.type"] == qualified(CONNECT_ERRORS[client])
    [record] = telemetry.log_records()  # the log record does not depend on the counter
    assert record.span_id == spans[1].context.span_id
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("part", ["get_tracer", "create_instruments", "get_meter"])
def test_start_up_never_fails_on_a_broken_provider(
    part: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry
) -> None:
    choices: dict[str, dict[str, Any]] = {
        "get_tracer": {"tracer_provider": RaisingTracerProvider("get_tracer")},
        "create_instruments": {"meter_provider": RaisingMeterProvider("create")},
        "get_meter": {"meter_provider": RaisingMeterProvider("get_meter")},
    }
    options = choices[part]
    with instrumented(telemetry, [fake.netloc, refused], **options):
        three_calls("requests", fake, refused)


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_logging_handler_that_raises(
    client: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry, capfd: Any
) -> None:
    handler = RaisingHandler()
    with on_error_logger(handler), instrumented(telemetry, [fake.netloc, refused]):
        three_calls(client, fake, refused)

    assert handler.calls == 1
    spans = telemetry.client_spans()
    assert dict(spans[1].attributes or {})["com.8x8.error.code"] == 1002
    assert spans[1].status.status_code is StatusCode.ERROR
    assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 1
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("raise_exceptions", [True, False])
def test_logging_handler_error_is_reported_by_logging_only(
    raise_exceptions: bool,
    fake: FakeEightByEight,
    refused: str,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", raise_exceptions)
    handler = ConventionalFailingHandler()
    with on_error_logger(handler), instrumented(telemetry, [fake.netloc, refused]):
        for client in CLIENT_NAMES:
            three_calls(client, fake, refused)

    errors = len(CLIENT_NAMES)  # one 8x8 error per client
    assert handler.calls == errors
    out, err = capsys.readouterr()
    assert out == ""
    if raise_exceptions:  # logging's own diagnostic, once per failed record; the app is unaffected
        assert err.count("--- Logging error ---") == errors
        assert err.count("Boom: cannot write the record") == errors
        assert "otel_8x8" in err
    else:
        assert err == ""
    assert len(telemetry.log_records()) == errors


class _RaisingLogExporter(LogRecordExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.calls += 1
        raise Boom("log export")

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_exporters_that_raise(client: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry) -> None:
    span_exporter = RaisingSpanExporter()
    telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    log_exporter = _RaisingLogExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    try:
        with (
            on_error_logger(LoggingHandler(logger_provider=logger_provider)),
            instrumented(telemetry, [fake.netloc, refused]),
        ):
            three_calls(client, fake, refused)
    finally:
        logger_provider.shutdown()

    assert span_exporter.calls == 3
    assert log_exporter.calls == 1
    assert len(telemetry.client_spans()) == 3  # the other exporters still get everything
    assert len(telemetry.log_records()) == 1


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_user_hooks_that_raise(
    client: str, fake: FakeEightByEight, refused: str, telemetry: Telemetry, counting: CountingSpanProcessor
) -> None:
    seen: list[str] = []

    def request_hook(span: Any, request: Any) -> None:
        seen.append("request")
        span.set_attribute("app.hooked", True)
        raise Boom("request hook")

    def response_hook(span: Any, request: Any, response: Any) -> None:
        seen.append(f"response {status_of(response)}")
        raise Boom("response hook")

    with instrumented(telemetry, [fake.netloc, refused], request_hook=request_hook, response_hook=response_hook):
        three_calls(client, fake, refused)

    assert seen == ["request", "response 200", "request", "response 400", "request"]
    spans = telemetry.client_spans()
    assert [dict(s.attributes or {}).get("app.hooked") for s in spans] == [True, True, True]
    assert dict(spans[1].attributes or {})["com.8x8.error.code"] == 1002
    assert counting.started == counting.ended == 3


# --- the instrumentation's own failure at each step -----------------------------------------------


STEPS: dict[str, tuple[Any, str]] = {
    "host-matcher": (otel_8x8.hosts.HostMatcher, "match"),
    "describe_call": (otel_8x8.interceptor, "describe_call"),
    "read_answer": (otel_8x8.interceptor, "read_answer"),
    "parse_envelope": (otel_8x8.answers, "parse_envelope"),
    "parse_object": (otel_8x8.answers, "parse_object"),
    "categorize": (otel_8x8.answers, "categorize"),
    "redact_text": (otel_8x8.answers, "redact_text"),
    "redact_url": (otel_8x8.call, "redact_url"),
    "Recorder.record_answer": (otel_8x8.recorder.Recorder, "record_answer"),
    "Recorder.error_attributes": (otel_8x8.recorder.Recorder, "error_attributes"),
    "Recorder._count_error": (otel_8x8.recorder.Recorder, "_count_error"),
    "Recorder._log_error": (otel_8x8.recorder.Recorder, "_log_error"),
    "Recorder.record_exception": (otel_8x8.recorder.Recorder, "record_exception"),
    "Recorder.record_duration": (otel_8x8.recorder.Recorder, "record_duration"),
    "Recorder.enrich_start": (otel_8x8.recorder.Recorder, "enrich_start"),
}
REQUESTS_STEPS: dict[str, tuple[Any, str]] = {
    "requests_hook.netloc_of": (otel_8x8.requests_hook, "netloc_of"),
    "requests_hook._status": (otel_8x8.requests_hook, "_status"),
    "requests_hook.body_if_read": (otel_8x8.requests_hook, "body_if_read"),
    "requests_hook._header_getter": (otel_8x8.requests_hook, "_header_getter"),
}
AIOHTTP_STEPS: dict[str, tuple[Any, str]] = {
    "aiohttp_hook.netloc_of": (otel_8x8.aiohttp_hook, "netloc_of"),
    "aiohttp_hook.tap_content": (otel_8x8.aiohttp_hook, "tap_content"),
    "aiohttp_streams.finish_when_collected": (otel_8x8.aiohttp_streams, "finish_when_collected"),
    "aiohttp_streams._finish": (otel_8x8.aiohttp_streams, "_finish"),
    "StreamTap.feed": (otel_8x8.streams.StreamTap, "feed"),
}


@pytest.mark.parametrize("client", CLIENT_NAMES)
@pytest.mark.parametrize("step", list(STEPS))
def test_own_failure_at_each_step_never_reaches_the_app(
    client: str,
    step: str,
    fake: FakeEightByEight,
    refused: str,
    telemetry: Telemetry,
    counting: CountingSpanProcessor,
    monkeypatch: pytest.MonkeyPatch,
    capfd: Any,
) -> None:
    owner, name = STEPS[step]
    monkeypatch.setattr(owner, name, boom)
    with instrumented(telemetry, [fake.netloc, refused]):
        three_calls(client, fake, refused)

    assert counting.started == counting.ended  # every span begun was ended
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("step", list(REQUESTS_STEPS))
def test_own_failure_in_the_requests_hook_never_reaches_the_app(
    step: str,
    fake: FakeEightByEight,
    refused: str,
    telemetry: Telemetry,
    counting: CountingSpanProcessor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, name = REQUESTS_STEPS[step]
    monkeypatch.setattr(owner, name, boom)
    with instrumented(telemetry, [fake.netloc, refused]):
        three_calls("requests", fake, refused)

    assert counting.started == counting.ended


@pytest.mark.parametrize("step", list(AIOHTTP_STEPS))
def test_own_failure_in_the_aiohttp_hook_never_reaches_the_app(
    step: str,
    fake: FakeEightByEight,
    refused: str,
    telemetry: Telemetry,
    counting: CountingSpanProcessor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, name = AIOHTTP_STEPS[step]
    monkeypatch.setattr(owner, name, boom)
    with instrumented(telemetry, [fake.netloc, refused]):
        three_calls("aiohttp", fake, refused)
    gc.collect()  # a tap that could not finish otherwise ends when its response is collected

    deadline = time.monotonic() + 10
    while counting.started != counting.ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counting.started == counting.ended


# --- timeouts and connection errors ----------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_timeout_is_the_same_exception_and_ends_the_span(
    client: str, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    fake.script("POST", MESSAGES, Reply(200, {"umid": "late"}, delay=2))
    with instrumented(telemetry, [fake.netloc]):
        outcome = CAPTURING_CLIENTS[client]("POST", fake.url + MESSAGES, json={}, timeout=0.2)

    assert isinstance(outcome.error, TIMEOUT_ERRORS[client])
    assert outcome.unchanged()
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == qualified(type(outcome.error))
    assert "http.response.status_code" not in attrs
    assert span.status.status_code is StatusCode.ERROR
    assert span.end_time is not None
    assert [event.name for event in span.events] == ["exception"]
    [duration] = telemetry.metric_points("http.client.request.duration")
    assert duration.count == 1 and duration.attributes["error.type"] == attrs["error.type"]
    assert telemetry.log_records() == []
    assert telemetry.metric_points("com.8x8.api.errors") == []


@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_connection_refused_is_the_same_exception_and_ends_the_span(
    client: str, refused: str, telemetry: Telemetry
) -> None:
    with instrumented(telemetry, [refused]):
        outcome = CAPTURING_CLIENTS[client]("POST", f"http://{refused}{MESSAGES}", json={})

    assert isinstance(outcome.error, CONNECT_ERRORS[client])
    assert outcome.unchanged()
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == qualified(CONNECT_ERRORS[client])
    assert attrs["server.address"] == "127.0.0.1"
    assert span.status.status_code is StatusCode.ERROR
    assert span.end_time is not None


# --- no recursion -------------------------------------------------------------------------------------


class _RequestsSpanExporter(SpanExporter):
    """An OTLP/HTTP-like exporter: POSTs the spans as JSON with requests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.posts = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.posts += 1
        body = [json.loads(span.to_json()) for span in spans]
        self.session.post(self.url, json=body, headers=AUTH, timeout=5)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.session.close()


class _RequestsLogExporter(LogRecordExporter):
    def __init__(self, url: str) -> None:
        self.url = url
        self.posts = 0

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.posts += 1
        requests.post(self.url, json={"records": len(batch)}, headers=AUTH, timeout=5)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@pytest.fixture
def collector() -> Iterator[FakeEightByEight]:
    """A second local server, configured as an 8x8 host, that answers every export with an 8x8 error."""
    with FakeEightByEight() as server:
        server.script(None, r"/v1/.*", error_envelope(2000, "Internal Error", 500))
        yield server


@pytest.mark.parametrize("processor", ["simple", "batch"])
@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_exporter_http_calls_are_not_instrumented(
    client: str, processor: str, fake: FakeEightByEight, collector: FakeEightByEight, telemetry: Telemetry
) -> None:
    span_exporter = _RequestsSpanExporter(collector.url + "/v1/traces")
    span_processor: Any = (
        SimpleSpanProcessor(span_exporter) if processor == "simple" else BatchSpanProcessor(span_exporter)
    )
    telemetry.tracer_provider.add_span_processor(span_processor)
    log_exporter = _RequestsLogExporter(collector.url + "/v1/logs")
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    call = CAPTURING_CLIENTS[client]
    try:
        with (
            on_error_logger(LoggingHandler(logger_provider=logger_provider)),
            instrumented(telemetry, [fake.netloc, collector.netloc]),
        ):
            outcomes = [call("POST", fake.url + MESSAGES, json={"text": t}) for t in ("hi", "FAIL 1002", "FAIL 2000")]
            span_processor.force_flush()
    finally:
        logger_provider.shutdown()

    assert [status_of(o.response) for o in outcomes] == [200, 400, 500]
    spans = telemetry.client_spans()
    assert len(spans) == 3
    assert {dict(s.attributes or {})["server.port"] for s in spans} == {fake.port}
    assert len(telemetry.log_records()) == 2
    assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 2
    received = collector.requests
    assert len([r for r in received if r.path == "/v1/logs"]) == log_exporter.posts == 2
    traces = [r for r in received if r.path == "/v1/traces"]
    assert len(traces) == span_exporter.posts
    assert sum(len(r.json()) for r in traces) == 3  # exactly the application's spans, nothing fed back


@pytest.mark.parametrize("failure", ["none", "record_answer-raises", "span-end-raises", "describe_call-raises"])
@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_logging_from_inside_the_instrumentation_never_loops(
    client: str, failure: str, fake: FakeEightByEight, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_logging_never_loops(client, failure, fake, telemetry, monkeypatch)
