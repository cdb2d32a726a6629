"""``python -m otel_8x8 doctor [URL ...]``: why an app gets no 8x8 spans.

Checks, in this Python environment and with this process's environment variables, what decides whether a
call is observed: the libraries otel-8x8 hooks, the hosts that count as 8x8 (the documented ones and
``OTEL_PYTHON_8X8_HOSTS``, read by the matcher's own parser), whether ``opentelemetry-instrument`` would load
the ``8x8`` entry point, the exporters, and for each URL given whether a call to it would be observed and,
if not, the ``OTEL_PYTHON_8X8_HOSTS`` value that would observe it.

``diagnose()`` returns a :class:`Report` (``as_dict()`` for JSON); nothing here raises for a broken
environment: what cannot be checked is reported as a problem.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .aiohttp_hook import HOOKED_METHODS as AIOHTTP_METHODS
from .call import describe_call
from .config import Options
from .hosts import DEFAULT_HOSTS, HOSTS_ENV, PRODUCTS, HostMatcher, netloc_of, parse_host_entry
from .httpx_hook import HOOKED_METHODS as HTTPX_METHODS
from .instrumentor import EightByEightInstrumentor
from .products import PRODUCTS as PRODUCT_INFO
from .requests_hook import HOOKED_METHODS as REQUESTS_METHODS
from .templates import PathInfo, path_info
from .urllib3_hook import HOOKED_METHODS as URLLIB3_METHODS

ENTRY_POINT_GROUP = "opentelemetry_instrumentor"
ENTRY_POINT_NAME = "8x8"
ENTRY_POINT_VALUE = "otel_8x8:EightByEightInstrumentor"
DISABLED_ENV = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
LOGGING_ENV = "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"
INSTRUMENT_COMMAND = "opentelemetry-instrument"

SIGNALS = ("traces", "metrics", "logs")
EXPORTER_ENV = {signal: f"OTEL_{signal.upper()}_EXPORTER" for signal in SIGNALS}
EXPORTER_GROUP = {signal: f"opentelemetry_{signal}_exporter" for signal in SIGNALS}
DEFAULT_EXPORTER = "otlp"
"""OpenTelemetry's default for each ``OTEL_*_EXPORTER`` (opentelemetry-distro sets it too)."""

_OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
_EXPORTER_PACKAGES = {
    "otlp": "opentelemetry-exporter-otlp",
    "otlp_proto_grpc": "opentelemetry-exporter-otlp-proto-grpc",
    "otlp_proto_http": "opentelemetry-exporter-otlp-proto-http",
    "console": "opentelemetry-sdk",
    "prometheus": "opentelemetry-exporter-prometheus",
}
"""The package that provides each usual exporter name (for the fix)."""

LIBRARIES: Mapping[str, tuple[str, ...]] = {
    "requests": REQUESTS_METHODS,
    "httpx": HTTPX_METHODS,
    "urllib3": URLLIB3_METHODS,
    "aiohttp": AIOHTTP_METHODS,
}
"""Each library otel-8x8 hooks -> its hooked methods (``Class.method``)."""

_DOCUMENTED_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_LOOKALIKE_WORDS = ("8x8", "wavecell")


@dataclass(frozen=True)
class Problem:
    """Something that stops calls being observed or exported: what, and how to fix it (one line each)."""

    what: str
    fix: str


@dataclass(frozen=True)
class Library:
    name: str
    installed: bool
    version: str | None
    methods: dict[str, bool]  # "Client.send" -> the method exists (the patch would apply)
    patched: list[str]  # the methods wrapped now, in this process (under opentelemetry-instrument)


@dataclass(frozen=True)
class HostEntryCheck:
    """One entry of ``OTEL_PYTHON_8X8_HOSTS`` and what the matcher makes of it."""

    entry: str
    host: str  # what is matched: host, host:port, or *.suffix
    product: str | None
    ignored: str | None  # why (part of) the entry is ignored or can never match, else None
    note: str | None = None


@dataclass(frozen=True)
class EntryPointCheck:
    installed: bool
    value: str | None
    disabled: bool
    instrumentation_version: str | None  # opentelemetry-instrumentation, which provides opentelemetry-instrument
    command: str | None  # opentelemetry-instrument found on PATH
    configurator: list[str]  # opentelemetry_configurator entry points (the SDK set-up)
    note: str | None = None


