"""Real calls through requests, httpx and async httpx to a real fake-8x8 server on 127.0.0.1."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import propagate
from opentelemetry._logs import SeverityNumber
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import StatusCode

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

from .clients import CLIENTS, Call
from .conftest import API_KEY, PHONE, Telemetry

pytestmark = pytest.mark.parametrize("client", list(CLIENTS), ids=list(CLIENTS))

MESSAGES = "/api/v1/subaccounts/acme-sub/messages"
TEMPLATE = "/api/v1/subaccounts/{subAccountId}/messages"


def _send(client: str, fake: FakeEightByEight, text: str = "hello") -> tuple[Call, object]:
    call = CLIENTS[client]
    return call, call("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": text})


def test_success_is_one_client_span_with_8x8_attributes(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    result = CLIENTS[client]("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": "hi"})

    assert result.status == 200
    assert "umid" in json.loads(result.content)
    [span] = telemetry.client_spans()
    assert span.name == f"POST {TEMPLATE}"
    attrs = dict(span.attributes or {})
    assert attrs["http.request.method"] == "POST"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == fake.port
    assert attrs["url.full"] == fake.url + MESSAGES
    assert attrs["url.template"] == TEMPLATE
    assert attrs["http.response.status_code"] == 200
    assert attrs["com.8x8.subaccount.id"] == "acme-sub"
    assert not any(key.startswith("com.8x8.error") for key in attrs)
    assert "error.type" not in attrs
    assert span.status.status_code is StatusCode.UNSET
    assert telemetry.log_records() == []
    assert telemetry.metric_points("com.8x8.api.errors") == []
    [duration] = telemetry.metric_points("http.client.request.duration")
    assert duration.count == 1
    assert duration.attributes["url.template"] == TEMPLATE
    assert duration.attributes["http.response.status_code"] == 200


def test_error_envelope_reaches_span_log_and_counter(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    result = CLIENTS[client]("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": "FAIL 1002"})

    body = json.loads(result.content)
    assert result.status == 400 and body["code"] == 1002
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.code"] == 1002
    assert attrs["com.8x8.error.id"] == body["errorId"]
    assert attrs["com.8x8.error.category"] == "invalid_request"
    assert attrs["com.8x8.error.retryable"] is False
    assert attrs["error.type"] == "400"
    assert attrs["http.response.status_code"] == 400
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None
    assert "Invalid MSISDN" in span.status.description
    assert "6591234567" not in span.status.description

    [record] = telemetry.log_records()
    assert record.severity_number is SeverityNumber.WARN
    assert record.trace_id == span.context.trace_id
    assert record.span_id == span.context.span_id
    log_attrs = dict(record.attributes or {})
    for key in ("com.8x8.error.code", "com.8x8.error.id", "com.8x8.error.category", "url.template"):
        assert log_attrs[key] == attrs[key]
    assert "Invalid MSISDN" in str(log_attrs["com.8x8.error.message"])
    assert "6591234567" not in str(log_attrs["com.8x8.error.message"])
    assert "1002" in str(record.body)

    [point] = telemetry.metric_points("com.8x8.api.errors")
    assert point.value == 1
    assert dict(point.attributes) == {
        "com.8x8.error.code": 1002,
        "com.8x8.error.category": "invalid_request",
        "http.response.status_code": 400,
        "error.type": "400",
        "url.template": TEMPLATE,
    }


def test_rate_limit_records_retry_after_and_is_retryable(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    result = CLIENTS[client]("POST", fake.url + MESSAGES, json={"text": "FAIL 429"})

    assert result.status == 429
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.code"] == 429
    assert "com.8x8.error.id" not in attrs  # the real 429 body has no errorId
    assert attrs["com.8x8.error.category"] == "rate_limit"
    assert attrs["com.8x8.error.retryable"] is True
    assert attrs["com.8x8.retry_after"] == 1.0


@pytest.mark.parametrize(
    ("reply", "category", "level"),
    [
        (
            Reply(status=502, body="<html><body>Bad Gateway</body></html>", content_type="text/html"),
            "server_error",
            SeverityNumber.ERROR,
        ),
        (Reply(status=503, body=None), "server_error", SeverityNumber.ERROR),
        (Reply(status=504, body=b'{"code": 20'), "server_error", SeverityNumber.ERROR),
        (Reply(status=401, body={"code": "abc", "message": 7}), "auth", SeverityNumber.WARN),
        (Reply(status=409, body={"code": 987654, "message": "new code"}), "conflict", SeverityNumber.WARN),
        (Reply(status=413, body=[1, 2, 3]), "payload_too_large", SeverityNumber.WARN),
    ],
    ids=["html-502", "empty-503", "truncated-504", "wrong-types-401", "unknown-code-409", "array-413"],
)
def test_unusable_bodies_are_categorised_from_the_status(
    client: str,
    fake: FakeEightByEight,
    telemetry: Telemetry,
    instrumented: EightByEightInstrumentor,
    reply: Reply,
    category: str,
    level: SeverityNumber,
) -> None:
    fake.script("POST", MESSAGES, reply)

    result = CLIENTS[client]("POST", fake.url + MESSAGES, json={"text": "x"})

    assert result.status == reply.status
    [span] = telemetry.client_spans()
    attrs = dict(span.attributes or {})
    assert attrs["com.8x8.error.category"] == category
    assert attrs["error.type"] == str(reply.status)
    if reply.status == 409:
        assert attrs["com.8x8.error.code"] == 987654  # recorded as sent, even though the catalog does not know it
    else:
        assert "com.8x8.error.code" not in attrs
    [record] = telemetry.log_records()
    assert record.severity_number is level


def test_application_sees_the_same_bytes_and_headers(client: str, fake: FakeEightByEight, telemetry: Telemetry) -> None:
    reply = error_envelope(1300, "Object wasn't found or is already expired", 404)
    fake.script("GET", "/api/v1/subaccounts/acme/messages/u-1", reply)
    url = fake.url + "/api/v1/subaccounts/acme/messages/u-1"
    before = CLIENTS[client]("GET", url)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    try:
        during = CLIENTS[client]("GET", url)
    finally:
        instrumentor.uninstrument()

    assert during.status == before.status == 404
    assert during.content == before.content
    strip = {"date"}
    assert {k.lower(): v for k, v in during.headers.items() if k.lower() not in strip} == {
        k.lower(): v for k, v in before.headers.items() if k.lower() not in strip
    }
    assert len(telemetry.client_spans()) == 1


def test_other_hosts_are_left_alone(
    client: str, other_server: str, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    ok = CLIENTS[client]("GET", other_server + "/api/v1/subaccounts/acme/messages")
    failed = CLIENTS[client]("POST", other_server + "/error", json={"x": 1})

    assert ok.status == 200 and failed.status == 400
    assert telemetry.spans.get_finished_spans() == ()
    assert telemetry.log_records() == []
    assert telemetry.metric_points("com.8x8.api.errors") == []
    assert telemetry.metric_points("http.client.request.duration") == []


def test_secrets_and_phone_numbers_never_reach_telemetry(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    call = CLIENTS[client]
    call("GET", fake.url + f"/api/v1/subaccounts/acme/phones/{PHONE}?apikey={API_KEY}")
    call("POST", fake.url + f"/api/v1/subaccounts/acme/contacts/blacklist/{PHONE[1:]}", json={})
    call("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": "FAIL 1002"})

    spans = telemetry.client_spans()
    assert len(spans) == 3
    assert spans[0].name == "GET /api/v1/subaccounts/{subAccountId}/phones/{phoneNumber}"
    exported = " ".join(
        [s.to_json() for s in telemetry.spans.get_finished_spans()]
        + [f"{r.body} {dict(r.attributes or {})}" for r in telemetry.log_records()]
        + [telemetry.metrics.get_metrics_data().to_json()]  # type: ignore[union-attr]
    )
    assert "6591234567" not in exported
    assert API_KEY not in exported
    assert "Bearer" not in exported


def test_suppress_instrumentation_is_honoured(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        result = CLIENTS[client]("POST", fake.url + MESSAGES, json={"text": "FAIL 1002"})

    assert result.status == 400
    assert telemetry.spans.get_finished_spans() == ()
    assert telemetry.log_records() == []


def test_connection_error_reaches_the_app_unchanged_and_ends_the_span(
    client: str, telemetry: Telemetry, fake: FakeEightByEight
) -> None:
    netloc, url = fake.netloc, fake.url
    fake.stop()  # nothing listens on its port any more
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[netloc]
    )
    try:
        with pytest.raises(Exception) as raised:
            CLIENTS[client]("POST", url + MESSAGES, json={"text": "hi"})
    finally:
        instrumentor.uninstrument()

    [span] = telemetry.client_spans()
    error_type = span.attributes["error.type"]  # type: ignore[index]
    assert error_type == f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.end_time is not None


def test_log_record_can_be_turned_off_and_relevelled(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentor = EightByEightInstrumentor()
    for options, expected in (({"log_errors": False}, []), ({"log_level": "INFO"}, ["INFO"])):
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            hosts=[fake.netloc],
            **options,
        )
        caplog.clear()
        try:
            with caplog.at_level(logging.INFO, logger="otel_8x8"):
                CLIENTS[client]("POST", fake.url + MESSAGES, json={"text": "FAIL 2000"})
        finally:
            instrumentor.uninstrument()
        assert [r.levelname for r in caplog.records if r.name == "otel_8x8"] == expected
    # the counter counts regardless of logging
    assert sum(p.value for p in telemetry.metric_points("com.8x8.api.errors")) == 2


def test_the_request_leaves_as_the_app_built_it_but_for_the_trace_context(
    client: str, fake: FakeEightByEight, telemetry: Telemetry
) -> None:
    """otel-8x8 adds the propagator's headers (here W3C ``traceparent``, naming its span) and changes nothing
    else; with no propagator (``OTEL_PROPAGATORS=none``) the request is byte for byte the uninstrumented one."""
    body = {"destination": PHONE, "text": "FAIL 1002"}
    CLIENTS[client]("POST", fake.url + MESSAGES, json=body)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, hosts=[fake.netloc]
    )
    original = propagate.get_global_textmap()
    try:
        CLIENTS[client]("POST", fake.url + MESSAGES, json=body)
        propagate.set_global_textmap(CompositePropagator([]))
        CLIENTS[client]("POST", fake.url + MESSAGES, json=body)
    finally:
        propagate.set_global_textmap(original)
        instrumentor.uninstrument()

    plain, propagated, unpropagated = fake.requests
    spans = telemetry.client_spans()
    assert len(spans) == 2
    context = spans[0].get_span_context()
    assert context is not None
    assert propagated.headers["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )
    without_trace_context = {k: v for k, v in propagated.headers.items() if k.lower() != "traceparent"}
    assert without_trace_context == dict(plain.headers.items())
    assert dict(unpropagated.headers.items()) == dict(plain.headers.items())
    for sent in (propagated, unpropagated):
        assert (sent.method, sent.path, sent.query, sent.body) == (plain.method, plain.path, plain.query, plain.body)


def test_ids_that_echo_a_phone_number_are_redacted(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    """A gateway that puts the destination into errorId or umid must not get it into the telemetry."""
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400, error_id=f"err-{PHONE}"))
    CLIENTS[client]("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": "hi"})
    fake.reset()
    fake.script("POST", MESSAGES, Reply(status=200, body={"umid": PHONE, "status": {"state": "Queued"}}))
    CLIENTS[client]("POST", fake.url + MESSAGES, json={"destination": PHONE, "text": "hi"})

    error_span, sent_span = telemetry.client_spans()
    assert (error_span.attributes or {})["com.8x8.error.id"] == "err-REDACTED"
    assert (sent_span.attributes or {})["com.8x8.message.umid"] == "REDACTED"
    [record] = telemetry.log_records()
    assert (record.attributes or {})["com.8x8.error.id"] == "err-REDACTED"
    assert PHONE.lstrip("+") not in str(record.body)
