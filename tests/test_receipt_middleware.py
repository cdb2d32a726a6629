"""The receipts middleware against hostile and unusual requests: bodies that lie about their length, stall or
break, apps that answer lazily or are mounted under a prefix, and receipts that try to forge log lines."""

from __future__ import annotations

import io
import json
import logging
import socket
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from flask import Flask
from flask import Response as FlaskResponse
from flask import request as flask_request

from otel_8x8 import attributes as A
from otel_8x8.receipts import MAX_RECEIPT_BYTES, ReceiptRecorder, ReceiptsASGIMiddleware, ReceiptsMiddleware

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
    wsgi_server,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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


# --- WSGI: bodies that lie, stall or break ----------------------------------------------------------------------


def raw_request(url: str, head: bytes, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send ``head`` and ``body`` as they are on a socket; the answer's bytes until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def chunked(body: bytes, size: int = 50) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def flask_webhook(recorder: ReceiptRecorder, seen: list[bytes]) -> WSGIApplication:
    app = Flask("receipt-middleware-test")

    @app.post(WEBHOOK)
    def webhook() -> FlaskResponse:
        if flask_request.headers.get("Authorization") != "Bearer good":
            return FlaskResponse("no", status=401)  # before reading the body
        seen.append(flask_request.get_data())
        return FlaskResponse(status=204)

    app.wsgi_app = ReceiptsMiddleware(app.wsgi_app, recorder=recorder)  # type: ignore[method-assign]
    return app.wsgi_app


def test_wsgi_content_length_with_chunked_body_reaches_the_app_whole(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    """werkzeug dechunks the body and marks it terminated; a Content-Length beside it is meaningless."""
    body = encode(sms_receipt())
    seen: list[bytes] = []
    with wsgi_server(flask_webhook(recorder, seen)) as url:
        for length in (b"5", b"0", b"%d" % (len(body) * 2)):
            head = (
                b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer good\r\n"
                b"Content-Length: " + length + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            answer = raw_request(url, head, chunked(body))
            assert answer.startswith(b"HTTP/1.1 204"), answer
    assert seen == [body, body, body]
    assert len(receipt_spans(telemetry)) == 3
    assert delivery_points(telemetry)[0].value == 3


def test_wsgi_stalled_body_does_not_hold_the_app(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    """Headers sent, body announced but never sent: the app answers 401 at once, without reading it."""
    seen: list[bytes] = []
    with wsgi_server(flask_webhook(recorder, seen)) as url:
        head = (
            b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nConnection: close\r\n\r\n"
        )
        answer = raw_request(url, head, b'{"eventType": ', timeout=5.0)  # stalls after 14 bytes
    assert answer.startswith(b"HTTP/1.1 401"), answer
    assert seen == []
    assert receipt_spans(telemetry) == []


def test_wsgi_trickled_body_is_read_by_the_app_as_it_comes(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    """A body trickled in pieces: the app reads it itself, and the receipt is still recorded."""
    body = encode(sms_receipt())
    seen: list[bytes] = []
    with wsgi_server(flask_webhook(recorder, seen)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer good\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            )
            for i in range(0, len(body), 100):
                sock.sendall(body[i : i + 100])
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 204"), answer
    assert seen == [body]
    assert_failed_sms_receipt(telemetry)


class Stream:
    """A ``wsgi.input`` that hands out ``body`` in pieces of at most ``piece`` bytes, and then may raise."""

    def __init__(self, body: bytes, piece: int = 64, error: BaseException | None = None) -> None:
        self.data = io.BytesIO(body)
        self.piece = piece
        self.error = error
        self.closed_by_app = False

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = len(self.data.getbuffer())
        chunk = self.data.read(min(size, self.piece))
        if not chunk and self.error is not None:
            raise self.error
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        line = self.data.readline(self.piece if size is None or size < 0 else min(size, self.piece))
        if not line and self.error is not None:
            raise self.error
        return line

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self.data.readlines(hint)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def close(self) -> None:
        self.closed_by_app = True


def call_wsgi(app: WSGIApplication, environ: dict[str, Any]) -> tuple[list[str], bytes]:
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return statuses, body


def webhook_environ(stream: Any, length: int | None = None, **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": WEBHOOK, "wsgi.input": stream, **extra}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    return environ


def test_wsgi_read_error_reaches_the_app_as_the_same_exception(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())
    error = OSError("client went away")
    caught: list[BaseException] = []
    read: list[bytes] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            while chunk := environ["wsgi.input"].read(1000):
                read.append(chunk)
        except OSError as exc:
            caught.append(exc)
            start_response("400 Bad Request", [])
            return [b"broken"]
        start_response("204 No Content", [])
        return [b""]

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    stream = Stream(body[:100], error=error)
    assert call_wsgi(middleware, webhook_environ(stream, len(body))) == (["400 Bad Request"], b"broken")
    assert caught == [error]
    assert b"".join(read) == body[:100]
    assert receipt_spans(telemetry) == []


@pytest.mark.parametrize("how", ["read", "read-none", "read-sized", "readline", "readlines", "iterate", "readinto"])
def test_wsgi_app_reads_the_body_as_it_likes(telemetry: Telemetry, recorder: ReceiptRecorder, how: str) -> None:
    receipt = sms_receipt()
    body = json.dumps(receipt, indent=1).encode()  # many lines
    got: list[bytes] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        if how == "read":
            got.append(stream.read())
        elif how == "read-none":
            got.append(stream.read(None))
        elif how == "read-sized":
            while chunk := stream.read(7):
                got.append(chunk)
        elif how == "readline":
            while line := stream.readline():
                got.append(line)
        elif how == "readlines":
            got.extend(stream.readlines())
        elif how == "iterate":
            got.extend(stream)
        else:
            buffer = bytearray(10)
            while n := stream.readinto(buffer):
                got.append(bytes(buffer[:n]))
        stream.close()  # anything else goes to the server's stream
        start_response("200 OK", [])
        return [b"ok"]

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    stream = io.BytesIO(body)
    assert call_wsgi(middleware, webhook_environ(stream, len(body))) == (["200 OK"], b"ok")
    assert b"".join(got) == body
    assert stream.closed
    assert_failed_sms_receipt(telemetry)


def test_wsgi_body_the_app_does_not_read_records_nothing(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(10)
        start_response("204 No Content", [])
        return []

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    assert call_wsgi(middleware, webhook_environ(io.BytesIO(body), len(body))) == (["204 No Content"], b"")
    assert receipt_spans(telemetry) == []


def test_wsgi_body_shorter_than_its_content_length_records_nothing(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    body = encode(sms_receipt())

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        while environ["wsgi.input"].read(1000):
            pass
        start_response("204 No Content", [])
        return []

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    call_wsgi(middleware, webhook_environ(io.BytesIO(body), len(body) + 10))
    assert receipt_spans(telemetry) == []


def test_wsgi_body_beyond_the_cap_is_not_copied(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    """A terminated body of unknown length, far beyond the cap: the copy stops at the cap, nothing is recorded."""
    total = 16 * MAX_RECEIPT_BYTES
    piece = b'{"eventType": "outbound_message_status_changed"' + b" " * 65000

    class Endless:
        def __init__(self) -> None:
            self.sent = 0

        def read(self, size: int = -1) -> bytes:
            if self.sent >= total:
                return b""
            self.sent += len(piece)
            return piece

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        count = 0
        while chunk := environ["wsgi.input"].read(65536):
            count += len(chunk)
        start_response("200 OK", [])
        return [b"%d" % count]

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    tracemalloc.start()
    try:
        _, answer = call_wsgi(middleware, webhook_environ(Endless(), None, **{"wsgi.input_terminated": True}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert int(answer) >= total
    assert peak < 3 * MAX_RECEIPT_BYTES
    assert receipt_spans(telemetry) == []


# --- WSGI: the status is known only when the answer is iterated -------------------------------------------------


def lazy_app(status: str, fail: bool = False) -> WSGIApplication:
    """A WSGI app that reads the body at once but calls start_response only when its answer is iterated."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))

        def answer() -> Iterator[bytes]:
            start_response(status, [("Content-Type", "text/plain")])
            if fail:
                raise RuntimeError("broken answer")
            yield b"answered " + status.encode()

        return answer()

    return app


@pytest.mark.parametrize("status", ["401 Unauthorized", "503 Service Unavailable"])
def test_wsgi_lazy_refusal_is_not_counted(telemetry: Telemetry, recorder: ReceiptRecorder, status: str) -> None:
    body = encode(sms_receipt())
    middleware = ReceiptsMiddleware(lazy_app(status), recorder=recorder)
    assert call_wsgi(middleware, webhook_environ(io.BytesIO(body), len(body)))[0] == [status]
    with wsgi_server(middleware) as url:
        assert httpx.post(url + WEBHOOK, content=body).status_code == int(status[:3])
    assert receipt_spans(telemetry) == []
    assert delivery_points(telemetry) == []


def test_wsgi_lazy_acceptance_is_counted_once_answered(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())
    middleware = ReceiptsMiddleware(lazy_app("200 OK"), recorder=recorder)
    with wsgi_server(middleware) as url:
        response = httpx.post(url + WEBHOOK, content=body)
    assert response.status_code == 200 and response.text == "answered 200 OK"
    assert_failed_sms_receipt(telemetry)


def test_wsgi_answer_that_breaks_while_iterated_is_not_counted(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())
    middleware = ReceiptsMiddleware(lazy_app("200 OK", fail=True), recorder=recorder)
    with pytest.raises(RuntimeError, match="broken answer"):
        call_wsgi(middleware, webhook_environ(io.BytesIO(body), len(body)))
    assert receipt_spans(telemetry) == []


def test_wsgi_answer_is_closed_and_sized_as_the_apps(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    body = encode(sms_receipt())
    closed: list[bool] = []

    class Answer:
        def __init__(self) -> None:
            self.parts = [b"ok"]

        def __iter__(self) -> Iterator[bytes]:
            return iter(self.parts)

        def __len__(self) -> int:
            return len(self.parts)

        def close(self) -> None:
            closed.append(True)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        start_response("202 Accepted", [])
        return Answer()

    middleware = ReceiptsMiddleware(app, recorder=recorder)
    result = middleware(webhook_environ(io.BytesIO(body), len(body)), lambda *args: lambda data: None)
    assert len(result) == 1  # type: ignore[arg-type]  # what wsgiref reads to set Content-Length
    assert list(result) == [b"ok"]
    assert_failed_sms_receipt(telemetry)
    result.close()  # type: ignore[attr-defined]
    assert closed == [True]
    assert len(receipt_spans(telemetry)) == 1  # recorded once


# --- ASGI: no answer, no acceptance ----------------------------------------------------------------------------


async def test_asgi_app_that_never_answers_records_nothing(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    """An app that reads the receipt and returns without a response: the server answers 500, 8x8 sends it again."""
    body = encode(sms_receipt())

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        raise AssertionError("not called")

    await ReceiptsASGIMiddleware(app, recorder=recorder)(
        {"type": "http", "method": "POST", "path": WEBHOOK}, receive, send
    )
    assert receipt_spans(telemetry) == []


async def test_asgi_body_beyond_the_cap_in_one_chunk_is_not_copied(
    telemetry: Telemetry, recorder: ReceiptRecorder
) -> None:
    body = bytearray(b" " * (4 * MAX_RECEIPT_BYTES))
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["body"] is body
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    tracemalloc.start()
    try:
        scope = {"type": "http", "method": "POST", "path": WEBHOOK}
        await ReceiptsASGIMiddleware(app, recorder=recorder)(scope, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(sent) == 2
    assert peak < MAX_RECEIPT_BYTES
    assert receipt_spans(telemetry) == []
