"""Hostile error bodies through a real local server and all three clients.

For each body: the application sees exactly what it sees without instrumentation (status, bytes, headers,
what its own JSON parsing gives), the span gets the category the HTTP status (or a usable envelope) gives,
nothing is raised or printed, and the call takes bounded time (and, for 8 MiB, bounded memory).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import time
import tracemalloc
import zlib
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply

from .clients import CLIENTS, Result
from .conftest import Telemetry

pytestmark = pytest.mark.parametrize("client", list(CLIENTS), ids=list(CLIENTS))

PATH = "/api/v1/subaccounts/acme-sub/messages"
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"
ENVELOPE = b'{"code": 1002, "message": "Invalid MSISDN", "errorId": "e-1002", "timestamp": "2020-12-22T05:52:01.85Z"}'
CALL_SECONDS = 5.0  # a generous bound for one local call; a parse blow-up takes far longer
MIB = 1 << 20


@pytest.fixture
def fake(shared_fake: FakeEightByEight) -> FakeEightByEight:
    return shared_fake


@dataclass(frozen=True)
class _NoContentType(Reply):
    """A reply sent without any Content-Type header."""

    def effective_content_type(self) -> str | None:
        return None


@dataclass(frozen=True)
class Case:
    reply: Reply
    code: int | None  # the com.8x8.error.code expected on the span (None: absent)
    category: str
    error_id: str | None = None


def _json(status: int, raw: bytes, **kwargs: Any) -> Reply:
    return Reply(status=status, body=raw, content_type="application/json", **kwargs)


CASES: dict[str, Case] = {
    # gateways
    "html-502": Case(
        Reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"), None, "server_error"
    ),
    "html-503-json-ct": Case(_json(503, b"<html>Service Unavailable</html>"), None, "server_error"),
    "empty-503": Case(Reply(503, None), None, "server_error"),
    "empty-504-json-ct": Case(_json(504, b""), None, "server_error"),
    "whitespace-502": Case(_json(502, b"  \r\n\t "), None, "server_error"),
    # truncated JSON
    "truncated-400": Case(_json(400, ENVELOPE[:30]), None, "invalid_request"),
    "truncated-after-code-500": Case(_json(500, b'{"code": 1002,'), None, "server_error"),
    "unterminated-string-401": Case(_json(401, b'{"code": 1200, "message": "Unauth'), None, "auth"),
    # wrong types
    "code-string-400": Case(
        Reply(400, {"code": "abc", "message": "m", "errorId": "e-s"}), None, "invalid_request", "e-s"
    ),
    "code-numeric-string-422": Case(Reply(422, {"code": "1002"}), 1002, "invalid_request"),  # as r.json() reads it
    "code-numeric-string-401": Case(Reply(400, {"code": "1200"}), 1200, "auth"),
    "code-null-401": Case(Reply(401, {"code": None, "message": None, "errorId": None}), None, "auth"),
    "code-float-403": Case(Reply(403, {"code": 1002.0, "message": 1.5}), None, "forbidden"),
    "code-huge-int-404": Case(_json(404, b'{"code": 1000000000000000000000000000000}'), None, "not_found"),
    "code-bool-409": Case(Reply(409, {"code": True, "errorId": False}), None, "conflict"),
    "code-object-500": Case(Reply(500, {"code": {"code": 1002}, "errorId": ["e"]}), None, "server_error"),
    "fields-wrong-types-500": Case(Reply(500, {"code": 2000, "message": ["x"], "errorId": 7}), 2000, "server_error"),
    # arrays and scalars
    "array-413": Case(Reply(413, [1, 2, 3]), None, "payload_too_large"),
    "array-of-envelope-400": Case(_json(400, b"[" + ENVELOPE + b"]"), None, "invalid_request"),
    "scalar-string-500": Case(_json(500, b'"Internal Server Error"'), None, "server_error"),
    "scalar-number-429": Case(_json(429, b"1002"), None, "rate_limit"),
    "scalar-null-418": Case(_json(418, b"null"), None, "unknown"),
    "scalar-true-410": Case(_json(410, b"true"), None, "unsupported"),
    # deep nesting
    "nested-100000-objects-400": Case(_json(400, b'{"a":' * 100_000 + b"1" + b"}" * 100_000), None, "invalid_request"),
    "nested-100000-arrays-500": Case(
        _json(500, b'{"code":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), None, "server_error"
    ),
    "nested-100000-unclosed-502": Case(_json(502, b"{" + b'"a":[' * 100_000), None, "server_error"),
    "nested-30000-under-size-limit-404": Case(
        _json(404, b'{"x":' + b"[" * 30_000 + b"]" * 30_000 + b', "code": 1300}'), None, "not_found"
    ),
    # invalid UTF-8
    "invalid-utf8-502": Case(
        _json(502, b'{"code": 1002, "message": "\xff\xfe\xfa bad", "errorId": "e-u"}'), None, "server_error"
    ),
    "invalid-utf8-html-500": Case(
        Reply(500, b"\xff\xfe\x00<html>\x80\x81</html>", content_type="text/html"), None, "server_error"
    ),
    # Content-Type
    "no-content-type-envelope-400": Case(_NoContentType(400, ENVELOPE), 1002, "invalid_request", "e-1002"),
    "no-content-type-html-503": Case(_NoContentType(503, b"<html>down</html>"), None, "server_error"),
    "html-content-type-envelope-502": Case(
        Reply(502, ENVELOPE, content_type="text/html"), 1002, "invalid_request", "e-1002"
    ),
    "garbage-content-type-envelope-401": Case(
        Reply(401, b'{"code": 1200, "errorId": "e-g"}', content_type="\x7fnot/a; type=="), 1200, "auth", "e-g"
    ),
    # compressed bodies (the clients decode them; the envelope is still read)
    "gzip-envelope-400": Case(
        _json(400, gzip.compress(ENVELOPE), headers={"Content-Encoding": "gzip"}), 1002, "invalid_request", "e-1002"
    ),
    "deflate-envelope-401": Case(
        _json(401, zlib.compress(b'{"code": 1200, "errorId": "e-d"}'), headers={"Content-Encoding": "deflate"}),
        1200,
        "auth",
        "e-d",
    ),
    "gzip-html-502": Case(
        Reply(
            502,
            gzip.compress(b"<html>Bad Gateway</html>"),
            headers={"Content-Encoding": "gzip"},
            content_type="text/html",
        ),
        None,
        "server_error",
    ),
    "gzip-truncated-json-503": Case(
        _json(503, gzip.compress(ENVELOPE[:40]), headers={"Content-Encoding": "gzip"}), None, "server_error"
    ),
    # duplicate keys: the last one wins, as for the application's own json parsing
    "duplicate-keys-400": Case(
        _json(400, b'{"code": 1002, "errorId": "first", "code": 1200, "errorId": "last"}'), 1200, "auth", "last"
    ),
    # NaN / Infinity
    "nan-code-500": Case(_json(500, b'{"code": NaN, "message": NaN, "errorId": "e-n"}'), None, "server_error", "e-n"),
    "infinity-code-400": Case(_json(400, b'{"code": Infinity, "errorId": -Infinity}'), None, "invalid_request"),
    "overflow-float-code-404": Case(_json(404, b'{"code": 1e400}'), None, "not_found"),
}


def _outcome(read: Any) -> str:
    try:
        return repr(read())
    except BaseException as exc:  # what the application's own parsing gives, including RecursionError
        return f"raises {type(exc).__name__}"


def _app_view(result: Result, with_text: bool = True) -> dict[str, Any]:
    """Everything the application can observe about an answer (the Date header aside)."""
    response = result.response
    if isinstance(response, aiohttp.ClientResponse):  # its body is read: text() and json() need no connection
        seen: dict[str, Any] = {
            "status": result.status,
            "content": result.content,
            "headers": sorted((k.lower(), v) for k, v in result.headers.items() if k.lower() != "date"),
            "reason": response.reason,
            "encoding": _outcome(response.get_encoding),
            "json": _outcome(lambda: asyncio.run(response.json(content_type=None))),
        }
        if with_text:
            seen["text"] = _outcome(lambda: asyncio.run(response.text()))
        return seen
    view: dict[str, Any] = {
        "status": result.status,
        "content": result.content,
        "headers": sorted((k.lower(), v) for k, v in result.headers.items() if k.lower() != "date"),
        "reason": getattr(response, "reason", None) or getattr(response, "reason_phrase", None),
        "encoding": getattr(response, "encoding", None),
    }
    if with_text and hasattr(response, "text"):  # urllib3's response has no text
        view["text"] = response.text
    try:
        view["json"] = repr(response.json())
    except BaseException as exc:  # what the application's own parsing gives, including RecursionError
        view["json"] = f"raises {type(exc).__name__}"
    return view


def _plain_then_instrumented(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, with_text: bool = True
) -> tuple[dict[str, Any], dict[str, Any], float]:
    url = fake.url + PATH
    plain = _app_view(CLIENTS[client]("POST", url, json={"text": "x"}), with_text)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        started = time.perf_counter()
        result = CLIENTS[client]("POST", url, json={"text": "x"})
        elapsed = time.perf_counter() - started
    finally:
        instrumentor.uninstrument()
    return plain, _app_view(result, with_text), elapsed


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_hostile_body_leaves_the_app_untouched_and_is_categorised(
    client: str, case: Case, fake: FakeEightByEight, telemetry: Telemetry, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.script("POST", PATH, case.reply)

    plain, instrumented, elapsed = _plain_then_instrumented(client, fake, telemetry)

    assert instrumented == plain
    assert instrumented["status"] == case.reply.status
    assert elapsed < CALL_SECONDS
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert span.name == f"POST {TEMPLATE}"
    assert attrs["http.response.status_code"] == case.reply.status
    assert attrs["error.type"] == str(case.reply.status)
    assert attrs["com.8x8.error.category"] == case.category
    assert attrs.get("com.8x8.error.code") == case.code
    assert attrs.get("com.8x8.error.id") == case.error_id
    assert span.end_time is not None
    [record] = telemetry.log_records()
    assert record.span_id == span.context.span_id
    assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 1
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_duplicate_keys_record_what_the_app_parses(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.script("POST", PATH, CASES["duplicate-keys-400"].reply)

    _, instrumented, _ = _plain_then_instrumented(client, fake, telemetry)

    parsed = json.loads(instrumented["content"])
    [span] = telemetry.client_spans()
    assert span.attributes is not None
    assert span.attributes["com.8x8.error.code"] == parsed["code"] == 1200
    assert span.attributes["com.8x8.error.id"] == parsed["errorId"] == "last"
    assert capfd.readouterr() == ("", "")


def test_undecodable_gzip_gives_the_app_the_same_error(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.script("POST", PATH, _json(502, b"this is not gzip", headers={"Content-Encoding": "gzip"}))
    url = fake.url + PATH
    with pytest.raises(Exception) as plain:
        CLIENTS[client]("POST", url, json={})
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        with pytest.raises(Exception) as instrumented:
            CLIENTS[client]("POST", url, json={})
    finally:
        instrumentor.uninstrument()

    assert type(instrumented.value) is type(plain.value)
    assert str(instrumented.value) == str(plain.value)
    [span] = telemetry.client_spans()
    kind = type(plain.value)
    # aiohttp returns the response first: the app's read() raises, after the call; the span has its status.
    error_type = "502" if client == "aiohttp" else f"{kind.__module__}.{kind.__qualname__}"
    assert dict(span.attributes or {})["error.type"] == error_type
    assert span.end_time is not None
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    "body",
    [
        ENVELOPE + b" " * (8 * MIB - len(ENVELOPE)),  # a valid envelope, padded: still not parsed
        b"<html>" + b"x" * (8 * MIB - 13) + b"</html>",
    ],
    ids=["padded-envelope", "html"],
)
def test_8_mib_error_body_is_passed_through_and_not_parsed_or_copied(
    client: str, body: bytes, fake: FakeEightByEight, telemetry: Telemetry, capfd: pytest.CaptureFixture[str]
) -> None:
    assert len(body) == 8 * MIB
    fake.script("POST", PATH, Reply(500, body, content_type="application/json"))
    url = fake.url + PATH

    def call_measured() -> tuple[Result, int, float]:
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            started = time.perf_counter()
            result = CLIENTS[client]("POST", url, json={})
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        return result, peak, elapsed

    plain, plain_peak, _ = call_measured()
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        result, peak, elapsed = call_measured()
    finally:
        instrumentor.uninstrument()

    assert result.status == 500
    assert result.content == body  # all 8 MiB, identical
    assert _app_view(result, with_text=False) == _app_view(plain, with_text=False)
    # The libraries themselves peak near 2x the body (chunks, then their join). A second copy held by the
    # instrumentation would add another 1x on top of the uninstrumented peak.
    assert peak < plain_peak + 0.5 * len(body), (peak / len(body), plain_peak / len(body))
    assert peak < 3 * len(body)
    assert elapsed < CALL_SECONDS
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert "com.8x8.error.code" not in attrs
    assert "com.8x8.error.id" not in attrs
    assert attrs["com.8x8.error.category"] == "server_error"
    assert attrs["http.response.status_code"] == 500
    assert span.status.description is None  # the envelope's message was not read either
    assert capfd.readouterr() == ("", "")
