"""The documentation: generated where it can be, complete, true to the code, and the README short and to the point."""

from __future__ import annotations

import ast
import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_8x8 import attributes as A
from otel_8x8.catalog import CATALOG, Category
from otel_8x8.config import ENVIRONMENT_VARIABLES, Options
from otel_8x8.docs import (
    ATTRIBUTE_DOCS,
    DOCS,
    INSTRUMENT_KWARGS,
    PAGES,
    README,
    generated_blocks,
    render_page,
    render_tables,
    update,
)

ROOT = Path(__file__).resolve().parent.parent
NEWCOMER_COMMANDS = ["./scripts/demo", "./scripts/test"]
README_LIMIT = 10_000  # characters
QUICK_START = "One 8x8 span on the console"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def page(name: str) -> str:
    return read(DOCS / name)


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match[1]


def code_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


def user_docs() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def nav_pages(nav: list[Any]) -> list[str]:
    pages: list[str] = []
    for entry in nav:
        target = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(target) if isinstance(target, list) else [target]
    return pages


PAGE_TABLES = [(path, name) for path, names in PAGES.items() for name in names]


@pytest.mark.parametrize(("path", "name"), PAGE_TABLES, ids=[f"{p.name}:{n}" for p, n in PAGE_TABLES])
def test_generated_table_is_up_to_date(path: Path, name: str) -> None:
    blocks = generated_blocks(read(path))
    assert name in blocks, f"{path.name} has no generated {name!r} table"
    assert blocks[name] == render_tables()[name], "run: python -m otel_8x8.docs"


@pytest.mark.parametrize("path", list(PAGES), ids=[path.name for path in PAGES])
def test_update_is_idempotent_on_each_page(path: Path) -> None:
    text = read(path)
    assert set(generated_blocks(text)) == set(PAGES[path])
    assert update(text, render_page(path)) == text


def test_every_table_is_on_a_docs_page() -> None:
    on_docs_pages = {name for path, names in PAGES.items() if path.parent == DOCS for name in names}
    assert on_docs_pages == set(render_tables())


def test_generated_blocks_detects_a_stale_table() -> None:
    stale = page("codes.md").replace("| 1002 | Invalid MSISDN |", "| 1002 | Something else |")
    assert generated_blocks(stale)["error-codes"] != render_tables()["error-codes"]


def test_update_refuses_a_page_that_lost_its_markers() -> None:
    with pytest.raises(ValueError, match="error-codes"):
        update("no tables here", render_page(DOCS / "codes.md"))


def test_every_span_attribute_is_documented() -> None:
    table = generated_blocks(page("attributes.md"))["span-attributes"]
    for name in A.SPAN_ATTRIBUTES:
        assert name in ATTRIBUTE_DOCS
        assert f"| `{name}` |" in table


def test_every_log_attribute_is_documented() -> None:
    table = generated_blocks(page("attributes.md"))["log-attributes"]
    for name in A.LOG_ONLY_ATTRIBUTES:
        assert f"| `{name}` |" in table


def test_every_metric_attribute_is_listed() -> None:
    table = generated_blocks(page("attributes.md"))["metric-attributes"]
    for name in (*A.ERROR_METRIC_ATTRIBUTES, *A.DURATION_METRIC_ATTRIBUTES):
        assert f"| `{name}` |" in table


def test_every_category_is_listed_with_its_codes_and_retryability() -> None:
    table = generated_blocks(page("codes.md"))["error-categories"]
    rows = {row.split("|")[1].strip(): row for row in table.splitlines()}
    for category in Category:
        row = rows[f"`{category.value}`"]
        assert f"| {'yes' if category.retryable else 'no'} |" in row
        codes = {code for code, entry in CATALOG.items() if entry.category is category}
        assert codes <= {int(code) for code in re.findall(r"(?<![\d-])-?\d{3,4}\b", row.split("|")[3])}


def test_every_error_code_is_listed() -> None:
    table = generated_blocks(page("codes.md"))["error-codes"]
    for code, entry in CATALOG.items():
        assert f"| {code} | {entry.description} | `{entry.category.value}` |" in table


def test_every_environment_variable_and_keyword_is_documented() -> None:
    blocks = generated_blocks(page("configuration.md"))
    for name in ENVIRONMENT_VARIABLES:
        assert f"| `{name}` |" in blocks["environment-variables"]
    keywords = {field.name for field in dataclasses.fields(Options)} | {"tracer_provider", "meter_provider"}
    assert keywords <= set(INSTRUMENT_KWARGS)
    for keyword in INSTRUMENT_KWARGS:
        assert f"| `{keyword}` |" in blocks["instrument-kwargs"]


