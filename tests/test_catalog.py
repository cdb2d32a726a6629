"""The error catalog against 8x8's documented error codes, as committed in ``tests/data/8x8_error_codes.json``.

The data file is a transcription of 8x8's public developer docs (each entry names the document it comes from);
these tests read nothing outside the repository.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_8x8.catalog import CATALOG, Category, categorize, category_for_status, code_for_reason, lookup

DATA = Path(__file__).resolve().parent / "data" / "8x8_error_codes.json"


@dataclass(frozen=True)
class Fact:
    """One code as 8x8 documents it (see the data file's "about")."""

    product: str
    code: int
    wording: str
    http_status: int | None
    kind: str  # "table", "list" or "example"
    field: str
    source: str
    code_is_string: bool


def _load() -> tuple[dict[str, Any], list[Fact]]:
    """Read at import time on purpose: a missing or malformed data file is a collection error, not a skip."""
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    facts = [
        Fact(
            product=entry["product"],
            code=int(entry["code"]),
            wording=entry["wording"],
            http_status=entry["http_status"],
            kind=entry["kind"],
            field=entry["field"],
            source=entry["source"],
            code_is_string=isinstance(entry["code"], str),
        )
        for entry in raw["codes"]
    ]
    return raw, facts


RAW, FACTS = _load()
SOURCES: dict[str, dict[str, Any]] = RAW["sources"]


def table(source: str) -> dict[int, str]:
    """The rows ``code -> wording`` of one documented code table."""
    rows = {fact.code: fact.wording for fact in FACTS if fact.kind == "table" and fact.source == source}
    assert rows, f"no table from {source!r} in {DATA.name}"
    return rows


def plain(wording: str) -> str:
    """8x8's wording without its markdown links and trailing period, as the catalog keeps it."""
    return re.sub(r"\s*\[[^\]]*\]\([^)]*\)", "", wording).strip().rstrip(".")


SMS_TABLE = table("api-error-codes")
LOOKUP_TABLE = table("number-lookup-error-codes")
VOICE_STATUS_REFERENCE = table("voice-status-codes-reference")
VOICE_STATUS_GUIDE = table("voice-status-codes")
VOICE_ERRORS = table("voice-error-codes")
MASKING_ERRORS = table("number-masking-error-codes")
EXAMPLES = [fact for fact in FACTS if fact.kind == "example"]

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


# --- the data file ------------------------------------------------------------------------------


def test_every_fact_names_a_dated_source() -> None:
    assert {fact.source for fact in FACTS} | {entry["source"] for entry in RAW["earlier_wording"]} <= SOURCES.keys()
    for key, source in SOURCES.items():
        assert source["path"] and source["title"] and source["last_changed"], key
    assert {fact.kind for fact in FACTS} == {"table", "list", "example"}
    assert all(fact.wording for fact in FACTS)


# --- SMS API / Messaging (Chat Apps) API: 8x8's "API Error codes" table -------------------------


def test_sms_table_was_transcribed() -> None:
    expected = {*range(1000, 1013), 1014, 1100, 1200, 1201, 1300, 1400, *range(2000, 2004), *range(3001, 3054), 3060}
    assert SMS_TABLE.keys() == expected
    assert len(SMS_TABLE) == 77
    assert SMS_TABLE[1000] == "Invalid parameter"
    assert SMS_TABLE[1003] == "Invalid Encoding"
    assert SMS_TABLE[3053] == "Invalid index"
    # The HTTP status table of the same page is not part of the JSON codes.
    assert not {200, 201, 400, 426, 429, 500} & SMS_TABLE.keys()
    # The earlier version of the page (the project's seed) had 75 rows: the same minus 1014 and 3060.
    seed = SOURCES["seed"]
    assert len(SMS_TABLE.keys() - set(seed["table_lacks"])) == seed["table_rows"] == 75


@pytest.mark.parametrize(("code", "wording"), sorted(SMS_TABLE.items()))
def test_sms_code_in_catalog_with_8x8_wording(code: int, wording: str) -> None:
    entry = lookup(code)
    assert entry is not None, f"code {code} missing from CATALOG"
    assert entry.code == code
    assert entry.description == plain(wording)


def test_reworded_codes_take_the_current_wording() -> None:
    earlier = {entry["code"]: entry["wording"] for entry in RAW["earlier_wording"]}
    assert earlier == {1003: "Invalid Endoding", 3053: "Invalid Button index"}
    for code, old in earlier.items():
        assert CATALOG[code].description == SMS_TABLE[code] != old


# --- batch rejection reasons --------------------------------------------------------------------


@pytest.mark.parametrize(("code", "wording"), sorted(SMS_TABLE.items()))
def test_reason_with_8x8_wording_finds_a_code_of_that_wording(code: int, wording: str) -> None:
    found = code_for_reason(f"{plain(wording)} (details)")
    assert found is not None
    # Duplicated descriptions ("Invalid MSISDN": 1002 and 3003) give the first code.
    assert CATALOG[found].description.lower() == plain(wording).lower()
    assert found <= code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Invalid Encoding", 1003),
        ("invalid encoding: UCS2 not allowed", 1003),
        ("Invalid Endoding", 1003),  # 8x8's earlier wording
        ("Invalid index", 3053),
        ("Invalid index 4 for button", 3053),
        ("Invalid Button index", 3053),  # 8x8's earlier wording
        ("Invalid button parameter", 3049),
        ("Something 8x8 never wrote", None),
    ],
)
def test_code_for_reason_current_and_earlier_wording(reason: str, code: int | None) -> None:
    assert code_for_reason(reason) == code


