"""The alerting rules of examples/alerts with Prometheus itself: promtool's unit tests, and a real server.

Needs ``prometheus`` and ``promtool`` (Debian's ``prometheus`` package; ``scripts/test`` installs it when
missing). A missing binary fails the tests: nothing is skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_8x8.testing import FakeEightByEight, error_envelope

from .support import (
    INSTRUMENT,
    app_environment,
    binary,
    free_port,
    get_json,
    start_prometheus,
    stop_process,
    wait_for_ready,
)

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out


ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "examples" / "alerts"
RULES = ALERTS / "8x8.rules.yml"
RULE_TESTS = ALERTS / "8x8.rules.test.yml"
RECORDING_EXPR = re.compile(r"(- record: com_8x8:api_errors:increase5m\n +expr: \|\n)(.*?)\n\n", re.S)
ALERT_TIMEOUT = 60

# An unmodified app that keeps running (its metrics are scraped) and calls 8x8 a few times over a few seconds.
APP = """
import os, time
import requests

url = os.environ["EIGHTXEIGHT_SMS_URL"] + "/api/v1/subaccounts/acme-alerts/messages"
headers = {"Authorization": "Bearer a-revoked-key"}
for _ in range(4):
    response = requests.post(url, json={"destination": "+6591234567", "text": "hello"}, headers=headers, timeout=10)
    print("HTTP", response.status_code, flush=True)
    time.sleep(1)
time.sleep(600)
"""


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_are_valid() -> None:
    completed = promtool("check", "rules", RULES)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS: 7 rules found" in completed.stdout


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    completed = promtool("test", "rules", RULE_TESTS)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS" in completed.stdout


def test_plain_increase_would_miss_the_first_error(tmp_path: Path) -> None:
    """The reason for the recording rule: with plain increase(), the unit tests of the first error fail."""
    rules = RULES.read_text(encoding="utf-8")
    [(_, expr)] = RECORDING_EXPR.findall(rules)
    assert "unless com_8x8_api_errors_total offset 5m" in expr
    by = "job, com_8x8_product, com_8x8_error_code, com_8x8_error_category, http_response_status_code"
    plain = RECORDING_EXPR.sub(
        lambda m: f"{m[1]}          sum by ({by}) (increase(com_8x8_api_errors_total[5m]))\n\n", rules
    )
    assert plain != rules
    (tmp_path / RULES.name).write_text(plain, encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)

    completed = promtool("test", "rules", tmp_path / RULE_TESTS.name)

    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "alertname: EightByEightAuthFailure, time: 10m" in output
    assert "alertname: EightByEightTemplateFailures, time: 4m" in output


@pytest.fixture
def fake_answering_1200() -> Iterator[FakeEightByEight]:
    with FakeEightByEight() as fake:
        fake.script("POST", r"/api/v1/subaccounts/[^/]+/messages", error_envelope(1200, "Unauthorized Access", 401))
        yield fake


def test_auth_alert_fires_in_prometheus_scraping_an_instrumented_app(
    fake_answering_1200: FakeEightByEight, tmp_path: Path
) -> None:
    fake = fake_answering_1200
    metrics_port, prometheus_port = free_port(), free_port()
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = app_environment(
        f"{fake.netloc}=sms",
        OTEL_SERVICE_NAME="sms-notifier",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="prometheus",
        OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
        EIGHTXEIGHT_SMS_URL=fake.url,
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {"job_name": "sms-notifier", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
                ],
            }
        ),
        encoding="utf-8",
    )
    checked = promtool("check", "config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    api = f"http://127.0.0.1:{prometheus_port}"
    app_log, prometheus_log = tmp_path / "app.log", tmp_path / "prometheus.log"
    processes: list[subprocess.Popen[Any]] = []
    try:
        processes.append(start_prometheus(config, tmp_path, prometheus_port, prometheus_log))
        with app_log.open("w") as out:
            processes.append(
                subprocess.Popen(
                    [str(INSTRUMENT), sys.executable, str(tmp_path / "app.py")],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                )
            )
        wait_for_ready(f"{api}/-/ready", processes[0], prometheus_log)

        deadline = time.monotonic() + ALERT_TIMEOUT
        firing: list[dict[str, Any]] = []
        while not firing and time.monotonic() < deadline:
            assert processes[1].poll() is None, f"the app exited:\n{app_log.read_text()}"
            alerts = get_json(f"{api}/api/v1/alerts")["data"]["alerts"]
            firing = [
                a for a in alerts if a["labels"]["alertname"] == "EightByEightAuthFailure" and a["state"] == "firing"
            ]
            if not firing:
                time.sleep(0.5)
        assert firing, (
            f"no firing auth alert within {ALERT_TIMEOUT} s:\n{app_log.read_text()}\n{prometheus_log.read_text()}"
        )

        [alert] = firing
        assert alert["labels"] == {
            "alertname": "EightByEightAuthFailure",
            "severity": "critical",
            "job": "sms-notifier",
            "com_8x8_product": "sms",
            "com_8x8_error_code": "1200",
            "com_8x8_error_category": "auth",
            "http_response_status_code": "401",
        }
        assert alert["annotations"]["summary"] == "8x8 rejects the API key of sms-notifier: error 1200 (auth)"
        assert "error code 1200, category auth (HTTP 401)" in alert["annotations"]["description"]

        # The names the rules rely on are the ones opentelemetry-exporter-prometheus really exposes.
        series = get_json(f"{api}/api/v1/series?match[]=com_8x8_api_errors_total")["data"]
        assert [(s["com_8x8_error_code"], s["com_8x8_error_category"], s["url_template"]) for s in series] == [
            ("1200", "auth", "/api/v1/subaccounts/{subAccountId}/messages")
        ]
        assert fake.requests, "the app called the fake 8x8"
    finally:
        for process in reversed(processes):
            stop_process(process)
