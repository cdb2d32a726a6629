"""The example apps of examples/, unmodified, under ``opentelemetry-instrument`` against the fake 8x8 API."""

from __future__ import annotations

import ast
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from otel_8x8.testing import FakeEightByEight
from otel_8x8.testing.console import ConsoleTelemetry, parse_console_output

from .support import INSTRUMENT, app_environment, free_port, run_instrumented, stop_process

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
APPS = ("sms_app.py", "chatapps_async_app.py", "web_service.py", "generated_client_app.py", "aiohttp_app.py")
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"


def console_environment(fake: FakeEightByEight, product: str, **extra: str) -> dict[str, str]:
    return app_environment(f"{fake.netloc}={product}", OTEL_SERVICE_NAME="example-test", **extra)


def attrs(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item.get("attributes") or {})


@pytest.mark.parametrize("name", APPS)
def test_example_app_does_not_know_opentelemetry(name: str) -> None:
    tree = ast.parse((EXAMPLES / name).read_text(encoding="utf-8"))
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert modules
    assert not [m for m in modules if m.split(".")[0] in ("opentelemetry", "otel_8x8")]


def test_chatapps_async_app(fake: FakeEightByEight, tmp_path: Path) -> None:
    env = console_environment(fake, "chatapps", EIGHTXEIGHT_CHATAPPS_URL=fake.url)
    completed = run_instrumented(EXAMPLES / "chatapps_async_app.py", env, tmp_path)
    telemetry = parse_console_output(completed.stdout)

    assert telemetry.text == [
        "send 'Your parcel is on its way': HTTP 200",
        "send 'FAIL 3003': HTTP 400",
        "send 'FAIL 3038': HTTP 400",
    ]
    bodies = [request.json() for request in fake.requests]
    assert {body["content"]["text"] for body in bodies} == {"Your parcel is on its way", "FAIL 3003", "FAIL 3038"}
    assert all(body["user"] == {"msisdn": "+6591234567"} and body["type"] == "text" for body in bodies)

    spans = [span for span in telemetry.spans if span["kind"] == "SpanKind.CLIENT"]
    assert len(spans) == 3
    assert {span["name"] for span in spans} == {f"POST {TEMPLATE} (chatapps)"}
    assert all(attrs(span)["com.8x8.product"] == "chatapps" for span in spans)
    assert all(attrs(span)["com.8x8.subaccount.id"] == "acme-chat" for span in spans)
    errors = {attrs(span).get("com.8x8.error.code"): span for span in spans if span["status"]["status_code"] == "ERROR"}
    assert set(errors) == {3003, 3038}
    assert attrs(errors[3003])["com.8x8.error.category"] == "invalid_request"
    assert attrs(errors[3038])["com.8x8.error.category"] == "template"

    logs = {attrs(log).get("com.8x8.error.code"): log for log in telemetry.logs if "com.8x8.error.code" in attrs(log)}
    assert set(logs) == {3003, 3038}
    for code, log in logs.items():
        assert log["trace_id"] == errors[code]["context"]["trace_id"]
    points = {point["attributes"]["com.8x8.error.code"]: point for point in telemetry.points("com.8x8.api.errors")}
    assert {code: point["value"] for code, point in points.items()} == {3003: 1, 3038: 1}
    assert "6591234567" not in str(telemetry.spans) + str(telemetry.logs)


