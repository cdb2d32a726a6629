"""OTLP export of an unmodified app under ``opentelemetry-instrument`` to real receivers on 127.0.0.1.

What Jaeger and a logs backend receive: spans with the ``com.8x8.*`` attributes, the resource's
``service.name``, and the error log records carrying the trace and span ids of their spans.

Receivers:

- oteltap (PyPI), a third-party OTLP/HTTP protobuf receiver, run as its command-line program, which prints
  every span and log record it decoded as NDJSON. It implements neither OTLP/gRPC nor prints the resource.
- So for the resource and for gRPC, the minimal receivers below: an HTTP server decoding the OTLP protobuf
  requests with opentelemetry-proto, and a grpcio server serving the OTLP collector services.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import grpc  # type: ignore[import-untyped]
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.receipts import ReceiptRecorder
from otel_8x8.testing import FakeEightByEight, Reply

from .support import LoggingHandler, app_environment, free_port, on_error_logger, run_instrumented, stop_process

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out

Message = Any  # a protobuf message (google.protobuf has no type hints installed)

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "sms_app.py"
SERVICE_NAME = "sms-app-otlp"
SEND = "POST /api/v1/subaccounts/{subAccountId}/messages (sms)"
LOOKUP = "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
TIMEOUT = 30


# -- the app -------------------------------------------------------------------------------------------


def run_app(fake: FakeEightByEight, tmp_path: Path, protocol: str, endpoint: str) -> None:
    """Run examples/sms_app.py under opentelemetry-instrument, exporting everything over OTLP."""
    env = app_environment(
        f"{fake.netloc}=sms",
        OTEL_SERVICE_NAME=SERVICE_NAME,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT="10",
        EIGHTXEIGHT_SMS_URL=fake.url,
    )
    completed = run_instrumented(APP, env, tmp_path)
    assert "send 'FAIL 1002': HTTP 400" in completed.stdout
    assert "Failed to export" not in completed.stderr, completed.stderr


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not received within {timeout} s")
        time.sleep(0.1)


# -- minimal OTLP receivers ----------------------------------------------------------------------------


@dataclass
class Received:
    """The export requests a receiver got, decoded."""

    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    logs: list[ExportLogsServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Message) -> None:
        with self.lock:
            if isinstance(request, ExportTraceServiceRequest):
                self.traces.append(request)
            elif isinstance(request, ExportLogsServiceRequest):
                self.logs.append(request)
            elif isinstance(request, ExportMetricsServiceRequest):
                self.metrics.append(request)


# path or gRPC service -> (request type, response type)
SIGNALS: dict[str, tuple[type[Message], type[Message]]] = {
    "traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
    "metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}
GRPC_SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
}


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    """OTLP/HTTP with protobuf bodies: POST /v1/traces, /v1/logs, /v1/metrics."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        signal = self.path.removeprefix("/v1/")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if signal not in SIGNALS or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_error(404 if signal not in SIGNALS else 415)
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request_type, response_type = SIGNALS[signal]
        request = request_type()
        request.ParseFromString(body)
        cast(Any, self.server).received.add(request)
        answer = response_type().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, Received]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpHttpHandler)
    received = Received()
    cast(Any, server).received = received
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))

    def export(response_type: type[Message]) -> Callable[[Message, Any], Message]:
        def handle(request: Message, context: Any) -> Message:
            received.add(request)
            return response_type()

        return handle

    for signal, (request_type, response_type) in SIGNALS.items():
        handler = grpc.unary_unary_rpc_method_handler(
            export(response_type),
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(GRPC_SERVICES[signal], {"Export": handler}),)
        )
    port = server.add_insecure_port("127.0.0.1:0")
    assert port, "the gRPC receiver could not bind"
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait(10)


