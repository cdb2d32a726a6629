"""Generate the reference tables from the code: ``python -m otel_8x8.docs`` rewrites them.

Each table sits in a page of ``docs/`` (the products table in README.md too) between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``; tests/test_docs.py fails when one is out
of date. ``PAGES`` says which tables each page holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import attributes as A
from .call import span_name
from .catalog import STATUS_CATEGORIES, Category, iter_catalog
from .config import ENVIRONMENT_VARIABLES, LOG_ERRORS_ENV, LOG_INTERVAL_ENV, LOG_LEVEL_ENV, LOG_LIMIT_ENV
from .hosts import HOSTS_ENV
from .log_limit import DEFAULT_INTERVAL, DEFAULT_LIMIT
from .products import ALL_ROUTES, PRODUCTS

_PRODUCT_NAMES = ", ".join(f"`{name}`" for name in PRODUCTS)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

# page -> the generated tables it holds
PAGES: dict[Path, tuple[str, ...]] = {
    README: ("products",),
    DOCS / "index.md": ("products",),
    DOCS / "attributes.md": ("span-attributes", "log-attributes", "metric-attributes"),
    DOCS / "codes.md": ("error-categories", "error-codes", "product-codes"),
    DOCS / "configuration.md": ("environment-variables", "instrument-kwargs"),
    DOCS / "operations.md": ("operations",),
}

# attribute -> (type, description)
ATTRIBUTE_DOCS: dict[str, tuple[str, str]] = {
    A.PRODUCT: (
        "string",
        f"8x8 product ({_PRODUCT_NAMES}): from the host, or from the path's documented operation on a host that "
        "does not tell (absent when neither does).",
    ),
    A.REGION: ("string", "Region of the host: `ap`, `us`, `eu` or `id` (absent for legacy and configured hosts)."),
    A.SUBACCOUNT_ID: ("string", "The `{subAccountId}` of the path."),
    A.ERROR_CODE: ("int", "The `code` of 8x8's error envelope (e.g. `1002`), or `429` for rate limiting."),
    A.ERROR_ID: ("string", "The envelope's `errorId`, the id 8x8 support asks for."),
    A.ERROR_CATEGORY: ("string", "One of the [error categories](codes.md#error-categories)."),
    A.ERROR_RETRYABLE: ("boolean", "Whether retrying the call may succeed (`rate_limit`, `server_error`)."),
    A.ERROR_MESSAGE: ("string", "The envelope's `message`, redacted and cut to 512 characters (log records only)."),
    A.ERROR_SUPPRESSED_COUNT: (
        "int",
        "How many records of the same product, error code and `url.template` were suppressed (by the log limit) "
        "since the last one written; only on the first record written after a suppression, whose message also "
        'ends with "(N similar suppressed)" (log records only).',
    ),
    A.RETRY_AFTER: ("double", "Seconds from the `Retry-After` header of an error answer."),
    A.MESSAGE_UMID: (
        "string",
        "The `umid` of a sent message (to match its delivery receipt), when the app read the answer.",
    ),
    A.BATCH_ID: ("string", "The `batchId` of a batch send."),
    A.BATCH_ACCEPTED: ("int", "`acceptedCount` of a batch send."),
    A.BATCH_REJECTED: (
        "int",
        "`rejectedCount` of a batch send; each distinct rejection reason is also a span event "
        "`com.8x8.batch.rejection` with `com.8x8.batch.rejection.reason` (redacted) and this count.",
    ),
    A.HTTP_REQUEST_METHOD: ("string", "HTTP method (`_OTHER` for a non-standard one)."),
    A.HTTP_REQUEST_METHOD_ORIGINAL: ("string", "The method as sent, only when `http.request.method` is `_OTHER`."),
    A.HTTP_RESPONSE_STATUS_CODE: ("int", "HTTP status of the answer."),
    A.SERVER_ADDRESS: ("string", "Host name of the URL."),
    A.SERVER_PORT: ("int", "Port of the URL (443 and 80 when implicit)."),
    A.URL_FULL: ("string", "The URL with phone numbers, credentials and secret query values redacted."),
    A.URL_TEMPLATE: (
        "string",
        "The path with 8x8's placeholder names, e.g. `/api/v1/subaccounts/{subAccountId}/messages`.",
    ),
    A.ERROR_TYPE: (
        "string",
        'The HTTP status (`"400"`) of an error answer; for a failure 8x8 reports inside HTTP 2xx, what the answer '
        "says (`NOT_CREATED`: a Voice callflow, `LOOKUP_ERROR`: a Number Lookup, `REJECTED`: batch rejections on "
        "the counter); else the exception's class name.",
    ),
}

# instrument() keyword -> (environment variable or "", description)
INSTRUMENT_KWARGS: dict[str, tuple[str, str]] = {
    "hosts": (HOSTS_ENV, "Extra 8x8 hosts (list or comma-separated string), added to those of the variable."),
    "log_errors": (LOG_ERRORS_ENV, "Emit the log record for 8x8 errors (default `True`)."),
    "log_level": (LOG_LEVEL_ENV, "Fixed level (int or name) of the error log records."),
    "log_limit": (
        LOG_LIMIT_ENV,
        f"Error log records per (product, error code, `url.template`) per interval (default `{DEFAULT_LIMIT}`; "
        "`0`: no limit).",
    ),
    "log_interval": (LOG_INTERVAL_ENV, f"Seconds of the log limit's interval (default `{DEFAULT_INTERVAL:g}`)."),
    "request_hook": (
        "",
        "`request_hook(span, request)`, called before the call with the library's request (urllib3: a"
        " `RequestInfo(method, url, headers, body)`, `headers` being what is sent; aiohttp: an"
        " `AiohttpRequest(method, url, headers)`).",
    ),
    "response_hook": ("", "`response_hook(span, request, response)`, called after the call."),
    "tracer_provider": ("", "TracerProvider to use instead of the global one."),
    "meter_provider": ("", "MeterProvider to use instead of the global one."),
}

_METRICS = {A.ERRORS_METRIC: A.ERROR_METRIC_ATTRIBUTES, A.DURATION_METRIC: A.DURATION_METRIC_ATTRIBUTES}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _span_attributes() -> str:
    return _table(
        ("Attribute", "Type", "Description"),
        ((f"`{name}`", *ATTRIBUTE_DOCS[name]) for name in A.SPAN_ATTRIBUTES),
    )


def _log_attributes() -> str:
    return _table(
        ("Attribute", "Type", "Description"),
        ((f"`{name}`", *ATTRIBUTE_DOCS[name]) for name in A.LOG_ONLY_ATTRIBUTES),
    )


def _metric_attributes() -> str:
    names = dict.fromkeys(name for attrs in _METRICS.values() for name in attrs)
    return _table(
        ("Attribute", *(f"`{metric}`" for metric in _METRICS)),
        ((f"`{name}`", *("yes" if name in attrs else "" for attrs in _METRICS.values())) for name in names),
    )


def _products() -> str:
    rows = []
    for product in PRODUCTS.values():
        hosts = ", ".join(f"`{host}` ({region})" if region else f"`{host}`" for host, region in product.hosts.items())
        operations = sum(route.product == product.name for route in ALL_ROUTES)
        rows.append((f"`{product.name}`", product.title, hosts, operations))
    return _table(("Product", "8x8 API", "Hosts (region)", "Documented operations"), rows)


def _error_categories() -> str:
    rows = []
    for category in Category:
        codes = ", ".join(str(entry.code) for entry in iter_catalog() if entry.category is category)
        statuses = [str(status) for status, cat in STATUS_CATEGORIES.items() if cat is category]
        if category is Category.SERVER_ERROR:
            statuses.append("any other 5xx")
        elif category is Category.UNKNOWN:
            statuses.append("any other status >= 400")
        rows.append((f"`{category.value}`", "yes" if category.retryable else "no", codes, ", ".join(statuses)))
    return _table(("Category", "Retryable", "Error codes", "HTTP statuses (when the code is unknown)"), rows)


def _error_codes() -> str:
    return _table(
        ("Code", "Description", "Category"),
        ((entry.code, entry.description, f"`{entry.category.value}`") for entry in iter_catalog()),
    )


def _product_codes() -> str:
    rows = [
        (f"`{product.name}`", entry.code, entry.description, f"`{entry.category.value}`")
        for product in PRODUCTS.values()
        for entry in product.codes.values()
    ]
    return _table(("Product", "Code", "Description", "Category"), rows)


def _environment_variables() -> str:
    return _table(("Variable", "Description"), ((f"`{name}`", text) for name, text in ENVIRONMENT_VARIABLES.items()))


def _instrument_kwargs() -> str:
    return _table(
        ("Keyword", "Environment variable", "Description"),
        ((f"`{name}`", f"`{env}`" if env else "", text) for name, (env, text) in INSTRUMENT_KWARGS.items()),
    )


def render_tables() -> dict[str, str]:
    """Every generated table: name -> markdown."""
    return {
        "products": _products(),
        "span-attributes": _span_attributes(),
        "log-attributes": _log_attributes(),
        "metric-attributes": _metric_attributes(),
        "error-categories": _error_categories(),
        "error-codes": _error_codes(),
        "product-codes": _product_codes(),
        "environment-variables": _environment_variables(),
        "instrument-kwargs": _instrument_kwargs(),
        "operations": _operations(),
    }


def _operations() -> str:
    rows = [
        (
            f"`{product.name}`",
            f"`{span_name(route.method, route.template, route.product)}`",
            f"`{route.operation_id}`",
            ", ".join(route.hosts),
        )
        for product in PRODUCTS.values()
        for route in sorted(ALL_ROUTES, key=lambda route: (route.template, route.method))
        if route.product == product.name
    ]
    return _table(("Product", "Span name", "8x8 operation id", "Hosts (where not the product's)"), rows)


_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)


def generated_blocks(text: str) -> dict[str, str]:
    """The tables currently between the markers of ``text`` (name -> markdown, without the markers)."""
    return {match[2]: match[3].strip() for match in _BLOCK.finditer(text)}


def render_page(page: Path) -> dict[str, str]:
    """The tables ``page`` (a key of ``PAGES``) holds: name -> markdown."""
    tables = render_tables()
    return {name: tables[name] for name in PAGES[page]}


def update(text: str, tables: dict[str, str]) -> str:
    """``text`` with each of ``tables`` replaced by its current rendering (every one must have its markers)."""
    missing = tables.keys() - generated_blocks(text).keys()
    if missing:
        raise ValueError(f"no markers for the tables {sorted(missing)}")

    def replace(match: re.Match[str]) -> str:
        table = tables.get(match[2])
        return match[0] if table is None else f"{match[1]}{table}\n{match[4]}"

    return _BLOCK.sub(replace, text)


def main() -> int:
    """Rewrite the generated tables of every page in ``PAGES``."""
    for page in PAGES:
        old = page.read_text(encoding="utf-8")
        new = update(old, render_page(page))
        if new != old:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
