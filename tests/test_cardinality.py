"""Metric attributes stay bounded whatever 8x8 (or a gateway in front of it) answers: unknown codes, deep paths."""

from __future__ import annotations

import pytest
import requests

from otel_8x8 import attributes as A
from otel_8x8.catalog import CATALOG
from otel_8x8.testing import FakeEightByEight, Reply

from .conftest import Telemetry

pytestmark = pytest.mark.e2e  # long loops: 1,000 answers, 300 path depths

SEND = "/api/v1/subaccounts/acme/messages"
UNKNOWN_CODES = [code for code in range(100_000, 101_000) if code not in CATALOG]


def test_unknown_codes_make_no_new_error_series(
    telemetry: Telemetry, fake: FakeEightByEight, instrumented: object
) -> None:
    fake.script("POST", SEND, [Reply(400, {"code": code, "message": "new"}) for code in UNKNOWN_CODES])
    fake.script("POST", SEND + "/batch", Reply(200, {"acceptedCount": 0, "rejectedCount": 2, "messages": [
        {"status": {"state": "rejected", "errorCode": 987654, "errorMessage": "new reason"}},
        {"status": {"state": "rejected", "errorCode": 3047, "errorMessage": "WhatsApp user id is missing"}},
    ]}))  # fmt: skip
    with requests.Session() as session:
        for _ in UNKNOWN_CODES:
            session.post(fake.url + SEND, json={}, timeout=10)
        session.post(fake.url + SEND + "/batch", json={}, timeout=10)
    points = telemetry.metric_points(A.ERRORS_METRIC)
    by_code = {point.attributes.get(A.ERROR_CODE): point for point in points if point.attributes[A.ERROR_TYPE] == "400"}
    assert list(by_code) == [None]  # one series for all 1,000 unknown codes
    assert by_code[None].value == len(UNKNOWN_CODES)
    assert by_code[None].attributes[A.ERROR_CATEGORY] == "invalid_request"  # category and status still there
    rejected = sorted(
        (point.attributes.get(A.ERROR_CODE, 0), point.value)
        for point in points
        if point.attributes[A.ERROR_TYPE] == "REJECTED"
    )
    assert rejected == [(0, 1), (3047, 1)]
    codes = {
        span.attributes[A.ERROR_CODE]
        for span in telemetry.client_spans()
        if span.attributes and A.ERROR_CODE in span.attributes
    }
    assert set(UNKNOWN_CODES) <= codes  # spans keep the real code
    assert len(telemetry.log_records()) == len(UNKNOWN_CODES)


def test_deep_and_odd_paths_make_a_bounded_number_of_templates(
    telemetry: Telemetry, fake: FakeEightByEight, instrumented: object
) -> None:
    with requests.Session() as session:
        for depth in range(1, 301):
            session.get(fake.url + "/x" * depth, timeout=10)
            session.get(fake.url + "/" * depth + "x", timeout=10)
    templates = {span.attributes[A.URL_TEMPLATE] for span in telemetry.client_spans() if span.attributes}
    assert len(templates) <= 16
    series = {point.attributes[A.URL_TEMPLATE] for point in telemetry.metric_points(A.DURATION_METRIC)}
    assert series == templates
