"""A fake 8x8 CPaaS API server for tests and demos.

:class:`FakeEightByEight` runs a real HTTP/1.1 server on a local port, in a background thread, and
answers the way 8x8's APIs do: every operation of the route table generated from 8x8's OpenAPI specifications
(``otel_8x8.products``: SMS, Chat Apps, Verification, Number Lookup, Contacts, Voice, Automation, Video).
Point your client's base URL at :attr:`FakeEightByEight.url` instead of ``https://sms.8x8.com``::

    with FakeEightByEight() as fake:
        requests.post(
            f"{fake.url}/api/v1/subaccounts/acme/messages",
            json={"destination": "+6591234567", "text": "hello"},
            headers={"Authorization": "Bearer test-key"},
        )
        assert fake.requests[0].json()["text"] == "hello"

``FakeEightByEight(product="voice")`` answers that product's routes only, as its own host would; the default,
``product=None``, answers every product's, as a gateway would (but Video's ``/{link}``, which would take any
path). A path several products document (``/api/v1/subaccounts/{id}/messages``) is Chat Apps' when the body is a
Chat Apps message (``user``, ``content``), else SMS's.

Without any script, a documented operation answers 2xx with its own shape:

* a send (SMS, survey, Chat Apps) -> 200 with a ``umid`` and a ``Queued`` status;
* a batch -> 200 with ``acceptedCount``, ``rejectedCount`` and one entry per message: SMS ``status.code``
  ``QUEUED``, Chat Apps ``status.state`` ``queued``;
* ``POST .../callflows`` -> 200 ``{"sessionStatus": "CREATED", "callFlowRequestId", "statusCode": 1,
  "statusMessage": "Created"}``;
* ``GET .../phones/{phoneNumber}`` -> 200 with a lookup result whose ``status.state`` is ``ok``;
* ``POST /api/v2/subaccounts/{id}/sessions`` -> 200 with a ``sessionId`` (``WAITING``); ``GET`` one -> ``VERIFIED``;
* any other ``GET`` -> 200 with the path's ids and an ``id`` (``Download-File`` and ``Retrieve-Image``: bytes);
  ``DELETE`` -> 200 ``{}``; ``POST``/``PUT``/``PATCH`` -> 200 with the path's ids and a fresh ``id``.

Errors, chosen per call:

* the header ``X-Fake-8x8-Fail: <code>`` (:data:`FAIL_HEADER`, any method), else a JSON body whose ``text``
  (or ``content.text``) is ``"FAIL <code>"`` -> the 8x8 error for that code, in the shape of the product:
  Number Lookup's codes 2000-2007 and 6000-6005 on the lookup route come inside HTTP 200
  (``status.state: "error"``, ``errorCode``, ``errorMessage``); a callflow with a negative code is 422
  ``NOT_CREATED`` (500 for Voice's internal errors -2001, -2002); Voice's other errors are
  ``{errorId, statusCode: "<code>", statusMessage, timestamp}`` with 422 where others say 400; everything else the
  common envelope ``{code, message, errorId, timestamp}``, e.g. ``"FAIL 1002"`` -> 400
  ``Invalid MSISDN +6591234567`` and ``"FAIL 429"`` -> the rate-limit answer.  Messages are the catalog's;
* a batch's messages whose text is ``"FAIL <code>"`` are rejected one by one (SMS: ``status.code`` ``REJECTED``
  and a ``description``; Chat Apps: ``status.state`` ``rejected``, ``errorCode`` and ``errorMessage``);
* no ``Authorization: Bearer ...`` header -> 401, code 1200;
* an undocumented path or method -> 404, code 1300.

Use :meth:`FakeEightByEight.script` to answer anything else (gateway errors, delays, retries...); scripts take
precedence over all of the above.  Every request is recorded in :attr:`FakeEightByEight.requests`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import unquote

from ..catalog import Category
from ..products import ANSWERS, PRODUCTS, lookup_code, route_table
from ..routes import RouteMatch

__all__ = ["FAIL_HEADER", "FakeEightByEight", "RecordedRequest", "Reply", "error_envelope"]

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

FAIL_HEADER = "X-Fake-8x8-Fail"
"""The request header that selects an error answer: ``X-Fake-8x8-Fail: 1002`` (any integer code, negative too)."""

_FAIL_TEXT = re.compile(r"FAIL (?P<code>-?\d+)")
_FAIL_CODE = re.compile(r"-?\d{1,18}")
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)

_RATE_LIMIT_MESSAGE = "Quota exceeded. Please try again in 1 second(s)."
# Where the fake words a code otherwise than the catalog (otel_8x8.catalog, the products' own codes).
_FAKE_MESSAGES: dict[int, str] = {
    1002: "Invalid MSISDN +6591234567",  # carries a phone number on purpose: redaction tests need one
    1300: "Object wasn't found or is already expired",  # 8x8's wording in its examples
    5001: "Workflow name is required.",  # 8x8's example of Automation's 5001
}
_LOOKUP_FAILURES = frozenset((*range(2000, 2008), *range(6000, 6006)))
"""Codes a Number Lookup answers inside HTTP 200 (``status.state: "error"``) on its lookup route."""


def _timestamp() -> str:
    """Return the current UTC time the way 8x8 writes it, e.g. ``2020-12-22T05:52:01.85Z``."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 10_000:02d}Z"


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the fake server.

    ``body`` is sent as is when ``bytes``, UTF-8 encoded when ``str``, JSON-encoded when a ``dict`` or
    ``list``, and empty when ``None``.  ``content_type`` defaults to ``application/json`` for a JSON
    body, ``text/plain; charset=utf-8`` for a ``str`` or ``bytes`` body, and no header for an empty
    body.  ``headers`` are added to the answer (``Content-Length`` is always computed by the server).
    ``delay`` seconds are waited before answering; ``retry_after`` sets a ``Retry-After`` header.
    """

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    retry_after: int | str | None = None
    content_type: str | None = None

    def encoded_body(self) -> bytes:
        """Return the body as the bytes sent on the wire."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")

    def effective_content_type(self) -> str | None:
        """Return the ``Content-Type`` sent with this reply, or ``None`` for no header."""
        if self.content_type is not None:
            return self.content_type
        if isinstance(self.body, (dict, list)):
            return JSON_CONTENT_TYPE
        if isinstance(self.body, (str, bytes)):
            return TEXT_CONTENT_TYPE
        return None


