"""The benchmarks run on the versions the tests run on: a package pinned in both places has one version."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            name = name.split("[", 1)[0].strip()
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()  # PEP 503 names
    return pins


def test_benchmark_requirements_pin_what_the_tests_pin() -> None:
    tests = _pins(ROOT / "constraints" / "test.txt")
    benchmarks = _pins(ROOT / "benchmarks" / "requirements.txt")
    shared = set(tests) & set(benchmarks)
    assert "opentelemetry-sdk" in shared and "wrapt" in shared
    differ = {name: (tests[name], benchmarks[name]) for name in shared if tests[name] != benchmarks[name]}
    assert differ == {}, f"constraints/test.txt vs benchmarks/requirements.txt: {differ}"
