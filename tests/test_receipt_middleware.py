"""The receipts middleware against hostile and unusual requests: bodies that lie about their length, stall or
break, apps that answer lazily or are mounted under a prefix, and receipts that try to forge log lines."""

from __future__ import annotations

import io
import logging

import pytest

from otel_8x8 import attributes as A
from otel_8x8.receipts import ReceiptRecorder

from .conftest import Telemetry
from .test_receipts import UMID, encode, receipt_spans, sms_receipt

# --- log injection ----------------------------------------------------------------------------------------------

FORGED = "\nERROR 8x8 forged line for message 1"


@pytest.mark.parametrize(
    "separator",
    ["\n", "\r\n", "\r", "\x1b[2K\r", "\x85", "\u2028", "\x7f", "\x00", "\x0b", "\x0c", "\x1c", "\x9b"],
    ids=repr,
)
def test_umid_and_error_message_cannot_forge_log_lines(telemetry: Telemetry, separator: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("test.receipts.injection")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        recorder = ReceiptRecorder(telemetry.tracer_provider, telemetry.meter_provider, logger=logger)
        receipt = sms_receipt(umid=f"abc{separator}ERROR forged", message=f"Bad destination{separator}{FORGED}")
        recorder.record(encode(receipt))
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert output.endswith("\n")
    lines = output[:-1]
    assert lines.startswith("WARNING test.receipts.injection 8x8 sms delivery error 15")
    assert lines.splitlines() == [lines]  # one record, one line (str.splitlines knows every line break)
    assert not [c for c in lines if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029"]
    assert "ERROR forged" in lines and "forged line" in lines  # escaped, not dropped
    (span,) = receipt_spans(telemetry)  # the same escaped text on the span
    attributes = dict(span.attributes or {})
    assert "\n" not in str(attributes[A.MESSAGE_UMID]) and "\n" not in str(span.status.description)


def test_ordinary_texts_are_unchanged(telemetry: Telemetry, recorder: ReceiptRecorder) -> None:
    recorder.record(encode(sms_receipt(message="Invalid destination é \u00a0 \\n ok")))
    (span,) = receipt_spans(telemetry)
    assert span.status.description == "Invalid destination é \u00a0 \\n ok"
    assert dict(span.attributes or {})[A.MESSAGE_UMID] == UMID


@pytest.fixture
def recorder(telemetry: Telemetry) -> ReceiptRecorder:
    return ReceiptRecorder(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
