"""The error-envelope parser never raises, and keeps only well-typed fields; read_error on top of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_8x8.answers import read_error
from otel_8x8.envelope import MAX_ENVELOPE_BYTES, Envelope, parse_envelope, parse_object

SEED_EXAMPLE = b"""{
"code": 1300,
"message": "Object wasn't found or is already expired",
"errorId": "1cc1eda1-f5dd-ea11-8288-0263195dd35a",
"timestamp": "2020-12-22T05:52:01.85Z"
}"""
QUOTA_BODY = b'{"code": 429, "message": "Quota exceeded. Please try again in 1 second(s)."}'


def assert_well_typed(envelope: Envelope) -> None:
    assert envelope.code is None or (type(envelope.code) is int and -(2**63) <= envelope.code < 2**63)
    assert envelope.message is None or isinstance(envelope.message, str)
    assert envelope.error_id is None or isinstance(envelope.error_id, str)


# --- documented shapes --------------------------------------------------------------------------


def test_seed_example() -> None:
    envelope = parse_envelope(SEED_EXAMPLE)
    assert envelope.code == 1300
    assert envelope.message == "Object wasn't found or is already expired"
    assert envelope.error_id == "1cc1eda1-f5dd-ea11-8288-0263195dd35a"


def test_rate_limit_body_has_http_code_and_no_error_id() -> None:
    envelope = parse_envelope(QUOTA_BODY)
    assert envelope.code == 429
    assert envelope.message == "Quota exceeded. Please try again in 1 second(s)."
    assert envelope.error_id is None


def test_duplicate_keys_last_wins() -> None:
    envelope = parse_envelope(b'{"code": 1000, "message": "a", "code": 1300, "message": "b"}')
    assert (envelope.code, envelope.message) == (1300, "b")


# --- hostile bodies: never raise, no field -----------------------------------------------------

EMPTY_BODIES = {
    "none": None,
    "empty": b"",
    "whitespace": b"  \r\n ",
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "truncated": b'{"code": 1300, "message": "Object wa',
    "array": b'[{"code": 1300}]',
    "string": b'"code"',
    "number": b"1300",
    "null": b"null",
    "deep_100000": b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep_30000_under_size_limit": b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    "digits_5000": b'{"code": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("body", EMPTY_BODIES.values(), ids=EMPTY_BODIES.keys())
def test_unusable_body_gives_no_fields(body: bytes | None) -> None:
    assert parse_envelope(body) == Envelope(None, None, None)


WRONG_TYPES = {
    "string_code": b'{"code": "abc", "message": 5, "errorId": 7}',
    "null_fields": b'{"code": null, "message": null, "errorId": null}',
    "float_code": b'{"code": 1300.0, "message": ["x"], "errorId": {"a": 1}}',
    "bool_code": b'{"code": true, "message": false, "errorId": true}',
    "nan_code": b'{"code": NaN, "message": "m"}',
    "infinity_code": b'{"code": Infinity}',
    "minus_infinity_code": b'{"code": -Infinity}',
}


@pytest.mark.parametrize("body", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_wrong_typed_code_is_none(body: bytes) -> None:
    envelope = parse_envelope(body)
    assert envelope.code is None
    assert_well_typed(envelope)


def test_wrong_typed_text_fields_are_none() -> None:
    envelope = parse_envelope(b'{"code": 1300, "message": 5, "errorId": ["1cc1eda1"]}')
    assert envelope == Envelope(1300, None, None)


@pytest.mark.parametrize("code", [10**30, -(10**30), 2**63])
def test_huge_int_code_is_not_recordable(code: int) -> None:
    # An OpenTelemetry int attribute is 64-bit: a code that does not fit is not a code.
    envelope = parse_envelope(b'{"code": %d, "message": "m"}' % code)
    assert envelope.code is None
    assert envelope.message == "m"


def test_invalid_utf8_does_not_raise() -> None:
    envelope = parse_envelope(b'{"code": 1300, "message": "\xff\xfe\xfa"}')
    assert envelope.code in (None, 1300)
    assert_well_typed(envelope)


def test_utf16_json_does_not_raise() -> None:
    envelope = parse_envelope('{"code": 1300, "message": "m"}'.encode("utf-16"))
    assert envelope.code in (None, 1300)
    assert_well_typed(envelope)


def test_body_over_64kib_does_not_raise() -> None:
    body = b'{"code": 1300, "message": "' + b"x" * (64 * 1024) + b'"}'
    assert_well_typed(parse_envelope(body))
    padded = SEED_EXAMPLE + b" " * (64 * 1024)
    assert_well_typed(parse_envelope(padded))


# --- properties ---------------------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
envelope_like = st.dictionaries(
    st.sampled_from(["code", "message", "errorId", "timestamp"]) | st.text(max_size=8), json_values, max_size=6
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"{" + b))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    assert_well_typed(parse_envelope(body))


@settings(max_examples=100, deadline=None)
@given(envelope_like)
def test_arbitrary_json_objects_are_well_typed(data: dict[str, Any]) -> None:
    envelope = parse_envelope(json.dumps(data).encode())
    assert_well_typed(envelope)
    code = data.get("code")
    if type(code) is int and -(2**63) <= code < 2**63:
        assert envelope.code == code
    message = data.get("message")
    if isinstance(message, str) and message:
        assert envelope.message == message


# --- read_error ---------------------------------------------------------------------------------


def headers(values: dict[str, str]) -> Callable[[str], str | None]:
    lowered = {name.lower(): value for name, value in values.items()}
    return lambda name: lowered.get(name.lower())


def test_read_error_rate_limit_with_retry_after() -> None:
    error = read_error(429, QUOTA_BODY, headers({"Retry-After": "1"}))
    assert error.category.value == "rate_limit"
    assert error.category.retryable
    assert error.retry_after == 1.0
    assert error.envelope.code == 429
    assert error.envelope.error_id is None
    assert error.error_type == "429"


def test_read_error_gateway_html_is_server_error() -> None:
    error = read_error(502, EMPTY_BODIES["html"], headers({}))
    assert error.category.value == "server_error"
    assert error.envelope == Envelope(None, None, None)
    assert error.retry_after is None
    assert error.message is None


def test_read_error_unknown_code_uses_status() -> None:
    error = read_error(404, b'{"code": 9999, "message": "new"}', headers({}))
    assert error.envelope.code == 9999
    assert error.category.value == "not_found"


def test_read_error_redacts_message() -> None:
    error = read_error(400, b'{"code": 1002, "message": "Invalid MSISDN +6591234567"}', headers({}))
    assert error.category.value == "invalid_request"
    assert error.message is not None
    assert "6591234567" not in error.message
    assert error.message.startswith("Invalid MSISDN")


def _parsed_by_json_loads(body: bytes) -> object:
    """The oracle: what ``parse_object`` returned when it called ``json.loads`` on the stripped body."""
    if not body or len(body) > MAX_ENVELOPE_BYTES:
        return None
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
_padding = st.text(alphabet=" \t\n\r\x0b\x0c", max_size=3)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda before, value, after, extra, encoding: (before + json.dumps(value) + after + extra).encode(
                encoding, "surrogatepass"
            ),
            _padding,
            st.dictionaries(st.text(max_size=5), _json_values, max_size=4) | _json_values,
            _padding,
            st.sampled_from(["", "", "x", "}", " {}", "\x00", "\ufeff"]),
            st.sampled_from(["utf-8", "utf-8", "utf-16-le", "utf-32-le"]),
        ),
    )
)
def test_parse_object_reads_what_json_loads_reads(body: bytes) -> None:
    assert repr(parse_object(body)) == repr(_parsed_by_json_loads(body))  # repr: NaN is not equal to itself


@given(st.text(alphabet=st.characters(codec=None), min_size=1), st.text(min_size=1, max_size=100))
@settings(max_examples=200)
def test_texts_read_from_an_envelope_always_encode_as_utf8(message: str, error_id: str) -> None:
    """JSON may carry lone surrogates (``"\\udfff"``); OTLP's UTF-8 encoder would drop the whole batch for one."""
    body = json.dumps({"code": 1002, "message": message, "errorId": error_id}).encode()
    envelope = parse_envelope(body)
    assert envelope.message is not None and envelope.error_id is not None
    envelope.message.encode("utf-8")
    envelope.error_id.encode("utf-8")
    if not any("\ud800" <= c <= "\udfff" for c in message):
        assert envelope.message == message  # valid text is kept as it is
    assert len(envelope.message) == len(message)  # replaced, not dropped


