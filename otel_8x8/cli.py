"""``python -m otel_8x8``: the 8x8 error catalog for on-call engineers, and a doctor for "no spans?".

- ``explain CODE``: what an 8x8 error code (``com.8x8.error.code``) means, its category, whether a retry may
  help and what to check. Also takes an HTTP status (``explain 503``), a delivery-receipt code
  (``explain --receipt 15 [--product chatapps]``), and an unknown code with the status it came with
  (``explain 4242 --status 404``: unknown, categorised from the status).
- ``codes``: the catalog as a table (``--receipt`` for the delivery-receipt codes).
- ``doctor [URL ...]``: why calls give no spans: the libraries otel-8x8 hooks, the hosts that count as 8x8
  (documented and ``OTEL_PYTHON_8X8_HOSTS``), whether ``opentelemetry-instrument`` loads the ``8x8`` entry
  point, the exporters; for each URL, whether a call to it is observed (product, region, span name,
  ``url.template``) or the ``OTEL_PYTHON_8X8_HOSTS`` value that would observe it. Logic in ``doctor.py``.
- ``--json`` on each, for scripts.

Exit status: 0 when the code is known (``doctor``: nothing wrong), 1 when it is not (``doctor``: a problem,
each printed with its fix), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .catalog import Category, category_for_status, iter_catalog, lookup
from .doctor import Report, diagnose, url_error
from .products import PRODUCTS as API_PRODUCTS
from .products import lookup_code
from .receipt_codes import PRODUCTS, iter_receipt_codes, lookup_receipt

EXIT_FOUND = 0
EXIT_UNKNOWN = 1
EXIT_USAGE = 2

HINTS: dict[Category, str] = {
    Category.INVALID_REQUEST: (
        "The request itself is wrong; retrying it unchanged fails again. Check the field the message names: "
        "destination in E.164 (+, country code, number; no spaces or leading 0), source / sender ID, text and "
        "encoding, parameter ranges."
    ),
    Category.TEMPLATE: (
        "Check the Chat Apps / WhatsApp template: name and language exactly as registered, approved and not "
        "paused, and the number and types of its parameters."
    ),
    Category.FALLBACK: (
        "Check the fallback part of the Chat Apps request: fallback channel enabled on the subaccount, "
        "delay within range, status value and fallback text length."
    ),
    Category.AUTH: (
        "Check the API key: sent as 'Authorization: Bearer <key>', not revoked or rotated, and the one of this "
        "account (a deploy or secret change is the usual cause)."
    ),
    Category.FORBIDDEN: (
        "The key works but may not do this: check the subaccount's products and permissions, the sender or "
        "caller ID whitelist, the account balance, and the recipient's or channel's opt-out and policy rules."
    ),
    Category.NOT_FOUND: (
        "Check the identifier (subAccountId, umid, sessionId…) and that you call the region's host where it "
        "exists; for a delivery receipt, the recipient could not be reached (unknown, absent or offline)."
    ),
    Category.RATE_LIMIT: (
        "Slow down and retry later: honour Retry-After (com.8x8.retry_after), back off with jitter, spread "
        "bulk sends over batches (SMS allows 1800 requests/s per subaccount)."
    ),
    Category.CONFLICT: (
        "The resource is in a state that forbids this (a template being deleted, a group that exists): read "
        "its current state and try again once it has settled."
    ),
    Category.PAYLOAD_TOO_LARGE: "Send less per request: split the batch or shrink the media (the limit is 100 MB).",
    Category.UNSUPPORTED: (
        "Not supported here: check the API version in the URL (Verification is /api/v2), TLS 1.3, the product "
        "and channel enabled on the subaccount, and what the recipient's handset or app can receive."
    ),
    Category.SERVER_ERROR: (
        "A failure at 8x8, the operator or the channel: retry with backoff. If it lasts, give 8x8 support "
        "the errorId (com.8x8.error.id) and the time."
    ),
    Category.UNKNOWN: (
        "Not a code otel-8x8 knows: read com.8x8.error.message and the HTTP status, and give 8x8 support "
        "the errorId (com.8x8.error.id)."
    ),
}
"""What to check first, per category."""


@dataclass(frozen=True)
class Explanation:
    code: int
    kind: str  # "api", "http_status", "receipt" or "unknown"
    known: bool
    description: str
    category: Category
    product: str | None = None

    @property
    def retryable(self) -> bool:
        return self.category.retryable

    @property
    def hint(self) -> str:
        return HINTS[self.category]

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind,
            "known": self.known,
            "description": self.description,
            "category": self.category.value,
            "retryable": self.retryable,
            "check": self.hint,
        }
        if self.product is not None:
            data["product"] = self.product
        return data


def explain(code: int, status: int | None = None, receipt: bool = False, product: str | None = None) -> Explanation:
    """What ``code`` means: an API error code (in ``product``'s answers, when given: Voice's 1001 is not SMS's),
    else an HTTP error status, else unknown (categorised from ``status`` when given). With ``receipt``, a
    delivery-receipt error code of ``product`` (default ``sms``)."""
    if receipt:
        product = product or "sms"
        entry = lookup_receipt(code, product)
        if entry is not None:
            return Explanation(code, "receipt", True, entry.description, entry.category, product)
        return Explanation(
            code, "unknown", False, f"Unknown {product} delivery-receipt code", Category.UNKNOWN, product
        )
    api = lookup_code(code, product)
    if api is not None:
        own = product is not None and api is not lookup(code)
        return Explanation(code, "api", True, api.description, api.category, product if own else None)
    if 400 <= code <= 599:
        described = "HTTP status" + (" (a gateway or server error)" if code >= 500 else "")
        return Explanation(code, "http_status", True, described, category_for_status(code))
    category = category_for_status(status) if status is not None else Category.UNKNOWN
    where = f" (category from HTTP {status})" if status is not None else ""
    return Explanation(code, "unknown", False, f"Unknown code{where}", category)


def _print_explanation(item: Explanation, out: TextIO) -> None:
    rows = [
        ("code", str(item.code)),
        (
            "kind",
            {"api": "8x8 API error code", "http_status": "HTTP status", "receipt": "delivery-receipt code"}.get(
                item.kind, "unknown"
            ),
        ),
        ("description", item.description),
        ("category", item.category.value),
        ("retryable", "yes" if item.retryable else "no"),
        ("check", item.hint),
    ]
    if item.product is not None:
        rows.insert(2, ("product", item.product))
    for name, value in rows:
        print(f"{name + ':':<13}{value}", file=out)


def _codes(receipt: bool, product: str | None) -> list[dict[str, Any]]:
    if receipt:
        return [
            {
                "product": e.product,
                "code": e.code,
                "description": e.description,
                "category": e.category.value,
                "retryable": e.retryable,
            }
            for e in iter_receipt_codes(product)
        ]
    rows = [
        {"code": e.code, "description": e.description, "category": e.category.value, "retryable": e.retryable}
        for e in iter_catalog()
    ]
    return rows


def _print_table(rows: Sequence[dict[str, Any]], columns: Iterable[str], out: TextIO) -> None:
    names = list(columns)
    cells = [[_text(row[name]) for name in names] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(names)]
    print("  ".join(name.upper().ljust(width) for name, width in zip(names, widths, strict=True)).rstrip(), file=out)
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip(), file=out)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _print_report(report: Report, out: TextIO) -> None:
    def line(text: str = "", indent: int = 0) -> None:
        print(" " * indent + text, file=out)

    line("Libraries otel-8x8 hooks:")
    for lib in report.libraries:
        if not lib.installed:
            line(f"{lib.name}: not installed", 2)
            continue
        methods = ", ".join(f"{name}{'' if ok else ' (missing)'}" for name, ok in lib.methods.items())
        patched = f"; patched now: {', '.join(lib.patched)}" if lib.patched else ""
        line(f"{lib.name} {lib.version or '?'}: would patch {methods}{patched}", 2)
    line()
    line("8x8 hosts (documented, with region):")
    for product, hosts in report.default_hosts.items():
        line(f"{product}: " + ", ".join(host + (f" [{region}]" if region else "") for host, region in hosts), 2)
    line(f"8x8 hosts from OTEL_PYTHON_8X8_HOSTS: {repr(report.hosts_env) if report.hosts_env else 'not set'}")
    for entry in report.configured_hosts:
        said = f"{entry.host}" + (f" = {entry.product}" if entry.product else " (no product)")
        flags = "".join(f"; {flag}" for flag in (entry.ignored, entry.note) if flag)
        line(f"{said}{flags}", 2)
    line()
    ep = report.entry_point
    line("opentelemetry-instrument:")
    line(f"entry point 8x8: {ep.value if ep.installed else 'NOT installed'}", 2)
    line(f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS: {'names it (disabled)' if ep.disabled else 'does not name 8x8'}", 2)
    line(f"opentelemetry-instrumentation: {ep.instrumentation_version or 'NOT installed'}", 2)
    line(f"command: {ep.command or 'NOT on PATH'}", 2)
    line(f"SDK configurator: {', '.join(ep.configurator) or 'none'}", 2)
    line()
    line("Exporters:")
    for signal, exporters in report.exporters.items():
        configured = report.exporter_env[signal]
        source = "" if configured else " (default)"
        if not exporters:
            line(f"{signal}: none{source}", 2)
        for exp in exporters:
            resolved = f" -> {exp.entry_point}" if exp.entry_point and exp.entry_point != exp.name else ""
            state = f"{exp.package}, importable" if exp.importable else f"NOT usable: {exp.error}"
            line(f"{signal}: {exp.name}{source}{resolved} ({state})", 2)
    logging_value = report.logging_auto_instrumentation
    line(f"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED: {logging_value if logging_value else 'not set'}", 2)
    if report.urls:
        line()
        line("URLs:")
    for url in report.urls:
        line(url.url, 2)
        if url.observed:
            line(f"observed: yes, product {url.product or '-'}, region {url.region or '-'}", 4)
            for call in url.calls:
                operation = f" (operation {call.operation_id})" if call.operation_id else ""
                line(f"{call.method}: span {call.span_name!r}, url.template {call.url_template}{operation}", 4)
        else:
            line(f"observed: NO ({url.netloc} is not an 8x8 host)", 4)
            if url.hint:
                line(f"hint: {url.hint}", 4)
            line(f"to observe it: OTEL_PYTHON_8X8_HOSTS={url.hosts_value}", 4)
    if report.notes:
        line()
        line("Notes:")
        for note in report.notes:
            line(f"- {note}", 2)
    line()
    if report.ok:
        line("No problem found.")
        return
    line(f"Problems ({len(report.problems)}):")
    for problem in report.problems:
        line(f"- {problem.what}", 2)
        line(f"fix: {problem.fix}", 4)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m otel_8x8",
        description="Explain 8x8 API error codes (com.8x8.error.code) and list the catalog.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{explain,codes,doctor}")
    explain_cmd = commands.add_parser("explain", help="explain one code or HTTP status")
    explain_cmd.add_argument("code", type=int, help="8x8 error code (1002, -1017), or an HTTP status (429, 503)")
    explain_cmd.add_argument("--status", type=int, help="HTTP status the code came with (categorises unknown codes)")
    explain_cmd.add_argument("--receipt", action="store_true", help="a delivery-receipt errorCode, not an API code")
    explain_cmd.add_argument(
        "--product",
        choices=list(API_PRODUCTS),
        help="the product that answered (codes mean other things per product); of a receipt: sms or chatapps",
    )
    explain_cmd.add_argument("--json", action="store_true", help="print JSON")
    codes_cmd = commands.add_parser("codes", help="list the catalog")
    codes_cmd.add_argument("--receipt", action="store_true", help="list the delivery-receipt codes instead")
    codes_cmd.add_argument("--product", choices=PRODUCTS, help="with --receipt: only this product")
    codes_cmd.add_argument("--json", action="store_true", help="print JSON")
    doctor_cmd = commands.add_parser("doctor", help="why calls to 8x8 give no spans: check the set-up and URLs")
    doctor_cmd.add_argument("urls", nargs="*", metavar="URL", help="a URL your app calls (is it observed?)")
    doctor_cmd.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    try:
        return _run(argv, stream)
    except BrokenPipeError:  # `python -m otel_8x8 codes | head`: the reader has what it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        return EXIT_FOUND


def _run(argv: Sequence[str] | None, stream: TextIO) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, a usage error 2
        return EXIT_FOUND if exc.code in (0, None) else EXIT_USAGE
    if args.command == "explain":
        if args.status is not None and not 100 <= args.status <= 599:
            print(f"python -m otel_8x8: error: --status {args.status} is not an HTTP status", file=sys.stderr)
            return EXIT_USAGE
        if args.receipt and args.product not in (None, *PRODUCTS):
            print(f"python -m otel_8x8: error: --receipt takes --product {' or '.join(PRODUCTS)}", file=sys.stderr)
            return EXIT_USAGE
        item = explain(args.code, args.status, args.receipt, args.product)
        if args.json:
            print(json.dumps(item.as_dict(), ensure_ascii=False, indent=2), file=stream)
        else:
            _print_explanation(item, stream)
        return EXIT_FOUND if item.known else EXIT_UNKNOWN
    if args.command == "doctor":
        for url in args.urls:
            error = url_error(url)
            if error is not None:
                print(f"python -m otel_8x8: error: {error}", file=sys.stderr)
                return EXIT_USAGE
        report = diagnose(args.urls)
        if args.json:
            print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), file=stream)
        else:
            _print_report(report, stream)
        return EXIT_FOUND if report.ok else EXIT_UNKNOWN
    rows = _codes(args.receipt, args.product)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2), file=stream)
    else:
        columns = (
            ("product", "code", "category", "retryable", "description")
            if args.receipt
            else ("code", "category", "retryable", "description")
        )
        _print_table(rows, columns, stream)
    return EXIT_FOUND


__all__ = ["EXIT_FOUND", "EXIT_UNKNOWN", "EXIT_USAGE", "HINTS", "Explanation", "explain", "main"]
