"""Delivery receipts: the recorder, and the WSGI / ASGI middleware behind real Flask and FastAPI servers."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from flask import Flask
from flask import Response as FlaskResponse
from flask import request as flask_request
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from werkzeug.serving import make_server

from otel_8x8 import attributes as A
from otel_8x8.catalog import Category
from otel_8x8.receipt_codes import NO_ERROR_CODES, RECEIPT_CODES, lookup_receipt, receipt_category
from otel_8x8.receipts import (
    DELIVERY_ERROR_METRIC_ATTRIBUTES,
    DELIVERY_ERRORS_METRIC,
    MAX_RECEIPT_BYTES,
    SPAN_NAME,
    ReceiptRecorder,
    ReceiptsASGIMiddleware,
    ReceiptsMiddleware,
    parse_receipt,
)

from .conftest import Telemetry
from .support import serving

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent
UMID = "9e09ac86-bd74-5465-851d-1eb5a5fdbb9a"
SUBACCOUNT = "SubAccount-1"
PHONE = "+6591234567"
PHONE_DIGITS = PHONE[1:]
WEBHOOK = "/webhooks/8x8"


def sms_receipt(
    state: str = "undelivered",
    code: object = 15,
    message: str | None = f"Invalid destination {PHONE}",
    umid: str = UMID,
) -> dict[str, Any]:
    """8x8's documented sample of an SMS delivery receipt (with our phone number)."""
    status: dict[str, Any] = {"state": state, "detail": "rejected_by_operator", "timestamp": "2016-01-01T00:00:00Z"}
    if code is not None:
        status["errorCode"] = code
    if message is not None:
        status["errorMessage"] = message
    return {
        "namespace": "SMS",
        "eventType": "outbound_message_status_changed",
        "description": "SMS outbound message delivery receipt",
        "payload": {
            "umid": umid,
            "batchId": "3e09ac86-bd74-5465-851d-1eb5a5fdbb9b",
            "clientMessageId": "order-42",
            "subAccountId": SUBACCOUNT,
            "source": PHONE,
            "destination": PHONE,
            "status": status,
            "price": {"total": 0.0375, "perSms": 0.0125, "currency": "USD"},
            "smsCount": 3,
        },
    }


def chatapps_receipt(code: int = 1022) -> dict[str, Any]:
    """8x8's documented shape of an undelivered WhatsApp receipt: the phone number is in ``user``."""
    return {
        "version": 9,
        "namespace": "ChatApps",
        "eventType": "outbound_message_status_changed",
        "description": "ChatApps outbound message delivery receipt",
        "payload": {
            "umid": UMID,
            "subAccountId": SUBACCOUNT,
            "channel": "whatsapp",
            "user": {"msisdn": PHONE, "channelUserId": PHONE_DIGITS},
            "status": {
                "state": "undelivered",
                "detail": "rejected_by_operator",
                "timestamp": "2026-01-01T00:00:00Z",
                "errorCode": code,
                "errorMessage": f"Re-engagement message to {PHONE}",
            },
            "whatsapp": {"providerErrorCode": "131999"},
        },
    }


def delivered_receipt() -> dict[str, Any]:
    receipt = sms_receipt(state="delivered", code=None, message=None)
    receipt["payload"]["status"]["detail"] = "delivered_to_recipient"
    return receipt


def encode(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt).encode()


@pytest.fixture
def recorder(telemetry: Telemetry) -> ReceiptRecorder:
    return ReceiptRecorder(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)


def receipt_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.spans.get_finished_spans() if span.name == SPAN_NAME]


def delivery_points(telemetry: Telemetry) -> list[Any]:
    return telemetry.metric_points(DELIVERY_ERRORS_METRIC)


def everything_recorded(telemetry: Telemetry) -> str:
    """Every span, log record and metric point as text."""
    parts = [span.to_json() for span in telemetry.spans.get_finished_spans()]
    parts += [f"{record.body!r} {dict(record.attributes or {})!r}" for record in telemetry.log_records()]
    data = telemetry.metrics.get_metrics_data()
    if data is not None:
        parts.append(data.to_json())
    return "\n".join(parts)


def assert_no_phone(telemetry: Telemetry) -> None:
    text = everything_recorded(telemetry)
    assert text  # something was recorded
    assert PHONE_DIGITS not in text
    assert "REDACTED" in text or "destination" not in text


