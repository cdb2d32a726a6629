"""Profile otel-8x8's success and error path with py-spy, and list the top costs.

Run (from the repository root, as a user allowed to ptrace its own processes: root in a container)::

    python benchmarks/profile_paths.py                    # requests, 10,000 calls per path, ~1 minute
    python benchmarks/profile_paths.py --client httpx --keep /tmp/profiles

For each path (a send answered 200, and 8x8's error 1002 answered 400) a child process makes the same
call ``--calls`` times without instrumentation, then ``--calls`` times with otel-8x8, while py-spy
samples every thread of it from the outside, without stopping it (``--nonblocking``). The calls go through
otel-8x8's real hook on ``requests.Session.send`` (or ``httpx.Client.send``) and are answered
in-process (a requests adapter, ``httpx.MockTransport``), so the time is the library's and the
instrumentation's, not the network's. The SDK is set up as in production (``BatchSpanProcessor``,
``BatchLogRecordProcessor`` behind a ``LoggingHandler``, a ``PeriodicExportingMetricReader``) with
exporters that encode each batch to OTLP protobuf, as the OTLP exporters do, and drop the bytes.

It prints the CPU time per call that otel-8x8 adds (measured: instrumented minus uninstrumented
loop, export included), then, from the samples, the time per call spent under otel-8x8's hook
outside the library's own ``send`` and on the export threads, and the functions with the most
inclusive time there (a function's time includes its callees').
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from inprocess import (
    FAIL,
    LogSink,
    MetricSink,
    SpanSink,
    httpx_transport,
    install_sdk,
    log_every_error,
    requests_session,
)

log_every_error()  # a single error call is measured logged; bench_storm.py measures the log limit

HOOK_FILES = {"requests": "otel_8x8/requests_hook.py", "httpx": "otel_8x8/httpx_hook.py"}
LIBRARY_SEND = {"requests": "requests/sessions.py", "httpx": "httpx/_client.py"}
URL = "https://sms.8x8.com/api/v1/subaccounts/acme-prod/messages"
BODIES = {
    "success": {"destination": "+6591234567", "text": "hello"},
    "error": {"destination": "+6591234567", "text": FAIL.decode()},
}
EXPECTED = {"success": 200, "error": 400}
RATE = 500


# --------------------------------------------------------------------------------------------------
# Child: the profiled process
# --------------------------------------------------------------------------------------------------


def _client_call(client: str, path: str) -> Callable[[], int]:
    import httpx

    body = BODIES[path]
    if client == "requests":
        session = requests_session()
        return lambda: session.post(URL, json=body).status_code
    http_client = httpx.Client(transport=httpx_transport())
    return lambda: http_client.post(URL, json=body).status_code


def _run_child(client: str, path: str, calls: int) -> None:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from otel_8x8 import EightByEightInstrumentor

    # Exporters that encode to OTLP protobuf, as the OTLP exporters do, then drop the bytes.
    reader = PeriodicExportingMetricReader(MetricSink(), export_interval_millis=3_600_000)
    sdk = install_sdk(SpanSink(encode=True), LogSink(encode=True), reader)

    def loop(call: Callable[[], int]) -> float:
        for _ in range(200):
            assert call() == EXPECTED[path]
        sdk.flush()
        started = time.process_time()
        for _ in range(calls):
            call()
        sdk.flush()
        return (time.process_time() - started) / calls * 1e6

    without = loop(_client_call(client, path))
    EightByEightInstrumentor().instrument()
    with_us = loop(_client_call(client, path))
    print(json.dumps({"without_us": without, "with_us": with_us}))


# --------------------------------------------------------------------------------------------------
# Driver: py-spy around the child, then the breakdown of its samples
# --------------------------------------------------------------------------------------------------


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rstrip("\n").rpartition(" ")
    return stack.split(";"), int(count)


def _is_send(frame: str) -> bool:
    """``send (...)``, ``Session.send (...)``, ``_send_wrapper.<locals>.send (...)``."""
    return frame.partition(" (")[0].rpartition(".")[2] == "send"


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (short path)``: one key per function, whatever the line."""
    name, _, where = frame.partition(" (")
    path = where.rpartition(":")[0]
    for marker in ("site-packages/", "lib/python3", "/otel_8x8/"):
        if marker in path:
            path = path[path.index(marker) + len(marker) :]
            if marker == "/otel_8x8/":
                path = "otel_8x8/" + path
            break
    return f"{name} ({path})"


def _breakdown(raw: Path, client: str, calls: int, top: int) -> list[str]:
    own: Counter[str] = Counter()
    export: Counter[str] = Counter()
    own_total = library_total = export_total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        frames, count = _frames(line)
        hook = next((i for i, f in enumerate(frames) if HOOK_FILES[client] in f and _is_send(f)), None)
        if hook is not None:
            below = frames[hook + 1 :]
            if any(LIBRARY_SEND[client] in f and _is_send(f) for f in below):
                library_total += count
                continue
            own_total += count
            for key in {_function(f) for f in below}:
                own[key] += count
        elif any("opentelemetry/exporter" in f or "export (" in f for f in frames) and "worker" in line:
            export_total += count
            for key in {_function(f) for f in frames}:
                export[key] += count

    def us(samples: int) -> float:
        return samples / RATE / calls * 1e6

    lines = [
        f"  sampled, µs/call: under the hook outside the library's send {us(own_total):.1f}; "
        f"export threads {us(export_total):.1f}; (the library's send under the hook {us(library_total):.1f})",
        f"  top {top} functions under the hook (inclusive µs/call):",
    ]
    lines += [f"    {us(n):7.1f}  {key}" for key, n in own.most_common(top)]
    skip = ("_bootstrap", "run (threading.py", "worker (", "_export (", "Thread.")
    ranked = [(k, n) for k, n in export.most_common() if not k.startswith(skip)][: max(3, top // 3)]
    lines.append("  top functions on the export threads (inclusive µs/call):")
    lines += [f"    {us(n):7.1f}  {key}" for key, n in ranked]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=("requests", "httpx"), default="requests")
    parser.add_argument("--calls", type=int, default=10_000, help="calls per path and phase (default 10,000)")
    parser.add_argument("--top", type=int, default=12, help="functions listed per path (default 12)")
    parser.add_argument("--keep", help="keep py-spy's raw samples (collapsed stacks) in this directory")
    parser.add_argument("--child", choices=("success", "error"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_child(args.client, args.child, args.calls)
        return 0
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.keep) if args.keep else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in ("success", "error"):
            raw = out_dir / f"{args.client}-{path}.txt"
            child = [sys.executable, __file__, "--child", path, "--client", args.client, "--calls", str(args.calls)]
            command = [py_spy, "record", "--nonblocking", "--rate", str(RATE), "--format", "raw", "-o", str(raw)]
            command += ["--", *child]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0 or not raw.exists():
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
            measured = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
            added = measured["with_us"] - measured["without_us"]
            print(
                f"== {path} path, {args.client}, {args.calls} calls: CPU {measured['without_us']:.1f} µs/call "
                f"without otel-8x8, {measured['with_us']:.1f} with: +{added:.1f} µs (export included)"
            )
            print("\n".join(_breakdown(raw, args.client, args.calls, args.top)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