def error_envelope(
    code: int,
    message: str,
    status: int,
    *,
    error_id: str | None = None,
    timestamp: str | None = None,
) -> Reply:
    """Return a :class:`Reply` carrying 8x8's error envelope.

    The body is ``{"code", "message", "errorId", "timestamp"}``; ``errorId`` is a fresh UUID4 and
    ``timestamp`` the current UTC time (``2020-12-22T05:52:01.85Z`` style) unless given.
    """
    return Reply(
        status=status,
        body={
            "code": code,
            "message": message,
            "errorId": error_id if error_id is not None else str(uuid.uuid4()),
            "timestamp": timestamp if timestamp is not None else _timestamp(),
        },
    )


def _rate_limited() -> Reply:
    """Return 8x8's rate-limit answer: 429, ``Retry-After: 1`` and a body without ``errorId``."""
    return Reply(status=429, body={"code": 429, "message": _RATE_LIMIT_MESSAGE}, retry_after=1)


def _status_for_code(code: int) -> int:
    """Return the HTTP status 8x8 answers with for an error ``code`` in its common envelope."""
    if 1000 <= code <= 1012 or 3000 <= code <= 3999:
        return 400
    if 2001 <= code <= 2003:
        return 410
    return {1200: 401, 1201: 403, 1300: 404, 1400: 429, 2000: 500}.get(code, 400)


def _description(code: int, product: str | None) -> str:
    """What ``code`` means in ``product``'s answers (the catalog's wording), or ``Error <code>``."""
    entry = lookup_code(code, product)
    return entry.description if entry is not None else f"Error {code}"


def _message(code: int, product: str | None) -> str:
    """The message of an error answer for ``code``: the fake's own wording where it has one, else the catalog's."""
    return _FAKE_MESSAGES.get(code) or _description(code, product)


