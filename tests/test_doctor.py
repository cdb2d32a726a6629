"""``python -m otel_8x8 doctor``, run as a newcomer runs it: a subprocess, against a real fake 8x8."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.doctor import LIBRARIES, diagnose, urllib3_order_note
from otel_8x8.hosts import HOSTS_ENV
from otel_8x8.testing import FakeEightByEight
from otel_8x8.testing.console import parse_console_output

from .support import INSTRUMENT, app_environment, run_instrumented

pytestmark = pytest.mark.e2e  # every test runs python -m otel_8x8 in a subprocess

APP = Path(__file__).parent / "apps" / "all_clients.py"
MESSAGES = "/api/v1/subaccounts/acme/messages"
BATCH = "/api/v1/subaccounts/acme/messages/batch"  # SMS and Chat Apps document it alike
SURVEY_BATCH = "/api/v1/subaccounts/acme/surveys/s1/messages/batch"  # SMS only


def healthy_env(**settings: str) -> dict[str, str]:
    """This process's environment without OTEL_ variables, with exporters that are installed here and this
    environment's scripts (opentelemetry-instrument) first on PATH; ``settings`` add or override."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        PATH=os.pathsep.join([str(INSTRUMENT.parent), env.get("PATH", "")]),
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_LOGS_EXPORTER="console",
        OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
    )
    env.update(settings)
    return env


ORDER_NOTE = "opentelemetry-instrumentation-urllib3 is instrumented after otel-8x8 here"


def without_order_note(notes: list[str]) -> list[str]:
    """The notes but the one on opentelemetry-instrumentation-urllib3's place, which follows this machine's disk."""
    return [note for note in notes if not note.startswith(ORDER_NOTE)]