def test_batch_rejection_example_from_8x8_maps_to_invalid_msisdn() -> None:
    reasons = {fact.wording for fact in EXAMPLES if fact.code == 1002}
    assert "Invalid MSISDN format (not E.164 international number)" in reasons
    assert {code_for_reason(reason) for reason in reasons} == {1002}


# --- Number Lookup ------------------------------------------------------------------------------


def test_lookup_table_was_transcribed() -> None:
    assert LOOKUP_TABLE.keys() == {2000, *range(2004, 2008), *range(6000, 6006)}
    # The API spec lists the same codes (less 2006 and 2007), with the same wording up to case.
    spec = {fact.code: fact.wording for fact in FACTS if fact.kind == "list" and fact.product == "number_lookup"}
    assert spec.keys() == LOOKUP_TABLE.keys() - {2006, 2007}
    assert all(spec[code].lower() == LOOKUP_TABLE[code].lower() for code in spec)


@pytest.mark.parametrize(("code", "wording"), sorted((c, w) for c, w in LOOKUP_TABLE.items() if c != 2000))
def test_lookup_code_in_catalog_with_8x8_wording(code: int, wording: str) -> None:
    assert CATALOG[code].description == wording


def test_codes_that_mean_different_things_in_different_products() -> None:
    # 2000: Number Lookup's wording differs from the SMS table's; the catalog keeps the SMS one.
    assert LOOKUP_TABLE[2000] == "Internal error / Unknown provider error" != SMS_TABLE[2000]
    assert CATALOG[2000].description == SMS_TABLE[2000]
    # 1001: Voice and Number Masking answer a 422 with statusCode "1001" (a string), Invalid JSON request body.
    voice_1001 = [fact for fact in EXAMPLES if fact.code == 1001 and fact.field == "statusCode"]
    assert {(fact.product, fact.http_status, fact.code_is_string) for fact in voice_1001} == {
        ("voice", 422, True),
        ("number_masking", 422, True),
    }
    assert {fact.wording for fact in voice_1001} == {"Invalid JSON request body"} != {SMS_TABLE[1001]}
    # A numeric code is a string nowhere else.
    assert [fact for fact in FACTS if fact.code_is_string] == voice_1001


# --- Voice, Number Masking ----------------------------------------------------------------------


def test_voice_tables_were_transcribed() -> None:
    callflow = {1, *range(-1020, -1000), -9999}
    assert VOICE_STATUS_REFERENCE.keys() == VOICE_STATUS_GUIDE.keys() == callflow
    session = {*range(-2010, -2000), -9999}
    assert VOICE_ERRORS.keys() == MASKING_ERRORS.keys() == session
    assert VOICE_ERRORS == MASKING_ERRORS


@pytest.mark.parametrize("code", sorted(VOICE_STATUS_REFERENCE.keys() - {1}))
def test_voice_status_code_in_catalog_with_8x8_wording(code: int) -> None:
    # 8x8's two Voice status pages word some codes differently; the catalog takes one of them.
    assert CATALOG[code].description in {plain(VOICE_STATUS_REFERENCE[code]), plain(VOICE_STATUS_GUIDE[code])}


@pytest.mark.parametrize(("code", "wording"), sorted(VOICE_ERRORS.items()))
def test_voice_error_code_in_catalog_with_8x8_wording(code: int, wording: str) -> None:
    assert CATALOG[code].description == plain(wording)


# --- codes seen in 8x8's API specs (example answers), with their HTTP status ------------------

# Documented codes the catalog leaves out: Voice's "Created" (a success), the HTTP numbers Voice puts in
# statusCode (categorised from the status) and Automation's 5001 (no documented wording beyond an example).
NOT_IN_CATALOG = {1, 401, 404, 500, 5001}
# Example answers whose HTTP status is not the code's own (8x8's spec reuses an example under another status).
DOC_QUIRKS = {(1200, 403), (1300, 204)}


def test_every_documented_code_is_in_the_catalog() -> None:
    documented = {fact.code for fact in FACTS}
    assert documented - CATALOG.keys() == NOT_IN_CATALOG
    for code in (1014, 1404, 3060, 4018, 5003, 7001, 429):
        assert code in documented and code in CATALOG


@pytest.mark.parametrize(
    "fact",
    [fact for fact in EXAMPLES if fact.code in CATALOG and (fact.code, fact.http_status) not in DOC_QUIRKS],
    ids=lambda fact: f"{fact.source}-{fact.code}-{fact.http_status}",
)
def test_catalog_category_agrees_with_documented_status(fact: Fact) -> None:
    assert fact.http_status is not None
    category = CATALOG[fact.code].category
    if fact.http_status >= 400:
        assert category == category_for_status(fact.http_status)
        assert categorize(fact.code, fact.http_status) == category
    else:  # a failure inside an HTTP 200 (Number Lookup, batch sends): never a success category of its own
        assert category != Category.UNKNOWN


def test_documented_statuses_of_the_codes_first_seen_outside_the_table() -> None:
    statuses = {(fact.code, fact.http_status) for fact in EXAMPLES}
    assert {(1014, 426), (3060, 409), (1404, 404), (4018, 404), (5003, 409), (7001, 413), (429, 429)} <= statuses
    assert CATALOG[4018].category == Category.NOT_FOUND
    assert categorize(4018, 404) == Category.NOT_FOUND


@pytest.mark.parametrize("code", [1404, 4018, 7001])
def test_catalog_wording_is_8x8s_message(code: int) -> None:
    assert CATALOG[code].description in {fact.wording for fact in EXAMPLES if fact.code == code}


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