@dataclass(frozen=True)
class Exporter:
    signal: str
    name: str  # as configured
    entry_point: str | None  # the entry point it resolves to ("otlp" -> "otlp_proto_grpc"), None for "none"
    package: str | None  # the distribution providing it
    importable: bool
    error: str | None = None


@dataclass(frozen=True)
class CallCheck:
    method: str
    span_name: str
    url_template: str
    operation_id: str | None


@dataclass(frozen=True)
class UrlCheck:
    url: str
    netloc: str
    observed: bool
    product: str | None = None
    region: str | None = None
    calls: list[CallCheck] = field(default_factory=list)
    hosts_value: str | None = None  # the OTEL_PYTHON_8X8_HOSTS value that would observe it
    hint: str | None = None


@dataclass(frozen=True)
class Report:
    libraries: list[Library]
    default_hosts: dict[str, list[tuple[str, str | None]]]  # product -> (host, region)
    configured_hosts: list[HostEntryCheck]
    hosts_env: str | None
    entry_point: EntryPointCheck
    exporters: dict[str, list[Exporter]]
    exporter_env: dict[str, str | None]
    logging_auto_instrumentation: str | None
    urls: list[UrlCheck]
    problems: list[Problem]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["default_hosts"] = {
            product: [{"host": host, "region": region} for host, region in hosts]
            for product, hosts in self.default_hosts.items()
        }
        data["ok"] = self.ok
        return data