def _error_for_code(code: int, match: RouteMatch | None = None) -> Reply:
    """Return the error answer for ``code`` in the shape of the product and operation ``match`` names.

    Number Lookup's lookup failures come inside HTTP 200; a Voice callflow with a negative code is
    ``NOT_CREATED`` (HTTP 422); Voice's other errors are ``{errorId, statusCode (a string), statusMessage,
    timestamp}``; every other answer is the common envelope ``{code, message, errorId, timestamp}``.
    """
    if code == 429:
        return _rate_limited()
    route = match.route if match is not None else None
    product = route.product if route is not None else None
    shape = ANSWERS.get(route.operation_id) if route is not None else None
    if match is not None and shape == "lookup" and code in _LOOKUP_FAILURES:
        return _lookup_failure(code, _path_values(match).get("phoneNumber"))
    if product == "voice":
        if shape == "callflow" and code < 0:
            return _callflow_reply(code)
        return _voice_error(code)
    reply = error_envelope(code, _message(code, product), _status_for_code(code))
    if code == 1400:
        return Reply(status=reply.status, body=reply.body, retry_after=1)
    return reply


def _voice_status(code: int) -> int:
    """Voice says 422 where the common envelope says 400, and 500 for its internal errors (-2001, -2002)."""
    entry = lookup_code(code, "voice")
    if code < 0:
        return 500 if entry is not None and entry.category is Category.SERVER_ERROR else 422
    status = _status_for_code(code)
    return 422 if status == 400 else status


def _voice_error(code: int) -> Reply:
    """Voice's (and Number Masking's) error answer: ``statusCode`` is a string."""
    return Reply(
        status=_voice_status(code),
        body={
            "errorId": str(uuid.uuid4()),
            "statusCode": str(code),
            "statusMessage": _message(code, "voice"),
            "timestamp": _timestamp(),
        },
    )


def _callflow_reply(code: int | None = None) -> Reply:
    """A callflow's answer: ``CREATED`` (HTTP 200), or ``NOT_CREATED`` with a negative ``code`` (HTTP 422)."""
    if code is None:
        status, session, status_code, message = 200, "CREATED", 1, "Created"
    else:
        status, session, status_code, message = _voice_status(code), "NOT_CREATED", code, _message(code, "voice")
    return Reply(
        status=status,
        body={
            "sessionStatus": session,
            "callFlowRequestId": str(uuid.uuid4()),
            "statusCode": status_code,
            "statusMessage": message,
        },
    )


def _lookup_failure(code: int, phone: str | None) -> Reply:
    """Number Lookup's failure: HTTP 200 with ``status.state`` ``error``, its ``errorCode`` and ``errorMessage``."""
    return Reply(
        body={
            "requestId": str(uuid.uuid4()),
            "phoneNumber": phone,
            "status": {
                "state": "error",
                "timestamp": _timestamp(),
                "errorCode": code,
                "errorMessage": _message(code, "lookup"),
            },
        }
    )


class _Headers(Mapping[str, str]):
    """A read-only, case-insensitive view of request headers (repeated headers are joined by ``, ``)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._names: dict[str, str] = {}
        self._values: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._names.setdefault(key, name)
            previous = self._values.get(key)
            self._values[key] = value if previous is None else f"{previous}, {value}"

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


@dataclass(frozen=True)
class RecordedRequest:
    """A request received by the fake server.

    ``path`` excludes the query string, which is in ``query`` (without the ``?``).  ``headers`` is a
    case-insensitive mapping.  ``body`` is the full request body.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.body)


@dataclass(eq=False)
class _Rule:
    """A scripted answer: which requests it matches, what it answers, how many times it may apply."""

    method: str | None
    path: str
    pattern: re.Pattern[str] | None
    replies: tuple[Reply, ...]
    times: int | None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return path == self.path or (self.pattern is not None and self.pattern.fullmatch(path) is not None)

    def next_reply(self) -> Reply:
        reply = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        return reply

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


