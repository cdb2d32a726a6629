"""The wheel: it builds without a warning, and carries the license, the type marker and the metadata."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from otel_8x8.version import __version__

pytestmark = pytest.mark.e2e  # builds a wheel in a subprocess (seconds): `-m "not e2e"` leaves it out

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "otel_8x8")  # what the wheel is built from
# Python's warnings (SetuptoolsDeprecationWarning, BuildBackendWarning...), setuptools' "!!" banners, distutils'
# "warning:". Not pip's own "WARNING: Location ... is ignored" about this machine's package index settings.
WARNING = re.compile(r"Warning\b|^\s*!!\s*$|\bwarning:", re.MULTILINE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the wheel, pip's output) built from a copy of the sources: nothing is written into the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(tmp), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    [wheel] = tmp.glob("otel_8x8-*.whl")
    return wheel, output


def _metadata(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [path] = [n for n in names if n.endswith(".dist-info/METADATA")]
        message = HeaderParser().parsestr(archive.read(path).decode())
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return names, fields


def test_the_wheel_builds_without_a_warning(built: tuple[Path, str]) -> None:
    _, output = built
    assert WARNING.findall(output) == [], output


def test_the_warning_check_sees_what_setuptools_prints() -> None:
    # What setuptools printed for `license = { text = ... }` (three times), and what it prints for other deprecations.
    printed = (
        "  .../setuptools/config/_apply_pyprojecttoml.py:82: BuildBackendWarning: `project.license` as a TOML table"
        " is deprecated\n  !!\n\n        ****\n        Please use a simple string containing a SPDX expression\n  !!\n"
    )
    assert len(WARNING.findall(printed)) == 3
    assert WARNING.search("SetuptoolsDeprecationWarning: Invalid dash-separated key")
    assert WARNING.search("warning: no files found matching 'x'")
    assert not WARNING.search("WARNING: Location 'file:///opt/x/simple/wheel/' is ignored")


def test_the_wheel_carries_the_license_and_the_type_marker(built: tuple[Path, str]) -> None:
    wheel, _ = built
    names, fields = _metadata(wheel)
    assert "otel_8x8/py.typed" in names
    [license_file] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(license_file) == (ROOT / "LICENSE").read_bytes()
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert fields["License-Expression"] == ["Apache-2.0"]
    assert fields["License-File"] == ["LICENSE"]
    assert not [c for c in fields["Classifier"] if c.startswith("License ::")]


def test_the_wheel_has_the_version_of_version_py(built: tuple[Path, str]) -> None:
    wheel, _ = built
    _, fields = _metadata(wheel)
    assert fields["Version"] == [__version__]
    assert wheel.name.startswith(f"otel_8x8-{__version__}-")


def test_the_python_classifiers_match_requires_python(built: tuple[Path, str]) -> None:
    wheel, _ = built
    _, fields = _metadata(wheel)
    [requires] = fields["Requires-Python"]
    oldest = re.fullmatch(r">=3\.(\d+)", requires)
    assert oldest is not None, requires
    minors = sorted(int(m) for c in fields["Classifier"] if (m := c.partition("Python :: 3.")[2]).isdigit())
    assert minors[0] == int(oldest.group(1))
    assert minors == list(range(minors[0], minors[-1] + 1))  # no gap
