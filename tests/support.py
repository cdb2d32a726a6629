"""Helpers shared by the tests: apps and servers in subprocesses or threads, the error logger's handlers."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from otel_8x8.recorder import LOGGER_NAME
from otel_8x8.routes import Route, is_placeholder

try:  # the logging handler moved from the SDK to opentelemetry-instrumentation-logging in 2025
    from opentelemetry.instrumentation.logging.handler import LoggingHandler as LoggingHandler
except ImportError:  # older releases (the compatibility matrix)
    from opentelemetry.sdk._logs import (  # type: ignore[assignment,no-redef,unused-ignore]
        LoggingHandler as LoggingHandler,
    )

ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)
HandlerT = TypeVar("HandlerT", bound=logging.Handler)

INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
"""``opentelemetry-instrument`` of the Python running the tests."""


def app_environment(eight_by_eight_hosts: str, **settings: str) -> dict[str, str]:
    """The environment of an app run under ``opentelemetry-instrument``: this process's, without any
    ``OTEL_`` variable of the developer's, with console exporters, error logs exported, the stable HTTP
    conventions, ``OTEL_PYTHON_8X8_HOSTS`` and no proxy for 127.0.0.1; ``settings`` add or override."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        OTEL_TRACES_EXPORTER="console",
        OTEL_LOGS_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
        OTEL_SEMCONV_STABILITY_OPT_IN="http",
        OTEL_PYTHON_8X8_HOSTS=eight_by_eight_hosts,
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    env.update(settings)
    return env


def run_instrumented(app: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``app`` to completion under ``opentelemetry-instrument``; fail the test if it does not exit 0."""
    completed = subprocess.run(
        [str(INSTRUMENT), sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate ``process`` (by its PID), then kill it if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def binary(name: str) -> str:
    """The path of ``name`` (``prometheus``, ``promtool``): fails the test when it is missing, never skips."""
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        pytest.fail(f"{name} not found: install Debian's prometheus package (scripts/test does it when run as root)")
    return found


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def start_prometheus(config: Path, workdir: Path, port: int, log: Path, *flags: str) -> subprocess.Popen[Any]:
    """A real Prometheus with ``config``, its data under ``workdir``, listening on 127.0.0.1:``port``,
    its output in ``log``; ``flags`` are added to its command line. Stop it with :func:`stop_process`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                *flags,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )


def wait_for_ready(url: str, process: subprocess.Popen[Any], log: Path, timeout: float = 30) -> None:
    """Wait until ``url`` answers; fail if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"prometheus exited with {process.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"prometheus not ready within {timeout} s:\n{log.read_text()}")


@contextmanager
def on_error_logger(handler: HandlerT) -> Iterator[HandlerT]:
    """``handler`` on otel-8x8's error logger for the duration of the block."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """``server`` answering on a thread of its own for the duration of the block, then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        assert not thread.is_alive()


# Realistic values for 8x8's placeholders (tests of every documented route); any other placeholder gets a UUID.
PHONE = "+6591234567"
VALUES = {
    "{subAccountId}": "acme-prod_01",
    "{accountId}": "acme-acc",
    "{phoneNumber}": PHONE,
    "{msisdn}": "6591234567",
    "{number}": "6531234567",
    "{templateName}": "order_update",
    "{flowId}": "1234567890123456",
    "{webhook-type}": "CALL_ACTION",
    "{filename}": "photo.jpg",
    "{link}": "snapshot-3f0c.png",
    "{surveyId}": "s-42",
    "{groupId}": "6776",
}


def concrete(route: Route) -> str:
    """The route's path with realistic values in its placeholders."""
    return "/".join(
        VALUES.get(segment, str(uuid.uuid4())) if is_placeholder(segment) else segment
        for segment in route.template.split("/")
    )