def _json_object(body: bytes) -> dict[str, Any]:
    """Return ``body`` as a JSON object, or an empty dict when it is not one."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _message_text(payload: Mapping[str, Any]) -> object:
    """Return the text of an SMS (``text``) or Chat Apps (``content.text``) message payload."""
    if "text" in payload:
        return payload["text"]
    content = payload.get("content")
    return content.get("text") if isinstance(content, dict) else None


def _failure_in(payload: Mapping[str, Any]) -> int | None:
    """The code of a message payload whose text is ``"FAIL <code>"``."""
    text = _message_text(payload)
    failure = _FAIL_TEXT.fullmatch(text) if isinstance(text, str) else None
    return int(failure["code"]) if failure is not None else None


def _destination(payload: Mapping[str, Any]) -> object:
    """Return the destination of an SMS (``destination``) or Chat Apps (``user.msisdn``) message."""
    if "destination" in payload:
        return payload["destination"]
    user = payload.get("user")
    return user.get("msisdn") if isinstance(user, dict) else None


def _batch_items(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = payload.get("messages")
    return [m if isinstance(m, dict) else {} for m in messages] if isinstance(messages, list) else []


def _looks_like_chatapps(payload: Mapping[str, Any]) -> bool:
    """A Chat Apps message (``user``, ``content``) or a batch of them, rather than an SMS one."""
    return any("user" in item or "content" in item for item in (payload, *_batch_items(payload)))


def _send_reply(payload: Mapping[str, Any]) -> Reply:
    return Reply(
        body={
            "umid": str(uuid.uuid4()),
            "clientMessageId": payload.get("clientMessageId"),
            "destination": _destination(payload),
            "encoding": "GSM7",
            "status": {"state": "Queued", "detail": "Message queued for sending", "timestamp": _timestamp()},
        }
    )


def _batch_reply(payload: Mapping[str, Any], product: str) -> Reply:
    """A batch's answer: one entry per message, ``"FAIL <code>"`` messages rejected (SMS or Chat Apps shape)."""
    messages: list[dict[str, Any]] = []
    for item in _batch_items(payload):
        code = _failure_in(item)
        entry: dict[str, Any] = {"clientMessageId": item.get("clientMessageId"), "destination": _destination(item)}
        if code is None:
            entry = {"umid": str(uuid.uuid4()), **entry}
        if product == "chatapps":
            entry["status"] = (
                {"state": "queued"}
                if code is None
                else {"state": "rejected", "errorCode": code, "errorMessage": _description(code, product)}
            )
        else:
            entry["encoding"] = "GSM7"
            entry["status"] = (
                {"code": "QUEUED", "description": "SMS is accepted and queued for processing"}
                if code is None
                else {"code": "REJECTED", "description": _description(code, product)}
            )
        messages.append(entry)
    rejected = sum(1 for entry in messages if "umid" not in entry)
    return Reply(
        body={
            "batchId": str(uuid.uuid4()),
            "clientBatchId": payload.get("clientBatchId"),
            "acceptedCount": len(messages) - rejected,
            "rejectedCount": rejected,
            "messages": messages,
        }
    )


_COUNTRIES = {"+65": "SG", "+62": "ID", "+44": "GB", "+1": "US", "+91": "IN", "+63": "PH", "+60": "MY", "+66": "TH"}


def _lookup_reply(phone: str | None) -> Reply:
    """A Number Lookup that succeeded: ``status.state`` ``ok``."""
    number = phone if phone is None or phone.startswith("+") else f"+{phone}"
    country = next((cc for prefix, cc in _COUNTRIES.items() if number and number.startswith(prefix)), None)
    return Reply(
        body={
            "requestId": str(uuid.uuid4()),
            "phoneNumber": number,
            "countryCode": country,
            "numberType": "MOBILE",
            "currentCarrier": {"name": "Fake Mobile", "mcc": "525", "mnc": "01"},
            "status": {"state": "ok", "timestamp": _timestamp()},
        }
    )


def _path_values(match: RouteMatch) -> dict[str, str]:
    """The path's value of each placeholder of the route, by name without braces (``subAccountId``)."""
    return {name.strip("{}"): unquote(value) for name, value in match.values}


