"""A forked child never finishes its parent's calls: a streamed 8x8 error open across ``os.fork()`` is recorded
once, by the parent, whatever the child does with its inherited copy of the response."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, Reply, error_envelope

from .support import on_error_logger

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")

SEND = "/api/v1/subaccounts/acme/messages"


class FileExporter(SpanExporter):
    """Appends ``pid span-id name`` for every span ended, in whichever process ends it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as out:
            for span in spans:
                out.write(f"{os.getpid()} {span.context.span_id if span.context else 0} {span.name}\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class PidFileHandler(logging.Handler):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        with self.path.open("a") as out:
            out.write(f"{os.getpid()} {record.levelname}\n")


@pytest.fixture
def files(tmp_path: Path, fake: FakeEightByEight) -> Iterator[tuple[Path, Path]]:
    spans, logs = tmp_path / "spans", tmp_path / "logs"
    spans.touch()
    logs.touch()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter(spans)))
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(tracer_provider=provider, hosts=[f"{fake.netloc}=sms"])
    try:
        with on_error_logger(PidFileHandler(logs)):
            yield spans, logs
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def in_child(action: Any) -> None:
    pid = os.fork()
    if pid == 0:  # the child: do it, and leave without running the parent's exit handlers or finalizers
        status = 0
        try:
            action()
            gc.collect()
        except BaseException:
            status = 1
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("child_does", ["reads", "closes", "drops"])
def test_requests(child_does: str, fake: FakeEightByEight, files: tuple[Path, Path]) -> None:
    fake.script("POST", SEND, error_envelope(1002, "Invalid MSISDN", 400))
    response: Any = requests.post(fake.url + SEND, json={}, timeout=10, stream=True)
    holder = {"response": response}
    action = {
        "reads": lambda: holder["response"].content,
        "closes": lambda: holder["response"].close(),
        "drops": lambda: holder.clear(),
    }[child_does]
    in_child(action)
    if child_does != "reads":  # the child read the socket's bytes: the parent has nothing left to read
        assert response.json()["code"] == 1002
    response.close()
    check_recorded_once_by_the_parent(*files)


@pytest.mark.parametrize("child_does", ["reads", "closes", "drops"])
def test_httpx(child_does: str, fake: FakeEightByEight, files: tuple[Path, Path]) -> None:
    fake.script("POST", SEND, Reply(400, {"code": 1002, "message": "Invalid MSISDN"}))
    with httpx.Client() as client:
        response = client.send(client.build_request("POST", fake.url + SEND, json={}), stream=True)
        holder = {"response": response}
        action = {
            "reads": lambda: holder["response"].read(),
            "closes": lambda: holder["response"].close(),
            "drops": lambda: holder.clear(),
        }[child_does]
        in_child(action)
        if child_does != "reads":
            assert response.read() and response.json()["code"] == 1002
        response.close()
    check_recorded_once_by_the_parent(*files)


def check_recorded_once_by_the_parent(spans: Path, logs: Path) -> None:
    span_lines = spans.read_text().splitlines()
    assert len(span_lines) == 1, span_lines
    assert span_lines[0].split()[0] == str(os.getpid())
    assert span_lines[0].endswith("POST /api/v1/subaccounts/{subAccountId}/messages (sms)")
    log_lines = logs.read_text().splitlines()
    assert log_lines == [f"{os.getpid()} WARNING"]
