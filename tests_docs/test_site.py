"""The documentation site renders its tables: built by mkdocs, served on 127.0.0.1, loaded by headless Chromium.

Run by ./scripts/docs with its virtualenv (.venv-docs: mkdocs, mkdocs-material, pytest); needs Debian's chromium.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
WINDOW = (1280, 1600)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]
# page source -> its path on the site
PAGES = {"index.md": "", "codes.md": "codes/"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Tables(HTMLParser):
    """The first-column texts of each table's rows in an HTML document, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self._cell: list[str] | None = None
        self._cells_in_row = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._cells_in_row = 0
        elif tag in ("td", "th"):
            self._cells_in_row += 1
            if self._cells_in_row == 1:
                self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def source_tables(markdown: str) -> list[list[str]]:
    """The first-column texts of each markdown table's rows (header included), as they should render."""
    tables: list[list[str]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(?::?-+:?\|)+", line):
            if not previous.startswith("|"):
                tables.append([])
            first = re.split(r"(?<!\\)\|", line)[1]
            tables[-1].append(first.strip().replace("`", "").replace("\\|", "|"))
        previous = line
    return tables


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(built)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    (built / "blank.html").write_text("<!doctype html><title>blank</title>", encoding="utf-8")
    return built


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed (./scripts/docs installs it as root)"
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )


def screenshot(tmp_path: Path, url: str, name: str) -> bytes:
    path = tmp_path / name
    chromium(tmp_path, f"--screenshot={path}", url)
    return path.read_bytes()


def test_source_tables_reads_markdown_tables() -> None:
    markdown = "text\n\n| A | B |\n|---|---:|\n| `x` | 1 |\n| y \\| z | 2 |\n\n| C |\n|---|\n| w |\n"
    assert source_tables(markdown) == [["A", "x", "y | z"], ["C", "w"]]


@pytest.mark.parametrize("source", list(PAGES))
def test_page_renders_its_tables(source: str, base_url: str, tmp_path: Path) -> None:
    expected = source_tables((DOCS / source).read_text(encoding="utf-8"))
    assert expected, f"{source} has no table"
    dom = chromium(tmp_path, "--dump-dom", base_url + PAGES[source]).stdout.decode("utf-8")
    parser = Tables()
    parser.feed(dom)
    assert parser.tables == expected


@pytest.mark.parametrize("source", list(PAGES))
def test_page_screenshot_is_not_blank(source: str, base_url: str, tmp_path: Path) -> None:
    blank = screenshot(tmp_path, base_url + "blank.html", "blank.png")
    page = screenshot(tmp_path, base_url + PAGES[source], "page.png")
    assert png_size(page) == png_size(blank) == WINDOW
    # a blank page compresses to almost nothing; text, tables and the theme's header do not
    assert len(page) > 10 * len(blank), (len(page), len(blank))