def _operation_reply(match: RouteMatch, payload: Mapping[str, Any]) -> Reply:
    """The successful answer to a documented operation (see the module's docstring)."""
    route = match.route
    values = _path_values(match)
    shape = ANSWERS.get(route.operation_id)
    if shape == "send":
        return _send_reply(payload)
    if shape == "batch":
        return _batch_reply(payload, route.product)
    if shape == "callflow":
        return _callflow_reply()
    if shape == "lookup":
        return _lookup_reply(values.get("phoneNumber"))
    operation = route.operation_id
    if operation == "verify-request-v2":
        return Reply(body={"sessionId": str(uuid.uuid4()), "status": "WAITING"})
    if operation == "code-validation-v2":
        return Reply(body={"sessionId": values.get("sessionId"), "status": "VERIFIED"})
    if operation == "get-account-balance":
        return Reply(body={"accountId": values.get("accountId"), "amount": 100.0, "currency": "EUR"})
    if operation in ("Download-File", "Retrieve-Image"):
        return Reply(body=b"fake 8x8 file", content_type="application/octet-stream")
    if route.method == "DELETE":
        return Reply(body={})
    if route.method == "GET" and route.segments[-1].startswith("{"):
        return Reply(body={**values, "id": list(values.values())[-1]})
    return Reply(body={**values, "id": str(uuid.uuid4())})


def _route(request: RecordedRequest, product: str | None, payload: Mapping[str, Any]) -> RouteMatch | None:
    """The documented operation the request calls, of that method (None for an undocumented method or path).

    A path several products document (SMS's and Chat Apps' ``messages``) is Chat Apps' when the body is a Chat
    Apps message, else SMS's.
    """
    match = route_table(product).match(request.method, request.path)
    if match is None or match.route.method != request.method:
        return None
    if len(match.products) > 1:
        if "chatapps" in match.products and _looks_like_chatapps(payload):
            chosen = "chatapps"
        else:
            chosen = "sms" if "sms" in match.products else match.route.product
        if chosen != match.route.product:
            match = route_table(chosen).match(request.method, request.path) or match
    return match


def _selected_failure(request: RecordedRequest, payload: Mapping[str, Any]) -> int | str | None:
    """The code the request asks to fail with (``X-Fake-8x8-Fail`` header, else a ``"FAIL <code>"`` text), or the
    header's value when it is not a code."""
    header = request.headers.get(FAIL_HEADER)
    if header is not None:
        value = header.strip()
        return int(value) if _FAIL_CODE.fullmatch(value) else value
    return _failure_in(payload)


def _default_reply(request: RecordedRequest, product: str | None = None) -> Reply:
    """Return the realistic answer for a request no script matched."""
    if not _BEARER.fullmatch(request.headers.get("Authorization", "").strip()):
        return error_envelope(1200, _message(1200, None), 401)
    payload = _json_object(request.body)
    match = _route(request, product, payload)
    failure = _selected_failure(request, payload)
    if isinstance(failure, str):
        return error_envelope(1000, f"{FAIL_HEADER} must be an integer code, not {failure!r}", 400)
    if failure is not None:
        return _error_for_code(failure, match)
    if match is None:
        return error_envelope(1300, _message(1300, None), 404)
    return _operation_reply(match, payload)