def test_a_lone_surrogate_is_replaced_in_an_exception_message(telemetry: Any) -> None:
    from opentelemetry.trace import Status

    from otel_8x8.config import Options
    from otel_8x8.recorder import Recorder

    recorder = Recorder(telemetry.meter_provider.get_meter("t"), Options.from_kwargs({}))
    span = telemetry.tracer_provider.get_tracer("t").start_span("call")
    recorder.record_exception(span, ValueError("bad \udfff value"))
    span.end()
    [finished] = telemetry.spans.get_finished_spans()
    assert isinstance(finished.status, Status)
    assert finished.status.description == "ValueError: bad \ufffd value"
    assert finished.events[0].attributes is not None
    assert finished.events[0].attributes["exception.message"] == "bad \ufffd value"


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "1200", "message": "Unauthorized"}',  # a numeric string, as the app's r.json() reads it
        b'\xef\xbb\xbf{"code": 1200, "message": "Unauthorized"}',  # UTF-8 with a byte order mark
        '{"code": 1200, "message": "Unauthorized"}'.encode("utf-16"),  # UTF-16 with its BOM
        '{"code": 1200, "message": "Unauthorized"}'.encode("utf-16-be"),
        '{"code": 1200, "message": "Unauthorized"}'.encode("utf-32"),
    ],
)
def test_what_json_loads_reads_is_read(body: bytes) -> None:
    assert json.loads(body)["code"] in (1200, "1200")
    envelope = parse_envelope(body)
    assert (envelope.code, envelope.message) == (1200, "Unauthorized")
    assert read_error(400, body, lambda name: None).category.value == "auth"


