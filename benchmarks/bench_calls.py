"""Per-call CPU cost of otel-8x8, next to the contrib HTTP instrumentations, over real HTTP.

Run (from the repository root, in a virtualenv with ``benchmarks/requirements.txt``)::

    python benchmarks/bench_calls.py              # full run: 7 rounds, ~7 minutes on 2 cores
    python benchmarks/bench_calls.py --quick      # smoke run: 1 round, few calls

What it measures: the CPU time (user + system, all threads: ``time.process_time()``) that the *client*
process spends per call, export included, for requests, httpx and async httpx, for three kinds of call:

- ``success``: ``POST /api/v1/subaccounts/{id}/messages`` to the fake 8x8 API (HTTP 200);
- ``error``: the same call answered with 8x8's error envelope, code 1002 (HTTP 400);
- ``other``: the same POST to a plain local server that is not an 8x8 host (HTTP 200).

in five variants: ``none`` (SDK set up, nothing instrumented), ``contrib``
(opentelemetry-instrumentation-requests and -httpx), ``otel-8x8`` alone, ``both``, and ``floor``: nothing
instrumented, but the telemetry otel-8x8 records for each kind of call (captured once at start) recorded again
on every call straight through the OpenTelemetry API (``replay.py``): what the SDK alone charges for that
telemetry, whoever records it. otel-8x8 minus floor is otel-8x8's own work.

How: the driver (this script without ``--worker``) starts three server processes, so that their CPU is
not counted: the fake 8x8 API (``FakeEightByEight``, configured as an 8x8 host with ``hosts=[netloc]``),
a plain HTTP server for the other host, and an OTLP/HTTP receiver (``oteltap``, which decodes and
counts everything it receives). Each round, for each client, it starts one fresh worker process per
variant (instrumentors are process-global), all five alive at once. A worker sets up the SDK as an
application would:

- traces: ``BatchSpanProcessor`` + ``OTLPSpanExporter`` (HTTP/protobuf) to the receiver;
- logs: ``LoggingHandler`` on the root logger, ``BatchLogRecordProcessor`` + ``OTLPLogExporter``;
- metrics: ``PeriodicExportingMetricReader`` + ``OTLPMetricExporter`` to the receiver, with an
  interval longer than the run (exported once, at shutdown): the aggregation every call pays is
  measured, the export per interval is not.

then warms up and answers the driver's commands: run N calls of a kind, or flush. The driver interleaves
the five variants in blocks of ``--block`` calls in a shuffled order (so that the load of the machine
weighs on all of them alike), ``--calls`` calls per (client, kind, variant) and round, and ends each kind
with a flush of the span and log pipelines. A worker's CPU time is counted without gaps between blocks,
so every span and log record is exported and paid for inside the measurement. The tables show medians
over rounds; an overhead is the median over rounds of (variant - none) within the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any, TypedDict

from inprocess import Sdk, install_sdk, log_every_error
from replay import Telemetry, capture, instrumenting

log_every_error()  # a single error call is measured logged; bench_storm.py measures the log limit

CLIENTS = ("requests", "httpx", "httpx-async")
KINDS = ("success", "error", "other")
VARIANTS = ("none", "contrib", "otel-8x8", "both", "floor")
PACKAGES = (
    "otel-8x8",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-exporter-otlp-proto-http",
    "wrapt",
    "requests",
    "urllib3",
    "httpx",
    "protobuf",
    "oteltap",
)
SUBACCOUNT = "acme-bench"
SUCCESS_BODY = {"destination": "+6591234567", "text": "hello from the benchmark"}
ERROR_BODY = {"destination": "+6591234567", "text": "FAIL 1002"}
HEADERS = {"Authorization": "Bearer bench-key"}
EXPECTED_STATUS = {"success": 200, "error": 400, "other": 200}
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 0.8
TARGET_ERROR_EXTRA_US = 60.0


class WorkerConfig(TypedDict):
    variant: str
    client: str
    warmup: int
    fake_url: str
    other_url: str
    otlp_url: str
    cpu: int | None


class WorkerResult(TypedDict):
    variant: str
    client: str
    cpu_us: dict[str, float]
    wall_us: dict[str, float]
    spans: int
    log_records: int


# --------------------------------------------------------------------------------------------------
# Servers (each in its own process, started by the driver)
# --------------------------------------------------------------------------------------------------


class _PlainHandler(BaseHTTPRequestHandler):
    """A host that is not 8x8: answers every request with a small JSON body."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see _serve_fake
    _BODY = b'{"status":"ok"}'

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self._BODY)))
        self.end_headers()
        self.wfile.write(self._BODY)

    do_GET = do_POST = _answer