def test_the_operations_page_lists_every_documented_operation() -> None:
    assert page("operations.md").count("\n| `") == 105  # one row per documented operation


def test_readme_is_short() -> None:
    assert len(read(README)) <= README_LIMIT


def test_newcomers_get_exactly_the_two_commands() -> None:
    text = read(README)
    headings = re.findall(r"^#+ (.*)$", text, re.M)
    assert [h for h in headings if re.search(r"start|quick|first|try", h, re.I)] == ["Get started"]
    assert code_blocks(section(text, "Get started")) == [[command] for command in NEWCOMER_COMMANDS]
    assert set(re.findall(r"\bscripts/[\w.-]+", text)) == {command[2:] for command in NEWCOMER_COMMANDS}
    for command in NEWCOMER_COMMANDS:
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"


def test_readme_quick_start_is_the_install_page_one() -> None:
    readme_blocks = code_blocks(section(read(README), QUICK_START))
    commands = [block for block in readme_blocks if block[0].startswith(("python -m", "OTEL_"))]
    assert len(commands) == 2
    install_blocks = code_blocks(page("install.md"))
    for block in commands:
        assert block in install_blocks


def installs_otel_8x8_from_pypi(line: str) -> bool:
    """Whether a ``pip install`` command line asks the package index for otel-8x8 (not a path, not a git URL)."""
    if not line.startswith("pip install "):
        return False
    words = shlex.split(line.removesuffix("\\"), comments=True)
    requirements = [word for word in words[2:] if not word.startswith("-")]
    return any(
        re.split(r"[\[=<>~!@ ]", requirement)[0] == "otel-8x8" and not re.search(r"@ *git\+", requirement)
        for requirement in requirements
    )


def test_no_page_tells_to_install_otel_8x8_from_pypi() -> None:
    assert installs_otel_8x8_from_pypi("pip install otel-8x8 opentelemetry-distro")
    assert installs_otel_8x8_from_pypi("pip install -q 'otel-8x8[demo]>=0.1'")
    assert not installs_otel_8x8_from_pypi('pip install ./otel-8x8 "otel-8x8 @ git+<url>" x  # otel-8x8')
    for path in [*user_docs(), ROOT / "examples" / "README.md", ROOT / "CONTRIBUTING.md"]:
        for block in code_blocks(read(path)):
            assert not [line for line in block if installs_otel_8x8_from_pypi(line)], path.relative_to(ROOT)
    install = section(read(README), "Install")
    assert "not on PyPI" in install
    assert "git+<repository URL>" in install


def test_user_docs_hold_no_internal_targets_commits_or_issue_numbers() -> None:
    for path in user_docs():
        text = read(path)
        assert not re.search(r"\btarget\b", text, re.I), path.name
        assert not re.search(r"\bissue \d+", text, re.I), path.name
        commits = re.findall(r"(?<![\w-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![\w-])", text)
        assert not commits, f"{path.name}: {commits}"


def test_mkdocs_navigates_every_page_and_needs_no_internet() -> None:
    config = yaml.safe_load(read(ROOT / "mkdocs.yml"))
    assert sorted(nav_pages(config["nav"])) == sorted(path.name for path in DOCS.glob("*.md"))
    assert config["strict"] is True
    assert config["theme"]["font"] is False
    assert "./scripts/docs" in read(ROOT / ".ci" / "run").splitlines()


def test_contributing_lists_every_script() -> None:
    text = read(ROOT / "CONTRIBUTING.md")
    for script in (ROOT / "scripts").iterdir():
        assert f"scripts/{script.name}" in text
    for command in ('./scripts/test -m "not e2e"', "python -m otel_8x8.docs", "benchmarks/"):
        assert command in text


def test_finding_errors_shows_jaeger_and_promql_searches() -> None:
    text = page("finding-errors.md")
    assert "com.8x8.error.code=1002" in text
    promql = 'sum by (com_8x8_error_code) (increase(com_8x8_api_errors_total{com_8x8_error_category="auth"}[5m])) > 0'
    assert promql in text


def test_examples_readme_has_a_path_without_docker() -> None:
    text = read(ROOT / "examples" / "README.md")
    assert "./scripts/demo" in text
    assert "OTEL_TRACES_EXPORTER=console" in text
    assert re.search(r"promtool.*Debian.*`prometheus`", text, re.S)
    for block in code_blocks(text):
        assert "cd examples" not in block, "the steps run in one folder: examples/"


def test_example_app_does_not_know_opentelemetry() -> None:
    tree = ast.parse(read(ROOT / "examples" / "sms_app.py"))
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert modules
    assert not [m for m in modules if m.split(".")[0] in ("opentelemetry", "otel_8x8")]
