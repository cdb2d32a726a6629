"""``python -m otel_8x8 explain|codes``, run as on-call engineers run it: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from otel_8x8.catalog import CATALOG, Category
from otel_8x8.cli import HINTS
from otel_8x8.receipt_codes import RECEIPT_CODES

pytestmark = pytest.mark.e2e  # every test runs python -m otel_8x8 in a subprocess


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_8x8", *args], capture_output=True, text=True, timeout=60, check=False
    )


def fields(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition(":")
        assert sep, line
        out[name.strip()] = value.strip()
    return out


def test_explain_a_known_code() -> None:
    result = run("explain", "1002")
    assert result.returncode == 0, result.stderr
    out = fields(result.stdout)
    assert out["code"] == "1002"
    assert out["description"] == "Invalid MSISDN"
    assert out["category"] == "invalid_request"
    assert out["retryable"] == "no"
    assert out["check"] == HINTS[Category.INVALID_REQUEST]


def test_explain_json() -> None:
    result = run("explain", "1200", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert data == {
        "code": 1200,
        "kind": "api",
        "known": True,
        "description": "Unauthorized Access",
        "category": "auth",
        "retryable": False,
        "check": HINTS[Category.AUTH],
    }


def test_explain_a_negative_voice_code() -> None:
    result = run("explain", "-2010", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["category"], data["retryable"]) == ("rate_limit", True)


@pytest.mark.parametrize(
    ("status", "category", "retryable"),
    [
        ("429", "rate_limit", "yes"),
        ("401", "auth", "no"),
        ("503", "server_error", "yes"),
        ("413", "payload_too_large", "no"),
    ],
)
def test_explain_http_statuses(status: str, category: str, retryable: str) -> None:
    result = run("explain", status)
    assert result.returncode == 0, result.stderr
    out = fields(result.stdout)
    assert (out["code"], out["category"], out["retryable"]) == (status, category, retryable)


def test_explain_an_unknown_code() -> None:
    result = run("explain", "4242")
    assert result.returncode == 1
    out = fields(result.stdout)
    assert out["kind"] == "unknown"
    assert "nknown" in out["description"]
    assert out["category"] == "unknown"


def test_explain_an_unknown_code_with_its_status() -> None:
    result = run("explain", "4242", "--status", "404", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert (data["known"], data["category"], data["retryable"]) == (False, "not_found", False)
    assert data["check"] == HINTS[Category.NOT_FOUND]
    result = run("explain", "4242", "--status", "502")
    assert result.returncode == 1
    assert fields(result.stdout)["category"] == "server_error"


def test_explain_delivery_receipt_codes() -> None:
    result = run("explain", "--receipt", "46")
    assert result.returncode == 0, result.stderr
    out = fields(result.stdout)
    assert (out["description"], out["category"], out["product"]) == ("Subscriber not reachable", "not_found", "sms")
    result = run("explain", "--receipt", "1022", "--product", "chatapps", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["category"] == "template"
    assert run("explain", "--receipt", "999").returncode == 1


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("explain",),
        ("explain", "abc"),
        ("explain", "1002", "--status", "x"),
        ("explain", "1", "--status", "42"),
        ("frobnicate",),
        ("codes", "--product", "fax"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage" in result.stderr or "error" in result.stderr


def test_help_exits_0() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "explain" in result.stdout and "codes" in result.stdout


def test_codes_table_lists_the_whole_catalog() -> None:
    result = run("codes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CODE", "CATEGORY", "RETRYABLE", "DESCRIPTION"]
    rows = {int(line.split()[0]): line.split(None, 3) for line in lines[1:]}
    assert set(rows) == set(CATALOG)
    for code, entry in CATALOG.items():
        _, category, retryable, description = rows[code]
        assert (category, retryable, description) == (
            entry.category.value,
            "yes" if entry.retryable else "no",
            entry.description,
        )


def test_codes_json() -> None:
    result = run("codes", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["code"] for row in data] == list(CATALOG)
    assert data[[row["code"] for row in data].index(1002)] == {
        "code": 1002,
        "description": "Invalid MSISDN",
        "category": "invalid_request",
        "retryable": False,
    }


def test_codes_of_delivery_receipts() -> None:
    result = run("codes", "--receipt", "--product", "sms", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["code"] for row in data] == list(RECEIPT_CODES["sms"])
    assert {row["product"] for row in data} == {"sms"}
    table = run("codes", "--receipt")
    assert table.returncode == 0
    assert len(table.stdout.splitlines()) == 1 + sum(len(codes) for codes in RECEIPT_CODES.values())


def test_every_category_has_a_hint() -> None:
    assert set(HINTS) == set(Category)
    assert all(len(hint) > 40 for hint in HINTS.values())


def test_explain_knows_a_products_own_meaning_of_a_code() -> None:
    from otel_8x8.cli import explain

    voice = explain(1001, product="voice")
    assert (voice.description, voice.product) == ("Invalid JSON request body", "voice")
    sms = explain(1001, product="sms")
    assert (sms.description, sms.product) == ("Illegal SubAccountId", None)  # the common table's
    assert explain(1001).description == "Illegal SubAccountId"
    assert explain(5001, product="automation").known
    assert not explain(5001).known
