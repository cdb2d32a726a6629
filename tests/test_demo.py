"""End to end: the demo runs the unmodified example app under opentelemetry-instrument (fake 8x8, no network)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from otel_8x8.testing.console import parse_console_output

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def test_opentelemetry_instrument_is_installed() -> None:
    assert INSTRUMENT.exists(), "the demo needs opentelemetry-instrument beside this Python"


def records(output: str, section: str) -> list[tuple[str, dict[str, str]]]:
    """The records of one ``== section`` of the demo summary: (header line, {field: value})."""
    match = re.search(rf"^== {re.escape(section)}.*\n((?:  .*\n?)*)", output, re.M)
    assert match, f"no '== {section}' section in the demo output"
    found: list[tuple[str, dict[str, str]]] = []
    for line in match[1].splitlines():
        if line.startswith("    "):
            key, _, value = line.strip().partition(": ")
            found[-1][1][key] = value
        else:
            found.append((line.strip(), {}))
    return found


@pytest.fixture(scope="module")
def demo_output() -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_demo.py")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.mark.parametrize(("code", "category"), [("1002", "invalid_request"), ("1200", "auth")])
def test_error_span_log_and_metric_name_the_code_and_category(demo_output: str, code: str, category: str) -> None:
    spans = [fields for _, fields in records(demo_output, "spans") if fields.get("com.8x8.error.code") == code]
    assert len(spans) == 1
    assert spans[0]["com.8x8.error.category"] == category
    logs = [fields for _, fields in records(demo_output, "log records") if fields.get("com.8x8.error.code") == code]
    assert len(logs) == 1
    assert logs[0]["com.8x8.error.category"] == category
    assert logs[0]["trace_id"] == spans[0]["trace_id"]
    assert int(spans[0]["trace_id"], 16) != 0
    points = [
        fields for _, fields in records(demo_output, "com.8x8.api.errors") if fields.get("com.8x8.error.code") == code
    ]
    assert [point["com.8x8.error.category"] for point in points] == [category]


def test_every_call_is_one_span_and_the_app_output_is_kept(demo_output: str) -> None:
    names = [header.split(" -> ")[0] for header, _ in records(demo_output, "spans")]
    assert names == ["POST /api/v1/subaccounts/{subAccountId}/messages (sms)"] * 3 + [
        "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    ]
    app = [header for header, _ in records(demo_output, "the app's own output")]
    assert "send 'FAIL 1002': HTTP 400" in app
    assert "send 'FAIL 1200': HTTP 401" in app


def test_phone_numbers_are_redacted(demo_output: str) -> None:
    telemetry_part = demo_output.split("== the app's own output")[0]
    assert "REDACTED" in telemetry_part
    assert "6591234567" not in telemetry_part


def test_parse_console_output_sorts_objects_from_text() -> None:
    text = (
        'hello {not json}\n{\n  "name": "s", "context": {"trace_id": "0x1"}, "kind": "SpanKind.CLIENT"\n}\n'
        '{"body": "b", "severity_number": 13}{"resource_metrics": [{"scope_metrics": [{"scope": {"name": "x"}, '
        '"metrics": [{"name": "m", "unit": "1", "data": {"data_points": [{"value": 2, "attributes": {}}]}}]}]}]}\n'
        '{"other": 1}\nbye\n'
    )
    telemetry = parse_console_output(text)
    assert [span["name"] for span in telemetry.spans] == ["s"]
    assert [log["body"] for log in telemetry.logs] == ["b"]
    assert telemetry.points("m") == [{"value": 2, "attributes": {}, "name": "m", "unit": "1", "scope": "x"}]
    assert telemetry.text == ["hello {not json}", '{"other": 1}', "bye"]
