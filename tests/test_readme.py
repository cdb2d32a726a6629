"""The README is generated where it can be, complete, and gives newcomers exactly two commands."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from otel_8x8 import attributes as A
from otel_8x8.catalog import CATALOG, Category
from otel_8x8.config import ENVIRONMENT_VARIABLES, Options
from otel_8x8.docs import ATTRIBUTE_DOCS, INSTRUMENT_KWARGS, generated_blocks, render_tables, update

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
NEWCOMER_COMMANDS = ["./scripts/demo", "./scripts/test"]


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match[1]


def code_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


@pytest.mark.parametrize("name", sorted(render_tables()))
def test_generated_table_is_up_to_date(name: str) -> None:
    blocks = generated_blocks(README)
    assert name in blocks, f"README has no generated {name!r} table"
    assert blocks[name] == render_tables()[name], "run: python -m otel_8x8.docs"


def test_update_is_idempotent_on_the_readme() -> None:
    assert set(generated_blocks(README)) == set(render_tables())
    assert update(README) == README


def test_generated_blocks_detects_a_stale_table() -> None:
    stale = README.replace("| 1002 | Invalid MSISDN |", "| 1002 | Something else |")
    assert generated_blocks(stale)["error-codes"] != render_tables()["error-codes"]


def test_every_span_attribute_is_documented() -> None:
    table = generated_blocks(README)["span-attributes"]
    for name in A.SPAN_ATTRIBUTES:
        assert name in ATTRIBUTE_DOCS
        assert f"| `{name}` |" in table


def test_every_metric_attribute_is_listed() -> None:
    table = generated_blocks(README)["metric-attributes"]
    for name in (*A.ERROR_METRIC_ATTRIBUTES, *A.DURATION_METRIC_ATTRIBUTES):
        assert f"| `{name}` |" in table


def test_every_category_is_listed_with_its_codes_and_retryability() -> None:
    rows = {row.split("|")[1].strip(): row for row in generated_blocks(README)["error-categories"].splitlines()}
    for category in Category:
        row = rows[f"`{category.value}`"]
        assert f"| {'yes' if category.retryable else 'no'} |" in row
        codes = {code for code, entry in CATALOG.items() if entry.category is category}
        assert codes <= {int(code) for code in re.findall(r"(?<![\d-])-?\d{3,4}\b", row.split("|")[3])}


def test_every_error_code_is_listed() -> None:
    table = generated_blocks(README)["error-codes"]
    for code, entry in CATALOG.items():
        assert f"| {code} | {entry.description} | `{entry.category.value}` |" in table


def test_every_environment_variable_and_keyword_is_documented() -> None:
    blocks = generated_blocks(README)
    for name in ENVIRONMENT_VARIABLES:
        assert f"| `{name}` |" in blocks["environment-variables"]
    keywords = {field.name for field in dataclasses.fields(Options)} | {"tracer_provider", "meter_provider"}
    assert keywords <= set(INSTRUMENT_KWARGS)
    for keyword in INSTRUMENT_KWARGS:
        assert f"| `{keyword}` |" in blocks["instrument-kwargs"]


def test_newcomers_get_exactly_the_two_commands() -> None:
    headings = re.findall(r"^#+ (.*)$", README, re.M)
    assert [h for h in headings if re.search(r"start|quick|first|try", h, re.I)] == ["Get started"]
    assert code_blocks(section("Get started")) == [[command] for command in NEWCOMER_COMMANDS]
    assert set(re.findall(r"\bscripts/[\w.-]+", README)) == {command[2:] for command in NEWCOMER_COMMANDS}
    for command in NEWCOMER_COMMANDS:
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"


def test_readme_shows_jaeger_and_promql_searches() -> None:
    assert "com.8x8.error.code=1002" in README
    promql = 'sum by (com_8x8_error_code) (increase(com_8x8_api_errors_total{com_8x8_error_category="auth"}[5m])) > 0'
    assert promql in README


def test_example_app_does_not_know_opentelemetry() -> None:
    tree = ast.parse((ROOT / "examples" / "sms_app.py").read_text(encoding="utf-8"))
    modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert modules
    assert not [m for m in modules if m.split(".")[0] in ("opentelemetry", "otel_8x8")]


def test_the_operations_page_is_up_to_date() -> None:
    from otel_8x8.docs import OPERATIONS, render_operations

    text = OPERATIONS.read_text(encoding="utf-8")
    assert generated_blocks(text) == render_operations(), "run: python -m otel_8x8.docs"
    assert text.count("\n| `") == 105  # one row per documented operation
