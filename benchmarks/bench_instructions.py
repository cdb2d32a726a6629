"""Instructions per call, counted by valgrind's callgrind: issue 5's targets on a measure that does not drift.

Run (from the repository root; needs valgrind, e.g. Debian's package)::

    python benchmarks/bench_instructions.py            # requests and httpx, ~18 minutes on 2 cores
    python benchmarks/bench_instructions.py --clients requests --calls 50,200

CPU time on a shared VM moves by 10-30 % from run to run (see bench_calls.py), which is as large as the
differences the targets are about. Instructions executed do not move: the same program with the same inputs
executes the same instructions, whatever else the machine does (two runs here differ by a few parts in a
million). So this benchmark counts them, for the whole process (every thread: the batch processors'
encoding included), with callgrind.

Each configuration runs twice in a fresh process under callgrind, with ``--calls`` A and B calls; the
instructions per call are (count(B) - count(A)) / (B - A), so start-up and imports cancel out. A process:
the SDK set up as in production (``inprocess.install_sdk``: batch processors, the ``LoggingHandler``) with
exporters that encode every span and log record to OTLP protobuf, as the OTLP exporters do, and drop the
bytes; calls answered in-process below the instrumentation's hook points (a requests adapter; httpx's own
``HTTPTransport`` with its connection pool answering, so that opentelemetry-instrumentation-httpx wraps it too).

What it cannot tell: the cost of real sockets, and how instructions turn into time (a cache miss costs more
than an add). It is a second opinion beside bench_calls.py, not a replacement.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

URL = "https://sms.8x8.com/api/v1/subaccounts/acme-prod/messages"
OTHER_URL = "https://api.example.com/v2/orders"
SEND = {"destination": "+6591234567", "text": "hello"}
FAIL = {"destination": "+6591234567", "text": "FAIL 1002"}
CALLS: dict[str, tuple[str, dict[str, str], int]] = {
    "success": (URL, SEND, 200),
    "error": (URL, FAIL, 400),
    "other": (OTHER_URL, SEND, 200),
}
VARIANTS = ("none", "contrib", "contrib-stable", "otel-8x8", "otel-8x8-nolog", "floor-contrib", "floor-otel-8x8")
"""contrib: opentelemetry-instrumentation-requests / -httpx as installed (old HTTP conventions: 4 span attributes);
contrib-stable: the same with OTEL_SEMCONV_STABILITY_OPT_IN=http (the stable conventions otel-8x8 follows);
otel-8x8-nolog: otel-8x8 with OTEL_PYTHON_8X8_LOG_ERRORS=false (error calls only: what the log record costs);
floor-X: no instrumentation, but the telemetry X recorded for this call (captured once) recorded again per call
straight through the OpenTelemetry API (``replay.py``): what the SDK alone charges for X's telemetry."""
PLAN = {
    "success": ("none", "contrib", "contrib-stable", "otel-8x8", "floor-contrib", "floor-otel-8x8"),
    "error": ("none", "contrib", "contrib-stable", "otel-8x8", "otel-8x8-nolog", "floor-contrib", "floor-otel-8x8"),
    "other": ("none", "otel-8x8"),  # contrib traces every host: nothing to compare there
}
TARGET_RATIO = 0.8
_COLLECTED = re.compile(r"Collected : (\d+)")


# --------------------------------------------------------------------------------------------------
# Child: one configuration, run under callgrind
# --------------------------------------------------------------------------------------------------


def _instrumentor(client: str, which: str) -> Any:
    """otel-8x8's instrumentor, or contrib's for ``client``."""
    if which == "otel-8x8":
        from otel_8x8 import EightByEightInstrumentor

        return EightByEightInstrumentor()
    if client == "requests":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        return RequestsInstrumentor()
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    return HTTPXClientInstrumentor()


def _run_child(client: str, call: str, variant: str, calls: int) -> None:
    import httpx
    from inprocess import (
        LogSink,
        MetricSink,
        SpanSink,
        httpx_real_transport,
        install_sdk,
        log_every_error,
        requests_session,
    )

    log_every_error()  # a single error call is measured logged; bench_storm.py measures the log limit
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from replay import capture, instrumenting

    if variant == "contrib-stable":
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"
    if variant == "otel-8x8-nolog":
        os.environ["OTEL_PYTHON_8X8_LOG_ERRORS"] = "false"
    reader = PeriodicExportingMetricReader(MetricSink(), export_interval_millis=3_600_000)
    sdk = install_sdk(SpanSink(encode=True), LogSink(encode=True), reader)

    url, body, expected = CALLS[call]
    send: Callable[[], int]
    if client == "requests":
        session = requests_session()
        send = lambda: session.post(url, json=body).status_code  # noqa: E731
    else:
        http = httpx.Client(transport=httpx_real_transport())
        send = lambda: http.post(url, json=body).status_code  # noqa: E731

    if variant.startswith("floor-"):
        which = variant.removeprefix("floor-")
        telemetry = capture(instrumenting(_instrumentor(client, which)), send)
        if telemetry is None:
            raise SystemExit(f"{client} {call}: {which} recorded no span")
        send = telemetry.around(send)
    elif variant != "none":
        _instrumentor(client, "contrib" if variant.startswith("contrib") else "otel-8x8").instrument()

    # What set-up left on the heap (every import) is not walked again by the full collections that fall
    # within the calls: otherwise it weighs on the count per call by 10,000-40,000 instructions, differently
    # for every change of what is imported. The calls' own garbage is still collected, and counted.
    gc.collect()
    gc.freeze()
    for _ in range(calls):
        if send() != expected:
            raise SystemExit(f"{client} {call}: not answered {expected}")
    sdk.flush()


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


