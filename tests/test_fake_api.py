"""Tests of the fake 8x8 API server, with stdlib HTTP clients against a real local server."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8 import attributes as A
from otel_8x8.products import ALL_ROUTES, PRODUCTS
from otel_8x8.routes import is_placeholder
from otel_8x8.testing import FAIL_HEADER, FakeEightByEight, Reply, error_envelope

from .conftest import Telemetry
from .support import concrete

SEND_PATH = "/api/v1/subaccounts/acme/messages"
AUTH = {"Authorization": "Bearer test-key"}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ")


@pytest.fixture
def fake() -> Iterator[FakeEightByEight]:
    with FakeEightByEight() as server:
        yield server


def call(
    fake: FakeEightByEight,
    method: str,
    path: str,
    payload: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request with urllib; return (status, headers, body), also for HTTP errors."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(fake.url + path, data=data, method=method, headers=dict(AUTH))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


def test_default_send_answers_umid(fake: FakeEightByEight) -> None:
    status, headers, body = call(fake, "POST", SEND_PATH, {"destination": "+6591234567", "text": "hi"})

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert uuid.UUID(answer["umid"]).version == 4
    assert answer["destination"] == "+6591234567"
    assert answer["clientMessageId"] is None
    assert answer["encoding"] == "GSM7"
    assert answer["status"]["state"] == "Queued"
    assert TIMESTAMP.fullmatch(answer["status"]["timestamp"])


def test_chat_apps_send_takes_destination_from_user_msisdn(fake: FakeEightByEight) -> None:
    payload = {"user": {"msisdn": "+6598765432"}, "type": "text", "content": {"text": "hi"}}
    status, _, body = call(fake, "POST", SEND_PATH, payload)

    assert status == 200
    assert json.loads(body)["destination"] == "+6598765432"


def test_default_batch_counts_messages(fake: FakeEightByEight) -> None:
    payload = {"messages": [{"destination": "+6500000001"}, {"destination": "+6500000002"}]}
    status, _, body = call(fake, "POST", SEND_PATH + "/batch", payload)

    answer = json.loads(body)
    assert status == 200
    assert answer["acceptedCount"] == 2
    assert answer["rejectedCount"] == 0
    assert [m["status"]["code"] for m in answer["messages"]] == ["QUEUED", "QUEUED"]
    assert len({m["umid"] for m in answer["messages"]}) == 2


def test_default_lookup_and_verification_session(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "GET", "/api/v1/subaccounts/acme/phones/%2B6591234567")
    assert status == 200
    answer = json.loads(body)
    assert (answer["phoneNumber"], answer["countryCode"], answer["status"]["state"]) == ("+6591234567", "SG", "ok")
    assert TIMESTAMP.fullmatch(answer["status"]["timestamp"])

    status, _, body = call(fake, "POST", "/api/v2/subaccounts/acme/sessions", {"destination": "+65"})
    assert status == 200
    assert json.loads(body)["status"] == "WAITING"


def test_fail_1002_answers_error_envelope(fake: FakeEightByEight) -> None:
    status, headers, body = call(fake, "POST", SEND_PATH, {"destination": "+65", "text": "FAIL 1002"})

    assert status == 400
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == {"code", "message", "errorId", "timestamp"}
    assert answer["code"] == 1002
    assert answer["message"] == "Invalid MSISDN +6591234567"
    assert uuid.UUID(answer["errorId"]).version == 4
    assert TIMESTAMP.fullmatch(answer["timestamp"])


@pytest.mark.parametrize(
    ("code", "status"),
    [(1000, 400), (1200, 401), (1201, 403), (1300, 404), (2000, 500), (2002, 410), (3005, 400), (9999, 400)],
)
def test_fail_code_status_table(fake: FakeEightByEight, code: int, status: int) -> None:
    answered, _, body = call(fake, "POST", SEND_PATH, {"text": f"FAIL {code}"})

    assert answered == status
    assert json.loads(body)["code"] == code


def test_fail_1400_sets_retry_after(fake: FakeEightByEight) -> None:
    status, headers, body = call(fake, "POST", SEND_PATH, {"text": "FAIL 1400"})

    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(body)["code"] == 1400


def test_fail_429_answers_rate_limit_without_error_id(fake: FakeEightByEight) -> None:
    status, headers, body = call(fake, "POST", SEND_PATH, {"text": "FAIL 429"})

    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(body) == {"code": 429, "message": "Quota exceeded. Please try again in 1 second(s)."}


def test_missing_authorization_answers_401(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "POST", SEND_PATH, {"text": "hi"}, headers={"Authorization": ""})

    assert status == 401
    answer = json.loads(body)
    assert (answer["code"], answer["message"]) == (1200, "Unauthorized Access")


def test_unknown_path_answers_404_envelope(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "GET", "/api/v1/nowhere")

    assert status == 404
    answer = json.loads(body)
    assert (answer["code"], answer["message"]) == (1300, "Object wasn't found or is already expired")


def test_script_sequence_then_last_repeats(fake: FakeEightByEight) -> None:
    fake.script("POST", SEND_PATH, [Reply(status=503), Reply(status=201, body={"ok": 1})])

    statuses = [call(fake, "POST", SEND_PATH, {"text": "x"})[0] for _ in range(4)]

    assert statuses == [503, 201, 201, 201]


def test_script_times_then_default_again(fake: FakeEightByEight) -> None:
    fake.script(None, SEND_PATH, error_envelope(2000, "Internal Error", 500), times=2)

    statuses = [call(fake, "POST", SEND_PATH, {"text": "x"})[0] for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_later_script_takes_precedence_and_method_filters(fake: FakeEightByEight) -> None:
    fake.script(None, SEND_PATH, Reply(status=418))
    fake.script("POST", SEND_PATH, Reply(status=202), times=1)

    assert call(fake, "POST", SEND_PATH, {"text": "x"})[0] == 202
    assert call(fake, "POST", SEND_PATH, {"text": "x"})[0] == 418
    assert call(fake, "GET", SEND_PATH)[0] == 418


def test_script_regex_path(fake: FakeEightByEight) -> None:
    fake.script("GET", r"/api/v1/subaccounts/[^/]+/phones/.+", Reply(body={"msisdn": "scripted"}))

    status, _, body = call(fake, "GET", "/api/v1/subaccounts/other/phones/+6511112222?x=1")

    assert status == 200
    assert json.loads(body) == {"msisdn": "scripted"}
    assert call(fake, "GET", "/api/v1/subaccounts/other/phonesX")[0] == 404


def test_script_matches_before_auth_check(fake: FakeEightByEight) -> None:
    fake.script("GET", "/health", Reply(body="ok"))

    assert call(fake, "GET", "/health", headers={"Authorization": ""})[2] == b"ok"


def test_delay_is_honoured(fake: FakeEightByEight) -> None:
    fake.script("POST", SEND_PATH, Reply(delay=0.3, body={}))

    started = time.monotonic()
    status, _, _ = call(fake, "POST", SEND_PATH, {"text": "x"})

    assert status == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("body", ["<html><body>502 Bad Gateway</body></html>", b"<html>502</html>"])
def test_gateway_html_served_verbatim(fake: FakeEightByEight, body: str | bytes) -> None:
    fake.script(None, SEND_PATH, Reply(status=502, body=body, content_type="text/html"))

    status, headers, answered = call(fake, "POST", SEND_PATH, {"text": "x"})

    assert status == 502
    assert headers["Content-Type"] == "text/html"
    assert answered == (body.encode() if isinstance(body, str) else body)


def test_reply_headers_and_default_content_types(fake: FakeEightByEight) -> None:
    fake.script("GET", "/text", Reply(body="plain", headers={"X-Extra": "1"}, retry_after="30"))
    fake.script("GET", "/empty", Reply(status=504))

    _, headers, body = call(fake, "GET", "/text")
    assert (headers["Content-Type"], headers["X-Extra"], headers["Retry-After"], body) == (
        "text/plain; charset=utf-8",
        "1",
        "30",
        b"plain",
    )
    status, headers, body = call(fake, "GET", "/empty")
    assert (status, body, headers["Content-Length"]) == (504, b"", "0")
    assert "Content-Type" not in headers


def test_requests_are_recorded_and_reset(fake: FakeEightByEight) -> None:
    call(fake, "POST", SEND_PATH + "?trace=1", {"destination": "+65", "text": "hi"}, {"X-Test": "yes"})

    [recorded] = fake.requests
    assert (recorded.method, recorded.path, recorded.query) == ("POST", SEND_PATH, "trace=1")
    assert recorded.headers["authorization"] == "Bearer test-key"
    assert recorded.headers["X-TEST"] == "yes"
    assert recorded.json() == {"destination": "+65", "text": "hi"}

    fake.requests.clear()  # a copy: the fake's record is untouched
    assert len(fake.requests) == 1
    fake.script(None, "/x", Reply())
    fake.reset()
    assert fake.requests == []
    assert call(fake, "GET", "/x")[0] == 404


def test_keep_alive_connection_is_reused(fake: FakeEightByEight) -> None:
    connection = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    try:
        for text in ("one", "two", "three"):
            body = json.dumps({"destination": "+65", "text": text})
            connection.request("POST", SEND_PATH, body=body, headers={**AUTH, "Content-Type": "x"})
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["destination"] == "+65"
        connection.request("HEAD", SEND_PATH, headers=AUTH)
        head = connection.getresponse()
        assert head.status == 404
        assert head.read() == b""
        assert int(head.headers["Content-Length"]) > 0
    finally:
        connection.close()
    assert [r.json()["text"] for r in fake.requests[:3]] == ["one", "two", "three"]


def test_chunked_request_body_is_recorded(fake: FakeEightByEight) -> None:
    connection = http.client.HTTPConnection(fake.host, fake.port, timeout=10)
    try:
        chunks = iter([b'{"text": ', b'"chunked"}'])
        connection.request("POST", SEND_PATH, body=chunks, headers=AUTH, encode_chunked=True)
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert fake.requests[0].json() == {"text": "chunked"}


def test_url_and_netloc(fake: FakeEightByEight) -> None:
    assert fake.port > 0
    assert fake.netloc == f"127.0.0.1:{fake.port}"
    assert fake.url == f"http://127.0.0.1:{fake.port}"


def test_stop_is_idempotent_and_frees_port() -> None:
    fake = FakeEightByEight().start()
    port = fake.port
    keep_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    keep_alive.request("GET", "/x", headers=AUTH)
    keep_alive.getresponse().read()

    fake.stop()
    fake.stop()

    with pytest.raises(OSError):
        keep_alive.request("GET", "/x", headers=AUTH)
        keep_alive.getresponse()
    keep_alive.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # would raise if the fake still held the port
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_command_line_prints_url_and_serves() -> None:
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_8x8.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"FAKE_8X8_URL=(http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        request = urllib.request.Request(
            match[1] + SEND_PATH, data=b'{"destination": "+65"}', headers=AUTH, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["destination"] == "+65"
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, 9)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


# -- the registry: every documented operation, each product's answers ------------------------------------------

LOOKUP_PATH = "/api/v1/subaccounts/acme/phones/+6591234567"
CALLFLOW_PATH = "/api/v1/subaccounts/acme/callflows"
BATCH_PATH = SEND_PATH + "/batch"


@pytest.fixture(scope="module")
def product_fakes() -> Iterator[dict[str | None, FakeEightByEight]]:
    """One fake per product (as its own host), and one gateway fake (product=None)."""
    servers: dict[str | None, FakeEightByEight] = {name: FakeEightByEight(product=name) for name in PRODUCTS}
    servers[None] = FakeEightByEight()
    for server in servers.values():
        server.start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.mark.parametrize("gateway", [False, True], ids=["product-host", "gateway"])
def test_every_documented_operation_gets_a_realistic_answer(
    product_fakes: dict[str | None, FakeEightByEight], gateway: bool
) -> None:
    answered = 0
    for route in ALL_ROUTES:
        if gateway and is_placeholder(route.segments[0]):
            continue  # Video's /{link} would take any path on a gateway: only its own host answers it
        fake = product_fakes[None if gateway else route.product]
        status, headers, body = call(fake, route.method, concrete(route), {} if route.method != "GET" else None)
        assert 200 <= status < 300, (route, status, body)
        if headers.get("Content-Type") == "application/json":
            answer = json.loads(body)
            assert isinstance(answer, dict), route
            if route.method == "GET":
                assert answer, route  # something to read
        answered += 1
    assert answered == len(ALL_ROUTES) - (1 if gateway else 0)


def test_each_operation_answers_its_own_shape(product_fakes: dict[str | None, FakeEightByEight]) -> None:
    voice = product_fakes["voice"]
    status, _, body = call(voice, "POST", CALLFLOW_PATH, {"callflow": [{"action": "makeCall"}]})
    answer = json.loads(body)
    assert status == 200
    assert (answer["sessionStatus"], answer["statusCode"], answer["statusMessage"]) == ("CREATED", 1, "Created")
    assert uuid.UUID(answer["callFlowRequestId"]).version == 4

    status, _, body = call(product_fakes["lookup"], "GET", LOOKUP_PATH)
    answer = json.loads(body)
    assert (status, answer["phoneNumber"], answer["status"]["state"]) == (200, "+6591234567", "ok")

    status, _, body = call(product_fakes["contacts"], "GET", "/api/v1/accounts/acme-acc/groups/6776")
    assert (status, json.loads(body)) == (200, {"accountId": "acme-acc", "groupId": "6776", "id": "6776"})
    status, _, body = call(product_fakes["contacts"], "DELETE", "/api/v1/accounts/acme-acc/groups/6776")
    assert (status, json.loads(body)) == (200, {})
    status, _, body = call(product_fakes["automation"], "POST", "/api/v1/accounts/acme-acc/definitions", {})
    assert status == 200 and uuid.UUID(json.loads(body)["id"])

    chat = {"messages": [{"user": {"msisdn": "+6500000001"}, "type": "text", "content": {"text": "hi"}}]}
    for fake in (product_fakes["chatapps"], product_fakes[None]):  # a gateway tells Chat Apps by the body
        status, _, body = call(fake, "POST", BATCH_PATH, chat)
        [message] = json.loads(body)["messages"]
        assert (status, message["status"], message["destination"]) == (200, {"state": "queued"}, "+6500000001")


def test_a_product_host_answers_only_its_own_routes(product_fakes: dict[str | None, FakeEightByEight]) -> None:
    assert call(product_fakes["voice"], "GET", LOOKUP_PATH)[0] == 404
    assert call(product_fakes["lookup"], "POST", CALLFLOW_PATH, {})[0] == 404
    assert call(product_fakes[None], "POST", LOOKUP_PATH, {})[0] == 404  # a documented path, another method
    assert product_fakes["voice"].product == "voice" and product_fakes[None].product is None
    with pytest.raises(ValueError, match="unknown 8x8 product 'fax'"):
        FakeEightByEight(product="fax")


def fail(code: int | str) -> dict[str, str]:
    return {FAIL_HEADER: str(code)}


def test_the_fail_header_selects_an_error_on_any_method(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "GET", "/api/v1/subaccounts/acme/messages/" + str(uuid.uuid4()), headers=fail(1300))
    answer = json.loads(body)
    assert (status, answer["code"], answer["message"]) == (404, 1300, "Object wasn't found or is already expired")

    status, _, body = call(fake, "POST", SEND_PATH, {"text": "FAIL 1200"}, headers=fail(1002))  # the header wins
    assert (status, json.loads(body)["message"]) == (400, "Invalid MSISDN +6591234567")

    status, headers, body = call(fake, "DELETE", "/api/v1/accounts/acme/contacts/c-1", headers=fail(429))
    assert (status, headers["Retry-After"], json.loads(body)["code"]) == (429, "1", 429)

    status, _, body = call(fake, "GET", "/api/v1/accounts/acme/balance", headers=fail("soon"))
    assert (status, json.loads(body)["code"]) == (400, 1000)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (6000, "Live lookup on destination operator is currently not available"),
        (2004, "Provider Timeout"),
        (2000, "Internal error / Unknown provider error"),  # Number Lookup's own wording of 2000
    ],
)
def test_a_lookup_failure_is_answered_inside_http_200(fake: FakeEightByEight, code: int, message: str) -> None:
    status, _, body = call(fake, "GET", LOOKUP_PATH, headers=fail(code))
    answer = json.loads(body)
    assert status == 200
    assert answer["phoneNumber"] == "+6591234567"
    assert answer["status"]["state"] == "error"
    assert (answer["status"]["errorCode"], answer["status"]["errorMessage"]) == (code, message)
    assert uuid.UUID(answer["requestId"])


def test_other_lookup_errors_and_other_products_use_the_common_envelope(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "GET", LOOKUP_PATH, headers=fail(1201))
    assert (status, set(json.loads(body))) == (403, {"code", "message", "errorId", "timestamp"})
    status, _, body = call(fake, "POST", "/api/v1/accounts/acme/definitions", {}, headers=fail(5001))
    assert (status, json.loads(body)["message"]) == (400, "Workflow name is required.")
    status, _, body = call(fake, "POST", "/api/v1/accounts/acme/contacts", {}, headers=fail(5003))
    assert json.loads(body)["message"] == "Contacts group conflict"


def test_a_voice_callflow_failure_is_not_created(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "POST", CALLFLOW_PATH, {"callflow": []}, headers=fail(-1013))
    answer = json.loads(body)
    assert status == 422
    assert (answer["sessionStatus"], answer["statusCode"]) == ("NOT_CREATED", -1013)
    assert answer["statusMessage"] == "Invalid Callflow: First action should be a MakeCall action"
    assert uuid.UUID(answer["callFlowRequestId"])
    assert call(fake, "POST", CALLFLOW_PATH, {}, headers=fail(-2001))[0] == 500  # Voice's internal error


def test_voice_errors_carry_a_string_status_code(fake: FakeEightByEight) -> None:
    status, _, body = call(fake, "POST", "/api/v1/subaccounts/acme/webhooks", {}, headers=fail(1001))
    answer = json.loads(body)
    assert status == 422
    assert set(answer) == {"errorId", "statusCode", "statusMessage", "timestamp"}
    assert (answer["statusCode"], answer["statusMessage"]) == ("1001", "Invalid JSON request body")
    assert TIMESTAMP.fullmatch(answer["timestamp"])
    status, _, body = call(fake, "GET", "/api/v1/subaccounts/acme/recording-push-config", headers=fail(1200))
    assert (status, json.loads(body)["statusCode"]) == (401, "1200")


def test_an_sms_batch_rejects_its_fail_messages(fake: FakeEightByEight) -> None:
    payload = {
        "clientBatchId": "b-1",
        "messages": [
            {"destination": "+6500000001", "text": "hi", "clientMessageId": "m-1"},
            {"destination": "+6500000002", "text": "FAIL 1002", "clientMessageId": "m-2"},
            {"destination": "+6500000003", "text": "FAIL 1004"},
        ],
    }
    status, _, body = call(fake, "POST", BATCH_PATH, payload)
    answer = json.loads(body)
    assert status == 200
    assert (answer["clientBatchId"], answer["acceptedCount"], answer["rejectedCount"]) == ("b-1", 1, 2)
    queued, invalid, text = answer["messages"]
    assert queued["status"]["code"] == "QUEUED" and uuid.UUID(queued["umid"])
    assert invalid["status"] == {"code": "REJECTED", "description": "Invalid MSISDN"}
    assert (invalid["clientMessageId"], invalid["destination"]) == ("m-2", "+6500000002")
    assert "umid" not in invalid
    assert text["status"] == {"code": "REJECTED", "description": "Invalid Text"}


def test_a_chat_apps_batch_rejects_its_fail_messages(product_fakes: dict[str | None, FakeEightByEight]) -> None:
    payload = {
        "messages": [
            {"user": {"msisdn": "+6500000001"}, "type": "text", "content": {"text": "hi"}},
            {"user": {"msisdn": "+6500000002"}, "type": "text", "content": {"text": "FAIL 3047"}},
        ]
    }
    for fake in (product_fakes["chatapps"], product_fakes[None]):
        status, _, body = call(fake, "POST", BATCH_PATH, payload)
        answer = json.loads(body)
        assert (status, answer["acceptedCount"], answer["rejectedCount"]) == (200, 1, 1)
        queued, rejected = answer["messages"]
        assert queued["status"] == {"state": "queued"}
        assert rejected["status"] == {"state": "rejected", "errorCode": 3047, "errorMessage": "Missed WhatsApp UserID"}
    status, _, body = call(product_fakes["chatapps"], "POST", "/api/v1/subaccounts/acme/lon/batch", payload)
    assert json.loads(body)["rejectedCount"] == 1


def test_scripts_take_precedence_over_the_registry(fake: FakeEightByEight) -> None:
    fake.script("POST", CALLFLOW_PATH, Reply(202, {"scripted": True}))

    assert call(fake, "POST", CALLFLOW_PATH, {}, headers=fail(-1013))[:3:2] == (202, b'{"scripted": true}')


def test_the_instrumentation_records_the_fakes_failures_as_errors(telemetry: Telemetry, fake: FakeEightByEight) -> None:
    """End to end: the fake as a gateway (its host tells no product: each route does), unscripted."""
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    chat = {"user": {"msisdn": "+6500000001"}, "type": "text", "content": {"text": "FAIL 3047"}}
    try:
        with requests.Session() as session:
            session.headers.update(AUTH)
            lookup = session.get(fake.url + LOOKUP_PATH, headers=fail(6001), timeout=10)
            callflow = session.post(fake.url + CALLFLOW_PATH, json={}, headers=fail(-1013), timeout=10)
            batch = session.post(fake.url + BATCH_PATH, json={"messages": [chat, chat]}, timeout=10)
    finally:
        instrumentor.uninstrument()
    assert (lookup.status_code, callflow.status_code, batch.status_code) == (200, 422, 200)

    lookup_span, callflow_span, batch_span = telemetry.client_spans()
    lookup_attributes, callflow_attributes = lookup_span.attributes or {}, callflow_span.attributes or {}
    assert lookup_span.status.status_code is StatusCode.ERROR
    assert (lookup_attributes[A.PRODUCT], lookup_attributes[A.ERROR_CODE]) == ("lookup", 6001)
    assert lookup_attributes[A.ERROR_TYPE] == "LOOKUP_ERROR"
    assert lookup_attributes[A.ERROR_ID] == lookup.json()["requestId"]
    assert callflow_span.status.status_code is StatusCode.ERROR
    assert (callflow_attributes[A.PRODUCT], callflow_attributes[A.ERROR_CODE]) == ("voice", -1013)
    assert callflow_attributes[A.ERROR_TYPE] == "422"  # an HTTP error: its status is its type
    assert callflow_attributes[A.ERROR_ID] == callflow.json()["callFlowRequestId"]
    assert (batch_span.attributes or {})[A.BATCH_REJECTED] == 2

    points = {
        point.attributes[A.ERROR_TYPE]: (point.attributes[A.ERROR_CODE], point.value)
        for point in telemetry.metric_points(A.ERRORS_METRIC)
    }
    assert points == {"LOOKUP_ERROR": (6001, 1), "422": (-1013, 1), "REJECTED": (3047, 2)}
    assert len(telemetry.log_records()) >= 2


def test_command_line_refuses_an_unknown_product(capsys: pytest.CaptureFixture[str]) -> None:
    from otel_8x8.testing.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--product", "fax"])
    assert exited.value.code == 2
    assert "invalid choice: 'fax'" in capsys.readouterr().err
