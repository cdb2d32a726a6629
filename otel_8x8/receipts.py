"""Delivery receipts: 8x8's webhooks that tell, after the call, whether a message reached its recipient.

A message accepted by 8x8 (HTTP 200 with a ``umid``) can still fail later at the operator or the chat
channel; 8x8 then POSTs a delivery receipt to the app's webhook::

    {"namespace": "SMS" | "ChatApps", "eventType": "outbound_message_status_changed", "description": "...",
     "payload": {"umid", "batchId", "subAccountId", "destination" | "user": {"msisdn", ...},
                 "status": {"state", "detail", "timestamp", "errorCode", "errorMessage"}, ...}}

:class:`ReceiptRecorder` turns one such body into telemetry, framework-neutral:

- every receipt: an INTERNAL span ``8x8 delivery receipt`` (child of the current span, e.g. the webhook
  request's SERVER span) with ``com.8x8.message.umid`` and ``com.8x8.receipt.state``, to be found beside
  the span of the call that sent the message (which has the same ``com.8x8.message.umid``);
- a failed one (an ``errorCode``, or a state ``undelivered``/``rejected``/``failed``/``expired``) also gets
  ``com.8x8.product``, ``com.8x8.subaccount.id``, ``com.8x8.error.code``/``category``/``retryable`` and status
  ERROR with the redacted ``errorMessage``; one WARNING log record on the logger ``otel_8x8`` (emitted while
  that span is current, so it carries its trace id); and +1 on the counter ``com.8x8.delivery.errors``.

Phone numbers (``destination``, ``user``, ``source``, message content) are never read into telemetry; the
error message is redacted. Inbound messages and other events are ignored. Recording never raises.

:class:`ReceiptsMiddleware` (WSGI) and :class:`ReceiptsASGIMiddleware` (ASGI) observe the body of the POST
requests to the webhook path without changing what the app receives, and record it once the app has
answered (only when it accepted the receipt: 8x8 sends a refused one again, up to four times).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue

from . import attributes as A
from .catalog import Category
from .receipt_codes import NO_ERROR_CODES, lookup_receipt, receipt_category
from .redaction import redact_text
from .texts import exportable
from .version import __version__

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "DELIVERY_ERRORS_METRIC",
    "DELIVERY_ERROR_METRIC_ATTRIBUTES",
    "MAX_RECEIPT_BYTES",
    "SPAN_NAME",
    "Receipt",
    "ReceiptRecorder",
    "ReceiptsASGIMiddleware",
    "ReceiptsMiddleware",
    "parse_receipt",
]

SPAN_NAME: Final = "8x8 delivery receipt"
DELIVERY_ERRORS_METRIC: Final = "com.8x8.delivery.errors"
DELIVERY_ERROR_METRIC_ATTRIBUTES: Final = (A.PRODUCT, A.ERROR_CODE, A.ERROR_CATEGORY, A.RECEIPT_STATE)
"""The only attributes on ``com.8x8.delivery.errors``: all of bounded cardinality."""

MAX_RECEIPT_BYTES: Final = 1024 * 1024
"""Webhook bodies longer than this are neither copied nor parsed (a receipt is well under 10 KiB)."""

DEFAULT_PATH: Final = "/webhooks/8x8"
LOGGER_NAME: Final = "otel_8x8"
RECEIPT_EVENT: Final = "outbound_message_status_changed"

_PRODUCTS: Final = {"sms": "sms", "chatapps": "chatapps"}  # namespace (lower case) -> com.8x8.product
FAILURE_STATES: Final = frozenset({"undelivered", "rejected", "failed", "expired"})
KNOWN_STATES: Final = frozenset({"queued", "sent", "delivered", "read", *FAILURE_STATES})
"""States recorded as such on the metric; any other becomes ``other`` there (the span keeps it)."""

_STATE_RE = re.compile(r"[a-z_]{1,32}")
_SUBACCOUNT_RE = re.compile(r"[A-Za-z0-9\-._&]{3,50}")
_NUMERIC_RE = re.compile(r"-?[0-9]{1,9}")
_MAX_ID = 128
# Characters that a log line must not carry raw: C0 controls, DEL, C1 controls and the Unicode line and
# paragraph separators (str.splitlines() and many log viewers break lines there).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"

_internal = logging.getLogger(__name__)

Attributes = dict[str, AttributeValue]
ReceiptBody = Mapping[str, Any] | bytes | bytearray | memoryview | str


@dataclass(frozen=True)
class Receipt:
    """The parts of a delivery receipt worth recording, already checked and redacted."""

    product: str | None
    umid: str | None
    subaccount_id: str | None
    state: str | None
    error_code: int | None
    error_message: str | None  # redacted

    @property
    def failed(self) -> bool:
        """A failure state, or an error code that is not one of 8x8's "no error" codes."""
        if self.state in FAILURE_STATES:
            return True
        if self.error_code is None:
            return False
        return self.error_code not in NO_ERROR_CODES.get(self.product or "sms", frozenset())

    @property
    def category(self) -> Category:
        return receipt_category(self.error_code, self.product or "sms")

    @property
    def description(self) -> str | None:
        """8x8's description of the error code, when it is a known one."""
        if self.error_code is None:
            return None
        entry = lookup_receipt(self.error_code, self.product or "sms")
        return entry.description if entry is not None else None


