"""An error storm: what otel-8x8 adds to an 8x8 call answered with an error, against what it adds to a success,
with the log limit off and at its default.

Run (from the repository root)::

    python benchmarks/bench_storm.py                 # requests, 10,000 calls per measurement, 5 rounds (~6 min)
    python benchmarks/bench_storm.py --client httpx --rounds 3
    python benchmarks/bench_storm.py --quick         # 1,000 calls, 1 round: a smoke run

Each measurement is a fresh process (instrumentors are process-global, and so is the limiter's state) that sets
the SDK up as an application does (``inprocess.install_sdk``: ``BatchSpanProcessor``, ``LoggingHandler`` on the
root logger with a ``BatchLogRecordProcessor``, a metric reader), with exporters that encode every span and log
record to OTLP protobuf and drop the bytes, then makes ``--calls`` consecutive calls of one kind through
otel-8x8's real hook, answered in-process (``inprocess.requests_session`` / ``httpx_transport``):

- ``success``: ``POST .../messages`` answered 200 with a ``umid``;
- ``error``: the same call answered with 8x8's error 1002 (HTTP 400), every time: an outage.

Variants: ``none`` (SDK set up, nothing instrumented), ``limit-off`` (otel-8x8 with ``log_limit=0``: every error
logged, as before the limit) and ``limit-default`` (otel-8x8 as installed, no log-limit setting: at most 10
records per key per 60 s). CPU time (``time.process_time()``: every thread, export included: the span and log
pipelines are flushed inside the measurement) per call, after 200 successful warm-up calls. A round runs every
(variant, kind) once, in a shuffled order; the figures are medians over rounds, and an overhead is the median over
rounds of (variant - none) in the same round. The target of issue 12 item 8: error overhead / success overhead
<= 1.5 with the default limit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inprocess import FAIL, LogSink, MetricSink, SpanSink, httpx_transport, install_sdk, requests_session
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult

URL = "https://sms.8x8.com/api/v1/subaccounts/acme-prod/messages"
BODIES = {
    "success": {"destination": "+6591234567", "text": "hello"},
    "error": {"destination": "+6591234567", "text": FAIL.decode()},
}
EXPECTED = {"success": 200, "error": 400}
VARIANTS = ("none", "limit-off", "limit-default")
KINDS = ("success", "error")
WARM_UP = 200
TARGET = 1.5
_LIMIT_VARIABLES = ("OTEL_PYTHON_8X8_LOG_LIMIT", "OTEL_PYTHON_8X8_LOG_INTERVAL")


class CountingLogSink(LogSink):
    """Encodes each batch to OTLP protobuf, drops it, and counts the records."""

    def __init__(self) -> None:
        super().__init__(encode=True)
        self.count = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.count += len(batch)
        return super().export(batch)


# --------------------------------------------------------------------------------------------------
# Worker: one (variant, kind) in a fresh process
# --------------------------------------------------------------------------------------------------


def _client_call(client: str, kind: str) -> Callable[[], int]:
    import httpx

    body = BODIES[kind]
    if client == "requests":
        session = requests_session()
        return lambda: session.post(URL, json=body).status_code
    http_client = httpx.Client(transport=httpx_transport())
    return lambda: http_client.post(URL, json=body).status_code


def _worker(variant: str, kind: str, client: str, calls: int) -> dict[str, Any]:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from otel_8x8 import EightByEightInstrumentor

    logs = CountingLogSink()
    reader = PeriodicExportingMetricReader(MetricSink(), export_interval_millis=3_600_000)
    sdk = install_sdk(SpanSink(encode=True), logs, reader)
    if variant == "limit-off":
        EightByEightInstrumentor().instrument(log_limit=0)
    elif variant == "limit-default":
        EightByEightInstrumentor().instrument()
    warm_up, call = _client_call(client, "success"), _client_call(client, kind)
    for _ in range(WARM_UP):
        assert warm_up() == 200
    sdk.flush()
    records_before = logs.count
    started = time.process_time()
    for _ in range(calls):
        if call() != EXPECTED[kind]:
            raise SystemExit(f"{kind}: not answered {EXPECTED[kind]}")
    sdk.flush()
    cpu = time.process_time() - started
    result = {"us_per_call": cpu / calls * 1e6, "log_records": logs.count - records_before}
    sdk.shutdown()
    return result


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


def _measure(variant: str, kind: str, client: str, calls: int) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key not in _LIMIT_VARIABLES}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", variant, kind, "--client", client]
    completed = subprocess.run(
        [*command, "--calls", str(calls)], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if completed.returncode != 0:
        raise SystemExit(f"worker {variant} {kind} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=("requests", "httpx"), default="requests")
    parser.add_argument("--calls", type=int, default=10_000, help="consecutive calls per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 calls, 1 round")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker[0], args.worker[1], args.client, args.calls)))
        return 0
    if args.quick:
        args.calls, args.rounds = 1_000, 1

    started = time.perf_counter()
    rounds: list[dict[tuple[str, str], dict[str, Any]]] = []
    for number in range(args.rounds):
        plan = [(variant, kind) for variant in VARIANTS for kind in KINDS]
        random.shuffle(plan)
        results = {}
        for variant, kind in plan:
            results[variant, kind] = _measure(variant, kind, args.client, args.calls)
        rounds.append(results)
        print(f"round {number + 1}/{args.rounds} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    def per_call(variant: str, kind: str) -> float:
        return _median([r[variant, kind]["us_per_call"] for r in rounds])

    def added(variant: str, kind: str) -> float:
        return _median([r[variant, kind]["us_per_call"] - r["none", kind]["us_per_call"] for r in rounds])

    def ratio(variant: str) -> float:
        return _median(
            [
                (r[variant, "error"]["us_per_call"] - r["none", "error"]["us_per_call"])
                / (r[variant, "success"]["us_per_call"] - r["none", "success"]["us_per_call"])
                for r in rounds
            ]
        )

    print(f"\n{args.client}, {args.calls:,} consecutive calls per measurement, {args.rounds} round(s)")
    print("CPU µs per call (median over rounds); added: minus `none` (median of paired differences)\n")
    print(f"| {'variant':<13} | {'success':>8} | {'error':>8} | {'+success':>9} | {'+error':>9} | "
          f"{'error/success added':>19} | {'log records':>11} |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        records = max(r[variant, "error"]["log_records"] for r in rounds)
        if variant == "none":
            cells = ("", "", "", f"{records:,}")
        else:
            cells = (
                f"{added(variant, 'success'):+9.1f}",
                f"{added(variant, 'error'):+9.1f}",
                f"{ratio(variant):19.2f}",
                f"{records:,}",
            )
        print(
            f"| {variant:<13} | {per_call(variant, 'success'):8.1f} | {per_call(variant, 'error'):8.1f} | "
            + " | ".join(cells)
            + " |"
        )
        summary[variant] = {
            "success_us": per_call(variant, "success"),
            "error_us": per_call(variant, "error"),
            "error_log_records": records,
        }
        if variant != "none":
            summary[variant].update(
                added_success_us=added(variant, "success"),
                added_error_us=added(variant, "error"),
                error_over_success=ratio(variant),
            )
    default_ratio = ratio("limit-default")
    verdict = "met" if default_ratio <= TARGET else "NOT met"
    print(f"\ntarget: error/success added <= {TARGET} with the default limit: {default_ratio:.2f}, {verdict}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.out:
        document = {"client": args.client, "calls": args.calls, "rounds": args.rounds, "summary": summary}
        document["raw"] = [{f"{v} {k}": result for (v, k), result in r.items()} for r in rounds]
        args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
