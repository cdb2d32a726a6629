"""The Grafana dashboard of examples/grafana, its queries run by a real Prometheus scraping an instrumented app.

Grafana itself cannot run here: the test does what Grafana would do with the dashboard's queries. It substitutes the
template variables ("All" is ``.*``) and Grafana's interval variables, and asks Prometheus's HTTP API: every
target of every panel must parse and return data once the app's metrics are scraped, and so must the variables'
``label_values`` queries. Needs ``prometheus`` (Debian's package, as tests/test_prometheus_alerts.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_8x8.testing import FakeEightByEight

from .support import (
    INSTRUMENT,
    app_environment,
    free_port,
    get_json,
    start_prometheus,
    stop_process,
    wait_for_ready,
)

pytestmark = pytest.mark.e2e  # a subprocess, a server or a long run: `-m "not e2e"` leaves it out


ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "examples" / "grafana" / "dashboards" / "8x8-errors.json"
TIMEOUT = 40
SEND = "/api/v1/subaccounts/{subAccountId}/messages"
LOOKUP = "/api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"

# Grafana's own variables, as Grafana would set them for a dashboard showing the last few minutes.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

# An unmodified app calling two 8x8 products until stopped: per round, 2 successes and 4 errors on SMS
# (requests), 1 success and 2 errors on Chat Apps (httpx). Retryable (rate_limit, server_error): 2 of the 6 errors.
APP = """
import os, time
import httpx, requests

sms = os.environ["EIGHTXEIGHT_SMS_URL"] + "/api/v1/subaccounts/acme-dash"
chat = httpx.Client(base_url=os.environ["EIGHTXEIGHT_CHATAPPS_URL"], headers={"Authorization": "Bearer k"}, timeout=10)
headers = {"Authorization": "Bearer a-key"}
while True:
    for text in ("hello", "FAIL 1200", "FAIL 429", "FAIL 2000", "FAIL 1002"):
        requests.post(sms + "/messages", json={"destination": "+6591234567", "text": text}, headers=headers, timeout=10)
    requests.get(sms + "/phones/+6591234567", headers=headers, timeout=10)
    for text in ("hi", "FAIL 3003", "FAIL 3038"):
        chat.post("/api/v1/subaccounts/acme-chat/messages",
                  json={"user": {"msisdn": "+6591234567"}, "type": "text", "content": {"text": text}})
    print("round", flush=True)
    time.sleep(0.5)
"""


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def template_variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def variable_query(variable: dict[str, Any]) -> str:
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with ``$name`` and ``${name}`` replaced by ``values[name]``; fails on any variable left."""
    substituted = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m[1] or m[2]], expr)
    assert "$" not in substituted, substituted
    return substituted


def all_values(dashboard: dict[str, Any], **chosen: str) -> dict[str, str]:
    """The dashboard's query variables at "All" (their allValue), unless ``chosen``, and Grafana's intervals."""
    values = {
        name: chosen.get(name, v["allValue"])
        for name, v in template_variables(dashboard).items()
        if v["type"] == "query"
    }
    return {**values, **GRAFANA_VARIABLES}


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield f"{panel['title']} [{target['refId']}]", target


def prometheus_get(api: str, path: str, **params: str) -> dict[str, Any]:
    """The JSON answer of Prometheus's API, also for an error status (400 for a query that does not parse)."""
    url = f"{api}{path}?{urllib.parse.urlencode(params)}"
    try:
        answer = get_json(url)
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read())
    assert isinstance(answer, dict)
    return answer


def label_values_request(query: str) -> tuple[str, dict[str, str]]:
    """Grafana's ``label_values([series,] label)`` as the request Grafana makes to Prometheus's API."""
    match = re.fullmatch(r"label_values\((?:(.*),\s*)?(\w+)\)", query.strip(), re.S)
    assert match, f"not a label_values query: {query}"
    series, label = match[1], match[2]
    return f"/api/v1/label/{label}/values", ({"match[]": series} if series else {})


def test_dashboard_is_well_formed() -> None:
    dashboard = load_dashboard()
    assert dashboard["title"] == "8x8 API errors"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids are unique"
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    variables = template_variables(dashboard)
    assert variables["datasource"]["type"] == "datasource"
    for name in ("product", "category", "url_template"):
        assert variables[name]["includeAll"] is True and variables[name]["allValue"] == ".*"
        assert variable_query(variables[name]).startswith("label_values(")
    # Every variable is used, always with =~ (so that "All" and several values work).
    exprs = [t["expr"] for _, t in targets(dashboard)]
    for name, label in (("product", "com_8x8_product"), ("category", "com_8x8_error_category")):
        assert all(f'{label}=~"${name}"' in e for e in exprs if "com_8x8_api_errors_total" in e)
        assert not any(re.search(rf'[^~]"\${name}"', e) for e in exprs)
    assert all('url_template=~"$url_template"' in e for e in exprs)
    assert all("$product" in e for e in exprs)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeEightByEight, FakeEightByEight]]:
    with FakeEightByEight() as sms, FakeEightByEight() as chatapps:
        yield sms, chatapps