def parse_receipt(body: ReceiptBody) -> Receipt | None:
    """The delivery receipt in a webhook body (a mapping, or JSON as bytes or text), or None for anything else.

    Never raises: bodies that are too big, not JSON, other events (inbound messages) or without a status
    give None; fields of the wrong type are left out.
    """
    try:
        data = _load(body)
        if data is None or data.get("eventType") != RECEIPT_EVENT:
            return None
        namespace = data.get("namespace")
        product = _PRODUCTS.get(namespace.lower()) if isinstance(namespace, str) else None
        payload = data.get("payload")
        if not isinstance(payload, Mapping):
            return None
        status = payload.get("status")
        if not isinstance(status, Mapping):
            return None
        return Receipt(
            product=product,
            umid=_identifier(payload.get("umid")),
            subaccount_id=_subaccount(payload.get("subAccountId")),
            state=_state(status.get("state")),
            error_code=_code(status.get("errorCode")),
            error_message=_message(status.get("errorMessage")),
        )
    except Exception:  # a hostile body must not break the webhook
        _internal.debug("otel-8x8: could not read a delivery receipt", exc_info=True)
        return None


def _load(body: ReceiptBody) -> Mapping[str, Any] | None:
    if isinstance(body, Mapping):
        return body
    if isinstance(body, str):
        if len(body) > MAX_RECEIPT_BYTES:
            return None
        text: str | bytes = body
    elif isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        if not raw or len(raw) > MAX_RECEIPT_BYTES:
            return None
        text = raw
    else:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    escape = _CONTROL_ESCAPES.get(char)
    if escape is not None:
        return escape
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _one_line(text: str) -> str:
    """``text`` with every control character and line separator escaped (``\\n``, ``\\x1b``, ``\\u2028``): a
    receipt's text must not forge log lines or terminal escapes. Done after redaction, which must still see a
    phone number split by a newline; a backslash is left as it is, so text escaped already passes unchanged."""
    return _CONTROL_RE.sub(_escape_control, text) if not text.isprintable() else text


def _identifier(value: object) -> str | None:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        return None
    return _one_line(redact_text(exportable(value)))  # a UUID passes unchanged; a phone number would not


def _subaccount(value: object) -> str | None:
    if not isinstance(value, str) or not _SUBACCOUNT_RE.fullmatch(value):
        return None
    return value if redact_text(value) == value else None  # an all-digits id could be a phone number


