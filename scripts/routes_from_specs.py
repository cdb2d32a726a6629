#!/usr/bin/env python3
"""Turn 8x8's OpenAPI specifications into otel-8x8's route table (otel_8x8/products/routes_table.py).

8x8 publishes its API reference as OpenAPI files in the GitHub repository 8x8Cloud/public-developer-docs,
folder docs_oas/connect/. Give this script that folder (from a clone)::

    git clone --depth 1 https://github.com/8x8Cloud/public-developer-docs /tmp/8x8-docs
    python scripts/routes_from_specs.py /tmp/8x8-docs/docs_oas/connect --source "<commit or date>"

It rewrites the table (facts only: product, method, path with 8x8's placeholder names, operation id, and
the hosts when an operation has its own servers) and prints which operations were added or removed. Nothing
else in the project reads the specifications: the table is what is committed and tested.

The product of an operation is told by its server's host name (``sms.8x8.com`` -> ``sms``). An operation
documented twice for one product (the Configuration API repeats the SMS and Chat Apps webhooks, the Number
Masking API repeats Voice's) is kept once, with the id of the product's own specification.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "otel_8x8" / "products" / "routes_table.py"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# The first label of a server's host -> product. Hosts not listed (cpaas.8x8.com: shared schemas) are skipped.
HOST_PRODUCTS = {
    "sms": "sms",
    "chatapps": "chatapps",
    "verify": "verify",
    "lookup": "lookup",
    "contacts": "contacts",
    "voice": "voice",
    "automation": "automation",
    "video-agent": "video",
}
# Specifications that repeat operations documented in a product's own one: read last, so the product's wins.
REPEATING = ("configuration_api.json", "number_masking_api.json")

Row = tuple[str, str, str, str, tuple[str, ...]]  # product, METHOD, path, operation id, hosts of its own


def host_of(url: str) -> str:
    return url.partition("://")[2].partition("/")[0].lower()


def product_of(host: str) -> str | None:
    return HOST_PRODUCTS.get(host.partition(".")[0])


def read_specs(folder: Path) -> tuple[dict[str, list[str]], list[Row]]:
    """The documented hosts of each product and one row per documented operation."""
    files = sorted(folder.glob("*.json"), key=lambda path: (path.name in REPEATING, path.name))
    servers: dict[str, list[str]] = {}
    rows: dict[tuple[str, str, str], Row] = {}
    for path in files:
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec_hosts = [host_of(server["url"]) for server in spec.get("servers", [])]
        for host in spec_hosts:
            product = product_of(host)
            if product is not None and host not in servers.setdefault(product, []):
                servers[product].append(host)
        for template, item in spec.get("paths", {}).items():
            for method in METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                own = [host_of(server["url"]) for server in operation.get("servers", item.get("servers", []))]
                for host in own or spec_hosts:
                    product = product_of(host)
                    if product is None:
                        continue
                    key = (product, method.upper(), template)
                    if key not in rows:
                        rows[key] = (product, method.upper(), template, operation.get("operationId", ""), tuple(own))
    return servers, sorted(rows.values())


def literal(value: str | tuple[str, ...] | list[str]) -> str:
    """A Python literal with double quotes, as ruff format writes them."""
    if isinstance(value, str):
        return json.dumps(value)
    items = [literal(item) for item in value]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"  # () when empty


def render(servers: dict[str, list[str]], rows: list[Row], source: str) -> str:
    lines = [
        '"""8x8\'s documented operations, from its OpenAPI specifications. Generated: do not edit.',
        "",
        "Written by scripts/routes_from_specs.py from github.com/8x8Cloud/public-developer-docs, docs_oas/connect/",
        f"({source}). Facts only: what otel-8x8 makes of them is in the product modules beside this one.",
        '"""',
        "",
        "SERVERS: dict[str, tuple[str, ...]] = {",
        "    # product -> the hosts its specification documents",
    ]
    for product in sorted(servers):
        lines.append(f"    {literal(product)}: {literal(servers[product])},")
    lines += [
        "}",
        "",
        "ROUTES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (",
        "    # product, method, path, operation id, hosts of the operation's own servers (none: the product's)",
    ]
    for row in rows:
        lines.append(f"    ({', '.join(literal(field) for field in row[:4])}, {literal(row[4])}),")
    lines += [")", ""]
    return "\n".join(lines)


def current_rows() -> set[Row]:
    if not TABLE.exists():
        return set()
    namespace: dict[str, object] = {}
    exec(compile(TABLE.read_text(encoding="utf-8"), str(TABLE), "exec"), namespace)
    return set(namespace["ROUTES"])  # type: ignore[call-overload]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="docs_oas/connect of a copy of 8x8Cloud/public-developer-docs")
    parser.add_argument("--source", default="snapshot", help="which copy (commit, date), written in the table")
    args = parser.parse_args(argv)
    servers, rows = read_specs(args.folder)
    if not rows:
        print(f"no operations found in {args.folder}", file=sys.stderr)
        return 1
    before = current_rows()
    TABLE.write_text(render(servers, rows, args.source), encoding="utf-8")
    for row in sorted(set(rows) - before):
        print("+", *row[:4])
    for row in sorted(before - set(rows)):
        print("-", *row[:4])
    print(f"{len(rows)} operations on {sum(map(len, servers.values()))} hosts -> {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
