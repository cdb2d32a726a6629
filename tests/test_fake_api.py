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

from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

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
    assert json.loads(body) == {"msisdn": "+6591234567", "countryCode": "SG", "status": "Valid"}

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
