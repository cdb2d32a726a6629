"""What each product's answers tell: failures inside HTTP 200 (Number Lookup, Voice callflows), codes that mean
other things per product (Voice's "1001"), Chat Apps batch rejections with their codes, Automation and Video."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import requests
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8 import attributes as A
from otel_8x8.testing import FakeEightByEight, Reply

from .conftest import Telemetry

LOOKUP = "/api/v1/subaccounts/acme/phones/+6591234567"
LOOKUP_FAILED = {
    "requestId": "7b1ab2d4-3f0c-4b7e-9a51-1d2e3f4a5b6c",
    "phoneNumber": "+6591234567",
    "status": {
        "state": "error",
        "timestamp": "2020-12-07T07:38:11.43Z",
        "errorCode": 6000,
        "errorMessage": "Destination operator is currently not available",
    },
}


@contextmanager
def instrumented_as(telemetry: Telemetry, fake: FakeEightByEight, product: str) -> Iterator[None]:
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        hosts=[f"{fake.netloc}={product}"],
    )
    try:
        yield
    finally:
        instrumentor.uninstrument()


def error_points(telemetry: Telemetry) -> list[dict[str, Any]]:
    return [{**point.attributes, "value": point.value} for point in telemetry.metric_points(A.ERRORS_METRIC)]


def test_a_lookup_failure_inside_http_200_is_an_error(telemetry: Telemetry, fake: FakeEightByEight) -> None:
    fake.script("GET", LOOKUP, Reply(200, LOOKUP_FAILED))
    with instrumented_as(telemetry, fake, "lookup"):
        response = requests.get(fake.url + LOOKUP, timeout=10)
    assert response.status_code == 200 and response.json() == LOOKUP_FAILED  # the app sees 8x8's answer
    [span] = telemetry.client_spans()
    attributes = span.attributes or {}
    assert span.name == "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Destination operator is currently not available"
    assert attributes[A.ERROR_CODE] == 6000
    assert attributes[A.ERROR_CATEGORY] == "unsupported"
    assert attributes[A.ERROR_TYPE] == "LOOKUP_ERROR"
    assert attributes[A.ERROR_ID] == LOOKUP_FAILED["requestId"]
    assert attributes[A.HTTP_RESPONSE_STATUS_CODE] == 200
    [record] = telemetry.log_records()
    assert record.attributes[A.ERROR_CODE] == 6000
    assert "Live lookup on destination operator is currently not available" in str(record.body)
    assert record.span_id == span.context.span_id
    assert error_points(telemetry) == [
        {
            A.PRODUCT: "lookup",
            A.ERROR_CODE: 6000,
            A.ERROR_CATEGORY: "unsupported",
            A.HTTP_RESPONSE_STATUS_CODE: 200,
            A.ERROR_TYPE: "LOOKUP_ERROR",
            A.URL_TEMPLATE: "/api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}",
            "value": 1,
        }
    ]


def test_a_successful_lookup_is_no_error(telemetry: Telemetry, fake: FakeEightByEight) -> None:
    answer = {"phoneNumber": "+6591234567", "status": {"state": "ok", "timestamp": "2020-12-07T07:38:11.43Z"}}
    fake.script("GET", LOOKUP, Reply(200, answer))
    with instrumented_as(telemetry, fake, "lookup"):
        requests.get(fake.url + LOOKUP, timeout=10)
    [span] = telemetry.client_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert A.ERROR_CODE not in (span.attributes or {})
    assert not telemetry.log_records() and not error_points(telemetry)


def test_voice_422_with_a_string_status_code_is_described_as_voice_says(
    telemetry: Telemetry, fake: FakeEightByEight
) -> None:
    body = {
        "errorId": "5c1f8a2e-0b6d-4f3a-9e7c-2d4b6a8c0e1f",
        "statusCode": "1001",
        "statusMessage": "Invalid JSON request body",
        "timestamp": "2021-01-01T00:00:00Z",
    }
    fake.script("POST", "/api/v1/subaccounts/acme/webhooks", Reply(422, body))
    with instrumented_as(telemetry, fake, "voice"):
        httpx.post(fake.url + "/api/v1/subaccounts/acme/webhooks", content=b"{", timeout=10)
    [span] = telemetry.client_spans()
    attributes = span.attributes or {}
    assert attributes[A.ERROR_CODE] == 1001
    assert attributes[A.ERROR_CATEGORY] == "invalid_request"
    [record] = telemetry.log_records()
    assert "error 1001 (Invalid JSON request body)" in str(record.body)
    assert "Illegal SubAccountId" not in str(record.body)  # the SMS table's 1001


def test_sms_1001_keeps_the_sms_meaning(telemetry: Telemetry, fake: FakeEightByEight) -> None:
    with instrumented_as(telemetry, fake, "sms"):
        requests.post(
            fake.url + "/api/v1/subaccounts/acme/messages", json={"text": "FAIL 1001"}, headers=AUTH, timeout=10
        )
    [record] = telemetry.log_records()
    assert "error 1001 (Illegal SubAccountId)" in str(record.body)


AUTH = {"Authorization": "Bearer k"}


def test_a_voice_callflow_not_created_with_http_200_carries_its_request_id(
    telemetry: Telemetry, fake: FakeEightByEight
) -> None:
    body = {
        "sessionStatus": "NOT_CREATED",
        "callFlowRequestId": "0f4c2e1a-8b7d-4c3e-a1f2-9e8d7c6b5a41",
        "statusCode": -1013,
        "statusMessage": "Invalid Callflow : First action should be a MakeCall action",
    }
    fake.script("POST", "/api/v1/subaccounts/acme/callflows", Reply(200, body))
    with instrumented_as(telemetry, fake, "voice"):
        requests.post(fake.url + "/api/v1/subaccounts/acme/callflows", json={}, timeout=10)
    [span] = telemetry.client_spans()
    attributes = span.attributes or {}
    assert attributes[A.ERROR_CODE] == -1013
    assert attributes[A.ERROR_TYPE] == "NOT_CREATED"
    assert attributes[A.ERROR_ID] == body["callFlowRequestId"]


def test_a_chatapps_batch_rejection_is_counted_by_its_error_code(telemetry: Telemetry, fake: FakeEightByEight) -> None:
    body = {
        "batchId": "2d9a5b1c-6e3f-4a7b-8c9d-0e1f2a3b4c5d",
        "acceptedCount": 1,
        "rejectedCount": 2,
        "messages": [
            {"umid": "u1", "status": {"state": "queued"}},
            {"status": {"state": "rejected", "errorCode": 3047, "errorMessage": "WhatsApp user id is missing"}},
            {"status": {"state": "rejected", "errorCode": 3047, "errorMessage": "WhatsApp user id is missing"}},
        ],
    }
    fake.script("POST", "/api/v1/subaccounts/acme/messages/batch", Reply(200, body))
    with instrumented_as(telemetry, fake, "chatapps"):
        requests.post(fake.url + "/api/v1/subaccounts/acme/messages/batch", json={}, timeout=10)
    [span] = telemetry.client_spans()
    assert (span.attributes or {})[A.BATCH_REJECTED] == 2
    [point] = error_points(telemetry)
    assert (point[A.ERROR_CODE], point["value"], point[A.ERROR_TYPE]) == (3047, 2, "REJECTED")
    assert point[A.PRODUCT] == "chatapps"


def test_automation_and_video_calls_are_observed_with_their_errors(
    telemetry: Telemetry, fake: FakeEightByEight
) -> None:
    definitions = "/api/v1/accounts/acme/definitions"
    error = {"code": 5001, "message": "Workflow name is required.", "errorId": "e-1", "timestamp": "t"}
    fake.script("POST", definitions, Reply(400, error))
    fake.script("GET", "/api/v1/calls/8f1e2d3c", Reply(404, {"code": 1300, "message": "Not found"}))
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:  # a host that does not tell: the documented operation tells the product
        requests.post(fake.url + definitions, json={}, timeout=10)
        requests.get(fake.url + "/api/v1/calls/8f1e2d3c", timeout=10)
    finally:
        instrumentor.uninstrument()
    automation, video = telemetry.client_spans()
    assert automation.name == "POST /api/v1/accounts/{accountId}/definitions"
    assert video.name == "GET /api/v1/calls/{id}"
    assert [(span.attributes or {})[A.PRODUCT] for span in (automation, video)] == ["automation", "video"]
    assert (automation.attributes or {})[A.ERROR_CODE] == 5001
    assert (automation.attributes or {})[A.ERROR_CATEGORY] == "invalid_request"
    assert (video.attributes or {})[A.ERROR_CATEGORY] == "not_found"
    assert len(telemetry.log_records()) == 2
    assert sorted(point[A.PRODUCT] for point in error_points(telemetry)) == ["automation", "video"]