# -- checks --------------------------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in cast("list[KeyValue]", pairs)}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_spans_logs_and_metrics_reach_an_otlp_receiver(
    protocol: str,
    fake: FakeEightByEight,
    tmp_path: Path,
    http_receiver: tuple[str, Received],
    grpc_receiver: tuple[str, Received],
) -> None:
    endpoint, received = http_receiver if protocol == "http/protobuf" else grpc_receiver
    other = grpc_receiver[1] if protocol == "http/protobuf" else http_receiver[1]

    run_app(fake, tmp_path, protocol, endpoint)
    wait_until(lambda: bool(received.traces and received.logs and received.metrics), "traces, logs and metrics")

    spans: dict[str, Any] = {}  # span id (hex) -> span
    for request in received.traces:
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            assert resource["service.name"] == SERVICE_NAME
            assert resource["telemetry.sdk.language"] == "python"
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans[span.span_id.hex()] = span
    assert sorted(span.name for span in spans.values()) == [LOOKUP, SEND, SEND, SEND]
    errors = {attributes(s.attributes).get("com.8x8.error.code"): s for s in spans.values() if s.status.code == 2}
    assert set(errors) == {1002, 1200}
    assert attributes(errors[1002].attributes)["com.8x8.error.category"] == "invalid_request"
    assert attributes(errors[1200].attributes)["com.8x8.error.category"] == "auth"
    for span in spans.values():
        attrs = attributes(span.attributes)
        assert attrs["com.8x8.product"] == ("lookup" if span.name == LOOKUP else "sms")
        assert attrs["com.8x8.subaccount.id"] == "acme-demo"
        assert "6591234567" not in attrs["url.full"]

    records = []
    for logs_request in received.logs:
        for resource_logs in logs_request.resource_logs:
            assert attributes(resource_logs.resource.attributes)["service.name"] == SERVICE_NAME
            for scope_logs in resource_logs.scope_logs:
                records += [r for r in scope_logs.log_records if "com.8x8.error.code" in attributes(r.attributes)]
    assert sorted(attributes(r.attributes)["com.8x8.error.code"] for r in records) == [1002, 1200]
    for record in records:
        span = errors[attributes(record.attributes)["com.8x8.error.code"]]
        assert record.trace_id == span.trace_id
        assert record.span_id == span.span_id
        assert record.severity_text == "WARN"
        assert "6591234567" not in str(record.body)

    points = []
    for metrics_request in received.metrics:
        for resource_metrics in metrics_request.resource_metrics:
            assert attributes(resource_metrics.resource.attributes)["service.name"] == SERVICE_NAME
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == "com.8x8.api.errors":
                        points += list(metric.sum.data_points)
    assert sorted((attributes(p.attributes)["com.8x8.error.code"], p.as_int) for p in points) == [(1002, 1), (1200, 1)]

    assert not (other.traces or other.logs or other.metrics), "only the chosen protocol's receiver got data"


# -- oteltap -------------------------------------------------------------------------------------------


