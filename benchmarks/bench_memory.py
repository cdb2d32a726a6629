"""Memory of an instrumented process over 100,000 calls: it must stay flat.

Run (from the repository root)::

    python benchmarks/bench_memory.py                  # 100,000 calls, a few minutes
    python benchmarks/bench_memory.py --calls 20000    # shorter

The calls go through otel-8x8's real hook points (``requests.Session.send``, ``httpx.Client.send``,
``httpx.AsyncClient.send``) but are answered in-process (a requests adapter, ``httpx.MockTransport``),
so that 100,000 calls take minutes. They are mixed, in a cycle of ten: sends answered 200 (the
``umid`` is read), 8x8 errors 1002 (HTTP 400: parse, attributes, log record, counter), Number Lookup
calls with a different phone number each time (every URL is new: the path-template and host caches
must stay bounded), and calls to a host that is not 8x8.

The SDK is set up as in production, with exporters that drop what they get: ``BatchSpanProcessor``,
``BatchLogRecordProcessor`` behind a ``LoggingHandler`` on the root logger, and a
``PeriodicExportingMetricReader``. tracemalloc counts the Python memory in use at 10%, 50% and 100%
of the calls (after flushing the pipelines and a full garbage collection), and the lines of code
that grew between 10% and 100%.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from inprocess import FAIL, OTHER, MetricSink, httpx_transport, install_sdk, log_every_error, requests_session
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from otel_8x8 import EightByEightInstrumentor

log_every_error()  # a single error call is measured logged; bench_storm.py measures the log limit

SMS = "https://sms.8x8.com/api/v1/subaccounts/acme-prod"
LOOKUP = "https://lookup.8x8.com/api/v1/subaccounts/acme-prod/phones"
TARGET_GROWTH_BYTES = 256 * 1024
"""Flat: less than this between 10% and 100% of the calls (under 3 bytes per call at 100,000)."""


def _plan(i: int) -> tuple[str, str, str, Mapping[str, str] | None]:
    """Call ``i`` of the cycle of ten: (client, method, url, json body)."""
    send = {"destination": "+6591234567", "text": "hello"}
    fail = {"destination": "+6591234567", "text": FAIL.decode()}
    phone = f"{LOOKUP}/+65{90000000 + i}"
    return [
        ("requests", "POST", f"{SMS}/messages", send),
        ("httpx", "POST", f"{SMS}/messages", fail),
        ("async", "GET", phone, None),
        ("requests", "POST", f"{SMS}/messages", fail),
        ("httpx", "POST", f"{SMS}/messages", send),
        ("async", "POST", f"{SMS}/messages", fail),
        ("requests", "GET", phone, None),
        ("httpx", "POST", OTHER, send),
        ("requests", "POST", OTHER, send),
        ("async", "POST", f"{SMS}/messages", send),
    ][i % 10]


def _format_bytes(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


async def _run(calls: int, top: int) -> int:
    sdk = install_sdk(reader=PeriodicExportingMetricReader(MetricSink(), export_interval_millis=1000))
    EightByEightInstrumentor().instrument()

    session = requests_session()
    client = httpx.Client(transport=httpx_transport())
    async_client = httpx.AsyncClient(transport=httpx_transport())
    sync_clients: dict[str, Callable[..., Any]] = {"requests": session.request, "httpx": client.request}

    def settle() -> int:
        sdk.flush()
        sdk.meter_provider.force_flush()
        gc.collect()
        current: int = tracemalloc.get_traced_memory()[0]
        return current

    checkpoints = sorted({max(1, calls // 10), max(1, calls // 2), calls})
    tracemalloc.start(1)
    started = time.perf_counter()
    memory: dict[int, int] = {}
    first: tracemalloc.Snapshot | None = None
    statuses: dict[int, int] = {}
    for i in range(calls):
        name, method, url, body = _plan(i)
        if name == "async":
            response: Any = await async_client.request(method, url, json=body)
        else:
            response = sync_clients[name](method, url, json=body)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if i + 1 in checkpoints:
            memory[i + 1] = settle()
            print(
                f"{i + 1:>8,} calls: {_format_bytes(memory[i + 1]):>12} traced ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            if first is None:
                first = tracemalloc.take_snapshot()
    last = tracemalloc.take_snapshot()
    tracemalloc.stop()
    await async_client.aclose()
    client.close()
    session.close()

    start, end = checkpoints[0], checkpoints[-1]
    growth = memory[end] - memory[start]
    per_call = growth / max(1, end - start)
    verdict = "flat" if growth < TARGET_GROWTH_BYTES else "NOT flat"
    print(f"answers: {dict(sorted(statuses.items()))}")
    for a, b in itertools.pairwise(checkpoints):
        print(f"growth {a:,} -> {b:,} calls: {(memory[b] - memory[a]) / 1024:+,.1f} KiB")
    print(
        f"growth {start:,} -> {end:,} calls: {growth / 1024:+,.1f} KiB ({per_call:+.2f} bytes/call); "
        f"target < {_format_bytes(TARGET_GROWTH_BYTES)}: {verdict}"
    )
    if first is not None and top > 0:
        ignore = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>"))
        diffs = last.filter_traces(ignore).compare_to(first.filter_traces(ignore), "lineno")
        print(f"largest differences between {start:,} and {end:,} calls, by line:")
        for stat in diffs[:top]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7} blocks  {stat.traceback[0]}")
    sdk.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="calls in all (default 100,000)")
    parser.add_argument("--top", type=int, default=8, help="lines of code to show that grew the most (default 8)")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args.calls, args.top))


if __name__ == "__main__":
    raise SystemExit(main())
