"""Error storms: at most N error log records per (product, code, url.template) per interval, the rest counted and
reported on the key's next record; every error keeps its span attributes, status and count on the metric."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8 import recorder as recorder_module
from otel_8x8.log_limit import SUPPRESS, LogLimiter, parse_interval, parse_limit
from otel_8x8.testing import FakeEightByEight, error_envelope

from .conftest import API_KEY, PHONE, Telemetry

MESSAGES = "/api/v1/subaccounts/acme-sub/messages"
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"
SUPPRESSED = "com.8x8.error.suppressed_count"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter on its own ---------------------------------------------------------------------------------


def test_first_n_of_a_key_pass_then_the_count_goes_to_the_next_window() -> None:
    clock = Clock()
    limiter = LogLimiter(limit=3, interval=60, clock=clock)
    assert [limiter.admit("k") for _ in range(3)] == [0, 0, 0]
    assert [limiter.admit("k") for _ in range(7)] == [SUPPRESS] * 7
    clock.now += 59.9
    assert limiter.admit("k") == SUPPRESS
    clock.now += 0.1
    assert limiter.admit("k") == 8  # the first record of the new window carries the count
    assert [limiter.admit("k") for _ in range(3)] == [0, 0, SUPPRESS]


def test_the_count_waits_for_the_key_however_long() -> None:
    clock = Clock()
    limiter = LogLimiter(limit=1, interval=10, clock=clock)
    assert limiter.admit("k") == 0
    assert limiter.admit("k") == SUPPRESS
    assert limiter.admit("k") == SUPPRESS
    clock.now += 3600
    assert limiter.admit("k") == 2
    clock.now += 3600
    assert limiter.admit("k") == 0  # nothing suppressed since


def test_keys_are_independent() -> None:
    limiter = LogLimiter(limit=2, interval=60, clock=Clock())
    assert [limiter.admit("a") for _ in range(5)] == [0, 0, SUPPRESS, SUPPRESS, SUPPRESS]
    assert [limiter.admit("b") for _ in range(3)] == [0, 0, SUPPRESS]
    assert limiter.admit(("sms", 1002, TEMPLATE)) == 0


def test_the_first_error_of_a_key_always_passes() -> None:
    limiter = LogLimiter(limit=1, interval=60, clock=Clock(), max_keys=4)
    for key in range(100):
        assert limiter.admit(key) == 0


def test_keys_are_capped_the_oldest_window_goes_first() -> None:
    clock = Clock()
    limiter = LogLimiter(limit=1, interval=60, clock=clock, max_keys=3)
    for key in "abc":
        assert (limiter.admit(key), limiter.admit(key)) == (0, SUPPRESS)
        clock.now += 1
    clock.now += 60
    assert limiter.admit("a") == 1  # a new window for a: now the newest
    assert limiter.admit("d") == 0  # evicts b, the oldest window
    assert len(limiter) == 3
    assert limiter.admit("c") == 1  # c was kept, with its count
    assert limiter.admit("b") == 0  # b starts over (its count went with it)
    assert len(limiter) == 3
    for number in range(10_000):
        limiter.admit(number)
    assert len(limiter) == 3


def test_threads_hammering_one_key_pass_exactly_the_limit() -> None:
    limiter = LogLimiter(limit=25, interval=3600)
    admitted: list[int] = []
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        mine = [limiter.admit(("sms", 1002, TEMPLATE)) for _ in range(2_000)]
        admitted.extend(result for result in mine if result != SUPPRESS)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted == [0] * 25


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_a_forked_child_starts_fresh() -> None:
    limiter = LogLimiter(limit=1, interval=3600)
    assert limiter.admit("k") == 0
    assert limiter.admit("k") == SUPPRESS
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees and leave at once
        try:
            os.write(write, f"{len(limiter)} {limiter.admit('k')} {limiter.admit('k')}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen = pipe.read()
    os.waitpid(pid, 0)
    assert seen == f"0 0 {SUPPRESS}"
    assert limiter.admit("k") == SUPPRESS  # the parent keeps its windows


def test_a_limit_below_one_is_no_limiter() -> None:
    with pytest.raises(ValueError):
        LogLimiter(limit=0)


@pytest.mark.parametrize(
    ("value", "limit"),
    [(None, None), ("", None), ("many", None), (True, None), (5, 5), ("7", 7), (" 12 ", 12), (0, 0), ("0", 0),
     ("none", 0), ("None", 0), ("unlimited", 0), ("off", 0), (-3, 0)],
)  # fmt: skip
def test_parse_limit(value: object, limit: int | None) -> None:
    assert parse_limit(value) == limit


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), ("", None), ("soon", None), ("0", None), (-1, None), ("nan", None), ("inf", None),
     (30, 30.0), ("0.5", 0.5), (" 120 ", 120.0)],
)  # fmt: skip
def test_parse_interval(value: object, seconds: float | None) -> None:
    assert parse_interval(value) == seconds


# --- through the instrumentation, against the fake 8x8 API ------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of every log limiter made from now on (the recorder makes its own at instrument())."""
    clock = Clock()
    monkeypatch.setattr(recorder_module, "LogLimiter", functools.partial(LogLimiter, clock=clock))
    return clock


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        yield session