def _serve_plain() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start())
    print(f"PLAIN_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


def _serve_fake() -> int:
    """``python -m otel_8x8.testing``, with TCP_NODELAY on the accepted connections.

    The fake (http.server) writes the headers and the body of an answer in two ``send()`` calls: with
    Nagle's algorithm on, the second waits for the client's delayed ACK, and every call takes ~40 ms
    of wall time (and, on a VM, needlessly more CPU for the wake-ups). Setting the standard
    ``StreamRequestHandler.disable_nagle_algorithm`` in this server process avoids that.
    """
    import socketserver

    from otel_8x8.testing import FakeEightByEight

    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with FakeEightByEight() as fake:
        print(f"FAKE_8X8_URL={fake.url}", flush=True)
        while not stop.wait(0.5):
            fake.reset()  # it records every request: keep its memory (and its gc passes) small
    return 0


def _serve_otlp(port: int) -> int:
    """An OTLP/HTTP (protobuf) receiver: oteltap, decoding and counting everything it receives.

    Answers ``count`` on stdin with a JSON line of the counts so far; stops on SIGTERM or end of stdin.
    """
    from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

    async def serve() -> None:
        counts = {"spans": 0, "log_records": 0, "metrics": 0}

        async def drain(stream: Any, key: str) -> None:
            async for _ in stream:
                counts[key] += 1

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with OtelTapHttpProtobufReceiver(OtelTapHttpProtobufReceiverSettings(http_port=port)) as receiver:
            tasks = [
                asyncio.create_task(drain(receiver.stream_traces(), "spans")),
                asyncio.create_task(drain(receiver.stream_logs(), "log_records")),
                asyncio.create_task(drain(receiver.stream_metrics(), "metrics")),
            ]
            await asyncio.sleep(0.2)  # the drains are subscribed
            print(f"OTLP_URL=http://127.0.0.1:{port}", flush=True)

            async def commands() -> None:
                while True:
                    line = await asyncio.to_thread(sys.stdin.readline)
                    if not line:
                        stop.set()
                        return
                    print(json.dumps(counts), flush=True)

            reader = asyncio.create_task(commands())
            await stop.wait()
            for task in [*tasks, reader]:
                task.cancel()

    asyncio.run(serve())
    os._exit(0)  # the stdin reader thread may still be blocked


# --------------------------------------------------------------------------------------------------
# Worker: one (variant, client) in a fresh process, answering the driver's commands on stdin
# --------------------------------------------------------------------------------------------------


def _telemetry(otlp_url: str) -> Sdk:
    """SDK providers exporting over OTLP/HTTP (protobuf) to the receiver, as an application sets them up."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    # Metric export is per interval, not per call: the interval outlasts the run, and the metrics are
    # exported once at shutdown. What every call pays (aggregation) is measured.
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{otlp_url}/v1/metrics"), export_interval_millis=3_600_000
    )
    return install_sdk(
        OTLPSpanExporter(endpoint=f"{otlp_url}/v1/traces"),
        OTLPLogExporter(endpoint=f"{otlp_url}/v1/logs"),
        reader,
        Resource.create({"service.name": "otel-8x8-bench"}),
    )


def _instrument(variant: str, fake_netloc: str) -> None:
    if variant in ("contrib", "both"):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        RequestsInstrumentor().instrument()
        HTTPXClientInstrumentor().instrument()
    if variant in ("otel-8x8", "both"):
        from otel_8x8 import EightByEightInstrumentor

        EightByEightInstrumentor().instrument(hosts=[fake_netloc])


def _floor(fake_netloc: str, send: Callable[[], Any]) -> Telemetry | None:
    """For the ``floor`` variant: what otel-8x8 records for this call, captured once (replay.py); None if nothing."""
    from otel_8x8 import EightByEightInstrumentor

    return capture(instrumenting(EightByEightInstrumentor(), hosts=[fake_netloc]), send)


def _with_floor(config: WorkerConfig, calls: dict[str, Callable[[], int]]) -> dict[str, Callable[[], int]]:
    if config["variant"] != "floor":
        return calls
    netloc = config["fake_url"].partition("://")[2]
    wrapped = dict(calls)
    for kind, call in calls.items():
        floor = _floor(netloc, call)
        if floor is not None:
            wrapped[kind] = floor.around(call)
    return wrapped


def _targets(config: WorkerConfig) -> dict[str, tuple[str, dict[str, str]]]:
    messages = f"{config['fake_url']}/api/v1/subaccounts/{SUBACCOUNT}/messages"
    return {
        "success": (messages, SUCCESS_BODY),
        "error": (messages, ERROR_BODY),
        "other": (f"{config['other_url']}/api/v1/subaccounts/{SUBACCOUNT}/messages", SUCCESS_BODY),
    }


def _check(kind: str, status: int) -> None:
    if status != EXPECTED_STATUS[kind]:
        raise SystemExit(f"{kind} call answered {status}, expected {EXPECTED_STATUS[kind]}")


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Stopwatch:
    """CPU time of the whole process (all threads) since the previous lap.

    Laps follow each other with no gap, so what the batch processors' threads do while the worker
    waits for its next command is counted in the next lap: no CPU is left out.
    """

    def __init__(self) -> None:
        self._mark = time.process_time()

    def lap(self) -> float:
        now = time.process_time()
        elapsed, self._mark = now - self._mark, now
        return elapsed


def _commands() -> Iterator[list[str]]:
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            return
        yield words


def _serve_sync(calls: dict[str, Callable[[], int]], telemetry: Sdk, warmup: int) -> None:
    for kind, call in calls.items():
        for _ in range(warmup):
            _check(kind, call())
    telemetry.flush()
    watch = _Stopwatch()
    _reply({"ready": True})
    for words in _commands():
        if words[0] == "run":
            call, n = calls[words[1]], int(words[2])
            wall = time.perf_counter()
            for _ in range(n):
                call()
            _reply({"cpu_s": watch.lap(), "wall_s": time.perf_counter() - wall})
        else:  # flush
            telemetry.flush()
            _reply({"cpu_s": watch.lap()})


async def _serve_async(calls: dict[str, Callable[[], Awaitable[int]]], telemetry: Sdk, warmup: int) -> None:
    for kind, call in calls.items():
        for _ in range(warmup):
            _check(kind, await call())
    telemetry.flush()
    watch = _Stopwatch()
    _reply({"ready": True})
    for words in _commands():  # blocking reads: nothing else runs on this loop meanwhile
        if words[0] == "run":
            call, n = calls[words[1]], int(words[2])
            wall = time.perf_counter()
            for _ in range(n):
                await call()
            _reply({"cpu_s": watch.lap(), "wall_s": time.perf_counter() - wall})
        else:  # flush
            telemetry.flush()
            _reply({"cpu_s": watch.lap()})


def _run_worker(config: WorkerConfig) -> None:
    if config["cpu"] is not None:
        os.sched_setaffinity(0, {config["cpu"]})
    telemetry = _telemetry(config["otlp_url"])
    _instrument(config["variant"], config["fake_url"].partition("://")[2])
    targets = _targets(config)
    if config["client"] == "requests":
        import requests

        with requests.Session() as session:

            def requests_call(url: str, body: dict[str, str]) -> Callable[[], int]:
                return lambda: session.post(url, json=body, headers=HEADERS).status_code

            calls = _with_floor(config, {kind: requests_call(*target) for kind, target in targets.items()})
            _serve_sync(calls, telemetry, config["warmup"])
    elif config["client"] == "httpx":
        import httpx

        with httpx.Client() as client:

            def httpx_call(url: str, body: dict[str, str]) -> Callable[[], int]:
                return lambda: client.post(url, json=body, headers=HEADERS).status_code

            calls = _with_floor(config, {kind: httpx_call(*target) for kind, target in targets.items()})
            _serve_sync(calls, telemetry, config["warmup"])
    else:
        import httpx

        async def run_async() -> None:
            async with httpx.AsyncClient() as client:

                def async_call(url: str, body: dict[str, str]) -> Callable[[], Awaitable[int]]:
                    async def call() -> int:
                        return (await client.post(url, json=body, headers=HEADERS)).status_code

                    return call

                calls = {kind: async_call(*target) for kind, target in targets.items()}
                if config["variant"] == "floor":  # otel-8x8 records the same for a sync call: captured with one
                    netloc = config["fake_url"].partition("://")[2]
                    with httpx.Client() as sync_client:
                        for kind, (url, body) in targets.items():
                            floor = _floor(netloc, partial(sync_client.post, url, json=body, headers=HEADERS))
                            if floor is not None:
                                calls[kind] = floor.around_async(calls[kind])
                await _serve_async(calls, telemetry, config["warmup"])

        asyncio.run(run_async())
    telemetry.shutdown()


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


class _Worker:
    """The driver's handle on one worker process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.config['variant']}/{self.config['client']} died ({self.proc.wait()})")
        message: dict[str, Any] = json.loads(line)
        return message

    def ready(self) -> None:
        self._read()

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit(f"worker {self.config['variant']}/{self.config['client']} failed")


def _run_round(
    client: str, configs: dict[str, WorkerConfig], calls: int, block: int, rng: random.Random
) -> list[WorkerResult]:
    """All variants of one client, alive at once, measured in interleaved blocks of calls."""
    workers = {variant: _Worker(config) for variant, config in configs.items()}
    try:
        for worker in workers.values():
            worker.ready()
        cpu = {v: dict.fromkeys(KINDS, 0.0) for v in workers}
        wall = {v: dict.fromkeys(KINDS, 0.0) for v in workers}
        kinds = list(KINDS)
        rng.shuffle(kinds)
        for kind in kinds:
            for _ in range(calls // block):
                order = list(workers)
                rng.shuffle(order)
                for variant in order:
                    answer = workers[variant].ask(f"run {kind} {block}")
                    cpu[variant][kind] += answer["cpu_s"]
                    wall[variant][kind] += answer["wall_s"]
            for variant, worker in workers.items():
                cpu[variant][kind] += worker.ask("flush")["cpu_s"]
        for worker in workers.values():
            worker.close()
    finally:
        for worker in workers.values():
            if worker.proc.poll() is None:
                worker.proc.kill()
    measured = calls // block * block
    results = []
    for variant, config in configs.items():
        per_kind = config["warmup"] + measured
        results.append(
            WorkerResult(
                variant=variant,
                client=client,
                cpu_us={k: cpu[variant][k] / measured * 1e6 for k in KINDS},
                wall_us={k: wall[variant][k] / measured * 1e6 for k in KINDS},
                spans={"none": 0, "contrib": 3, "otel-8x8": 2, "both": 3, "floor": 2}[variant] * per_kind,
                log_records=per_kind if variant in ("otel-8x8", "both", "floor") else 0,
            )
        )
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(args: Sequence[str], ready_prefix: str, cpus: set[int] | None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith(ready_prefix):
        proc.kill()
        raise SystemExit(f"{' '.join(args)} did not start: {line!r}")
    return proc, line[len(ready_prefix) :]


@contextlib.contextmanager
def _servers(pin: bool) -> Iterator[tuple[str, str, str, subprocess.Popen[str]]]:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {cpus[-1]} if pin and len(cpus) >= 2 else None
    procs: list[subprocess.Popen[str]] = []
    try:
        fake, fake_url = _start([__file__, "--serve-fake"], "FAKE_8X8_URL=", server_cpus)
        procs.append(fake)
        plain, plain_url = _start([__file__, "--serve-plain"], "PLAIN_URL=", server_cpus)
        procs.append(plain)
        otlp, otlp_url = _start([__file__, "--serve-otlp", str(_free_port())], "OTLP_URL=", server_cpus)
        procs.append(otlp)
        yield fake_url, plain_url, otlp_url, otlp
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _receiver_counts(receiver: subprocess.Popen[str], expected_spans: int) -> dict[str, int]:
    """Ask the receiver what it got, until it has all spans or stops making progress."""
    assert receiver.stdin is not None and receiver.stdout is not None
    last: dict[str, int] = {}
    for _ in range(60):
        receiver.stdin.write("count\n")
        receiver.stdin.flush()
        counts: dict[str, int] = json.loads(receiver.stdout.readline())
        if counts["spans"] >= expected_spans or counts == last:
            return counts
        last = counts
        time.sleep(1.0)
    return last


def _machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    versions: dict[str, str] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "otel_8x8": _measured_source(),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
    }


def _measured_source() -> str:
    """Where the measured otel_8x8 comes from, with its git commit when it is a checkout."""
    import otel_8x8

    where = Path(otel_8x8.__file__).resolve().parent.parent
    git = subprocess.run(
        ["git", "-C", str(where), "describe", "--always", "--dirty", "--exclude=*"],
        capture_output=True,
        text=True,
    )
    return f"{where} @ {git.stdout.strip()}" if git.returncode == 0 else str(where)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _noise(values: Sequence[float]) -> float:
    """Two standard errors of the median of ``values`` (robust: from their median absolute deviation)."""
    if len(values) < 2:
        return float("inf")
    mad = statistics.median(abs(x - statistics.median(values)) for x in values)
    return float(2 * 1.253 * 1.4826 * mad / math.sqrt(len(values)))


def _summarise(rounds: list[list[WorkerResult]]) -> dict[str, Any]:
    """Medians per (client, kind, variant), and paired overheads (variant - none, same round)."""
    raw: dict[str, dict[str, dict[str, list[float]]]] = {
        c: {k: {v: [] for v in VARIANTS} for k in KINDS} for c in CLIENTS
    }
    diffs: dict[str, dict[str, dict[str, list[float]]]] = {
        c: {k: {v: [] for v in VARIANTS if v != "none"} for k in KINDS} for c in CLIENTS
    }
    error_extra: dict[str, dict[str, list[float]]] = {c: {"otel-8x8": [], "floor": []} for c in CLIENTS}
    own: dict[str, list[float]] = {c: [] for c in CLIENTS}  # otel-8x8 - floor, success call, same round
    for results in rounds:
        by = {(r["client"], r["variant"]): r for r in results}
        for client in CLIENTS:
            for kind in KINDS:
                for variant in VARIANTS:
                    if (client, variant) in by:
                        raw[client][kind][variant].append(by[client, variant]["cpu_us"][kind])
                if (client, "none") not in by:
                    continue
                base = by[client, "none"]["cpu_us"][kind]
                for variant in VARIANTS[1:]:
                    if (client, variant) in by:
                        diffs[client][kind][variant].append(by[client, variant]["cpu_us"][kind] - base)
            for variant, extra in error_extra[client].items():
                if (client, "none") in by and (client, variant) in by:
                    with_us, without = by[client, variant]["cpu_us"], by[client, "none"]["cpu_us"]
                    extra.append((with_us["error"] - without["error"]) - (with_us["success"] - without["success"]))
            if (client, "otel-8x8") in by and (client, "floor") in by:
                ours_us, floor_us = by[client, "otel-8x8"]["cpu_us"], by[client, "floor"]["cpu_us"]
                own[client].append(ours_us["success"] - floor_us["success"])
    median = {c: {k: {v: _median(raw[c][k][v]) for v in VARIANTS} for k in KINDS} for c in CLIENTS}
    overhead = {c: {k: {v: _median(d) for v, d in diffs[c][k].items()} for k in KINDS} for c in CLIENTS}
    spread = {
        c: {k: {v: [min(d), max(d)] if d else [] for v, d in diffs[c][k].items()} for k in KINDS} for c in CLIENTS
    }
    checks: dict[str, Any] = {}
    for client in CLIENTS:
        ours = overhead[client]["success"]["otel-8x8"]
        contrib = overhead[client]["success"]["contrib"]
        other = diffs[client]["other"]["otel-8x8"]
        noise = _noise(other)
        floor = overhead[client]["success"]["floor"]
        checks[client] = {
            "success_ratio_ours_to_contrib": ours / contrib if contrib else float("nan"),
            "success_ratio_met": bool(contrib) and ours / contrib <= TARGET_RATIO,
            "success_ratio_floor_to_contrib": floor / contrib if contrib else float("nan"),
            "success_own_work_us": _median(own[client]),
            "error_minus_success_overhead_us": _median(error_extra[client]["otel-8x8"]),
            "error_minus_success_raw_us": median[client]["error"]["otel-8x8"] - median[client]["success"]["otel-8x8"],
            "error_extra_met": _median(error_extra[client]["otel-8x8"]) <= TARGET_ERROR_EXTRA_US,
            "error_minus_success_floor_us": _median(error_extra[client]["floor"]),
            "other_host_overhead_us": _median(other),
            "other_host_noise_us": noise,
            "other_host_within_noise": bool(other) and math.isfinite(noise) and abs(_median(other)) <= noise,
        }
    return {"median_us": median, "overhead_us": overhead, "overhead_range_us": spread, "checks": checks, "raw_us": raw}


def _measured(summary: dict[str, Any]) -> list[str]:
    """The clients of this run (``--clients`` may have left some out)."""
    return [c for c in CLIENTS if not math.isnan(summary["median_us"][c]["success"]["none"])]


def _print_report(machine: dict[str, Any], settings: dict[str, Any], summary: dict[str, Any]) -> None:
    print()
    print(f"Measured: otel_8x8 from {machine['otel_8x8']}")
    print(f"Machine: {machine['cpu_model']}, {machine['cores']} cores ({machine['usable_cores']} usable), ")
    print(f"         {machine['python']}, {machine['platform']}")
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    print(
        f"Settings: {settings['rounds']} rounds x {settings['calls']} calls per (client, call, variant) in blocks of "
        f"{settings['block']}, warm-up {settings['warmup']} per call kind; pinned: {settings['pinned']}"
    )
    print()
    print("CPU time of the client process per call, µs (median over rounds); +overhead vs none (median of pairs)")
    head = (
        f"{'client':<12} {'call':<8}"
        + "".join(f"{v:>10}" for v in VARIANTS)
        + "".join(f"{'+' + v:>11}" for v in VARIANTS[1:])
    )
    print(head)
    print("-" * len(head))
    for client in _measured(summary):
        for kind in KINDS:
            med = summary["median_us"][client][kind]
            over = summary["overhead_us"][client][kind]
            print(
                f"{client:<12} {kind:<8}"
                + "".join(f"{med[v]:>10.1f}" for v in VARIANTS)
                + "".join(f"{over[v]:>+11.1f}" for v in VARIANTS[1:])
            )
    print()
    print("Targets")
    for client in _measured(summary):
        c = summary["checks"][client]
        print(
            f"  {client:<12} success: otel-8x8 added / contrib added = {c['success_ratio_ours_to_contrib']:.2f} "
            f"(target <= {TARGET_RATIO}: {'met' if c['success_ratio_met'] else 'NOT met'})"
        )
        print(
            f"  {'':<12}   the SDK alone recording otel-8x8's telemetry (floor) / contrib added = "
            f"{c['success_ratio_floor_to_contrib']:.2f}; otel-8x8's own work above it: "
            f"{c['success_own_work_us']:+.1f} µs"
        )
        print(
            f"  {'':<12} error - success, otel-8x8 overhead = {c['error_minus_success_overhead_us']:+.1f} µs "
            f"(raw {c['error_minus_success_raw_us']:+.1f} µs; target <= {TARGET_ERROR_EXTRA_US:.0f}: "
            f"{'met' if c['error_extra_met'] else 'NOT met'})"
        )
        print(f"  {'':<12}   the same for the floor: {c['error_minus_success_floor_us']:+.1f} µs")
        print(
            f"  {'':<12} other host, otel-8x8 overhead = {c['other_host_overhead_us']:+.1f} µs "
            + (
                f"(noise: ±{c['other_host_noise_us']:.1f} µs, 2 standard errors: "
                f"{'within noise' if c['other_host_within_noise'] else 'NOT within noise'})"
                if math.isfinite(c["other_host_noise_us"])
                else "(one round: no noise estimate)"
            )
        )


def _run_driver(args: argparse.Namespace) -> int:
    pin = args.pin and len(os.sched_getaffinity(0)) >= 2
    worker_cpu = sorted(os.sched_getaffinity(0))[0] if pin else None
    clients = [c for c in CLIENTS if c in args.clients.split(",")]
    rng = random.Random(args.seed)
    machine = _machine()
    calls = args.calls // args.block * args.block
    settings = {
        "rounds": args.rounds,
        "calls": calls,
        "block": args.block,
        "warmup": args.warmup,
        "pinned": pin,
        "seed": args.seed,
    }
    print(f"{machine['cpu_model']}, {machine['cores']} cores, {machine['python']}; {settings}", flush=True)
    started = time.perf_counter()
    rounds: list[list[WorkerResult]] = []
    expected_spans = expected_logs = 0
    with _servers(pin) as (fake_url, plain_url, otlp_url, receiver):
        for number in range(1, args.rounds + 1):
            results: list[WorkerResult] = []
            order = list(clients)
            rng.shuffle(order)
            for client in order:
                configs = {
                    variant: WorkerConfig(
                        variant=variant,
                        client=client,
                        warmup=args.warmup,
                        fake_url=fake_url,
                        other_url=plain_url,
                        otlp_url=otlp_url,
                        cpu=worker_cpu,
                    )
                    for variant in VARIANTS
                }
                results.extend(_run_round(client, configs, calls, args.block, rng))
            for result in results:
                expected_spans += result["spans"]
                expected_logs += result["log_records"]
            rounds.append(results)
            summary = ", ".join(
                f"{r['client']}/{r['variant']} {r['cpu_us']['success']:.0f}"
                for r in sorted(results, key=lambda r: (r["client"], r["variant"]))
            )
            print(
                f"round {number}/{args.rounds} ({time.perf_counter() - started:.0f} s): success µs {summary}",
                flush=True,
            )
        counts = _receiver_counts(receiver, expected_spans)
    elapsed = time.perf_counter() - started
    summary_all = _summarise(rounds)
    _print_report(machine, settings, summary_all)
    export_ok = counts.get("spans") == expected_spans and counts.get("log_records") == expected_logs
    print()
    print(
        f"Export check: the receiver got {counts.get('spans')} spans (expected {expected_spans}), "
        f"{counts.get('log_records')} log records (expected {expected_logs}), {counts.get('metrics')} metrics: "
        f"{'complete' if export_ok else 'INCOMPLETE'}. Run took {elapsed:.0f} s."
    )
    document = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": settings,
        "unit": "µs of client-process CPU time per call",
        "receiver_counts": counts,
        "expected": {"spans": expected_spans, "log_records": expected_logs},
        **summary_all,
        "rounds": rounds,
    }
    if args.quick and not args.out:
        print("Smoke run: results not written (give --out to keep them)")
        return 0
    out_path = Path(args.out) if args.out else RESULTS_DIR / f"{dt.date.today().isoformat()}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    print(f"Results written to {out_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="rounds of all variants (default 7)")
    parser.add_argument(
        "--calls", type=int, default=400, help="measured calls per (client, call, variant) and round (default 400)"
    )
    parser.add_argument("--block", type=int, default=50, help="calls per interleaved block (default 50)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up calls per call kind per worker (default 100)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset of " + ",".join(CLIENTS))
    parser.add_argument("--seed", type=int, default=8, help="seed of the shuffles")
    parser.add_argument(
        "--out", help="JSON results file (default benchmarks/results/<date>.json; a --quick run writes none)"
    )
    parser.add_argument("--pin", action="store_true", help="pin the workers to the first CPU, the servers to the last")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 100 calls, 20 warm-up calls")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-otlp", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _run_worker(json.loads(args.worker))
        return 0
    if args.serve_fake:
        return _serve_fake()
    if args.serve_plain:
        return _serve_plain()
    if args.serve_otlp:
        return _serve_otlp(args.serve_otlp)
    if args.quick:
        args.rounds, args.calls, args.block, args.warmup = 1, 100, 25, 20
    return _run_driver(args)


if __name__ == "__main__":
    raise SystemExit(main())