class _Server(ThreadingHTTPServer):
    """The HTTP server: knows its :class:`FakeEightByEight` and the connections it has open."""

    daemon_threads = True
    # socketserver's default backlog of 5 makes the kernel reset connections when a test (or a load
    # test of the user's) opens hundreds at once.
    request_queue_size = 1024

    def __init__(self, fake: FakeEightByEight, address: tuple[str, int]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall on a slow resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close open (keep-alive) connections so their handler threads end."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client (or stop()) closing a connection mid-answer is normal here; report anything else.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Records each request, then answers with a scripted or default :class:`Reply`."""

    protocol_version = "HTTP/1.1"
    server_version = "Fake8x8/1.0"
    sys_version = ""
    # Headers and body go out in two writes; with Nagle's algorithm the client's delayed ACK would
    # hold the body back about 40 ms on every call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the access log off stderr."""

    def _handle(self) -> None:
        fake = cast(_Server, self.server).fake
        path, _, query = self.path.partition("?")
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers=_Headers(self.headers.items()),
            body=self._read_body(),
        )
        reply = fake._record_and_choose(request)
        if reply.delay > 0 and fake._stopping.wait(reply.delay):
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF closing the chunk

    def _send(self, reply: Reply) -> None:
        body = reply.encoded_body()
        self.send_response(reply.status)
        headers = {name: value for name, value in reply.headers.items() if name.lower() != "content-length"}
        lowered = {name.lower() for name in headers}
        content_type = reply.effective_content_type()
        if content_type is not None and "content-type" not in lowered:
            headers["Content-Type"] = content_type
        if reply.retry_after is not None and "retry-after" not in lowered:
            headers["Retry-After"] = str(reply.retry_after)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class FakeEightByEight:
    """A fake 8x8 API server on a local port, served from a daemon thread.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.  ``port=0`` (the default)
    picks a free port; read it back from :attr:`port` or :attr:`url` once started.  ``product`` (a name of
    ``otel_8x8.products.PRODUCTS``, e.g. ``"voice"``) makes it answer that product's routes only, as its own host
    would; ``None`` (the default) answers every product's routes, as a gateway would.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, product: str | None = None) -> None:
        if product is not None and product not in PRODUCTS:
            raise ValueError(f"unknown 8x8 product {product!r}: one of {', '.join(sorted(PRODUCTS))}, or None")
        self._product = product
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeEightByEight:
        """Bind the port and start serving in a daemon thread; return ``self``.  No-op if running."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self, (self._host, self._requested_port))
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-8x8", daemon=True
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and free the port.  Safe to call more than once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeEightByEight:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- address ---------------------------------------------------------------------------------

    def _running_server(self) -> _Server:
        if self._server is None:
            raise RuntimeError("FakeEightByEight is not running; call start() first")
        return self._server

    @property
    def product(self) -> str | None:
        """The product whose routes the fake answers, or ``None`` for every product's."""
        return self._product

    @property
    def host(self) -> str:
        """The host the server listens on, e.g. ``127.0.0.1``."""
        return self._host

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when started with ``port=0``)."""
        return int(self._running_server().server_address[1])

    @property
    def netloc(self) -> str:
        """``host:port``, e.g. ``127.0.0.1:8080`` (IPv6 hosts are bracketed)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080`` (no trailing slash)."""
        return f"http://{self.netloc}"

    # -- scripting and recording -----------------------------------------------------------------

    def script(
        self,
        method: str | None,
        path: str,
        reply: Reply | Sequence[Reply],
        *,
        times: int | None = None,
    ) -> None:
        """Answer matching requests with ``reply`` instead of the default behaviour.

        ``method`` is an HTTP method (any method when ``None``).  ``path`` is compared with the request
        path (without the query string) exactly, or as a regular expression with ``re.fullmatch``.
        A sequence of replies is served in order, then its last reply repeats.  With ``times=N`` the
        script applies to N requests and is then removed.  Later scripts take precedence.
        """
        replies = (reply,) if isinstance(reply, Reply) else tuple(reply)
        if not replies:
            raise ValueError("script() needs at least one Reply")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        try:
            pattern: re.Pattern[str] | None = re.compile(path)
        except re.error:
            pattern = None  # not a regular expression: exact match only
        rule = _Rule(method.upper() if method else None, path, pattern, replies, times)
        with self._lock:
            self._rules.append(rule)

    def reset(self) -> None:
        """Remove all scripts and forget the recorded requests."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def _record_and_choose(self, request: RecordedRequest) -> Reply:
        """Record ``request`` and return the reply for it (scripted, else default)."""
        with self._lock:
            self._requests.append(request)
            for rule in reversed(self._rules):
                if rule.matches(request.method, request.path):
                    reply = rule.next_reply()
                    if rule.exhausted:
                        self._rules.remove(rule)
                    return reply
        return _default_reply(request, self._product)