@pytest.fixture
def instrument(telemetry: Telemetry, fake: FakeEightByEight) -> Iterator[Any]:
    instrumentor = EightByEightInstrumentor()

    def instrument(**kwargs: Any) -> None:
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            hosts=[fake.netloc],
            **kwargs,
        )

    try:
        yield instrument
    finally:
        instrumentor.uninstrument()


def send(session: requests.Session, fake: FakeEightByEight, text: str = "FAIL 1002") -> int:
    return session.post(fake.url + MESSAGES, json={"destination": PHONE, "text": text}, timeout=10).status_code


def error_counts(telemetry: Telemetry) -> dict[tuple[object, object], int]:
    return {
        (point.attributes.get("com.8x8.error.code"), point.attributes.get("url.template")): point.value
        for point in telemetry.metric_points("com.8x8.api.errors")
    }


def assert_every_span_complete(telemetry: Telemetry, calls: int, code: int = 1002) -> None:
    spans = telemetry.client_spans()
    assert len(spans) == calls
    for span in spans:
        attrs = dict(span.attributes or {})
        assert attrs["com.8x8.error.code"] == code
        assert attrs["com.8x8.error.category"] == "invalid_request"
        assert attrs["error.type"] == "400"
        assert "com.8x8.error.id" in attrs
        assert span.status.status_code is StatusCode.ERROR and "Invalid" in (span.status.description or "")


