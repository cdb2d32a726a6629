"""The benchmarks' floor (``benchmarks/replay.py``) records what otel-8x8 records: its numbers about the SDK's share
of the cost rest on that. Captured from a real call to the fake 8x8, replayed around the plain call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight

from .conftest import API_KEY, PHONE, Telemetry

_BENCHMARKS = str(Path(__file__).resolve().parent.parent / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    from replay import Instrument, capture, instrumenting
    from replay import Telemetry as Replayed
finally:
    sys.path.remove(_BENCHMARKS)


def _instrument(fake: FakeEightByEight) -> Instrument:
    return instrumenting(EightByEightInstrumentor(), hosts=[fake.netloc])


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
    assert len(telemetry.client_spans()) == 1
    real_logs = telemetry.log_records()
    assert status == expected and len(real_logs) == (1 if status >= 400 else 0)

    captured = capture(_instrument(fake), send)
    assert captured is not None
    assert len(telemetry.client_spans()) == 1 and len(telemetry.log_records()) == len(real_logs)  # nothing leaked

    assert captured.around(send, telemetry.tracer_provider, telemetry.meter_provider)() == status
    _assert_replayed(telemetry, captured)


async def test_the_floor_of_an_async_call_is_what_otel_8x8_records_for_it(
    telemetry: Telemetry, fake: FakeEightByEight
) -> None:
    """bench_calls.py captures async httpx's floor with a sync httpx call: otel-8x8 records the same for both."""
    url = f"{fake.url}/api/v1/subaccounts/acme-prod/messages"
    request: dict[str, Any] = {
        "json": {"destination": PHONE, "text": "FAIL 1002"},
        "headers": {"Authorization": f"Bearer {API_KEY}"},
    }
    async with httpx.AsyncClient() as client:

        async def send() -> int:
            return (await client.post(url, **request)).status_code

        uninstrument = _instrument(fake)(telemetry.tracer_provider, telemetry.meter_provider)
        try:
            assert await send() == 400
        finally:
            uninstrument()
        with httpx.Client() as sync_client:
            captured = capture(_instrument(fake), lambda: sync_client.post(url, **request))
        assert captured is not None
        assert await captured.around_async(send, telemetry.tracer_provider, telemetry.meter_provider)() == 400
    _assert_replayed(telemetry, captured)


def _assert_replayed(telemetry: Telemetry, captured: Replayed) -> None:
    """The second client span and its records (the replay's) match the first (otel-8x8's)."""
    real, replayed = telemetry.client_spans()
    assert (replayed.name, replayed.kind) == (real.name, real.kind) == (captured.span_name, captured.span_kind)
    assert set(replayed.attributes or {}) == set(real.attributes or {})
    per_call = {"com.8x8.message.umid", "com.8x8.error.id"}  # new for every call of the fake
    assert {k: v for k, v in (replayed.attributes or {}).items() if k not in per_call} == {
        k: v for k, v in (real.attributes or {}).items() if k not in per_call
    }
    assert (replayed.status.status_code, replayed.status.description) == (
        real.status.status_code,
        real.status.description,
    )
    assert [name for name, _ in captured.events] == [event.name for event in real.events]
    assert _points(telemetry.metrics, floor=True) == _points(telemetry.metrics, floor=False)
    logs = telemetry.log_records()
    assert len(logs) % 2 == 0
    real_logs, replayed_logs = logs[: len(logs) // 2], logs[len(logs) // 2 :]
    for mine, theirs in zip(replayed_logs, real_logs, strict=True):
        assert mine.severity_number == theirs.severity_number
        assert set(mine.attributes or {}) == set(theirs.attributes or {})
        assert mine.trace_id == replayed.context.trace_id