# --- batch answers read without a second full parse ----------------------------------------------------

_TRICKY_TEXT = st.sampled_from(
    ['"rejectedCount": 7', ',"acceptedCount":1', '{"batchId": "x"}', "\\\\", '\\"rejectedCount\\":', "plain"]
) | st.text(max_size=20)
_MESSAGE = st.fixed_dictionaries(
    {
        "umid": st.uuids().map(str),
        "text": _TRICKY_TEXT,
        "status": st.sampled_from(
            [
                {"code": "QUEUED", "description": "queued"},
                {"code": "REJECTED", "description": "Invalid MSISDN format"},
                {"state": "rejected", "errorCode": 3047, "errorMessage": "missing"},
            ]
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_MESSAGE, max_size=8),
    st.one_of(st.none(), st.uuids().map(str), _TRICKY_TEXT),
    st.sampled_from([None, 0, (2,), (4,)]),
    st.randoms(use_true_random=False),
)
def test_read_batch_finds_what_a_full_parse_finds(
    messages: list[dict[str, Any]], batch_id: str | None, style: Any, random: Any
) -> None:
    from otel_8x8.envelope import MAX_BATCH_BYTES, batch_of, read_batch

    rejected = sum(
        1
        for m in messages
        if m["status"]
        in (
            {"code": "REJECTED", "description": "Invalid MSISDN format"},
            {"state": "rejected", "errorCode": 3047, "errorMessage": "missing"},
        )
    )
    answer: dict[str, Any] = {
        "messages": messages,
        "acceptedCount": len(messages) - rejected,
        "rejectedCount": rejected,
    }
    if batch_id is not None:
        answer["batchId"] = batch_id
    items = list(answer.items())
    random.shuffle(items)  # any member order
    if style is None:
        body = json.dumps(dict(items)).encode()
    elif style == 0:
        body = json.dumps(dict(items), separators=(",", ":")).encode()
    else:
        body = json.dumps(dict(items), indent=style[0]).encode()
    full = batch_of(parse_object(body, limit=MAX_BATCH_BYTES))
    scanned = read_batch(body)
    assert full is not None and scanned is not None
    assert (scanned.batch_id, scanned.accepted, scanned.rejected) == (full.batch_id, full.accepted, full.rejected)
    assert scanned.reasons == full.reasons and scanned.codes == full.codes


def test_read_batch_does_not_parse_a_batch_without_rejections(monkeypatch: pytest.MonkeyPatch) -> None:
    import otel_8x8.envelope as envelope

    body = json.dumps({"batchId": "b-1", "acceptedCount": 2, "rejectedCount": 0, "messages": [{}, {}]}).encode()
    monkeypatch.setattr(envelope, "parse_object", lambda *args, **kwargs: pytest.fail("parsed whole"))
    batch = envelope.read_batch(body)
    assert batch is not None and (batch.batch_id, batch.accepted, batch.rejected) == ("b-1", 2, 0)


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "rejectedCount", "x": 1}',  # a value, not a member name
        b'["rejectedCount", 1]',
        b'{"a": "\\"rejectedCount\\": 3"}',  # inside a string
    ],
)
def test_a_member_name_is_told_from_a_string(body: bytes) -> None:
    from otel_8x8.envelope import read_batch

    assert read_batch(body) is None