@pytest.mark.parametrize("contrib_urllib3", [False, True], ids=["otel-8x8-owns", "beside-contrib-urllib3"])
def test_generated_client_app(contrib_urllib3: bool, fake: FakeEightByEight, tmp_path: Path) -> None:
    """A client written like openapi-generator's (urllib3, ``preload_content=False``, the body read after).
    Alone, otel-8x8 owns the spans and reads the error envelopes from what the client reads; beside
    opentelemetry-instrumentation-urllib3 instrumented after otel-8x8 (``opentelemetry-instrument`` follows
    the entry points' order), that instrumentation owns the span and ends it when urlopen returns, before the
    body is read: otel-8x8 enriches it (one span per call still) with what the status tells."""
    disabled = {} if contrib_urllib3 else {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "urllib3"}
    env = console_environment(fake, "sms", EIGHTXEIGHT_SMS_URL=fake.url, **disabled)
    completed = run_instrumented(EXAMPLES / "generated_client_app.py", env, tmp_path)
    telemetry = parse_console_output(completed.stdout)

    assert telemetry.text == [
        "send 'Your code is 123456': accepted Queued",
        "send 'FAIL 1002': ApiException 400",
        "send 'FAIL 1200': ApiException 401",
        "lookup +6591234567: found",
    ]
    assert len(fake.requests) == 4
    assert all("traceparent" in request.headers for request in fake.requests)
    spans = [span for span in telemetry.spans if span["kind"] == "SpanKind.CLIENT"]
    assert len(spans) == 4, "one span per 8x8 call"
    assert [span["name"] for span in spans] == [f"POST {TEMPLATE} (sms)"] * 3 + [
        "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    ]
    assert [attrs(span).get("com.8x8.error.category") for span in spans] == [None, "invalid_request", "auth", None]
    codes = [attrs(span).get("com.8x8.error.code") for span in spans]
    # opentelemetry-instrument instruments in entry-point order (how the packages lie on disk): the one
    # instrumented last wraps outermost and owns the span.
    contrib_owns = contrib_urllib3 and _instrumented_before("8x8", "urllib3")
    assert codes == ([None] * 4 if contrib_owns else [None, 1002, 1200, None])
    errors = [log for log in telemetry.logs if "com.8x8.error.category" in attrs(log)]
    assert [attrs(log)["http.response.status_code"] for log in errors] == [400, 401]


def test_aiohttp_app(fake: FakeEightByEight, tmp_path: Path) -> None:
    env = console_environment(fake, "sms", EIGHTXEIGHT_SMS_URL=fake.url)
    completed = run_instrumented(EXAMPLES / "aiohttp_app.py", env, tmp_path)
    telemetry = parse_console_output(completed.stdout)

    assert telemetry.text == [
        "send 'Your parcel is on its way': sent",
        "send 'FAIL 1002': error 400 code 1002",
        "send 'FAIL 1200': error 401 code 1200",
        "batch of 3: 2 accepted, 1 rejected",
    ]
    # One span per call, although opentelemetry-instrumentation-aiohttp-client is loaded too.
    spans = [span for span in telemetry.spans if span["kind"] == "SpanKind.CLIENT"]
    assert len(spans) == 4
    assert all(attrs(span)["com.8x8.product"] == "sms" for span in spans)
    ids = {span["context"]["span_id"][2:] for span in spans}
    assert {request.headers["traceparent"].split("-")[2] for request in fake.requests} == ids
    by_text = {}
    for span in spans:
        [request] = [
            r for r in fake.requests if r.headers["traceparent"].split("-")[2] == span["context"]["span_id"][2:]
        ]
        by_text[str(request.json().get("text", "batch"))] = attrs(span)
    assert "com.8x8.message.umid" in by_text["Your parcel is on its way"]  # read from the body the app read
    assert by_text["FAIL 1002"]["com.8x8.error.code"] == 1002
    assert by_text["FAIL 1002"]["com.8x8.error.category"] == "invalid_request"
    assert by_text["FAIL 1200"]["com.8x8.error.code"] == 1200
    assert by_text["batch"]["com.8x8.batch.rejected_count"] == 1
    assert by_text["batch"]["com.8x8.batch.accepted_count"] == 2
    logs = {attrs(log).get("com.8x8.error.code") for log in telemetry.logs if "com.8x8.error.code" in attrs(log)}
    assert logs == {1002, 1200}
    assert "6591234567" not in str(telemetry.spans) + str(telemetry.logs)


def post_json(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the web service exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the web service did not listen on port {port} within {timeout} s")


def run_web_service(
    fake: FakeEightByEight, tmp_path: Path, requests: list[dict[str, Any]]
) -> tuple[list[tuple[int, dict[str, Any]]], ConsoleTelemetry]:
    """Start examples/web_service.py, send it ``requests``, stop it with SIGTERM; its answers and telemetry."""
    port = free_port()
    output = tmp_path / "web_service.out"
    env = console_environment(fake, "sms", EIGHTXEIGHT_SMS_URL=fake.url, HOST="127.0.0.1", PORT=str(port))
    with output.open("w") as stdout:
        process = subprocess.Popen(
            [str(INSTRUMENT), sys.executable, str(EXAMPLES / "web_service.py")],
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        wait_for_port(port, process)
        answers = [post_json(f"http://127.0.0.1:{port}/notify", payload) for payload in requests]
        process.terminate()  # the example exits normally on SIGTERM: the exporters flush at exit
        assert process.wait(timeout=30) == 0, output.read_text()
    finally:
        stop_process(process)
    return answers, parse_console_output(output.read_text())


def test_web_service_puts_the_8x8_span_under_the_inbound_request(fake: FakeEightByEight, tmp_path: Path) -> None:
    answers, telemetry = run_web_service(
        fake,
        tmp_path,
        [
            {"to": "+6591234567", "text": "Your order has shipped"},
            {"to": "+6591234567", "text": "FAIL 1002"},
            {"to": "+6591234567"},
        ],
    )

    assert [status for status, _ in answers] == [200, 502, 400]
    assert answers[0][1]["sent"] is True
    assert len(fake.requests) == 2  # the invalid inbound request sends nothing

    servers = [span for span in telemetry.spans if span["kind"] == "SpanKind.SERVER"]
    clients = [span for span in telemetry.spans if span["kind"] == "SpanKind.CLIENT"]
    assert len(servers) == 3, telemetry.text
    assert {span["name"] for span in servers} == {"POST /notify"}
    assert len(clients) == 2, "one 8x8 span per SMS sent, although the contrib requests instrumentation is loaded"
    server_by_id = {span["context"]["span_id"]: span for span in servers}
    for client in clients:
        assert client["name"] == f"POST {TEMPLATE} (sms)"
        assert attrs(client)["com.8x8.product"] == "sms"
        parent = server_by_id[client["parent_id"]]
        assert parent["context"]["trace_id"] == client["context"]["trace_id"]
    [error] = [span for span in clients if span["status"]["status_code"] == "ERROR"]
    assert attrs(error)["com.8x8.error.code"] == 1002
    assert attrs(server_by_id[error["parent_id"]])["http.response.status_code"] == 502

    [log] = [log for log in telemetry.logs if attrs(log).get("com.8x8.error.code") == 1002]
    assert log["trace_id"] == error["context"]["trace_id"]
    assert log["span_id"] == error["context"]["span_id"]


def _instrumented_before(first: str, second: str) -> bool:
    """Whether ``opentelemetry-instrument`` (same environment as this test) instruments ``first`` before ``second``."""
    names = [entry.name for entry in entry_points(group="opentelemetry_instrumentor")]
    return names.index(first) < names.index(second)
