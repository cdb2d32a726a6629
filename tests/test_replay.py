"""The benchmarks' floor (``benchmarks/replay.py``) records what otel-8x8 records: its numbers about the SDK's share
of the cost rest on that. Captured from a real call to the fake 8x8, replayed around the plain call."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight

from .conftest import API_KEY, PHONE, Telemetry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from replay import capture


def _instrument(fake: FakeEightByEight) -> Callable[[Any, Any], Callable[[], None]]:
    def instrument(tracer_provider: Any, meter_provider: Any) -> Callable[[], None]:
        instrumentor = EightByEightInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, hosts=[fake.netloc])

        def uninstrument() -> None:
            instrumentor.uninstrument()

        return uninstrument

    return instrument


def _points(reader: InMemoryMetricReader, floor: bool) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> attribute sets of its points, from the floor's meter or from the others."""
    found: dict[str, list[dict[str, Any]]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            if (scope_metrics.scope.name == "floor") is floor:
                for metric in scope_metrics.metrics:
                    found[metric.name] = [dict(point.attributes or {}) for point in metric.data.data_points]
    return found


@pytest.mark.parametrize(("text", "expected"), [("hello", 200), ("FAIL 1002", 400)], ids=["success", "error"])
def test_the_floor_records_the_telemetry_otel_8x8_records(
    telemetry: Telemetry, fake: FakeEightByEight, text: str, expected: int
) -> None:
    url = f"{fake.url}/api/v1/subaccounts/acme-prod/messages"

    def send() -> int:
        body = {"destination": PHONE, "text": text}
        return requests.post(url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).status_code

    uninstrument = _instrument(fake)(telemetry.tracer_provider, telemetry.meter_provider)
    try:
        status = send()
    finally:
        uninstrument()
    [real] = telemetry.client_spans()
    real_logs = telemetry.log_records()
    assert status == expected and len(real_logs) == (1 if status >= 400 else 0)

    captured = capture(_instrument(fake), send)
    assert captured is not None
    assert len(telemetry.client_spans()) == 1 and len(telemetry.log_records()) == len(real_logs)  # nothing leaked

    replayed_send = captured.around(send, telemetry.tracer_provider, telemetry.meter_provider)
    assert replayed_send() == status
    spans = telemetry.client_spans()
    assert len(spans) == 2
    replayed = spans[1]
    assert (replayed.name, replayed.kind) == (real.name, real.kind)
    assert set(replayed.attributes or {}) == set(real.attributes or {})
    per_call = {"com.8x8.message.umid", "com.8x8.error.id"}  # new for every call of the fake
    assert {k: v for k, v in (replayed.attributes or {}).items() if k not in per_call} == {
        k: v for k, v in (real.attributes or {}).items() if k not in per_call
    }
    assert (replayed.status.status_code, replayed.status.description) == (
        real.status.status_code,
        real.status.description,
    )
    assert _points(telemetry.metrics, floor=True) == _points(telemetry.metrics, floor=False)
    replayed_logs = telemetry.log_records()[len(real_logs) :]
    assert len(replayed_logs) == len(real_logs)
    for mine, theirs in zip(replayed_logs, real_logs, strict=True):
        assert mine.severity_number == theirs.severity_number
        assert set(mine.attributes or {}) == set(theirs.attributes or {})
        assert mine.trace_id == replayed.context.trace_id
