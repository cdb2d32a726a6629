"""Under ``opentelemetry-instrument``: an unmodified app, every HTTP instrumentation installed here loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_8x8.testing import FakeEightByEight
from otel_8x8.testing.console import ConsoleTelemetry, parse_console_output

from .support import app_environment, run_instrumented

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out

APP = Path(__file__).parent / "apps" / "all_clients.py"
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"
CLIENTS = ("requests", "httpx", "httpx-async")


def run_app(fake: FakeEightByEight, tmp_path: Path, **extra_env: str) -> tuple[ConsoleTelemetry, str]:
    env = app_environment(fake.netloc, OTEL_SERVICE_NAME="auto-test", EIGHTXEIGHT_URL=fake.url, **extra_env)
    completed = run_instrumented(APP, env, tmp_path)
    return parse_console_output(completed.stdout), completed.stderr


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item.get("attributes") or {})


def test_spans_logs_and_metrics_of_an_unmodified_app(fake: FakeEightByEight, tmp_path: Path) -> None:
    telemetry, _ = run_app(fake, tmp_path)

    assert telemetry.text == [f"{client} {status}" for client in CLIENTS for status in (200, 400)]
    client_spans = [s for s in telemetry.spans if s["kind"] == "SpanKind.CLIENT"]
    assert len(client_spans) == 6  # one per call, although the contrib requests/httpx/urllib3 are loaded too
    assert {s["name"] for s in client_spans} == {f"POST {TEMPLATE}"}
    assert all(s["resource"]["attributes"]["service.name"] == "auto-test" for s in client_spans)
    errors = [s for s in client_spans if _attrs(s).get("com.8x8.error.code") == 1002]
    assert len(errors) == 3
    for span in errors:
        attrs = _attrs(span)
        assert attrs["com.8x8.error.category"] == "invalid_request"
        assert attrs["com.8x8.subaccount.id"] == "acme"
        assert attrs["url.template"] == TEMPLATE
        assert span["status"]["status_code"] == "ERROR"
        assert "REDACTED" in span["status"]["description"]

    ours = [log for log in telemetry.logs if _attrs(log).get("com.8x8.error.code") == 1002]
    assert len(ours) == 3
    span_ids = {(s["context"]["trace_id"], s["context"]["span_id"]) for s in errors}
    assert {(log["trace_id"], log["span_id"]) for log in ours} == span_ids
    for log in ours:
        attrs = _attrs(log)
        assert log["severity_text"] == "WARN"
        assert attrs["com.8x8.error.category"] == "invalid_request"
        assert "REDACTED" in attrs["com.8x8.error.message"]
        assert attrs["com.8x8.error.id"] in {_attrs(s)["com.8x8.error.id"] for s in errors}

    [point] = telemetry.points("com.8x8.api.errors")
    assert point["value"] == 3
    assert point["attributes"] == {
        "com.8x8.error.code": 1002,
        "com.8x8.error.category": "invalid_request",
        "http.response.status_code": 400,
        "error.type": "400",
        "url.template": TEMPLATE,
    }

    exported = str(telemetry.spans) + str(telemetry.logs) + str(telemetry.metrics)
    assert "6591234567" not in exported
    assert "SECRET" not in exported


def test_disabled_by_otel_python_disabled_instrumentations(fake: FakeEightByEight, tmp_path: Path) -> None:
    telemetry, _ = run_app(fake, tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="8x8")

    assert len(telemetry.text) == 6
    assert telemetry.spans, "the contrib instrumentations still trace the calls"
    assert not any(k.startswith("com.8x8.") for s in telemetry.spans for k in _attrs(s))
    assert not any(k.startswith("com.8x8.") for log in telemetry.logs for k in _attrs(log))
    assert telemetry.points("com.8x8.api.errors") == []


@pytest.mark.parametrize(
    ("missing", "calls"),
    [
        ("httpx", ["requests 200", "requests 400"]),
        ("requests", ["httpx 200", "httpx 400", "httpx-async 200", "httpx-async 400"]),
    ],
)
def test_works_with_only_one_of_the_libraries(
    fake: FakeEightByEight, tmp_path: Path, missing: str, calls: list[str]
) -> None:
    blocker = tmp_path / "blocked" / missing
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(f"raise ImportError('{missing} is not installed here')\n")
    contrib = {"httpx": "httpx", "requests": "requests,urllib3"}[missing]
    telemetry, stderr = run_app(
        fake, tmp_path, PYTHONPATH=str(blocker.parent), OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=contrib
    )

    assert telemetry.text == calls
    assert f"{missing} not installed" in stderr
    spans = [s for s in telemetry.spans if s["kind"] == "SpanKind.CLIENT"]
    assert [_attrs(s).get("com.8x8.error.code") for s in spans] == [None, 1002] * (len(calls) // 2)
