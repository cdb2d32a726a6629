"""Run ``examples/sms_app.py`` under ``opentelemetry-instrument`` against a fake 8x8 API and
summarise the telemetry it produced.

The app is not changed: it only gets environment variables. The console exporters print spans,
log records and metrics to its stdout; this script reads them back and prints the parts that
otel-8x8 adds. Exits 1 if no error span was recorded. No network access is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from otel_8x8.testing import FakeEightByEight
from otel_8x8.testing.console import ConsoleTelemetry, parse_console_output

APP = Path(__file__).with_name("sms_app.py")
ERRORS_METRIC = "com.8x8.api.errors"
TIMEOUT = 120


def instrument_command() -> str:
    """``opentelemetry-instrument`` of this Python's environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "opentelemetry-instrument"
    found = str(beside) if beside.exists() else shutil.which("opentelemetry-instrument")
    if found is None:
        sys.exit("opentelemetry-instrument not found: install otel-8x8[demo]")
    return found


def demo_environment(fake: FakeEightByEight) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), fake.host]))
    env.update(
        OTEL_SERVICE_NAME="otel-8x8-demo",
        OTEL_TRACES_EXPORTER="console",
        OTEL_LOGS_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_METRIC_EXPORT_INTERVAL="60000",
        OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
        OTEL_PYTHON_8X8_HOSTS=f"{fake.netloc}=sms",
        EIGHTXEIGHT_SMS_URL=fake.url,
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
    )
    return env


def run_app() -> subprocess.CompletedProcess[str]:
    with FakeEightByEight() as fake:
        return subprocess.run(
            [instrument_command(), sys.executable, str(APP)],
            env=demo_environment(fake),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def _ours(attributes: dict[str, Any], prefix: str = "com.8x8.") -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if key.startswith(prefix)}


def _fields(values: dict[str, Any]) -> list[str]:
    return [f"    {key}: {value}" for key, value in values.items()]


def summary(telemetry: ConsoleTelemetry) -> list[str]:
    lines = [f"== spans ({len(telemetry.spans)})"]
    for span in telemetry.spans:
        status = span["status"]
        description = f": {status['description']}" if status.get("description") else ""
        attributes = span.get("attributes") or {}
        lines.append(f"  {span['name']} -> {status['status_code']}{description}")
        lines += _fields({"trace_id": span["context"]["trace_id"], "url.full": attributes.get("url.full")})
        lines += _fields(_ours(attributes))
    records = [record for record in telemetry.logs if _ours(record.get("attributes") or {})]
    others = len(telemetry.logs) - len(records)
    lines.append(f"== log records ({len(records)} from otel-8x8, {others} from other loggers not shown)")
    for record in records:
        lines.append(f"  {record['severity_text']} {record['body']}")
        lines += _fields({"trace_id": record["trace_id"], **_ours(record.get("attributes") or {}, "com.8x8.error.")})
    points = telemetry.points(ERRORS_METRIC)
    lines.append(f"== {ERRORS_METRIC} ({len(points)} data points)")
    for point in points:
        lines.append(f"  value {point['value']}")
        lines += _fields(point.get("attributes") or {})
    return lines


def main() -> int:
    completed = run_app()
    telemetry = parse_console_output(completed.stdout)
    print("\n".join(summary(telemetry)))
    print(f"== the app's own output (exit code {completed.returncode})")
    print("\n".join(f"  {line}" for line in telemetry.text))
    if completed.stderr.strip():
        print("== the app's stderr", completed.stderr, sep="\n")
    if not any(span["status"]["status_code"] == "ERROR" for span in telemetry.spans):
        print("FAILED: no error span was recorded", file=sys.stderr)
        return 1
    return 0 if completed.returncode == 0 else completed.returncode


if __name__ == "__main__":
    raise SystemExit(main())
