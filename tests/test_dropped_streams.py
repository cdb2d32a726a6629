"""A streamed error response the app drops without reading or closing it: the span still ends, off the app's thread.

The last resort is a finalizer on the response, which the garbage collector may run anywhere, in any thread,
with any lock held. So it only hands the work over to a thread of otel-8x8's own, which records the error (log
record included) and ends the span.
"""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from opentelemetry.sdk.trace import ReadableSpan

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, error_envelope
from otel_8x8.testing.console import parse_console_output

from .conftest import API_KEY, Telemetry
from .support import app_environment, on_error_logger, run_instrumented

AUTH = {"Authorization": f"Bearer {API_KEY}"}
MESSAGES = "/api/v1/subaccounts/acme/messages"


def _drop_streamed_error(client: str, url: str) -> None:
    """Send, get a streamed error, and drop the response unread and unclosed."""
    if client == "requests":
        response: Any = requests.post(url, json={}, headers=AUTH, stream=True)
        assert response.status_code >= 400
    else:
        http = httpx.Client()
        response = http.send(http.build_request("POST", url, json={}, headers=AUTH), stream=True)
        assert response.status_code >= 400
    del response
    gc.collect()


def _wait_for_spans(telemetry: Telemetry, count: int) -> list[ReadableSpan]:
    deadline = time.monotonic() + 10
    while len(telemetry.client_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return telemetry.client_spans()


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_a_dropped_streamed_error_still_ends_its_span(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1200, "Unauthorized", 401))

    _drop_streamed_error(client, fake.url + MESSAGES)

    [span] = _wait_for_spans(telemetry, 1)
    attrs = dict(span.attributes or {})
    assert attrs["http.response.status_code"] == 401
    assert attrs["com.8x8.error.category"] == "auth"
    assert "com.8x8.error.code" not in attrs  # nobody read the body
    [record] = telemetry.log_records()
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    [point] = telemetry.metric_points("com.8x8.api.errors")
    assert point.value == 1


class _LockingHandler(logging.Handler):
    """A handler that needs a lock the application holds (as a logging or SDK lock may be, during a collection)."""

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__()
        self.app_lock = lock
        self.threads: list[int] = []
        self.gave_up = False

    def emit(self, record: logging.LogRecord) -> None:
        self.threads.append(threading.get_ident())
        if self.app_lock.acquire(timeout=2):
            self.app_lock.release()
        else:
            self.gave_up = True


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_dropping_a_streamed_error_while_holding_a_lock_the_log_handler_needs_does_not_block(
    client: str, fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400))
    lock = threading.Lock()
    handler = _LockingHandler(lock)
    with on_error_logger(handler):
        with lock:  # finishing on this thread, in the finalizer, would wait for this lock: a deadlock
            _drop_streamed_error(client, fake.url + MESSAGES)
        [span] = _wait_for_spans(telemetry, 1)
        deadline = time.monotonic() + 10
        while not handler.threads and time.monotonic() < deadline:
            time.sleep(0.01)

    assert handler.threads and threading.get_ident() not in handler.threads
    assert not handler.gave_up
    assert (span.attributes or {})["com.8x8.error.category"] == "invalid_request"


def test_responses_held_until_exit_still_export_their_spans(fake: FakeEightByEight, tmp_path: Path) -> None:
    """Under opentelemetry-instrument, with otel-8x8 owning the spans: they end at exit, before the SDK flushes."""
    fake.script("POST", MESSAGES, error_envelope(1200, "Unauthorized", 401))
    env = app_environment(
        fake.netloc,
        OTEL_SERVICE_NAME="held-streams",
        EIGHTXEIGHT_URL=fake.url,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests,httpx,urllib3",
    )
    completed = run_instrumented(Path(__file__).parent / "apps" / "held_streams.py", env, tmp_path)

    telemetry = parse_console_output(completed.stdout)
    assert telemetry.text == ["requests 401", "httpx 401"]
    spans = [s for s in telemetry.spans if s["kind"] == "SpanKind.CLIENT"]
    assert len(spans) == 2
    for span in spans:
        assert span["attributes"]["com.8x8.error.category"] == "auth"
        assert span["status"]["status_code"] == "ERROR"
    ours = [log for log in telemetry.logs if (log.get("attributes") or {}).get("com.8x8.error.category") == "auth"]
    assert {(log["trace_id"], log["span_id"]) for log in ours} == {
        (s["context"]["trace_id"], s["context"]["span_id"]) for s in spans
    }


def test_exit_waits_for_the_dropped_responses_being_finished(fake: FakeEightByEight, tmp_path: Path) -> None:
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400))
    env = {**os.environ, "EIGHTXEIGHT_URL": fake.url}
    app = Path(__file__).parent / "apps" / "dropped_before_exit.py"
    completed = subprocess.run(
        [sys.executable, str(app)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "statuses [400, 400, 400]"
    assert lines[1:] == ["exported invalid_request"] * 3


def test_a_dropped_requests_stream_frees_its_connection_at_once(
    fake: FakeEightByEight, telemetry: Telemetry, instrumented: EightByEightInstrumentor
) -> None:
    """No reference cycle through the tapped ``raw``: dropping the response frees the urllib3 response (and its
    socket) right away, as without otel-8x8, not at the next garbage collection."""
    fake.script("POST", MESSAGES, error_envelope(1002, "Invalid MSISDN", 400))
    gc.disable()
    try:
        response = requests.post(fake.url + MESSAGES, json={}, headers=AUTH, stream=True)
        raw = weakref.ref(response.raw)
        del response
        freed = raw() is None
    finally:
        gc.enable()

    assert freed
    [span] = _wait_for_spans(telemetry, 1)
    assert (span.attributes or {})["com.8x8.error.category"] == "invalid_request"