def assert_failed_sms_receipt(telemetry: Telemetry, parent: ReadableSpan | None = None) -> ReadableSpan:
    (span,) = receipt_spans(telemetry)
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        A.PRODUCT: "sms",
        A.MESSAGE_UMID: UMID,
        A.SUBACCOUNT_ID: SUBACCOUNT,
        A.RECEIPT_STATE: "undelivered",
        A.ERROR_CODE: 15,
        A.ERROR_CATEGORY: "invalid_request",
        A.ERROR_RETRYABLE: False,
    }
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Invalid destination REDACTED"
    if parent is not None:
        assert span.parent is not None
        assert span.parent.span_id == parent.context.span_id
        assert span.context.trace_id == parent.context.trace_id

    (record,) = telemetry.log_records()
    assert record.severity_number is SeverityNumber.WARN
    assert record.trace_id == span.context.trace_id
    assert record.span_id == span.context.span_id
    log_attrs = dict(record.attributes or {})
    for key, value in (span.attributes or {}).items():
        assert log_attrs[key] == value
    assert log_attrs[A.ERROR_MESSAGE] == "Invalid destination REDACTED"
    assert "15" in str(record.body) and "Invalid destination" in str(record.body) and UMID in str(record.body)

    (point,) = delivery_points(telemetry)
    assert point.value == 1
    assert dict(point.attributes) == {
        A.PRODUCT: "sms",
        A.ERROR_CODE: 15,
        A.ERROR_CATEGORY: "invalid_request",
        A.RECEIPT_STATE: "undelivered",
    }
    assert_no_phone(telemetry)
    return span


# --- the recorder -----------------------------------------------------------------------------------------