def test_every_query_of_the_dashboard_returns_data_from_prometheus(
    fakes: tuple[FakeEightByEight, FakeEightByEight], tmp_path: Path
) -> None:
    sms, chatapps = fakes
    dashboard = load_dashboard()
    metrics_port, prometheus_port = free_port(), free_port()
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = app_environment(
        f"{sms.netloc}=sms,{chatapps.netloc}=chatapps",
        OTEL_SERVICE_NAME="notifier",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="prometheus",
        OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
        # otel-8x8 records http.client.request.duration (with url.template) when it owns the span; with
        # opentelemetry-instrumentation-requests active, that instrumentation does, without url.template.
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests",
        EIGHTXEIGHT_SMS_URL=sms.url,
        EIGHTXEIGHT_CHATAPPS_URL=chatapps.url,
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "notifier", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
                ],
            }
        ),
        encoding="utf-8",
    )
    api = f"http://127.0.0.1:{prometheus_port}"
    app_log, prometheus_log = tmp_path / "app.log", tmp_path / "prometheus.log"
    processes: list[subprocess.Popen[Any]] = []
    try:
        # The flag of docker-compose.yml's Prometheus, so that the exemplar queries Grafana makes are accepted.
        processes.append(
            start_prometheus(config, tmp_path, prometheus_port, prometheus_log, "--enable-feature=exemplar-storage")
        )
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

        values = all_values(dashboard)
        queries = {name: substitute(t["expr"], values) for name, t in targets(dashboard)}
        results: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert processes[1].poll() is None, f"the app exited:\n{app_log.read_text()}"
            for name, query in queries.items():
                answer = prometheus_get(api, "/api/v1/query", query=query)
                assert answer["status"] == "success", f"{name}: {query}\n{answer}"
                results[name] = answer["data"]["result"]
            if all(results.values()):
                break
            time.sleep(1)
        empty = [name for name, result in results.items() if not result]
        assert not empty, f"no data within {TIMEOUT} s for {empty}:\n{app_log.read_text()}"

        def labels(panel: str, label: str) -> set[str]:
            return {r["metric"].get(label, "") for r in results[panel]}

        assert labels("8x8 errors/s by product [A]", "com_8x8_product") == {"sms", "chatapps"}
        assert labels("8x8 errors/s by category [A]", "com_8x8_error_category") == {
            "auth",
            "rate_limit",
            "server_error",
            "invalid_request",
            "template",
        }
        codes = {"1200", "429", "2000", "1002", "3003", "3038"}
        assert labels("8x8 errors/s by error code [A]", "com_8x8_error_code") == codes
        assert labels("8x8 errors/s by error code [A]", "job") == {"notifier"}
        assert labels("Top 10 error codes over the time range [A]", "com_8x8_error_code") == codes
        [share] = results["Retryable share over the time range [A]"]
        assert float(share["value"][1]) == pytest.approx(2 / 6, abs=0.1)
        by_product = {
            r["metric"]["com_8x8_product"]: float(r["value"][1]) for r in results["Retryable share of 8x8 errors [A]"]
        }
        assert by_product["chatapps"] == 0
        assert by_product["sms"] == pytest.approx(2 / 4, abs=0.1)
        p95 = results["p95 duration of 8x8 calls by url.template [A]"]
        assert {(r["metric"]["com_8x8_product"], r["metric"]["url_template"]) for r in p95} == {
            ("sms", SEND),
            ("lookup", LOOKUP),  # the Number Lookup route of an SMS host
            ("chatapps", SEND),
        }
        assert all(0 < float(r["value"][1]) < 10 for r in p95)

        # One value chosen instead of "All": only that product's series.
        chosen = all_values(dashboard, product="chatapps", category="template")
        query = substitute(
            next(t["expr"] for n, t in targets(dashboard) if n.startswith("8x8 errors/s by error")), chosen
        )
        answer = prometheus_get(api, "/api/v1/query", query=query)
        assert [r["metric"]["com_8x8_error_code"] for r in answer["data"]["result"]] == ["3038"]

        # The exemplar queries Grafana makes for the panels with exemplars on parse (the exporter of this app,
        # opentelemetry-exporter-prometheus, exposes no exemplars, so there are none to find).
        now = time.time()
        for name, target in targets(dashboard):
            if target.get("exemplar"):
                answer = prometheus_get(
                    api, "/api/v1/query_exemplars", query=queries[name], start=str(now - 300), end=str(now)
                )
                assert answer["status"] == "success", f"{name}: {answer}"

        # The variables' label_values queries, as Grafana sends them, with the other variables at "All".
        options: dict[str, list[str]] = {}
        for name, variable in template_variables(dashboard).items():
            if variable["type"] != "query":
                continue
            path, params = label_values_request(substitute(variable_query(variable), values))
            answer = prometheus_get(api, path, **params)
            assert answer["status"] == "success", f"{name}: {answer}"
            options[name] = answer["data"]
        assert options == {
            "product": ["chatapps", "lookup", "sms"],  # lookup: from the duration histogram
            "category": ["auth", "invalid_request", "rate_limit", "server_error", "template"],
            "url_template": [SEND, LOOKUP],
        }
    finally:
        for process in reversed(processes):
            stop_process(process)
