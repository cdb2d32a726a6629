"""Drops streamed 8x8 errors just before exiting, with a slow synchronous exporter that prints each span it
exports: every span must still be exported (the dropped responses are finished on otel-8x8's own thread,
which exit must wait for). Base URL from EIGHTXEIGHT_URL."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import requests
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from otel_8x8 import EightByEightInstrumentor

URL = os.environ["EIGHTXEIGHT_URL"] + "/api/v1/subaccounts/acme/messages"


class SlowPrinter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(0.3)
        for span in spans:
            print("exported", (span.attributes or {}).get("com.8x8.error.category"), flush=True)
        return SpanExportResult.SUCCESS


tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(SlowPrinter()))
EightByEightInstrumentor().instrument(
    tracer_provider=tracer_provider, meter_provider=MeterProvider(), hosts=[URL.split("/")[2]], log_errors=False
)
responses = [requests.post(URL, json={}, stream=True, timeout=10) for _ in range(3)]
print("statuses", [r.status_code for r in responses], flush=True)
del responses
# The worker exports one span every 0.3 s: at 0.75 s it is in the middle of the third, and nothing is queued.
time.sleep(0.75)
sys.exit(0)
