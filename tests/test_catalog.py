"""The error catalog against 8x8's error-code document (the seed) and the API facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otel_8x8.catalog import CATALOG, Category, categorize, lookup

SEED = Path(__file__).parents[2] / "shared/seeds/000_9e956e29d10a3e36.txt"
_ROW = re.compile(r"^\s*\|?\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$")


def _seed_json_codes() -> dict[int, str]:
    """Rows ``code | description |`` of the table after "JSON Code Property Values" only.

    Reading at import time on purpose: a missing seed is a collection error (a failure), not a skip.
    """
    text = SEED.read_text(encoding="utf-8")
    marker = "JSON Code Property Values"
    assert marker in text, f"{SEED} has no {marker!r} section"
    rows: dict[int, str] = {}
    for line in text.split(marker, 1)[1].splitlines():
        match = _ROW.match(line)
        if match:
            rows[int(match.group(1))] = match.group(2)
    return rows


SEED_CODES = _seed_json_codes()

SPEC_CATEGORIES = {
    "invalid_request",
    "template",
    "fallback",
    "auth",
    "forbidden",
    "not_found",
    "rate_limit",
    "conflict",
    "payload_too_large",
    "unsupported",
    "server_error",
    "unknown",
}
RETRYABLE = {"rate_limit", "server_error"}


# --- the seed's table ---------------------------------------------------------------------------


def test_seed_table_was_parsed() -> None:
    assert len(SEED_CODES) == 75  # 1000-1012, 1100, 1200-1201, 1300, 1400, 2000-2003, 3001-3053
    assert SEED_CODES[1000] == "Invalid parameter"
    assert SEED_CODES[1003] == "Invalid Endoding"  # 8x8's typo, kept
    assert SEED_CODES[3053] == "Invalid Button index"
    # The HTTP status table before the marker is not part of the JSON codes.
    assert not {200, 201, 400, 429, 500} & SEED_CODES.keys()


@pytest.mark.parametrize(("code", "description"), sorted(SEED_CODES.items()))
def test_seed_code_in_catalog_with_seed_description(code: int, description: str) -> None:
    entry = lookup(code)
    assert entry is not None, f"code {code} missing from CATALOG"
    assert entry.code == code
    assert entry.description == description


# --- codes documented elsewhere (facts file) ----------------------------------------------------

FACTS_CODES = {
    1014: "Insecure Protocol",
    3060: "Template is being deleted",
    1404: "Session not found",
    4018: "Invalid jobId",
    5003: None,
    7001: "Request size must not exceed 100 MB",
    **dict.fromkeys(range(2004, 2008)),
    **dict.fromkeys(range(6000, 6006)),
}


@pytest.mark.parametrize(("code", "wording"), sorted(FACTS_CODES.items()))
def test_facts_code_in_catalog(code: int, wording: str | None) -> None:
    assert code in CATALOG
    entry = CATALOG[code]
    assert entry.code == code
    assert entry.description
    if wording is not None:
        assert wording in entry.description


def test_catalog_keys_match_entries_and_are_read_only() -> None:
    assert all(code == entry.code for code, entry in CATALOG.items())
    with pytest.raises(TypeError):
        CATALOG[9999] = CATALOG[1000]  # type: ignore[index]


# --- categories ---------------------------------------------------------------------------------


def test_category_values_are_the_closed_set() -> None:
    assert {category.value for category in Category} == SPEC_CATEGORIES
    assert {entry.category.value for entry in CATALOG.values()} <= SPEC_CATEGORIES


CODE_CATEGORIES = [
    *((code, "invalid_request") for code in range(1000, 1013)),
    (1200, "auth"),
    (1201, "forbidden"),
    (1300, "not_found"),
    (1400, "rate_limit"),
    (429, "rate_limit"),
    (2000, "server_error"),
    (2001, "unsupported"),
    (2002, "unsupported"),
    (2003, "unsupported"),
    *((code, "template") for code in range(3030, 3047)),
    (3017, "fallback"),
    *((code, "fallback") for code in range(3022, 3028)),
    (3051, "fallback"),
]


@pytest.mark.parametrize(("code", "expected"), CODE_CATEGORIES)
def test_code_category(code: int, expected: str) -> None:
    assert CATALOG[code].category.value == expected
    # A known code wins over the HTTP status it came with.
    assert categorize(code, 400).value == expected
    assert categorize(code, 500).value == expected


STATUS_CATEGORIES = [
    (401, "auth"),
    (403, "forbidden"),
    (404, "not_found"),
    (409, "conflict"),
    (410, "unsupported"),
    (413, "payload_too_large"),
    (429, "rate_limit"),
    (500, "server_error"),
    (502, "server_error"),
    (503, "server_error"),
    (504, "server_error"),
]


@pytest.mark.parametrize(("status", "expected"), STATUS_CATEGORIES)
def test_status_category_without_code(status: int, expected: str) -> None:
    assert categorize(None, status).value == expected


@pytest.mark.parametrize(("status", "expected"), STATUS_CATEGORIES)
def test_unknown_code_categorised_from_status(status: int, expected: str) -> None:
    assert lookup(9999) is None
    assert categorize(9999, status).value == expected


@pytest.mark.parametrize("category", list(Category))
def test_retryable_exactly_rate_limit_and_server_error(category: Category) -> None:
    assert category.retryable is (category.value in RETRYABLE)


def test_entry_retryable_follows_category() -> None:
    for entry in CATALOG.values():
        assert entry.retryable is (entry.category.value in RETRYABLE), entry
    assert CATALOG[1400].retryable
    assert CATALOG[2000].retryable
    assert not CATALOG[1002].retryable
