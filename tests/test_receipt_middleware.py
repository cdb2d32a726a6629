"""The receipts middleware against hostile and unusual requests: bodies that lie about their length, stall or
break, apps that answer lazily or are mounted under a prefix, and receipts that try to forge log lines."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from otel_8x8 import attributes as A
from otel_8x8.receipts import ReceiptRecorder, ReceiptsASGIMiddleware

from .conftest import Telemetry
from .test_receipts import (
    UMID,
    WEBHOOK,
    asgi_server,
    assert_failed_sms_receipt,
    delivery_points,
    encode,
    receipt_spans,
    sms_receipt,
    wait_for,
)

if TYPE_CHECKING:
    pass


# --- log injection ----------------------------------------------------------------------------------------------

FORGED = "\nERROR 8x8 forged line for message 1"


@pytest.mark.parametrize(
    "separator",
    ["\n", "\r\n", "\r", "\x1b[2K\r", "\x85", "\u2028", "\x7f", "\x00", "\x0b", "\x0c", "\x1c", "\x9b"],
    ids=repr,
)
def test_umid_and_error_message_cannot_forge_log_lines(telemetry: Telemetry, separator: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("test.receipts.injection")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        recorder = ReceiptRecorder(telemetry.tracer_provider, telemetry.meter_provider, logger=logger)
        receipt = sms_receipt(umid=f"abc{separator}ERROR forged", message=f"Bad destination{separator}{FORGED}")
        recorder.record(encode(receipt))
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert output.endswith("\n")
    lines = output[:-1]
    assert lines.startswith("WARNING test.receipts.injection 8x8 sms delivery error 15")
    assert lines.splitlines() == [lines]  # one record, one line (str.splitlines knows every line break)
    assert not [c for c in lines if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029"]
    assert "ERROR forged" in lines and "forged line" in lines  # escaped, not dropped
    (span,) = receipt_spans(telemetry)  # the same escaped text on the span
    attributes = dict(span.attributes or {})
    assert "\n" not in str(attributes[A.MESSAGE_UMID]) and "\n" not in str(span.status.description)


def test_ordinary_texts_are_unchanged(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(encode(sms_receipt(message="Invalid destination é \u00a0 \\n ok")))
    (span,) = receipt_spans(telemetry)
    assert span.status.description == "Invalid destination é \u00a0 \\n ok"
    assert dict(span.attributes or {})[A.MESSAGE_UMID] == UMID


@pytest.fixture
def recorder(telemetry: Telemetry) -> ReceiptRecorder:
    return ReceiptRecorder(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)


# --- ASGI mounted under a prefix --------------------------------------------------------------------------------


class Webhook:
    """A FastAPI webhook with the middleware, to mount under a prefix or serve with a root path."""

    def __init__(self, recorder: ReceiptRecorder) -> None:
        self.seen: list[bytes] = []
        app = FastAPI()
        app.add_middleware(ReceiptsASGIMiddleware, recorder=recorder)

        @app.post(WEBHOOK)
        async def webhook(request: Request) -> Response:
            self.seen.append(await request.body())
            return Response(status_code=204)

        self.app = app


def test_asgi_app_mounted_under_a_prefix_records_receipts(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    webhook = Webhook(recorder)
    outer = FastAPI()
    outer.mount("/api", webhook.app)
    body = encode(sms_receipt())
    with asgi_server(outer) as url:
        assert httpx.post(url + "/api" + WEBHOOK, content=body).status_code == 204
        wait_for(lambda: receipt_spans(telemetry), "no receipt span")
    assert webhook.seen == [body]
    assert_failed_sms_receipt(telemetry)


def test_asgi_server_root_path_is_honoured(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    """uvicorn --root-path /api behind a proxy that keeps the prefix: scope path /api/webhooks/8x8, root_path /api."""
    webhook = Webhook(recorder)
    body = encode(sms_receipt())

    async def with_root_path(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": "/api", "path": "/api" + scope["path"]}
        await webhook.app(scope, receive, send)

    with asgi_server(with_root_path) as url:
        assert httpx.post(url + WEBHOOK, content=body).status_code == 204
        wait_for(lambda: receipt_spans(telemetry), "no receipt span")
    assert webhook.seen == [body]
    assert_failed_sms_receipt(telemetry)


async def test_asgi_raw_scope_with_root_path(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        pass

    def receive_once() -> Any:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        return receive

    middleware = ReceiptsASGIMiddleware(app, recorder=recorder)
    for path, root_path in [
        ("/api/webhooks/8x8", "/api"),  # the ASGI spec: path is the full path, root_path its prefix
        ("/webhooks/8x8", "/api"),  # older servers: path without the root path
        ("/api/webhooks/8x8", "/api/"),
    ]:
        await middleware({"type": "http", "method": "POST", "path": path, "root_path": root_path}, receive_once(), send)
    for path, root_path in [
        ("/api/webhooks/8x8", ""),  # another route of the outer app
        ("/apiwebhooks/8x8", "/api"),
        ("/api/webhooks/8x8/", "/api"),
        ("/api/api/webhooks/8x8", "/api/"),
    ]:
        await middleware({"type": "http", "method": "POST", "path": path, "root_path": root_path}, receive_once(), send)
    assert len(receipt_spans(telemetry)) == 3
    assert delivery_points(telemetry)[0].value == 3