def doctor(*args: str, env: dict[str, str], command: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, sys.executable, "-m", "otel_8x8", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def doctor_json(*args: str, env: dict[str, str], expect: int) -> dict[str, Any]:
    result = doctor("--json", *args, env=env)
    assert result.returncode == expect, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def problems(data: dict[str, Any]) -> list[str]:
    return [f"{p['what']} | {p['fix']}" for p in data["problems"]]


def test_a_healthy_setup_exits_0() -> None:
    result = doctor(env=healthy_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("No problem found.")
    assert "sms: sms.8x8.com [ap], sms.us.8x8.com [us], sms.8x8.uk [eu], sms.8x8.id [id]" in result.stdout


def test_the_fake_base_url_without_hosts_is_not_observed_and_the_value_given_observes_it(
    fake: FakeEightByEight, tmp_path: Path
) -> None:
    url = fake.url + MESSAGES
    data = doctor_json(url, env=healthy_env(), expect=1)
    [check] = data["urls"]
    assert check["observed"] is False
    assert check["netloc"] == fake.netloc
    assert check["hosts_value"] == fake.netloc  # SMS and Chat Apps document this path alike: no product
    assert problems(data) == [
        f"calls to {fake.netloc} are not observed: not an 8x8 host | export {HOSTS_ENV}={fake.netloc}"
    ]

    text = doctor(url, env=healthy_env())
    assert text.returncode == 1
    assert f"observed: NO ({fake.netloc} is not an 8x8 host)" in text.stdout
    assert f"to observe it: {HOSTS_ENV}={fake.netloc}" in text.stdout

    fixed = doctor_json(url, env=healthy_env(**{HOSTS_ENV: check["hosts_value"]}), expect=0)
    [observed] = fixed["urls"]
    assert observed["observed"] is True
    assert (observed["product"], observed["region"]) == (None, None)
    assert [(c["method"], c["span_name"]) for c in observed["calls"]] == [
        ("GET", "GET /api/v1/subaccounts/{subAccountId}/messages"),
        ("POST", "POST /api/v1/subaccounts/{subAccountId}/messages"),
    ]

    # And the app, run under opentelemetry-instrument with that value, gives its spans.
    env = app_environment(check["hosts_value"], EIGHTXEIGHT_URL=fake.url)
    spans = parse_console_output(run_instrumented(APP, env, tmp_path).stdout).spans
    names = {s["name"] for s in spans if s["kind"] == "SpanKind.CLIENT"}
    assert names == {"POST /api/v1/subaccounts/{subAccountId}/messages"}


def test_the_value_tells_the_product_when_the_path_does_and_keeps_the_current_hosts(fake: FakeEightByEight) -> None:
    env = healthy_env(**{HOSTS_ENV: "gw.example.com=chatapps,"})
    data = doctor_json(fake.url + SURVEY_BATCH, env=env, expect=1)
    [check] = data["urls"]
    assert check["hosts_value"] == f"gw.example.com=chatapps,{fake.netloc}=sms"

    fixed = doctor_json(fake.url + SURVEY_BATCH, env=healthy_env(**{HOSTS_ENV: check["hosts_value"]}), expect=0)
    [observed] = fixed["urls"]
    assert (observed["product"], observed["region"]) == ("sms", None)
    assert observed["calls"][-1] == {
        "method": "POST",
        "span_name": "POST /api/v1/subaccounts/{subAccountId}/surveys/{surveyId}/messages/batch",
        "url_template": "/api/v1/subaccounts/{subAccountId}/surveys/{surveyId}/messages/batch",
        "operation_id": "Survey-Send-Many",
    }


def test_a_documented_host_gives_product_region_span_name_and_template() -> None:
    data = doctor_json("https://sms.us.8x8.com" + BATCH + "?x=1", env=healthy_env(), expect=0)
    [check] = data["urls"]
    assert (check["observed"], check["product"], check["region"]) == (True, "sms", "us")
    assert check["calls"][-1] == {
        "method": "POST",
        "span_name": "POST /api/v1/subaccounts/{subAccountId}/messages/batch (sms)",
        "url_template": "/api/v1/subaccounts/{subAccountId}/messages/batch",
        "operation_id": "Send-Many-Sms",
    }


def test_a_host_that_merely_looks_like_8x8_gets_a_hint() -> None:
    data = doctor_json("https://sms.8x8.co" + MESSAGES, env=healthy_env(), expect=1)
    [check] = data["urls"]
    assert check["observed"] is False
    assert check["hint"] == "sms.8x8.co looks like a typo of sms.8x8.com"
    [problem] = problems(data)
    assert "fix the URL (sms.8x8.co looks like a typo of sms.8x8.com)" in problem

    other = doctor_json("https://api.8x8.example", env=healthy_env(), expect=1)
    assert "looks like 8x8" in other["urls"][0]["hint"]


def test_entries_the_matcher_ignores_are_flagged() -> None:
    hosts = "gw.example.com=smss, https://proxy.example.com/, *.ok.example.com=chatapps, =sms, sms.8x8.com=voice"
    data = doctor_json(env=healthy_env(**{HOSTS_ENV: hosts}), expect=1)
    entries = {e["entry"]: e for e in data["configured_hosts"]}
    assert entries["gw.example.com=smss"]["product"] is None
    assert "unknown product 'smss'" in entries["gw.example.com=smss"]["ignored"]
    assert "never matches" in entries["https://proxy.example.com/"]["ignored"]
    assert entries["*.ok.example.com=chatapps"] == {
        "entry": "*.ok.example.com=chatapps",
        "host": "*.ok.example.com",
        "product": "chatapps",
        "ignored": None,
        "note": None,
    }
    assert entries["=sms"]["ignored"] == "no host: the entry is ignored"
    assert entries["sms.8x8.com=voice"]["note"] == "replaces the documented sms.8x8.com (sms, region ap)"
    assert len(data["problems"]) == 3


@pytest.mark.parametrize("value", ["requests, 8x8", "*"])
def test_a_disabled_entry_point_is_a_problem(value: str) -> None:
    data = doctor_json(env=healthy_env(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=value), expect=1)
    assert data["entry_point"]["disabled"] is True
    [problem] = problems(data)
    assert problem.startswith(f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={value} turns otel-8x8 off")


def test_opentelemetry_instrument_not_on_path_is_a_problem(tmp_path: Path) -> None:
    data = doctor_json(env=healthy_env(PATH=str(tmp_path)), expect=1)
    assert data["entry_point"]["command"] is None
    [problem] = problems(data)
    assert problem.startswith("opentelemetry-instrument is not on PATH")


def test_exporters_that_are_not_installed_or_not_configurable_are_problems() -> None:
    env = healthy_env(OTEL_TRACES_EXPORTER="zipkin_json", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/json")
    env.pop("OTEL_METRICS_EXPORTER")  # the default: otlp
    data = doctor_json(env=env, expect=1)
    [traces] = data["exporters"]["traces"]
    assert (traces["name"], traces["importable"], traces["error"]) == ("zipkin_json", False, "not installed")
    [metrics] = data["exporters"]["metrics"]
    assert (metrics["name"], metrics["importable"]) == ("otlp", False)
    found = problems(data)
    assert len(found) == 2
    assert found[0].startswith("OTEL_TRACES_EXPORTER=zipkin_json: no zipkin_json exporter is installed")
    assert "OTLP protocol 'http/json'" in found[1]


def test_the_otlp_exporter_follows_the_protocol() -> None:
    env = healthy_env(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    data = doctor_json(env=env, expect=0)
    [traces] = data["exporters"]["traces"]
    assert traces["entry_point"] == "otlp_proto_http"
    assert traces["package"] == "opentelemetry-exporter-otlp-proto-http"
    assert traces["importable"] is True


def test_the_default_otlp_without_its_package_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_otlp(*, group: str, name: str | None = None) -> list[metadata.EntryPoint]:
        # this environment's entry points, as if opentelemetry-exporter-otlp were not installed
        found = metadata.entry_points(group=group)
        return [ep for ep in found if not ep.name.startswith("otlp") and name in (None, ep.name)]

    monkeypatch.setattr("otel_8x8.doctor.entry_points", without_otlp)
    env = healthy_env()
    del env["OTEL_TRACES_EXPORTER"]
    report = diagnose(environ=env)
    [problem] = report.problems
    assert problem.what.startswith("OTEL_TRACES_EXPORTER=otlp (the default): no otlp (otlp_proto_grpc) exporter")
    assert problem.what.endswith("fails at start-up with a traceback")
    assert problem.fix.startswith("pip install opentelemetry-exporter-otlp-proto-grpc, or set OTEL_TRACES_EXPORTER")


def test_log_records_need_the_logging_handler() -> None:
    env = healthy_env()
    del env["OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"]
    data = doctor_json(env=env, expect=0)
    [note] = without_order_note(data["notes"])
    assert note.startswith("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED is not 'true'")


def test_under_opentelemetry_instrument_the_hooked_methods_are_patched() -> None:
    env = healthy_env(OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    result = doctor("--json", env=env, command=(str(INSTRUMENT),))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    patched = {lib["name"]: lib["patched"] for lib in data["libraries"]}
    assert patched == {
        "requests": ["requests.sessions.Session.send"],
        "httpx": ["httpx.Client.send", "httpx.AsyncClient.send"],
        "urllib3": ["urllib3.connectionpool.HTTPConnectionPool.urlopen"],
        "aiohttp": [
            "aiohttp.client.ClientSession._request",
            "aiohttp.streams.StreamReader._read_nowait_chunk",
            "aiohttp.streams.StreamReader.feed_eof",
            "aiohttp.streams.StreamReader.set_exception",
        ],
    }
    assert without_order_note(data["notes"]) == [
        "OTEL_METRICS_EXPORTER=none: no metrics are exported",
        "OTEL_LOGS_EXPORTER=none: no logs are exported",
    ]


@pytest.mark.parametrize("url", ["sms.8x8.com/api", "ftp://sms.8x8.com/", "http://sms.8x8.com:port/", "https:///x"])
def test_a_url_that_is_not_one_is_a_usage_error(url: str) -> None:
    result = doctor(url, env=healthy_env())
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("python -m otel_8x8: error: ")


def test_the_doctor_lists_the_methods_the_hooks_patch() -> None:
    for library in LIBRARIES:
        importlib.import_module(library)  # each is patched once imported
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument()
    try:
        patched = instrumentor.patched_methods()
    finally:
        instrumentor.uninstrument()
    expected = [f"{library}.{method}" for library, methods in LIBRARIES.items() for method in methods]
    defined_in = {
        "requests.sessions.": "requests.",
        "urllib3.connectionpool.": "urllib3.",
        "aiohttp.client.": "aiohttp.",
        "aiohttp.streams.": "aiohttp.",
    }
    assert [_public_path(path, defined_in) for path in patched] == expected


def _public_path(path: str, defined_in: dict[str, str]) -> str:
    for module, public in defined_in.items():
        path = path.replace(module, public)
    return path


@pytest.mark.parametrize(
    ("order", "disabled", "noted"),
    [
        (["8x8", "requests", "urllib3"], [""], True),  # urllib3 wraps last: outside otel-8x8, it owns the span
        (["urllib3", "requests", "8x8"], [""], False),
        (["8x8", "urllib3"], ["urllib3"], False),
        (["8x8", "urllib3"], ["flask", "urllib3"], False),
        (["8x8", "urllib3"], ["*"], False),
        (["8x8", "requests"], [""], False),  # the urllib3 instrumentation is not installed
    ],
)
def test_the_order_note_says_when_the_urllib3_instrumentation_will_own_urllib3_spans(
    order: list[str], disabled: list[str], noted: bool
) -> None:
    note = urllib3_order_note(order, disabled)
    assert (note is not None) is noted
    if note is not None:
        assert note.startswith(ORDER_NOTE) and note.endswith(
            "set OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=urllib3 to have it"
        )


def test_the_doctor_gives_the_order_note_as_opentelemetry_instrument_will_load_this_machines_packages() -> None:
    names = [entry.name for entry in metadata.entry_points(group="opentelemetry_instrumentor")]
    expected = "urllib3" in names and names.index("urllib3") > names.index("8x8")
    notes = doctor_json(env=healthy_env(), expect=0)["notes"]
    assert any(note.startswith(ORDER_NOTE) for note in notes) is expected
    disabled = doctor_json(env=healthy_env(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="urllib3"), expect=0)["notes"]
    assert not any(note.startswith(ORDER_NOTE) for note in disabled)
