"""Many calls at once, through the real local server: every span, log record and count belongs to its own call.

Each call has a number ``n``, encoded in its subaccount id (``c00042``); an error call is answered with an
envelope whose code and errorId encode ``n`` too, with a status that depends on ``n``. Each call runs under
its own application span, so a context mixed up between threads or tasks shows as a wrong parent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from opentelemetry.sdk.trace import ReadableSpan

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope, fake_api

from .conftest import API_KEY, Telemetry

pytestmark = pytest.mark.e2e  # 32 threads and 500 concurrent calls, each many times

AUTH = {"Authorization": f"Bearer {API_KEY}"}
STATUSES = (400, 401, 403, 404, 409, 429, 500, 503)
CATEGORIES = {
    400: "invalid_request",
    401: "auth",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    429: "rate_limit",
    500: "server_error",
    503: "server_error",
}
THREADS = 32
CALLS_PER_THREAD = 12
ASYNC_CALLS = 500


@pytest.fixture
def busy_fake() -> Iterator[FakeEightByEight]:
    """The fake server: its listen backlog takes hundreds of simultaneous connections."""
    assert fake_api._Server.request_queue_size >= ASYNC_CALLS
    with FakeEightByEight() as server:
        yield server


@pytest.fixture
def instrumented_busy(telemetry: Telemetry, busy_fake: FakeEightByEight) -> Iterator[EightByEightInstrumentor]:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[busy_fake.netloc]
    )
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


@dataclass(frozen=True)
class Plan:
    """What call ``n`` sends and must get."""

    n: int

    @property
    def subaccount(self) -> str:
        return f"c{self.n:05d}"

    @property
    def path(self) -> str:
        return f"/api/v1/subaccounts/{self.subaccount}/messages"

    @property
    def is_error(self) -> bool:
        return self.n % 3 != 0  # two errors for every success

    @property
    def status(self) -> int:
        return STATUSES[self.n % len(STATUSES)] if self.is_error else 200

    @property
    def code(self) -> int:
        return 100_000 + self.n  # unknown to the catalog: the category comes from the status

    @property
    def umid(self) -> str:
        return f"umid-{self.n:05d}"

    @property
    def error_id(self) -> str:
        return f"err-{self.n:05d}"


def _script(fake: FakeEightByEight, plans: list[Plan], delay: float) -> None:
    """One script per call; ``delay`` keeps every call open on the server long enough to overlap."""
    for plan in plans:
        if plan.is_error:
            reply = error_envelope(plan.code, f"call {plan.n} failed", plan.status, error_id=plan.error_id)
            reply = dataclasses.replace(reply, delay=delay)
        else:
            reply = Reply(200, {"umid": plan.umid, "status": {"state": "Queued"}}, delay=delay)
        fake.script("POST", plan.path, reply)


def _check_app_answer(plan: Plan, status: int, body: dict[str, Any]) -> None:
    assert status == plan.status, plan
    if plan.is_error:
        assert (body["code"], body["errorId"]) == (plan.code, plan.error_id)
    else:
        assert body["umid"] == plan.umid


def _check_telemetry(telemetry: Telemetry, plans: list[Plan], parents: dict[int, int]) -> None:
    spans = telemetry.client_spans()
    assert len(spans) == len(plans)
    by_call: dict[int, ReadableSpan] = {}
    for span in spans:
        attrs = dict(span.attributes or {})
        n = int(str(attrs["com.8x8.subaccount.id"])[1:])
        assert n not in by_call, f"two spans for call {n}"
        by_call[n] = span
        plan = plans[n]
        assert attrs["url.full"] == f"http://127.0.0.1:{attrs['server.port']}{plan.path}"
        assert attrs["http.response.status_code"] == plan.status
        assert span.parent is not None and span.parent.span_id == parents[n], f"call {n} has another call's parent"
        if plan.is_error:
            assert attrs["com.8x8.error.code"] == plan.code
            assert attrs["com.8x8.error.id"] == plan.error_id
            assert attrs["com.8x8.error.category"] == CATEGORIES[plan.status]
            assert attrs["error.type"] == str(plan.status)
            assert span.status.description == f"call {n} failed"
        else:
            assert not any(key.startswith("com.8x8.error") for key in attrs)
            assert "error.type" not in attrs
            assert attrs["com.8x8.message.umid"] == plan.umid
    assert sorted(by_call) == [plan.n for plan in plans]

    records = telemetry.log_records()
    errors = [plan for plan in plans if plan.is_error]
    assert len(records) == len(errors)
    logged: set[int] = set()
    for record in records:
        attrs = dict(record.attributes or {})
        n = int(str(attrs["com.8x8.subaccount.id"])[1:])
        assert n not in logged, f"two log records for call {n}"
        logged.add(n)
        assert attrs["com.8x8.error.code"] == plans[n].code
        assert attrs["com.8x8.error.id"] == plans[n].error_id
        assert attrs["http.response.status_code"] == plans[n].status
        assert record.trace_id == by_call[n].context.trace_id
        assert record.span_id == by_call[n].context.span_id
    assert logged == {plan.n for plan in errors}

    points = telemetry.metric_points("com.8x8.api.errors")
    assert sum(point.value for point in points) == len(errors)
    per_status: dict[int, int] = {}
    for point in points:
        status = point.attributes["http.response.status_code"]
        per_status[status] = per_status.get(status, 0) + point.value
    expected: dict[int, int] = {}
    for plan in errors:
        expected[plan.status] = expected.get(plan.status, 0) + 1
    assert per_status == expected


@pytest.mark.parametrize("sessions", ["shared-session", "session-per-thread"])
def test_32_threads_on_requests(
    sessions: str, busy_fake: FakeEightByEight, telemetry: Telemetry, instrumented_busy: EightByEightInstrumentor
) -> None:
    fake = busy_fake
    plans = [Plan(n) for n in range(THREADS * CALLS_PER_THREAD)]
    _script(fake, plans, delay=0.02)
    tracer = telemetry.tracer_provider.get_tracer("app")
    shared = requests.Session()
    shared.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))
    parents: dict[int, int] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        session = shared if sessions == "shared-session" else requests.Session()
        try:
            barrier.wait(10)
            for plan in plans[index * CALLS_PER_THREAD : (index + 1) * CALLS_PER_THREAD]:
                with tracer.start_as_current_span(f"job {plan.n}") as job:
                    parents[plan.n] = job.get_span_context().span_id
                    response = session.post(fake.url + plan.path, json={"text": "hi"}, headers=AUTH, timeout=30)
                _check_app_answer(plan, response.status_code, response.json())
        except BaseException as exc:
            failures.append(exc)
        finally:
            if session is not shared:
                session.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    shared.close()

    assert not failures, failures[:3]
    assert not any(thread.is_alive() for thread in threads)
    _check_telemetry(telemetry, plans, parents)


def test_500_concurrent_async_httpx_calls(
    busy_fake: FakeEightByEight, telemetry: Telemetry, instrumented_busy: EightByEightInstrumentor
) -> None:
    fake = busy_fake
    plans = [Plan(n) for n in range(ASYNC_CALLS)]
    _script(fake, plans, delay=0.2)
    tracer = telemetry.tracer_provider.get_tracer("app")
    parents: dict[int, int] = {}
    in_flight = 0
    most_in_flight = 0

    async def one(client: httpx.AsyncClient, plan: Plan) -> None:
        nonlocal in_flight, most_in_flight
        with tracer.start_as_current_span(f"job {plan.n}") as job:
            parents[plan.n] = job.get_span_context().span_id
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            try:
                response = await client.post(fake.url + plan.path, json={"text": "hi"}, headers=AUTH)
            finally:
                in_flight -= 1
        _check_app_answer(plan, response.status_code, response.json())

    async def run() -> None:
        # 500 connections at once; few kept alive afterwards (httpcore's pool is quadratic in idle connections)
        limits = httpx.Limits(max_connections=ASYNC_CALLS, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            await asyncio.gather(*(one(client, plan) for plan in plans))

    asyncio.run(run())

    assert most_in_flight == ASYNC_CALLS  # all 500 were under way at once
    _check_telemetry(telemetry, plans, parents)
