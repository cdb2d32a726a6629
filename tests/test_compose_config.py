"""examples/docker-compose.yml and its configs, checked statically (docker cannot run where the tests run).

What is checked: every file parses; the files the services mount exist; the Collector's pipelines only use
components it defines, and use all of them; the ports and host names that connect the services agree (the
apps -> the Collector's OTLP receivers, the Collector -> Jaeger's OTLP port, Prometheus -> the Collector's
prometheus exporter, Prometheus -> the alert rules, Grafana -> Prometheus and Jaeger); ``promtool check config``
accepts the Prometheus config. Grafana's provisioning: the data sources point at the services' ports, the
exemplars' trace ids at the Jaeger data source, the dashboard provider at the mounted dashboards folder, whose
dashboards only use the provisioned data sources. (tests/test_grafana_dashboard.py runs the dashboard's queries.)
"""

from __future__ import annotations

import copy
import json
import posixpath
import shutil
import subprocess
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
COMPOSE = EXAMPLES / "docker-compose.yml"
COLLECTOR = EXAMPLES / "collector" / "config.yaml"
PROMETHEUS = EXAMPLES / "prometheus" / "prometheus.yml"
RULES = EXAMPLES / "alerts" / "8x8.rules.yml"
GRAFANA = EXAMPLES / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD = GRAFANA / "dashboards" / "8x8-errors.json"
GRAFANA_PROVISIONING = PurePosixPath("/etc/grafana/provisioning")  # where Grafana reads it (its default)
COMPONENT_KINDS = ("receivers", "processors", "exporters", "connectors")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


@pytest.fixture
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture
def collector() -> dict[str, Any]:
    return load(COLLECTOR)


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose["services"]
    assert name in services, f"no service {name!r} in docker-compose.yml"
    return dict(services[name])