def _count(valgrind: str, client: str, call: str, variant: str, calls: int) -> int:
    command = [
        valgrind,
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        client,
        call,
        variant,
        str(calls),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=1800)
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind run failed ({client} {call} {variant} {calls}):\n{done.stderr[-2000:]}")
    return int(found[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="requests,httpx", help="comma-separated: requests, httpx")
    parser.add_argument("--calls", default="50,300", help="the two call counts A,B per configuration")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="callgrind processes at once")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", nargs=4, metavar=("CLIENT", "CALL", "VARIANT", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        client, call, variant, calls = args.child
        _run_child(client, call, variant, int(calls))
        return 0

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found (Debian: apt-get install valgrind)")
    low, high = (int(n) for n in args.calls.split(","))
    clients = [c for c in args.clients.split(",") if c]
    configs = [(client, call, variant) for client in clients for call, variants in PLAN.items() for variant in variants]
    jobs = [(config, n) for config in configs for n in (low, high)]
    print(f"{len(jobs)} callgrind runs ({low} and {high} calls each), {args.jobs} at a time...", flush=True)
    counts: dict[tuple[tuple[str, str, str], int], int] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_count, valgrind, *config, n): (config, n) for config, n in jobs}
        for future in concurrent.futures.as_completed(futures):
            counts[futures[future]] = future.result()
    per_call = {config: (counts[config, high] - counts[config, low]) / (high - low) for config in configs}

    results: dict[str, Any] = {"calls": [low, high], "instructions_per_call": {}, "targets": {}}
    print()
    print("Instructions per call of 'none' (whole process, export included), and what each variant adds to it")
    added_columns = " ".join(f"{'+' + name:>16}" for name in VARIANTS[1:])
    print(f"{'client':<10} {'call':<8} {'none':>11} {added_columns}")
    for client in clients:
        for call, variants in PLAN.items():
            base = per_call[client, call, "none"]
            row = {v: per_call[client, call, v] - base for v in variants[1:]}
            results["instructions_per_call"][f"{client}/{call}"] = {
                "none": base,
                **{f"+{v}": d for v, d in row.items()},
            }
            cells = " ".join(f"{row[v]:>+16,.0f}" if v in row else f"{'-':>16}" for v in VARIANTS[1:])
            print(f"{client:<10} {call:<8} {base:>11,.0f} {cells}")
    print()
    print("Targets (issue 5), in instructions")
    for client in clients:

        def added(call: str, variant: str, client: str = client) -> float:
            return per_call[client, call, variant] - per_call[client, call, "none"]

        ratio = added("success", "otel-8x8") / added("success", "contrib")
        ratio_stable = added("success", "otel-8x8") / added("success", "contrib-stable")
        floor_ratio = added("success", "floor-otel-8x8") / added("success", "contrib")
        own = added("success", "otel-8x8") - added("success", "floor-otel-8x8")
        own_contrib = added("success", "contrib") - added("success", "floor-contrib")
        error_extra = added("error", "otel-8x8") - added("success", "otel-8x8")
        error_extra_nolog = added("error", "otel-8x8-nolog") - added("success", "otel-8x8")
        error_floor = added("error", "floor-otel-8x8") - added("success", "floor-otel-8x8")
        other = added("other", "otel-8x8")
        results["targets"][client] = {
            "success_ratio": ratio,
            "success_ratio_vs_contrib_stable": ratio_stable,
            "success_floor_ratio": floor_ratio,
            "success_own_work": own,
            "success_own_work_contrib": own_contrib,
            "error_minus_success": error_extra,
            "error_minus_success_without_log_record": error_extra_nolog,
            "error_minus_success_floor": error_floor,
            "other": other,
        }
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        verdict_stable = "met" if ratio_stable <= TARGET_RATIO else "NOT met"
        print(
            f"  {client:<9} success: otel-8x8 added / contrib added = {ratio:.2f} ({verdict}; target <= {TARGET_RATIO})"
        )
        print(f"  {'':<9}          ... / contrib-stable added = {ratio_stable:.2f} ({verdict_stable})")
        print(f"  {'':<9}          the SDK alone recording otel-8x8's telemetry / contrib added = {floor_ratio:.2f}")
        print(f"  {'':<9}          own work above the SDK floor: otel-8x8 {own:+,.0f}, contrib {own_contrib:+,.0f}")
        share = error_extra / added("success", "otel-8x8")
        print(f"  {'':<9} error - success: {error_extra:+,.0f} ({share:.2f}x what a successful call adds)")
        print(f"  {'':<9}   without the log record: {error_extra_nolog:+,.0f}")
        print(f"  {'':<9}   the SDK alone recording otel-8x8's error telemetry: {error_floor:+,.0f}")
        print(f"  {'':<9} other host: {other:+,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        print(f"Results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