def test_failed_receipt_is_a_span_a_log_and_a_count_under_the_current_span(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("webhook")
    with tracer.start_as_current_span("POST /webhooks/8x8", kind=SpanKind.SERVER):
        recorder.record(encode(sms_receipt()))
    server = next(s for s in telemetry.spans.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert_failed_sms_receipt(telemetry, parent=server)


@pytest.mark.parametrize("form", ["mapping", "bytes", "str", "bytearray"])
def test_every_body_form_is_accepted(telemetry: Telemetry, recorder: ReceiptRecorder, form: str) -> None:
    receipt = sms_receipt()
    body: Any = {
        "mapping": receipt,
        "bytes": encode(receipt),
        "str": json.dumps(receipt),
        "bytearray": bytearray(encode(receipt)),
    }[form]
    recorder.record(body)
    assert_failed_sms_receipt(telemetry)


def test_successful_receipt_is_a_span_with_umid_and_state_only(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(encode(delivered_receipt()))
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {}) == {A.MESSAGE_UMID: UMID, A.RECEIPT_STATE: "delivered"}
    assert span.status.status_code is StatusCode.UNSET
    assert telemetry.log_records() == []
    assert delivery_points(telemetry) == []
    assert PHONE_DIGITS not in everything_recorded(telemetry)


def test_chatapps_receipt_uses_the_messaging_apps_codes(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(encode(chatapps_receipt(1022)))
    (span,) = receipt_spans(telemetry)
    attrs = dict(span.attributes or {})
    assert attrs[A.PRODUCT] == "chatapps"
    assert attrs[A.ERROR_CODE] == 1022
    assert attrs[A.ERROR_CATEGORY] == "template"  # WhatsApp's 24-hour window: send a template
    assert span.status.description == "Re-engagement message to REDACTED"
    (point,) = delivery_points(telemetry)
    assert dict(point.attributes)[A.PRODUCT] == "chatapps"
    assert_no_phone(telemetry)
    assert "131999" not in everything_recorded(telemetry)  # nothing else of the payload is copied


def test_failure_state_without_code_is_an_unknown_error(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(sms_receipt(state="rejected", code=None, message=None))
    (span,) = receipt_spans(telemetry)
    attrs = dict(span.attributes or {})
    assert A.ERROR_CODE not in attrs
    assert attrs[A.ERROR_CATEGORY] == "unknown"
    assert attrs[A.RECEIPT_STATE] == "rejected"
    assert span.status.status_code is StatusCode.ERROR
    (point,) = delivery_points(telemetry)
    assert dict(point.attributes) == {A.PRODUCT: "sms", A.ERROR_CATEGORY: "unknown", A.RECEIPT_STATE: "rejected"}
    assert len(telemetry.log_records()) == 1


def test_unknown_code_is_unknown_and_kept_off_the_metric(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(sms_receipt(code=987654, message=None, state="Weird-State"))
    (span,) = receipt_spans(telemetry)
    attrs = dict(span.attributes or {})
    assert attrs[A.ERROR_CODE] == 987654
    assert attrs[A.ERROR_CATEGORY] == "unknown"
    assert attrs[A.ERROR_RETRYABLE] is False
    assert A.RECEIPT_STATE not in attrs  # not a word: not recorded
    (point,) = delivery_points(telemetry)
    assert dict(point.attributes) == {A.PRODUCT: "sms", A.ERROR_CATEGORY: "unknown"}


def test_code_given_as_text_and_description_as_status_without_message(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    recorder.record(sms_receipt(code="50", message=None))
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {})[A.ERROR_CODE] == 50
    assert dict(span.attributes or {})[A.ERROR_CATEGORY] == "rate_limit"
    assert dict(span.attributes or {})[A.ERROR_RETRYABLE] is True
    assert span.status.description == "Throttling error"


def test_unknown_states_are_bounded_on_the_metric(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(sms_receipt(state="bounced", code=15))
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {})[A.RECEIPT_STATE] == "bounced"
    (point,) = delivery_points(telemetry)
    assert dict(point.attributes)[A.RECEIPT_STATE] == "other"
    assert set(dict(point.attributes)) <= set(DELIVERY_ERROR_METRIC_ATTRIBUTES)


def test_phone_numbers_in_identifiers_are_not_recorded(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    receipt = sms_receipt(umid=PHONE)
    receipt["payload"]["subAccountId"] = PHONE_DIGITS
    recorder.record(receipt)
    (span,) = receipt_spans(telemetry)
    attrs = dict(span.attributes or {})
    assert A.SUBACCOUNT_ID not in attrs
    assert attrs[A.MESSAGE_UMID] == "REDACTED"
    assert_no_phone(telemetry)


@pytest.mark.parametrize(
    "body",
    [
        encode({"namespace": "SMS", "eventType": "inbound_message_received", "payload": {"source": PHONE}}),
        encode({"namespace": "ChatApps", "eventType": "external_app_message", "payload": {"umid": UMID}}),
        encode({"namespace": "SMS", "eventType": "outbound_message_status_changed", "payload": {"umid": UMID}}),
        encode({"namespace": "SMS", "eventType": "outbound_message_status_changed", "payload": [1, 2]}),
        encode({"namespace": "SMS", "eventType": "outbound_message_status_changed", "payload": {"status": "x"}}),
        b"",
        b"not json",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"eventType": "outbound_message_status_changed", "payload": {"status": {"state": "undelivered", '
        + b'"errorCode": 15}}, "pad": "'
        + b"x" * MAX_RECEIPT_BYTES
        + b'"}',
        b"[1, 2, 3]",
        "null",
        12,
        None,
    ],
    ids=lambda body: repr(body)[:40],
)
def test_anything_else_is_ignored_without_raising(telemetry: Telemetry, recorder: ReceiptRecorder, body: Any) -> None:
    recorder.record(body)
    assert receipt_spans(telemetry) == []
    assert telemetry.log_records() == []
    assert delivery_points(telemetry) == []


def test_wrongly_typed_fields_are_left_out(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    receipt = sms_receipt(code=True, message=["no"])  # type: ignore[arg-type]
    receipt["payload"]["umid"] = {"nested": UMID}
    receipt["payload"]["subAccountId"] = 42
    recorder.record(receipt)
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {}) == {
        A.PRODUCT: "sms",
        A.RECEIPT_STATE: "undelivered",
        A.ERROR_CATEGORY: "unknown",
        A.ERROR_RETRYABLE: False,
    }


def test_recording_never_raises_even_when_the_sdk_does() -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("broken provider")

    recorder = ReceiptRecorder()
    recorder._tracer = Broken()  # type: ignore[assignment]
    recorder.record(encode(sms_receipt()))  # no exception
    recorder.record(encode(delivered_receipt()))


# --- the codes --------------------------------------------------------------------------------------------


def test_receipt_codes_are_8x8s_and_categorised() -> None:
    sms = RECEIPT_CODES["sms"]
    assert set(sms) == set(range(62)) - {6}  # 8x8's table: 0-61, no 6
    assert sms[15].description == "Invalid destination"
    assert sms[46].description == "Subscriber not reachable"
    assert sms[61].description == "Session expired"
    assert {1, 15, 1022, 2023} <= set(RECEIPT_CODES["chatapps"])
    for table in RECEIPT_CODES.values():
        for entry in table.values():
            assert isinstance(entry.category, Category)
            assert entry.retryable is entry.category.retryable
    assert receipt_category(46) is Category.NOT_FOUND
    assert receipt_category(11) is Category.RATE_LIMIT
    assert receipt_category(40) is Category.SERVER_ERROR
    assert receipt_category(43) is Category.FORBIDDEN
    assert receipt_category(99) is Category.UNKNOWN
    assert receipt_category(None) is Category.UNKNOWN
    # the same number means different things per product (and differs from the API's 1002 Invalid MSISDN)
    assert lookup_receipt(1002, "sms") is None
    whatsapp = lookup_receipt(1002, "chatapps")
    assert whatsapp is not None and whatsapp.category is Category.RATE_LIMIT
    assert 2000 in NO_ERROR_CODES["chatapps"]


def test_a_no_error_code_on_a_delivered_receipt_is_not_an_error() -> None:
    receipt = parse_receipt(sms_receipt(state="delivered", code=0, message=None))
    assert receipt is not None and not receipt.failed
    receipt = parse_receipt(sms_receipt(state="undelivered", code=0, message=None))
    assert receipt is not None and receipt.failed


# --- WSGI: Flask behind werkzeug's real server --------------------------------------------------------------


@contextmanager
def wsgi_server(app: WSGIApplication) -> Iterator[str]:
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def server_span_wsgi(app: WSGIApplication, telemetry: Telemetry) -> WSGIApplication:
    """What an HTTP server instrumentation does: a SERVER span current while the app runs."""
    tracer = telemetry.tracer_provider.get_tracer("test-server")

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with tracer.start_as_current_span(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}", kind=SpanKind.SERVER):
            return list(app(environ, start_response))

    return wrapped


class FlaskWebhook:
    """A Flask app whose webhook checks that it got exactly the bytes that were sent."""

    def __init__(self, recorder: ReceiptRecorder) -> None:
        self.expected = b""
        self.seen: list[bytes] = []
        self.answer = 204
        app = Flask("receipts-test")

        @app.post(WEBHOOK)
        def webhook() -> FlaskResponse:
            body = flask_request.get_data()
            self.seen.append(body)
            if body != self.expected:
                return FlaskResponse("body changed", status=500)
            return FlaskResponse(status=self.answer)

        @app.route("/other", methods=["GET", "POST"])
        def other() -> FlaskResponse:
            body = flask_request.get_data()
            self.seen.append(body)
            return FlaskResponse(b"other:" + body, status=200)

        @app.get(WEBHOOK)
        def webhook_get() -> FlaskResponse:
            return FlaskResponse(b"ok", status=200)

        app.wsgi_app = ReceiptsMiddleware(app.wsgi_app, recorder=recorder)  # type: ignore[method-assign]
        self.app = app


@pytest.fixture
def flask_webhook(recorder: ReceiptRecorder) -> FlaskWebhook:
    return FlaskWebhook(recorder)


def test_wsgi_real_server_records_a_failed_receipt_and_the_app_sees_the_same_body(
    telemetry: Telemetry, flask_webhook: FlaskWebhook
) -> None:
    body = encode(sms_receipt())
    flask_webhook.expected = body
    with wsgi_server(server_span_wsgi(flask_webhook.app.wsgi_app, telemetry)) as url:
        response = httpx.post(url + WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 204, response.text
    assert flask_webhook.seen == [body]
    server = next(s for s in telemetry.spans.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert_failed_sms_receipt(telemetry, parent=server)


def test_wsgi_successful_receipt_and_other_requests(telemetry: Telemetry, flask_webhook: FlaskWebhook) -> None:
    body = encode(delivered_receipt())
    flask_webhook.expected = body
    receipt_elsewhere = encode(sms_receipt())
    with wsgi_server(flask_webhook.app.wsgi_app) as url:
        assert httpx.post(url + WEBHOOK, content=body).status_code == 204
        other = httpx.post(url + "/other", content=receipt_elsewhere)
        assert httpx.get(url + WEBHOOK).status_code == 200
    assert other.status_code == 200
    assert other.content == b"other:" + receipt_elsewhere  # untouched request and answer
    assert flask_webhook.seen == [body, receipt_elsewhere]
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {}) == {A.MESSAGE_UMID: UMID, A.RECEIPT_STATE: "delivered"}
    assert telemetry.log_records() == []
    assert delivery_points(telemetry) == []


def test_wsgi_receipt_refused_by_the_app_is_not_counted(telemetry: Telemetry, flask_webhook: FlaskWebhook) -> None:
    body = encode(sms_receipt())
    flask_webhook.expected = body
    flask_webhook.answer = 503  # 8x8 will send it again
    with wsgi_server(flask_webhook.app.wsgi_app) as url:
        assert httpx.post(url + WEBHOOK, content=body).status_code == 503
    assert flask_webhook.seen == [body]
    assert receipt_spans(telemetry) == []
    assert delivery_points(telemetry) == []


def test_wsgi_large_and_chunked_bodies_reach_the_app_unchanged(
    telemetry: Telemetry, flask_webhook: FlaskWebhook
) -> None:
    big = encode({**sms_receipt(), "pad": "x" * MAX_RECEIPT_BYTES})
    chunked = encode(sms_receipt())
    with wsgi_server(flask_webhook.app.wsgi_app) as url:
        flask_webhook.expected = big
        assert httpx.post(url + WEBHOOK, content=big).status_code == 204
        flask_webhook.expected = chunked
        parts = [chunked[:10], chunked[10:]]
        assert httpx.post(url + WEBHOOK, content=iter(parts)).status_code == 204  # no Content-Length
    assert flask_webhook.seen == [big, chunked]
    (span,) = receipt_spans(telemetry)  # not the big one; the chunked one, which werkzeug marks terminated
    assert dict(span.attributes or {})[A.MESSAGE_UMID] == UMID


def test_wsgi_middleware_survives_a_broken_input_stream(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    error = OSError("client went away")

    class Broken:
        def read(self, size: int = -1) -> bytes:
            raise error

    seen: list[BaseException] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:  # the app sees the stream's own error, not an empty body
            seen.append(exc)
        start_response("204 No Content", [])
        return [b""]

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": WEBHOOK, "CONTENT_LENGTH": "10", "wsgi.input": Broken()}
    assert list(middleware(environ, lambda status, headers, exc_info=None: lambda data: None)) == [b""]
    assert seen == [error]
    assert receipt_spans(telemetry) == []


# --- ASGI: FastAPI behind a real uvicorn, and through httpx's ASGI transport ------------------------------------


@contextmanager
def asgi_server(app: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive()


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


class ServerSpanASGI:
    """What an HTTP server instrumentation does: a SERVER span current while the app runs."""

    def __init__(self, app: Any, telemetry: Telemetry) -> None:
        self.app = app
        self.tracer = telemetry.tracer_provider.get_tracer("test-server")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.tracer.start_as_current_span(f"{scope['method']} {scope['path']}", kind=SpanKind.SERVER):
            await self.app(scope, receive, send)


class FastAPIWebhook:
    def __init__(self, recorder: ReceiptRecorder) -> None:
        self.expected = b""
        self.seen: list[bytes] = []
        self.answer = 204
        app = FastAPI()
        app.add_middleware(ReceiptsASGIMiddleware, recorder=recorder)

        @app.post(WEBHOOK)
        async def webhook(request: Request) -> Response:
            body = await request.body()
            self.seen.append(body)
            if body != self.expected:
                return Response("body changed", status_code=500)
            return Response(status_code=self.answer)

        @app.post("/other")
        async def other(request: Request) -> Response:
            body = await request.body()
            self.seen.append(body)
            return Response(b"other:" + body, status_code=200)

        self.app = app


@pytest.fixture
def fastapi_webhook(recorder: ReceiptRecorder) -> FastAPIWebhook:
    return FastAPIWebhook(recorder)


def test_asgi_real_server_records_a_failed_receipt_and_the_app_sees_the_same_body(
    telemetry: Telemetry, fastapi_webhook: FastAPIWebhook
) -> None:
    body = encode(sms_receipt())
    fastapi_webhook.expected = body
    with asgi_server(ServerSpanASGI(fastapi_webhook.app, telemetry)) as url:
        response = httpx.post(url + WEBHOOK, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 204, response.text
        wait_for(lambda: any(s.kind is SpanKind.SERVER for s in telemetry.spans.get_finished_spans()), "no span")
    assert fastapi_webhook.seen == [body]
    server = next(s for s in telemetry.spans.get_finished_spans() if s.kind is SpanKind.SERVER)
    assert_failed_sms_receipt(telemetry, parent=server)


def test_asgi_real_server_chunked_body_is_copied_chunk_by_chunk(
    telemetry: Telemetry, fastapi_webhook: FastAPIWebhook
) -> None:
    body = encode(chatapps_receipt(1))
    fastapi_webhook.expected = body
    with asgi_server(fastapi_webhook.app) as url:
        parts = [body[i : i + 7] for i in range(0, len(body), 7)]
        assert httpx.post(url + WEBHOOK, content=iter(parts)).status_code == 204
        wait_for(lambda: receipt_spans(telemetry), "no receipt span")
    assert fastapi_webhook.seen == [body]
    (span,) = receipt_spans(telemetry)
    assert dict(span.attributes or {})[A.ERROR_CATEGORY] == "not_found"
    assert_no_phone(telemetry)


async def test_asgi_other_requests_refusals_and_big_bodies_are_left_alone(
    telemetry: Telemetry, fastapi_webhook: FastAPIWebhook
) -> None:
    receipt = encode(sms_receipt())
    big = encode({**sms_receipt(), "pad": "x" * MAX_RECEIPT_BYTES})
    transport = httpx.ASGITransport(app=fastapi_webhook.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        other = await client.post("/other", content=receipt)
        fastapi_webhook.expected = big
        assert (await client.post(WEBHOOK, content=big)).status_code == 204
        fastapi_webhook.expected = receipt
        fastapi_webhook.answer = 500
        assert (await client.post(WEBHOOK, content=receipt)).status_code == 500
    assert other.status_code == 200 and other.content == b"other:" + receipt
    assert fastapi_webhook.seen == [receipt, big, receipt]
    assert receipt_spans(telemetry) == []
    assert delivery_points(telemetry) == []


async def test_asgi_messages_pass_through_unchanged(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:20], "more_body": True},
        {"type": "http.request", "body": body[20:], "more_body": False},
    ]
    received: list[Any] = []
    sent: list[Any] = []
    answer_start = {"type": "http.response.start", "status": 200, "headers": []}
    answer_body = {"type": "http.response.body", "body": b"ok"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        received.append(await receive())
        await send(answer_start)
        await send(answer_body)

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": WEBHOOK, "headers": []}
    await ReceiptsASGIMiddleware(app, recorder=recorder)(scope, receive, send)
    assert [m["body"] for m in received] == [body[:20], body[20:]]
    assert sent[0] is answer_start and sent[1] is answer_body
    assert_failed_sms_receipt(telemetry)


async def test_asgi_app_that_does_not_read_the_body_records_nothing(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await ReceiptsASGIMiddleware(app, recorder=recorder)(
        {"type": "http", "method": "POST", "path": WEBHOOK}, receive, send
    )
    await ReceiptsASGIMiddleware(app, recorder=recorder)({"type": "lifespan"}, receive, send)
    assert len(sent) == 4
    assert receipt_spans(telemetry) == []


# --- the examples -----------------------------------------------------------------------------------------------


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["receipts_flask", "receipts_fastapi"])
def test_examples_use_only_otel_8x8_receipts(name: str) -> None:
    source = (ROOT / "examples" / f"{name}.py").read_text(encoding="utf-8")
    assert "opentelemetry" not in source.replace("opentelemetry-instrument", "")
    assert "from otel_8x8.receipts import" in source


def test_flask_example_records_receipts(telemetry: Telemetry) -> None:
    module = load_example("receipts_flask")
    middleware = module.app.wsgi_app
    assert isinstance(middleware, ReceiptsMiddleware)
    middleware.recorder = ReceiptRecorder(telemetry.tracer_provider, telemetry.meter_provider)
    response = module.app.test_client().post(WEBHOOK, data=encode(sms_receipt()), content_type="application/json")
    assert response.status_code == 204
    assert module.last_state == {UMID: "undelivered"}
    assert_failed_sms_receipt(telemetry)


def test_fastapi_example_records_receipts(telemetry: Telemetry) -> None:
    module = load_example("receipts_fastapi")
    recorder = ReceiptRecorder(telemetry.tracer_provider, telemetry.meter_provider)
    (middleware,) = [m for m in module.app.user_middleware if m.cls is ReceiptsASGIMiddleware]
    middleware.kwargs["recorder"] = recorder

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=module.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(WEBHOOK, content=encode(sms_receipt()))

    assert asyncio.run(post()).status_code == 204
    assert module.last_state == {UMID: "undelivered"}
    assert_failed_sms_receipt(telemetry)