def published_ports(definition: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port of the ``ports`` entries ("HOST:CONTAINER")."""
    ports = {}
    for entry in definition.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        ports[int(container)] = int(host)
    return ports


def mounts(definition: dict[str, Any]) -> dict[PurePosixPath, Path]:
    """Container path -> host path of the bind mounts ("./HOST:CONTAINER[:ro]")."""
    found = {}
    for entry in definition.get("volumes", []):
        host, container, *_ = str(entry).split(":")
        assert host.startswith("./"), f"not a bind mount relative to examples/: {entry}"
        found[PurePosixPath(container)] = EXAMPLES / host
    return found


def host_path(definition: dict[str, Any], container_path: str) -> Path:
    """The file of the host that ``container_path`` is inside the service, through its bind mounts."""
    path = PurePosixPath(container_path)
    for mount, host in mounts(definition).items():
        if path == mount or mount in path.parents:
            return host.joinpath(*path.relative_to(mount).parts)
    raise AssertionError(f"{container_path} is not mounted from the host")


def option(definition: dict[str, Any], name: str) -> str:
    command = definition["command"]
    values = [str(arg).split("=", 1)[1] for arg in command if str(arg).startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= not given once in {command}"
    return values[0]


def port_of(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def pipeline_problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with the wiring of a Collector config: undefined or unused components, misused connectors."""
    problems = []
    defined = {kind: set(config.get(kind) or {}) for kind in COMPONENT_KINDS}
    used: dict[str, set[str]] = {kind: set() for kind in COMPONENT_KINDS}
    connector_ends: dict[str, dict[str, set[str]]] = {}  # connector -> {"exporter": signals, "receiver": signals}
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    if not pipelines:
        problems.append("no pipelines")
    for pipeline, definition in pipelines.items():
        signal = pipeline.partition("/")[0]
        if signal not in ("traces", "metrics", "logs"):
            problems.append(f"pipeline {pipeline}: unknown signal")
        for role in ("receivers", "exporters"):
            if not definition.get(role):
                problems.append(f"pipeline {pipeline}: no {role}")
        for role in ("receivers", "processors", "exporters"):
            for name in definition.get(role) or ():
                if role != "processors" and name in defined["connectors"]:
                    used["connectors"].add(name)
                    end = "exporter" if role == "exporters" else "receiver"
                    connector_ends.setdefault(name, {"exporter": set(), "receiver": set()})[end].add(signal)
                elif name in defined[role]:
                    used[role].add(name)
                else:
                    problems.append(f"pipeline {pipeline}: {role[:-1]} {name} is not defined")
    for kind in COMPONENT_KINDS:
        for name in sorted(defined[kind] - used[kind]):
            problems.append(f"{kind[:-1]} {name} is defined but in no pipeline")
    for name, ends in connector_ends.items():
        if not ends["exporter"] or not ends["receiver"]:
            problems.append(f"connector {name} must end one pipeline and start another")
        if name.partition("/")[0] == "spanmetrics" and (
            ends["exporter"] != {"traces"} or ends["receiver"] != {"metrics"}
        ):
            problems.append(f"connector {name} turns traces into metrics: {ends}")
    return problems


def test_every_file_parses() -> None:
    for path in (COMPOSE, COLLECTOR, PROMETHEUS, RULES, EXAMPLES / "alerts" / "8x8.rules.test.yml"):
        load(path)
    for path in (DATASOURCES, DASHBOARD_PROVIDERS):
        assert load(path)["apiVersion"] == 1
    json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_compose_services_images_and_ports(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"jaeger", "collector", "prometheus", "grafana"}
    for name, definition in compose["services"].items():
        image = definition["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version"
    assert service(compose, "jaeger")["image"].startswith("jaegertracing/all-in-one:")
    assert service(compose, "jaeger")["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert service(compose, "collector")["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert service(compose, "prometheus")["image"].startswith("prom/prometheus:")
    assert published_ports(service(compose, "jaeger")) == {16686: 16686}
    assert published_ports(service(compose, "collector")) == {4317: 4317, 4318: 4318, 8889: 8889}
    assert published_ports(service(compose, "prometheus")) == {9090: 9090}
    assert service(compose, "grafana")["image"].startswith("grafana/grafana:")
    assert published_ports(service(compose, "grafana")) == {3000: 3000}


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, definition in compose["services"].items():
        for container, host in mounts(definition).items():
            assert host.exists(), f"{name} mounts {host} at {container}, which does not exist"


def test_collector_reads_the_config_of_this_folder(compose: dict[str, Any]) -> None:
    definition = service(compose, "collector")
    assert host_path(definition, option(definition, "--config")) == COLLECTOR


def test_collector_pipelines_are_wired(collector: dict[str, Any]) -> None:
    assert pipeline_problems(collector) == []
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["receivers"] == ["otlp"]
    assert set(pipelines["traces"]["exporters"]) == {"otlp/jaeger", "spanmetrics"}
    assert set(pipelines["metrics"]["receivers"]) == {"otlp", "spanmetrics"}
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert pipelines["logs"]["receivers"] == ["otlp"]


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["processors"].pop("batch"),
        lambda c: c["service"]["pipelines"]["metrics"]["receivers"].remove("spanmetrics"),
        lambda c: c["exporters"].update({"otlphttp/unused": {"endpoint": "http://x:4318"}}),
        lambda c: c["service"]["pipelines"]["traces"]["exporters"].append("prometheus/missing"),
        lambda c: c["service"]["pipelines"]["logs"].update({"exporters": []}),
    ],
    ids=[
        "undefined processor",
        "connector without receiver end",
        "unused exporter",
        "undefined exporter",
        "no exporter",
    ],
)
def test_pipeline_check_finds_broken_wiring(collector: dict[str, Any], break_it: Any) -> None:
    broken = copy.deepcopy(collector)
    break_it(broken)
    assert pipeline_problems(broken)


def test_spanmetrics_has_the_8x8_error_dimensions(collector: dict[str, Any]) -> None:
    dimensions = [d["name"] for d in collector["connectors"]["spanmetrics"]["dimensions"]]
    assert {"com.8x8.error.code", "com.8x8.error.category"} <= set(dimensions)


def test_the_services_reach_each_other(compose: dict[str, Any], collector: dict[str, Any]) -> None:
    # The apps on the host -> the Collector's OTLP receivers, published on the host.
    protocols = collector["receivers"]["otlp"]["protocols"]
    collector_ports = published_ports(service(compose, "collector"))
    assert port_of(protocols["grpc"]["endpoint"]) == 4317 in collector_ports
    assert port_of(protocols["http"]["endpoint"]) == 4318 in collector_ports
    assert all(p["endpoint"].startswith("0.0.0.0:") for p in protocols.values()), "listen beyond the container"
    # The Collector -> Jaeger's OTLP gRPC port, by service name, without TLS.
    jaeger = collector["exporters"]["otlp/jaeger"]
    assert jaeger["endpoint"] == "jaeger:4317"
    assert jaeger["tls"]["insecure"] is True
    assert "jaeger" in service(compose, "collector")["depends_on"]
    # Prometheus -> the Collector's prometheus exporter, and the job keeps the apps' service.name.
    prometheus = load(PROMETHEUS)
    [scrape] = prometheus["scrape_configs"]
    [target] = scrape["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    assert host == "collector"
    assert int(port) == port_of(collector["exporters"]["prometheus"]["endpoint"])
    assert scrape["honor_labels"] is True


def test_prometheus_loads_the_alert_rules(compose: dict[str, Any]) -> None:
    definition = service(compose, "prometheus")
    config_in_container = PurePosixPath(option(definition, "--config.file"))
    assert host_path(definition, str(config_in_container)) == PROMETHEUS
    [rule_file] = load(PROMETHEUS)["rule_files"]
    in_container = posixpath.normpath(config_in_container.parent / rule_file)  # rule paths are relative to the config
    assert host_path(definition, in_container) == RULES
    assert (PROMETHEUS.parent / rule_file).resolve() == RULES  # the same relative path in this repository


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(promtool).exists(), "promtool not found: install Debian's prometheus package"
    completed = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS: 7 rules found" in completed.stdout


def datasources() -> dict[str, dict[str, Any]]:
    """The provisioned Grafana data sources by uid."""
    return {d["uid"]: d for d in load(DATASOURCES)["datasources"]}


def test_grafana_reads_the_provisioning_of_this_folder(compose: dict[str, Any]) -> None:
    definition = service(compose, "grafana")
    assert host_path(definition, str(GRAFANA_PROVISIONING / "datasources" / DATASOURCES.name)) == DATASOURCES
    assert host_path(definition, str(GRAFANA_PROVISIONING / "dashboards" / DASHBOARD_PROVIDERS.name)) == (
        DASHBOARD_PROVIDERS
    )
    [provider] = load(DASHBOARD_PROVIDERS)["providers"]
    assert provider["type"] == "file"
    folder = host_path(definition, provider["options"]["path"])
    assert folder == DASHBOARD.parent and DASHBOARD.exists()
    home = definition["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path(definition, home) == DASHBOARD
    assert {"prometheus", "jaeger"} <= set(definition["depends_on"])


def test_grafana_datasources_reach_prometheus_and_jaeger(compose: dict[str, Any]) -> None:
    sources = datasources()
    assert {d["type"] for d in sources.values()} == {"prometheus", "jaeger"}
    for uid, source in sources.items():
        url = urllib.parse.urlsplit(source["url"])
        assert url.scheme == "http" and url.hostname in compose["services"], f"{uid}: {source['url']}"
        assert source["type"] == url.hostname  # the prometheus data source on the prometheus service...
        # ...on the port the service listens on inside the network (the one compose publishes, unchanged).
        assert url.port in published_ports(service(compose, url.hostname)), f"{uid}: {source['url']}"
    [prometheus] = [d for d in sources.values() if d["type"] == "prometheus"]
    assert prometheus["isDefault"] is True
    # Exemplars link to the Jaeger data source by the label the Collector's prometheus exporter gives the trace id.
    [destination] = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert destination["name"] == "trace_id"
    assert sources[destination["datasourceUid"]]["type"] == "jaeger"


def test_exemplars_reach_prometheus(compose: dict[str, Any], collector: dict[str, Any]) -> None:
    """Only the OpenMetrics format carries exemplars, and Prometheus keeps them only with the feature flag."""
    assert collector["exporters"]["prometheus"]["enable_open_metrics"] is True
    assert "--enable-feature=exemplar-storage" in service(compose, "prometheus")["command"]


def test_the_dashboard_uses_the_provisioned_datasources() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    sources = datasources()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    assert sources[datasource["current"]["value"]]["type"] == "prometheus"
    references = [p["datasource"] for p in dashboard["panels"]]
    references += [t["datasource"] for p in dashboard["panels"] for t in p["targets"]]
    references += [v["datasource"] for v in variables.values() if "datasource" in v]
    assert references
    for reference in references:
        assert reference == {"type": "prometheus", "uid": "${datasource}"}
    # The trace links open the Jaeger UI that compose publishes on the host.
    links = [link["url"] for p in dashboard["panels"] for link in p["fieldConfig"]["defaults"].get("links", [])]
    assert links
    for link in links:
        assert link.startswith("http://localhost:16686/search?")