def read_ndjson(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The spans and log records oteltap printed (it prints one JSON object a line, and a banner)."""
    spans, logs = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if "severityNumber" in item:
            logs.append(item)
        elif "kind" in item and "startTimeUnixNano" in item:
            spans.append(item)
    return spans, logs


def ndjson_attributes(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in item.get("attributes") or ():
        [(kind, value)] = pair["value"].items()
        found[pair["key"]] = int(value) if kind == "intValue" else value
    return found


def test_spans_and_logs_reach_oteltap_over_otlp_http(fake: FakeEightByEight, tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "oteltap.out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with output.open("w") as stdout:
        receiver = subprocess.Popen(
            [sys.executable, "-m", "oteltap", "--port", str(port)],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        wait_until(lambda: "Listening" in output.read_text() or receiver.poll() is not None, "oteltap's banner")
        assert receiver.poll() is None, output.read_text()

        run_app(fake, tmp_path, "http/protobuf", f"http://127.0.0.1:{port}")

        def complete() -> bool:
            spans, logs = read_ndjson(output)
            return len(spans) >= 4 and sum("com.8x8.error.code" in ndjson_attributes(log) for log in logs) >= 2

        wait_until(complete, "4 spans and 2 error log records in oteltap")
    finally:
        stop_process(receiver)

    spans, logs = read_ndjson(output)
    assert sorted(span["name"] for span in spans) == [LOOKUP, SEND, SEND, SEND]
    errors = {ndjson_attributes(span).get("com.8x8.error.code"): span for span in spans if span["status"]["code"] == 2}
    assert set(errors) == {1002, 1200}
    assert ndjson_attributes(errors[1200])["com.8x8.error.category"] == "auth"
    records = [log for log in logs if "com.8x8.error.code" in ndjson_attributes(log)]
    assert len(records) == 2
    for record in records:
        span = errors[ndjson_attributes(record)["com.8x8.error.code"]]
        assert (record["traceId"], record["spanId"]) == (span["traceId"], span["spanId"])
        assert ndjson_attributes(record)["com.8x8.error.category"] == ndjson_attributes(span)["com.8x8.error.category"]


# -- texts the UTF-8 encoder cannot take ---------------------------------------------------------------

# JSON escapes that decode to lone surrogates, which UTF-8 cannot encode: in an error envelope and a receipt.
SURROGATE_ENVELOPE = b'{"code": 1002, "message": "bad \\udfff msisdn", "errorId": "x\\ud800y", "timestamp": "t"}'
SURROGATE_RECEIPT = (
    b'{"namespace": "SMS", "eventType": "outbound_message_status_changed", "payload": {"umid": "u\\udc80mid",'
    b' "subAccountId": "acme-demo", "status": {"state": "undelivered", "errorCode": 13,'
    b' "errorMessage": "lost \\ud83d here"}}}'
)


def test_a_lone_surrogate_in_an_answer_or_a_receipt_does_not_lose_the_batch(
    fake: FakeEightByEight, http_receiver: tuple[str, Received]
) -> None:
    """The app's own span and log record, batched with otel-8x8's, reach the receiver through the real OTLP
    exporters; the texts carrying a lone surrogate arrive with U+FFFD in its place."""
    endpoint, received = http_receiver
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs")))
    meter_provider = MeterProvider()
    app_logger = logging.getLogger("the-app")
    handler = LoggingHandler(logger_provider=logger_provider)
    app_logger.addHandler(handler)
    send = "/api/v1/subaccounts/acme/messages"
    fake.script("POST", send, Reply(400, SURROGATE_ENVELOPE, content_type="application/json"))
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, hosts=[f"{fake.netloc}=sms"]
    )
    try:
        with on_error_logger(handler):
            with tracer_provider.get_tracer("the-app").start_as_current_span("app-work"):
                app_logger.warning("the app's own record")
                response = requests.post(f"{fake.url}{send}", json={}, timeout=10)
                assert response.status_code == 400
                ReceiptRecorder(tracer_provider, meter_provider).record(SURROGATE_RECEIPT)
            assert tracer_provider.force_flush(10_000)
            assert logger_provider.force_flush(10_000)
    finally:
        instrumentor.uninstrument()
        app_logger.removeHandler(handler)
        tracer_provider.shutdown()
        logger_provider.shutdown()
        meter_provider.shutdown()

    spans = {
        span.name: span
        for request in received.traces
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    }
    assert {"app-work", SEND} <= spans.keys()
    call = spans[SEND]
    assert call.status.message == "bad \ufffd msisdn"
    assert attributes(call.attributes)["com.8x8.error.id"] == "x\ufffdy"
    receipt_spans = [span for span in spans.values() if span.name not in ("app-work", call.name)]
    assert len(receipt_spans) == 1
    assert receipt_spans[0].status.message == "lost \ufffd here"
    assert attributes(receipt_spans[0].attributes)["com.8x8.message.umid"] == "u\ufffdmid"

    bodies = [
        any_value(record.body)
        for request in received.logs
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]
    assert "the app's own record" in bodies
    assert any("bad \ufffd msisdn" in str(body) and "errorId=x\ufffdy" in str(body) for body in bodies), bodies
    assert any("lost \ufffd here" in str(body) for body in bodies), bodies