def diagnose(urls: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Report:
    """Check this environment (``environ``: default ``os.environ``) and each of ``urls`` (absolute URLs)."""
    env = dict(os.environ if environ is None else environ)
    problems: list[Problem] = []
    notes: list[str] = []
    libraries = _libraries(problems)
    configured = _configured_hosts(env, problems)
    entry_point = _entry_point(env, problems, notes)
    exporters = _exporters(env, problems, notes)
    url_checks = [_url_or_error(url, env, problems) for url in urls]
    return Report(
        libraries=libraries,
        default_hosts=_default_hosts(),
        configured_hosts=configured,
        hosts_env=env.get(HOSTS_ENV),
        entry_point=entry_point,
        exporters=exporters,
        exporter_env={signal: env.get(EXPORTER_ENV[signal]) for signal in SIGNALS},
        logging_auto_instrumentation=env.get(LOGGING_ENV),
        urls=url_checks,
        problems=problems,
        notes=notes,
    )


def _libraries(problems: list[Problem]) -> list[Library]:
    out: list[Library] = []
    for name, hooked in LIBRARIES.items():
        try:
            module: Any = import_module(name)
        except Exception:
            out.append(Library(name, False, _version(name), dict.fromkeys(hooked, False), []))
            continue
        methods: dict[str, bool] = {}
        for qualified in hooked:
            class_name, _, method = qualified.partition(".")
            methods[qualified] = callable(getattr(getattr(module, class_name, None), method, None))
        mine = [path for path in _patched() if path.startswith(f"{name}.")]  # after the import: patched on import
        out.append(Library(name, True, _version(name), methods, mine))
        missing = [qualified for qualified, present in methods.items() if not present]
        if missing:
            problems.append(
                Problem(
                    f"{name} {_version(name) or ''} has no {', '.join(missing)}: otel-8x8 cannot hook it",
                    f"install a supported {name} (pip install -U {name})",
                )
            )
    if not any(library.installed for library in out):
        problems.append(
            Problem(
                "neither requests nor httpx is importable: otel-8x8 has nothing to hook",
                "install the HTTP library your app uses into this environment (pip install requests / httpx)",
            )
        )
    return out


def _patched() -> list[str]:
    try:
        return EightByEightInstrumentor().patched_methods()  # the singleton: wrapped now in this process?
    except Exception:
        return []


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _default_hosts() -> dict[str, list[tuple[str, str | None]]]:
    grouped: dict[str, list[tuple[str, str | None]]] = {name: [] for name in PRODUCT_INFO}
    for host, target in DEFAULT_HOSTS.items():
        if target.product is not None:
            grouped.setdefault(target.product, []).append((host, target.region))
    return grouped


def _configured_hosts(env: Mapping[str, str], problems: list[Problem]) -> list[HostEntryCheck]:
    checks: list[HostEntryCheck] = []
    for text in Options.from_kwargs({}, env).hosts:  # exactly what the instrumentation is given
        entry = parse_host_entry(text)
        if entry is None:
            continue
        host = f"*{entry.pattern}" if entry.wildcard else entry.pattern
        ignored = _never_matches(entry.pattern, entry.wildcard)
        if ignored is None and entry.product_given is not None and entry.target.product is None:
            ignored = f"unknown product {entry.product_given!r} ignored (the host counts, without a product)"
        note = None
        if not entry.wildcard and entry.pattern in DEFAULT_HOSTS:
            default = DEFAULT_HOSTS[entry.pattern]
            if entry.target != default:
                note = f"replaces the documented {entry.pattern} ({default.product}, region {default.region})"
        checks.append(HostEntryCheck(entry.text, host, entry.target.product, ignored, note))
        if ignored is not None:
            problems.append(
                Problem(
                    f"{HOSTS_ENV} entry {entry.text!r}: {ignored}",
                    f"write it as host, host:port or *.suffix, optionally =product ({', '.join(PRODUCTS)})",
                )
            )
    return checks


def _never_matches(pattern: str, wildcard: bool) -> str | None:
    """Why an entry can never match a URL's ``host[:port]``, else None."""
    if not pattern or (wildcard and pattern == "."):
        return "no host: the entry is ignored"
    if "://" in pattern or "/" in pattern:
        return "a URL, not a host: it never matches"
    if "@" in pattern:
        return "user info is not part of the host: it never matches"
    if "*" in pattern:
        return "only a leading '*.' is a wildcard: it never matches"
    if any(c.isspace() for c in pattern):
        return "a space is not part of a host: it never matches"
    return None


def _entry_point(env: Mapping[str, str], problems: list[Problem], notes: list[str]) -> EntryPointCheck:
    try:
        instrumentors = list(entry_points(group=ENTRY_POINT_GROUP))  # in opentelemetry-instrument's order
        configurators = sorted(ep.name for ep in entry_points(group="opentelemetry_configurator"))
    except Exception:
        instrumentors, configurators = [], []
    found = [ep for ep in instrumentors if ep.name == ENTRY_POINT_NAME]
    value = found[0].value if found else None
    if not found:
        problems.append(
            Problem(
                f"the {ENTRY_POINT_NAME!r} entry point ({ENTRY_POINT_GROUP}) is not installed: "
                f"{INSTRUMENT_COMMAND} does not load otel-8x8",
                "pip install otel-8x8 into the environment the app runs in",
            )
        )
    elif value != ENTRY_POINT_VALUE:
        problems.append(
            Problem(
                f"the {ENTRY_POINT_NAME!r} entry point loads {value!r}, not {ENTRY_POINT_VALUE!r}",
                "reinstall otel-8x8 (pip install --force-reinstall otel-8x8)",
            )
        )
    disabled_value = env.get(DISABLED_ENV, "")
    disabled_names = [name.strip() for name in disabled_value.split(",")]  # as opentelemetry-instrument reads it
    disabled = ENTRY_POINT_NAME in disabled_names or "*" in disabled_names
    if disabled:
        problems.append(
            Problem(
                f"{DISABLED_ENV}={disabled_value} turns otel-8x8 off",
                f"remove {'*' if '*' in disabled_names else ENTRY_POINT_NAME} from {DISABLED_ENV}",
            )
        )
    note_on_order = urllib3_order_note([ep.name for ep in instrumentors], disabled_names)
    if note_on_order:
        notes.append(note_on_order)
    instrumentation = _version("opentelemetry-instrumentation")
    if instrumentation is None:
        problems.append(
            Problem(
                "opentelemetry-instrumentation (which provides opentelemetry-instrument) is not installed",
                "pip install opentelemetry-instrumentation (or opentelemetry-distro)",
            )
        )
    command = shutil.which(INSTRUMENT_COMMAND, path=env.get("PATH"))
    own = Path(sysconfig.get_path("scripts")) / INSTRUMENT_COMMAND
    note = None
    if command is None:
        fix = f"run {own}" if own.exists() else "pip install opentelemetry-instrumentation"
        problems.append(Problem(f"{INSTRUMENT_COMMAND} is not on PATH", f"{fix} (or activate this environment)"))
    elif own.exists() and not _same_file(Path(command), own):
        note = f"{INSTRUMENT_COMMAND} on PATH is {command}, not this environment's {own}"
        notes.append(f"{note}: it runs the app with another Python's packages")
    if not configurators:
        problems.append(
            Problem(
                f"no SDK configurator (entry point group opentelemetry_configurator): {INSTRUMENT_COMMAND} "
                "sets up no tracer provider, so spans go nowhere",
                "pip install opentelemetry-distro opentelemetry-exporter-otlp",
            )
        )
    return EntryPointCheck(bool(found), value, disabled, instrumentation, command, configurators, note)


def urllib3_order_note(order: Sequence[str], disabled: Sequence[str]) -> str | None:
    """A note when opentelemetry-instrumentation-urllib3 will own urllib3's spans: ``opentelemetry-instrument``
    instruments in ``order`` (the order the packages' entry points are found on disk), and the one instrumented
    after otel-8x8 wraps outside it."""
    if "urllib3" in disabled or "*" in disabled or ENTRY_POINT_NAME in disabled:
        return None
    if ENTRY_POINT_NAME not in order or "urllib3" not in order:
        return None
    if order.index("urllib3") < order.index(ENTRY_POINT_NAME):
        return None
    return (
        "opentelemetry-instrumentation-urllib3 is instrumented after otel-8x8 here: it owns the span of a urllib3 "
        "call (a client generated from 8x8's OpenAPI specifications) and ends it when urlopen returns, so an error "
        f"the client reads after that (preload_content=False) gets no code; set {DISABLED_ENV}=urllib3 to have it"
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _exporters(env: Mapping[str, str], problems: list[Problem], notes: list[str]) -> dict[str, list[Exporter]]:
    out: dict[str, list[Exporter]] = {}
    for signal in SIGNALS:
        variable = EXPORTER_ENV[signal]
        value = env.get(variable) or DEFAULT_EXPORTER
        names = [] if value.strip().lower() == "none" else [name.strip() for name in value.split(",") if name.strip()]
        out[signal] = [_exporter(signal, name, env, problems) for name in names]
        if not names:
            notes.append(f"{variable}=none: no {signal} are exported")
    logs_on = env.get(LOGGING_ENV, "").strip().lower() == "true"
    if out["logs"] and not logs_on:
        notes.append(
            f"{LOGGING_ENV} is not 'true': otel-8x8's error log records reach the logs exporter only when a "
            "logging handler is installed (set it to true, or install opentelemetry-instrumentation-logging)"
        )
    return out


def _exporter(signal: str, name: str, env: Mapping[str, str], problems: list[Problem]) -> Exporter:
    group = EXPORTER_GROUP[signal]
    variable = EXPORTER_ENV[signal]
    resolved = name
    try:
        available = {ep.name: ep for ep in entry_points(group=group)}
    except Exception:
        available = {}
    if name == DEFAULT_EXPORTER:  # the SDK picks the OTLP exporter by protocol (older ones had an "otlp" entry)
        protocol_variable = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
        protocol = (env.get(protocol_variable) or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
        if protocol not in _OTLP_BY_PROTOCOL:
            problems.append(
                Problem(
                    f"OTLP protocol {protocol!r} is not one the SDK knows: start-up fails",
                    f"set OTEL_EXPORTER_OTLP_PROTOCOL to {' or '.join(_OTLP_BY_PROTOCOL)}",
                )
            )
            return Exporter(signal, name, None, None, False, f"unsupported OTLP protocol {protocol!r}")
        resolved = _OTLP_BY_PROTOCOL[protocol]
        if resolved not in available and name in available:
            resolved = name
    entry = available.get(resolved)
    shown = name if resolved == name else f"{name} ({resolved})"
    if entry is None:
        wanted = _EXPORTER_PACKAGES.get(resolved, f"the package that provides the {resolved!r} exporter")
        problems.append(
            Problem(
                f"{variable}={name}{'' if variable in env else ' (the default)'}: no {shown} exporter is "
                "installed; opentelemetry-instrument fails at start-up with a traceback",
                f"pip install {wanted}, or set {variable} to an installed one ({_installed(available)})",
            )
        )
        return Exporter(signal, name, resolved, None, False, "not installed")
    package: str | None = entry.dist.name if entry.dist is not None else None
    try:
        entry.load()
    except Exception as exc:
        problems.append(
            Problem(
                f"the {shown} {signal} exporter ({package}) does not import: {type(exc).__name__}: {exc}",
                f"reinstall {package or 'it'} and its dependencies (pip install --force-reinstall {package})",
            )
        )
        return Exporter(signal, name, resolved, package, False, f"{type(exc).__name__}: {exc}")
    return Exporter(signal, name, resolved, package, True)


def _installed(available: Mapping[str, Any]) -> str:
    return ", ".join(["none", *sorted(available)])


def url_error(url: str) -> str | None:
    """Why ``url`` cannot be checked (not an absolute http(s) URL with a host), else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an absolute http(s) URL (e.g. https://sms.8x8.com/api/v1/...)"
    return None


def _url_or_error(url: str, env: Mapping[str, str], problems: list[Problem]) -> UrlCheck:
    error = url_error(url)
    if error is None:
        try:
            return _url(url, env, problems)
        except Exception as exc:  # a check that fails is reported, never raised
            error = f"{url!r} could not be checked ({type(exc).__name__}: {exc})"
    problems.append(Problem(error, "give an absolute http(s) URL your app calls"))
    return UrlCheck(url, "", False)


def _url(url: str, env: Mapping[str, str], problems: list[Problem]) -> UrlCheck:
    netloc = netloc_of(url).lower()  # what the hooks give the matcher
    path = urlsplit(url).path or "/"
    configured = Options.from_kwargs({}, env).hosts
    target = HostMatcher(configured).match(netloc)
    if target is not None:
        calls: list[CallCheck] = []
        product: str | None = None
        for method in ("GET", *(m for m, _ in _documented(path, target.product) if m != "GET")):
            call = describe_call(method, url, target)
            operation = path_info(method, path, target.product).operation_id
            calls.append(CallCheck(method, call.span_name, call.template, operation))
            product = product or call.product
        return UrlCheck(url, netloc, True, product, target.region, calls)
    told = {info.product for _, info in _documented(path, None)}
    entry = netloc + (f"={next(iter(told))}" if len(told) == 1 and None not in told else "")
    current = env.get(HOSTS_ENV, "").strip().rstrip(",")
    value = f"{current},{entry}" if current else entry
    hint = _lookalike(netloc)
    fix = f"export {HOSTS_ENV}={value}"
    problems.append(
        Problem(
            f"calls to {netloc} are not observed: not an 8x8 host{', nor configured' if configured else ''}",
            f"fix the URL ({hint}), or if the host is right: {fix}" if hint else fix,
        )
    )
    return UrlCheck(url, netloc, False, hosts_value=value, hint=hint)


def _documented(path: str, product: str | None) -> list[tuple[str, PathInfo]]:
    """The operations 8x8 documents on ``path`` itself (POST for a send), by method: those of its most specific
    route, not a placeholder route that a literal segment also fits (``/messages/batch`` is not ``{umid}``)."""
    anchor = path_info("", path, product).template  # no method: the most specific route, literals first
    found = []
    for method in ("GET", *_DOCUMENTED_METHODS):
        info = path_info(method, path, product)
        if info.operation_id is not None and info.template == anchor:
            found.append((method, info))
    return found


def _lookalike(netloc: str) -> str | None:
    """A hint when ``netloc`` looks like an 8x8 host but is not one (a typo), else None."""
    host, _, port = netloc.rpartition(":")
    if not port.isdigit():
        host = netloc
    close = difflib.get_close_matches(host, list(DEFAULT_HOSTS), n=1, cutoff=0.8)
    if close:
        return f"{host} looks like a typo of {close[0]}"
    if any(word in host for word in _LOOKALIKE_WORDS):
        return f"{host} looks like 8x8 but is not a host 8x8 documents"
    return None


__all__ = ["LIBRARIES", "Problem", "Report", "UrlCheck", "diagnose", "url_error"]