def _state(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    state = value.strip().lower()
    return state if _STATE_RE.fullmatch(state) else None


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else None
    if isinstance(value, str) and _NUMERIC_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _message(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return _one_line(redact_text(exportable(value.strip())))


class ReceiptRecorder:
    """Records 8x8 delivery receipts as spans, log records and the ``com.8x8.delivery.errors`` counter.

    Providers default to the global ones (looked up when recording, so an SDK configured later, e.g. by
    ``opentelemetry-instrument``, is used).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger: logging.Logger = logging.getLogger(LOGGER_NAME),  # noqa: B008 - the logger is a singleton
    ) -> None:
        self._tracer = trace.get_tracer(__name__, __version__, tracer_provider=tracer_provider, schema_url=_SCHEMA_URL)
        meter = metrics.get_meter(__name__, __version__, meter_provider=meter_provider, schema_url=_SCHEMA_URL)
        self._errors = meter.create_counter(
            DELIVERY_ERRORS_METRIC, unit="{error}", description="8x8 messages that a delivery receipt reported failed."
        )
        self._logger = logger

    def record(self, payload: ReceiptBody) -> None:
        """Record one webhook body (anything that is not a delivery receipt is ignored). Never raises."""
        try:
            receipt = parse_receipt(payload)
            if receipt is not None:
                self.record_receipt(receipt)
        except Exception:
            _internal.debug("otel-8x8: could not record a delivery receipt", exc_info=True)

    def record_receipt(self, receipt: Receipt) -> None:
        if not receipt.failed:
            attrs: Attributes = {}
            if receipt.umid is not None:
                attrs[A.MESSAGE_UMID] = receipt.umid
            if receipt.state is not None:
                attrs[A.RECEIPT_STATE] = receipt.state
            span = self._tracer.start_span(SPAN_NAME, kind=SpanKind.INTERNAL, attributes=attrs)
            span.end()
            return
        attrs = error_attributes(receipt)
        message = receipt.error_message or receipt.description
        with self._tracer.start_as_current_span(
            SPAN_NAME,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span.set_status(Status(StatusCode.ERROR, message))
            self._log(receipt, attrs)
            self._errors.add(1, metric_attributes(receipt))

    def _log(self, receipt: Receipt, attrs: Attributes) -> None:
        if not self._logger.isEnabledFor(logging.WARNING):
            return
        extra: dict[str, Any] = dict(attrs)
        if receipt.error_message is not None:
            extra[A.ERROR_MESSAGE] = receipt.error_message
        what = "error" if receipt.error_code is None else f"error {receipt.error_code}"
        if receipt.description is not None:
            what += f" ({receipt.description})"
        self._logger.warning(
            "8x8 %s delivery %s [%s] for message %s: %s%s",
            receipt.product or "message",
            what,
            receipt.category.value,
            receipt.umid or "(no umid)",
            receipt.state or "(no state)",
            f": {receipt.error_message}" if receipt.error_message else "",
            extra=extra,
        )


def error_attributes(receipt: Receipt) -> Attributes:
    """Span (and log) attributes of a failed receipt."""
    category = receipt.category
    attrs: Attributes = {}
    if receipt.product is not None:
        attrs[A.PRODUCT] = receipt.product
    if receipt.umid is not None:
        attrs[A.MESSAGE_UMID] = receipt.umid
    if receipt.subaccount_id is not None:
        attrs[A.SUBACCOUNT_ID] = receipt.subaccount_id
    if receipt.state is not None:
        attrs[A.RECEIPT_STATE] = receipt.state
    if receipt.error_code is not None:
        attrs[A.ERROR_CODE] = receipt.error_code
    attrs[A.ERROR_CATEGORY] = category.value
    attrs[A.ERROR_RETRYABLE] = category.retryable
    return attrs


def metric_attributes(receipt: Receipt) -> Attributes:
    """Bounded attributes for ``com.8x8.delivery.errors``: a code only when 8x8 documents it (anyone can
    POST to a webhook, so an arbitrary number must not become a new time series), a known state or ``other``."""
    attrs: Attributes = {A.ERROR_CATEGORY: receipt.category.value}
    if receipt.product is not None:
        attrs[A.PRODUCT] = receipt.product
    if receipt.error_code is not None and receipt.description is not None:
        attrs[A.ERROR_CODE] = receipt.error_code
    if receipt.state is not None:
        attrs[A.RECEIPT_STATE] = receipt.state if receipt.state in KNOWN_STATES else "other"
    return attrs


# --- middleware -------------------------------------------------------------------------------------------


def _accepted(status: int | None) -> bool:
    """Whether the app took the receipt: 8x8 sends it again after a 4xx/5xx answer, so only then count it.
    No status (the app raised, or never answered) is no acceptance: the server answers 500."""
    return status is not None and status < 400


class _BodyCopy:
    """A bounded copy of the request body the app reads, and whether it is the whole body.

    ``length`` is the Content-Length to trust (None when the server marks the input terminated: then the
    body ends where the stream does). Past MAX_RECEIPT_BYTES, or after a read error, the copy is dropped.
    """

    __slots__ = ("data", "ended", "length")

    def __init__(self, length: int | None) -> None:
        self.length = length
        self.data: bytearray | None = bytearray()
        self.ended = False

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        data = self.data
        if data is None:
            return
        try:
            size = len(chunk)
            if self.length is not None:  # bytes past Content-Length are not the body's
                size = min(size, self.length - len(data))
            if len(data) + size > MAX_RECEIPT_BYTES:
                self.data = None
            elif size > 0:
                data += chunk[:size]
        except Exception:
            self.data = None

    def end(self) -> None:
        self.ended = True

    def drop(self) -> None:
        self.data = None

    def body(self) -> bytes | None:
        """The whole body, if the app read all of it without error; else None."""
        data = self.data
        if data is None:
            return None
        if self.length is not None:
            return bytes(data) if len(data) == self.length else None
        return bytes(data) if self.ended else None


def _size(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
    return args[0] if args else kwargs.get(name, -1)


class _TeeInput:
    """``wsgi.input`` as the app sees it: every call goes to the server's stream, and what it returns (or
    raises) reaches the app unchanged; the bytes returned are also added to a bounded copy."""

    def __init__(self, stream: Any, copy: _BodyCopy) -> None:
        self._stream = stream
        self._copy = copy

    def read(self, *args: Any, **kwargs: Any) -> Any:
        try:
            data = self._stream.read(*args, **kwargs)
        except BaseException:
            self._copy.drop()
            raise
        with contextlib.suppress(Exception):
            size = _size(args, kwargs, "size")
            if data:
                self._copy.add(data)
            if size is None or size < 0 or (not data and size != 0):  # read() reads to the end
                self._copy.end()
        return data

    def readline(self, *args: Any, **kwargs: Any) -> Any:
        try:
            line = self._stream.readline(*args, **kwargs)
        except BaseException:
            self._copy.drop()
            raise
        with contextlib.suppress(Exception):
            if line:
                self._copy.add(line)
            elif _size(args, kwargs, "size") != 0:
                self._copy.end()
        return line

    def readlines(self, *args: Any, **kwargs: Any) -> Any:
        try:
            lines = self._stream.readlines(*args, **kwargs)
        except BaseException:
            self._copy.drop()
            raise
        with contextlib.suppress(Exception):
            for line in lines:
                self._copy.add(line)
            hint = _size(args, kwargs, "hint")
            if hint is None or hint <= 0 or not lines:
                self._copy.end()
        return lines

    def __iter__(self) -> Iterator[Any]:
        try:
            lines = iter(self._stream)
        except BaseException:
            self._copy.drop()
            raise
        while True:
            try:
                line = next(lines)
            except StopIteration:
                self._copy.end()
                return
            except BaseException:
                self._copy.drop()
                raise
            self._copy.add(line)
            yield line

    def _readinto(self, name: str, buffer: Any) -> Any:
        try:
            count = getattr(self._stream, name)(buffer)
        except BaseException:
            self._copy.drop()
            raise
        with contextlib.suppress(Exception):
            if count:
                self._copy.add(memoryview(buffer).cast("B")[:count])
            elif count == 0 and len(buffer) > 0:
                self._copy.end()
        return count

    def _read1(self, *args: Any, **kwargs: Any) -> Any:
        try:
            data = self._stream.read1(*args, **kwargs)
        except BaseException:
            self._copy.drop()
            raise
        with contextlib.suppress(Exception):
            if data:
                self._copy.add(data)
            elif _size(args, kwargs, "size") != 0:
                self._copy.end()
        return data

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._stream, name)  # what the server's stream lacks, this one lacks too
        if name in ("readinto", "readinto1"):  # werkzeug's LimitedStream reads through readinto
            return functools.partial(self._readinto, name)
        if name == "read1":
            return self._read1
        return attribute


class _AnsweredBody:
    """The app's answer, passed on unchanged; when it has been iterated to its end (or closed without being
    iterated), the status is known and the receipt is recorded (once)."""

    def __init__(self, result: Iterable[bytes], record: Callable[[], None]) -> None:
        self._result = result
        self._record: Callable[[], None] | None = record
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        self._started = True
        try:
            yield from self._result
        except BaseException:
            self._record = None  # the answer broke: the server sends an error, or a cut answer
            raise
        self._finish()

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            if not self._started:
                self._finish()
            self._record = None

    def _finish(self) -> None:
        record, self._record = self._record, None
        if record is not None:
            record()


class _SizedAnsweredBody(_AnsweredBody):
    """The same, for an answer with a length (a list: wsgiref sets Content-Length from a one-item one)."""

    def __len__(self) -> int:
        return len(self._result)  # type: ignore[arg-type]


class ReceiptsMiddleware:
    """WSGI middleware: records the delivery receipts POSTed to ``path``; every request and answer unchanged.

    The app reads the body itself, from ``wsgi.input`` wrapped to copy what it reads (at most 1 MiB); once
    the app's answer has been iterated (its status is then known), the receipt in a body the app read whole
    is recorded. Flask: ``app.wsgi_app = ReceiptsMiddleware(app.wsgi_app)``.
    """

    def __init__(self, app: WSGIApplication, path: str = DEFAULT_PATH, recorder: ReceiptRecorder | None = None) -> None:
        self.app = app
        self.path = path
        self.recorder = recorder if recorder is not None else ReceiptRecorder()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        copy = self._observe(environ)
        if copy is None:
            return self.app(environ, start_response)
        statuses: list[int] = []

        def observing_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            with contextlib.suppress(Exception):  # a malformed status line is the server's business, not ours
                statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        def record() -> None:
            try:
                body = copy.body()
                if body is not None and _accepted(statuses[-1] if statuses else None):
                    self.recorder.record(body)
            except Exception:
                _internal.debug("otel-8x8: could not record a delivery receipt", exc_info=True)

        result = self.app(environ, observing_start_response)
        try:
            sized = hasattr(result, "__len__")
            return _SizedAnsweredBody(result, record) if sized else _AnsweredBody(result, record)
        except Exception:
            return result

    def _observe(self, environ: WSGIEnvironment) -> _BodyCopy | None:
        """For a POST to the webhook path, ``wsgi.input`` replaced by a tee and its copy; else None (untouched)."""
        try:
            if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
                return None
            length: int | None = None
            if not environ.get("wsgi.input_terminated"):  # else Content-Length, if any, is not the body's
                length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
                if not length_text.isdigit():
                    return None  # no body (WSGI: without Content-Length, the app must not read)
                length = int(length_text)
                if length == 0 or length > MAX_RECEIPT_BYTES:
                    return None
            copy = _BodyCopy(length)
            environ["wsgi.input"] = _TeeInput(environ["wsgi.input"], copy)
            return copy
        except Exception:
            return None


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _route_path(scope: Scope) -> object:
    """The path below the app's mount point, as WSGI's PATH_INFO: the ASGI ``path`` is the full path and
    ``root_path`` the prefix the app is mounted at (a Starlette ``Mount``, ``uvicorn --root-path``); servers
    that give a path without the root path are taken as they are."""
    path = scope.get("path")
    root_path = scope.get("root_path")
    prefix = root_path.rstrip("/") if isinstance(root_path, str) else ""
    if isinstance(path, str) and prefix and path.startswith(prefix):
        rest = path[len(prefix) :]
        if rest.startswith("/"):
            return rest
    return path


class ReceiptsASGIMiddleware:
    """ASGI middleware: records the delivery receipts POSTed to ``path``; every message passed on unchanged.

    ``receive`` is wrapped to copy the body chunks the app reads (at most 1 MiB), ``send`` to see the answer's
    status; the receipt is recorded after the app has returned. FastAPI / Starlette:
    ``app.add_middleware(ReceiptsASGIMiddleware)``.
    """

    def __init__(self, app: ASGIApp, path: str = DEFAULT_PATH, recorder: ReceiptRecorder | None = None) -> None:
        self.app = app
        self.path = path
        self.recorder = recorder if recorder is not None else ReceiptRecorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            observe = scope.get("type") == "http" and scope.get("method") == "POST" and _route_path(scope) == self.path
        except Exception:
            observe = False
        if not observe:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        complete = overflow = False
        status: int | None = None

        async def observing_receive() -> Message:
            nonlocal size, complete, overflow
            message = await receive()
            try:
                if message.get("type") == "http.request" and not complete:
                    chunk = message.get("body") or b""
                    if not overflow:
                        if size + len(chunk) > MAX_RECEIPT_BYTES:  # measured before any copy
                            overflow = True
                            chunks.clear()
                        else:
                            size += len(chunk)
                            chunks.append(bytes(chunk))
                    if not message.get("more_body", False):
                        complete = True
            except Exception:
                overflow = True
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status
            with contextlib.suppress(Exception):
                if message.get("type") == "http.response.start":
                    status = int(message.get("status") or 0)
            await send(message)

        await self.app(scope, observing_receive, observing_send)
        if complete and not overflow and _accepted(status):
            self.recorder.record(b"".join(chunks))
