"""Micro-benchmark of otel-8x8's pure decision and enrichment path (no HTTP, no I/O).

Run (from the repository root)::

    python benchmarks/bench_decision.py            # ~1 minute
    python benchmarks/bench_decision.py --quick    # a few seconds

Each line is the best of ``--repeat`` timeit runs (the least disturbed one), in µs per call:

- the decision every HTTP call pays: ``HostMatcher.match`` of a netloc that is not 8x8 (cached, as in
  steady state, and a cache miss), ``netloc_of`` the URL, and ``Interceptor.intercept`` of a non-8x8
  URL (what the requests hook runs before handing the call over untouched);
- what an 8x8 call pays before it is sent: ``describe_call`` (span name and start attributes);
- what its answer costs: ``Recorder.record_response`` on a 200 send answer (reads the ``umid``) and on
  8x8's 1002 error envelope (``read_error`` alone, then the whole recording: attributes, status,
  counter, log record), with a non-recording span (sampled out) and with a recording SDK span;
- the parts of the error recording, to see where its cost goes.

The SDK is set up so that everything is really done and nothing accumulates: a ``MeterProvider`` with
an in-memory reader (the counter aggregates), a ``LoggingHandler`` on the root logger whose
``LoggerProvider`` hands each record to a ``SimpleLogRecordProcessor`` with an exporter that drops it,
and a ``TracerProvider`` whose spans are started and kept open.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable, Sequence

from inprocess import error_body, install_sdk
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_8x8.answers import read_answer, read_error
from otel_8x8.call import describe_call
from otel_8x8.config import Options
from otel_8x8.hosts import HostMatcher, netloc_of
from otel_8x8.interceptor import Interceptor
from otel_8x8.recorder import Recorder

EIGHT_BY_EIGHT_URL = "https://sms.8x8.com/api/v1/subaccounts/acme-prod/messages"
OTHER_URL = "https://api.example.com/v2/orders/12345?expand=items"
ERROR_BODY = error_body("48356c3e-3cd0-4850-a4b7-969c0d390d2b")
SEND_BODY = json.dumps(
    {
        "umid": "7f0c2a3e-3cd0-4850-a4b7-969c0d390d2b",
        "clientMessageId": None,
        "destination": "+6591234567",
        "encoding": "GSM7",
        "status": {"state": "Queued", "detail": "Message queued for sending", "timestamp": "2026-11-25T05:52:01.85Z"},
    }
).encode()
TARGET_MATCH_US = 1.0


def _no_header(name: str) -> str | None:
    return None


def _best_us(function: Callable[[], object], repeat: int, budget_s: float) -> float:
    """Best of ``repeat`` runs, each sized to about ``budget_s`` seconds, in µs per call."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number * budget_s / max(elapsed, 1e-9)))
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="timeit runs per line; the best is kept (default 7)")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per timeit run (default 0.3)")
    parser.add_argument("--quick", action="store_true", help="3 runs of 0.05 s per line")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.budget = 3, 0.05

    sdk = install_sdk(batch_logs=False)
    meter_provider = sdk.meter_provider
    tracer = sdk.tracer_provider.get_tracer("bench")

    matcher = HostMatcher()
    recorder = Recorder(meter_provider.get_meter("bench"), Options(log_limit=0))  # every record made
    interceptor = Interceptor(tracer, recorder, matcher)
    target = matcher.match("sms.8x8.com")
    assert target is not None
    call = describe_call("POST", EIGHT_BY_EIGHT_URL, target)
    other_netloc = netloc_of(OTHER_URL)
    assert matcher.match(other_netloc) is None and interceptor.intercept("GET", OTHER_URL, other_netloc) is None

    recording = tracer.start_span(call.span_name, kind=SpanKind.CLIENT, attributes=call.attributes)
    sampled_out = trace.INVALID_SPAN
    error = read_error(400, ERROR_BODY, _no_header)
    error_attrs = recorder.error_attributes(call, error)

    def miss() -> object:
        matcher._cache.clear()
        return matcher.match(other_netloc)

    lines: list[tuple[str, Callable[[], object], float | None]] = [
        ("HostMatcher.match, non-8x8 netloc (cached)", lambda: matcher.match(other_netloc), TARGET_MATCH_US),
        ("HostMatcher.match, non-8x8 netloc (cache miss)", miss, None),
        ("netloc_of(url)", lambda: netloc_of(OTHER_URL), None),
        (
            "netloc_of + Interceptor.intercept, non-8x8 URL",
            lambda: interceptor.intercept("GET", OTHER_URL, netloc_of(OTHER_URL)),
            None,
        ),
        ("describe_call, 8x8 URL", lambda: describe_call("POST", EIGHT_BY_EIGHT_URL, target), None),
        (
            "read and record a 200 send answer (umid), recording",
            lambda: recorder.record_answer(recording, call, 200, read_answer(call, 200, SEND_BODY, _no_header)),
            None,
        ),
        ("read_error, 1002 body", lambda: read_error(400, ERROR_BODY, _no_header), None),
        (
            "read and record 1002, non-recording span",
            lambda: recorder.record_answer(sampled_out, call, 400, read_answer(call, 400, ERROR_BODY, _no_header)),
            None,
        ),
        (
            "read and record 1002, recording span",
            lambda: recorder.record_answer(recording, call, 400, read_answer(call, 400, ERROR_BODY, _no_header)),
            None,
        ),
        ("  part: error_attributes", lambda: recorder.error_attributes(call, error), None),
        ("  part: span.set_attributes(error attributes)", lambda: recording.set_attributes(error_attrs), None),
        ("  part: counter add (_count_error)", lambda: recorder._count_error(call, error), None),
        ("  part: log record (_log_error)", lambda: recorder._log_error(call, error, error_attrs), None),
    ]

    print(f"{'operation':<56} {'µs/call':>9}  target")
    print("-" * 76)
    for name, function, target_us in lines:
        us = _best_us(function, args.repeat, args.budget)
        verdict = ""
        if target_us is not None:
            verdict = f"<= {target_us:g} µs: {'met' if us <= target_us else 'NOT met'}"
        print(f"{name:<56} {us:>9.2f}  {verdict}", flush=True)
    recording.end()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
