"""The README's quick start, run as written: the fake 8x8 API, then one call whose span the console exporter prints."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from otel_8x8.testing.console import parse_console_output

from .support import free_port, stop_process
from .test_docs import QUICK_START, code_blocks, section

pytestmark = pytest.mark.e2e  # subprocesses and a server: `-m "not e2e"` leaves it out

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTED_PORT = "8088"


def quick_start_commands() -> tuple[str, str]:
    """The README's two commands: start the fake 8x8 API, make the instrumented call."""
    blocks = code_blocks(section((ROOT / "README.md").read_text(encoding="utf-8"), QUICK_START))
    [fake] = [block[0] for block in blocks if block[0].startswith("python -m otel_8x8.testing")]
    [call] = [block[0] for block in blocks if "opentelemetry-instrument" in block[0]]
    return fake, call


def shell_environment() -> dict[str, str]:
    """This environment without OTEL_* settings, with this virtualenv's commands first on the PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    return env


def test_the_quick_start_prints_an_8x8_span() -> None:
    fake_command, call_command = quick_start_commands()
    port = str(free_port())  # the documented port may be taken here
    assert DOCUMENTED_PORT in fake_command
    assert call_command.count(DOCUMENTED_PORT) == 2
    env = shell_environment()
    fake = subprocess.Popen(
        shlex.split(fake_command.replace(DOCUMENTED_PORT, port)),
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        assert fake.stdout.readline().strip() == f"FAKE_8X8_URL=http://127.0.0.1:{port}"
        completed = subprocess.run(
            ["bash", "-c", call_command.replace(DOCUMENTED_PORT, port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop_process(fake)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    [span] = parse_console_output(completed.stdout).spans
    assert span["name"] == "POST /api/v1/subaccounts/{subAccountId}/messages (sms)"
    assert span["kind"] == "SpanKind.CLIENT"
    attributes = span["attributes"]
    assert attributes["com.8x8.product"] == "sms"
    assert attributes["com.8x8.error.code"] == 1002
    assert attributes["com.8x8.error.category"] == "invalid_request"
    assert attributes["url.full"] == f"http://127.0.0.1:{port}/api/v1/subaccounts/acme/messages"