def test_a_storm_logs_n_records_then_one_with_the_suppressed_count(
    clock: Clock, instrument: Any, session: requests.Session, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    instrument(log_limit=3, log_interval=60)
    assert [send(session, fake) for _ in range(20)] == [400] * 20

    records = telemetry.log_records()
    assert len(records) == 3
    assert not any(SUPPRESSED in (record.attributes or {}) for record in records)
    assert not any("suppressed" in str(record.body) for record in records)
    assert_every_span_complete(telemetry, 20)
    assert error_counts(telemetry) == {(1002, TEMPLATE): 20}

    clock.now += 30
    send(session, fake)
    assert len(telemetry.log_records()) == 3
    clock.now += 30
    send(session, fake)

    records = telemetry.log_records()
    assert len(records) == 4
    last = records[-1]
    assert dict(last.attributes or {})[SUPPRESSED] == 18
    assert str(last.body).endswith(" (18 similar suppressed)")
    assert "1002" in str(last.body)
    [*_, span] = telemetry.client_spans()
    assert last.span_id == span.context.span_id  # the record of the call that wrote it, not of a suppressed one
    assert_every_span_complete(telemetry, 22)
    assert error_counts(telemetry) == {(1002, TEMPLATE): 22}


def test_keys_are_independent_through_the_instrumentation(
    clock: Clock, instrument: Any, session: requests.Session, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    instrument(log_limit=2)
    fake.script("GET", "/api/v1/subaccounts/acme-sub/phones/.*", error_envelope(1002, "Invalid MSISDN", 400))
    for _ in range(5):
        send(session, fake, "FAIL 1002")
        send(session, fake, "FAIL 1001")
        lookup = f"{fake.url}/api/v1/subaccounts/acme-sub/phones/{PHONE}"
        assert session.get(lookup, timeout=10).status_code == 400

    codes = [(attrs.get("com.8x8.error.code"), attrs.get("url.template")) for attrs in record_attributes(telemetry)]
    lookup_template = "/api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    assert sorted(codes) == sorted([(1002, TEMPLATE)] * 2 + [(1001, TEMPLATE)] * 2 + [(1002, lookup_template)] * 2)
    assert len(telemetry.client_spans()) == 15
    assert sum(error_counts(telemetry).values()) == 15


def record_attributes(telemetry: Telemetry) -> list[dict[str, Any]]:
    return [dict(record.attributes or {}) for record in telemetry.log_records()]


def test_by_default_a_single_error_is_logged_at_once(
    instrument: Any, session: requests.Session, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    instrument()
    send(session, fake)
    [record] = telemetry.log_records()
    assert SUPPRESSED not in (record.attributes or {})
    assert "suppressed" not in str(record.body)


def test_by_default_ten_records_per_key_per_minute(
    instrument: Any, session: requests.Session, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    instrument()
    for _ in range(15):
        send(session, fake)
    assert len(telemetry.log_records()) == 10
    assert_every_span_complete(telemetry, 15)
    assert error_counts(telemetry) == {(1002, TEMPLATE): 15}


@pytest.mark.parametrize("setting", [{"log_limit": 0}, {"env": "0"}, {"env": "none"}])
def test_unlimited(
    setting: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    instrument: Any,
    session: requests.Session,
    fake: FakeEightByEight,
    telemetry: Telemetry,
) -> None:
    if "env" in setting:
        monkeypatch.setenv("OTEL_PYTHON_8X8_LOG_LIMIT", setting["env"])
        instrument()
    else:
        instrument(**setting)
    for _ in range(25):
        send(session, fake)
    records = telemetry.log_records()
    assert len(records) == 25
    assert not any(SUPPRESSED in attrs for attrs in record_attributes(telemetry))


def test_limit_and_interval_from_the_environment(
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    instrument: Any,
    session: requests.Session,
    fake: FakeEightByEight,
    telemetry: Telemetry,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_8X8_LOG_LIMIT", "2")
    monkeypatch.setenv("OTEL_PYTHON_8X8_LOG_INTERVAL", "5")
    instrument()
    for _ in range(6):
        send(session, fake)
    assert len(telemetry.log_records()) == 2
    clock.now += 5
    send(session, fake)
    assert record_attributes(telemetry)[-1][SUPPRESSED] == 4


def test_keywords_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    instrument: Any,
    session: requests.Session,
    fake: FakeEightByEight,
    telemetry: Telemetry,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_8X8_LOG_LIMIT", "none")
    instrument(log_limit=1)
    for _ in range(4):
        send(session, fake)
    assert len(telemetry.log_records()) == 1


def test_threads_in_a_storm_log_exactly_n_records(
    instrument: Any, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    instrument(log_limit=5, log_interval=3600)
    start = threading.Barrier(8)
    statuses: list[int] = []

    def storm() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {API_KEY}"
            start.wait()
            statuses.extend(send(session, fake) for _ in range(10))

    threads = [threading.Thread(target=storm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [400] * 80
    assert len(telemetry.log_records()) == 5
    assert_every_span_complete(telemetry, 80)
    assert error_counts(telemetry) == {(1002, TEMPLATE): 80}


def test_a_failing_limiter_costs_only_the_record(
    monkeypatch: pytest.MonkeyPatch,
    instrument: Any,
    session: requests.Session,
    fake: FakeEightByEight,
    telemetry: Telemetry,
) -> None:
    instrument()

    def broken(self: LogLimiter, key: object) -> int:
        raise RuntimeError("limiter")

    monkeypatch.setattr(LogLimiter, "admit", broken)
    assert send(session, fake) == 400
    assert telemetry.log_records() == []
    assert_every_span_complete(telemetry, 1)
    assert error_counts(telemetry) == {(1002, TEMPLATE): 1}
