"""Errors hidden in a 200 and identifiers of successful sends (batch, Voice, Number Masking, umid)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply

from .clients import CLIENTS
from .conftest import PHONE, Telemetry

pytestmark = pytest.mark.parametrize("client", list(CLIENTS), ids=list(CLIENTS))

SUB = "/api/v1/subaccounts/acme"


def test_send_records_the_umid(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    result = CLIENTS[client]("POST", fake.url + SUB + "/messages", json={"destination": PHONE, "text": "hi"})

    [span] = telemetry.client_spans()
    assert span.attributes is not None
    assert span.attributes["com.8x8.message.umid"] == json.loads(result.content)["umid"]


def test_batch_partial_failure(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    rejected = {"code": "REJECTED", "description": f"Invalid MSISDN format {PHONE}"}
    bad_source = {"code": "REJECTED", "description": "Invalid Source"}
    answer = {
        "batchId": "b-7",
        "acceptedCount": 2,
        "rejectedCount": 4,
        "messages": [
            {"umid": "u1", "status": {"code": "QUEUED"}},
            {"umid": "u2", "status": {"code": "QUEUED"}},
            {"status": rejected},
            {"status": rejected},
            {"status": bad_source},
            {"status": {"code": "REJECTED", "description": "Something new"}},
        ],
    }
    fake.script("POST", SUB + "/messages/batch", Reply(status=200, body=answer))

    result = CLIENTS[client]("POST", fake.url + SUB + "/messages/batch", json={"messages": []})

    assert json.loads(result.content) == answer
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.batch.id"] == "b-7"
    assert attrs["com.8x8.batch.accepted_count"] == 2
    assert attrs["com.8x8.batch.rejected_count"] == 4
    assert span.status.status_code is StatusCode.UNSET  # the call itself succeeded
    events = {
        e.attributes["com.8x8.batch.rejection.reason"]: e.attributes["com.8x8.batch.rejected_count"]
        for e in span.events
        if e.name == "com.8x8.batch.rejection" and e.attributes
    }
    assert events == {"Invalid MSISDN format REDACTED": 2, "Invalid Source": 1, "Something new": 1}
    counted = {
        (p.attributes.get("com.8x8.error.code"), p.attributes["com.8x8.error.category"]): p.value
        for p in telemetry.metric_points("com.8x8.api.errors")
    }
    assert counted == {(1002, "invalid_request"): 2, (1005, "invalid_request"): 1, (None, "invalid_request"): 1}
    assert "6591234567" not in span.to_json()


@pytest.mark.parametrize("http_status", [200, 400])
def test_voice_callflow_not_created(
    client: str,
    http_status: int,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    instrumented: EightByEightInstrumentor,
) -> None:
    answer = {
        "sessionStatus": "NOT_CREATED",
        "statusCode": -1017,
        "statusMessage": "Invalid MSISDN format in Destination",
    }
    fake.script("POST", SUB + "/callflows", Reply(status=http_status, body=answer))

    CLIENTS[client]("POST", fake.url + SUB + "/callflows", json={"callflow": []})

    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "POST /api/v1/subaccounts/{subAccountId}/callflows"
    assert attrs["com.8x8.error.code"] == -1017
    assert attrs["com.8x8.error.category"] == "invalid_request"
    assert attrs["error.type"] == ("NOT_CREATED" if http_status == 200 else "400")
    assert span.status.status_code is StatusCode.ERROR
    [record] = telemetry.log_records()
    assert dict(record.attributes or {})["com.8x8.error.code"] == -1017
    [point] = telemetry.metric_points("com.8x8.api.errors")
    assert point.attributes["com.8x8.error.code"] == -1017


def test_voice_callflow_created_is_not_an_error(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    answer = {"sessionId": "s1", "sessionStatus": "CREATED", "statusCode": 1, "statusMessage": "Created"}
    fake.script("POST", SUB + "/callflows", Reply(status=200, body=answer))

    CLIENTS[client]("POST", fake.url + SUB + "/callflows", json={"callflow": []})

    [span] = telemetry.client_spans()
    assert "com.8x8.error.code" not in (span.attributes or {})
    assert telemetry.metric_points("com.8x8.api.errors") == []


def test_number_masking_error_shape(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    answer = {
        "errorId": "e9e1b1d2-0000-4000-8000-000000000001",
        "statusCode": "-2008",
        "statusMessage": f"The provided source MSISDN or caller ID is not whitelisted: {PHONE}",
        "timestamp": "2018-08-04T09:25:40.9235752+00:00",
    }
    fake.script("POST", SUB + "/callflows", Reply(status=400, body=answer))

    CLIENTS[client]("POST", fake.url + SUB + "/callflows", json={})

    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.code"] == -2008
    assert attrs["com.8x8.error.id"] == answer["errorId"]
    assert attrs["com.8x8.error.category"] == "forbidden"
    assert span.status.description is not None and "REDACTED" in span.status.description
