"""The 8x8 products otel-8x8 knows: one module each, and this registry of them.

A product module says what is particular to one product (its hosts and regions, the words of its paths);
its documented operations are in ``routes_table.py``, generated from 8x8's OpenAPI specifications. The hooks
and the call pipeline name no product: they ask this registry. Adding a product is one module, its entry in
``PRODUCTS`` below, and its routes (rerun ``scripts/routes_from_specs.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from ..catalog import CATALOG, Category, ErrorCode, category_for_status
from ..routes import Route, RouteTable, is_placeholder
from . import automation, chatapps, contacts, lookup, sms, verify, video, voice
from ._product import Product
from .routes_table import ROUTES

PRODUCTS: Mapping[str, Product] = MappingProxyType(
    {
        product.name: product
        for product in (
            sms.PRODUCT,
            chatapps.PRODUCT,
            verify.PRODUCT,
            lookup.PRODUCT,
            contacts.PRODUCT,
            voice.PRODUCT,
            automation.PRODUCT,
            video.PRODUCT,
        )
    }
)
"""Every product, by ``com.8x8.product`` name."""

HOSTS: Mapping[str, tuple[Product, str | None]] = MappingProxyType(
    {host: (product, region) for product in PRODUCTS.values() for host, region in product.hosts.items()}
)
"""Every 8x8 host -> its product and region."""

ALL_ROUTES: tuple[Route, ...] = tuple(Route(*row) for row in ROUTES)
"""8x8's documented operations."""


def _shared_paths() -> frozenset[tuple[str, str]]:
    products: dict[tuple[str, str], set[str]] = defaultdict(set)
    for route in ALL_ROUTES:
        products[route.method, route.template].add(route.product)
    return frozenset(path for path, names in products.items() if len(names) > 1)


SHARED_PATHS = _shared_paths()
"""(method, template) that more than one product documents (SMS and Chat Apps ``POST .../messages``...)."""

PATH_WORDS: Mapping[str, str] = MappingProxyType(
    {word: product.name for product in PRODUCTS.values() for word in sorted(product.path_words)}
)
"""A word of a path -> the product it tells (for paths no route knows, on hosts that do not tell)."""


@cache
def route_table(product: str | None) -> RouteTable:
    """The routes of ``product``; for None (a host that does not tell), of every product, but for routes that
    begin with a placeholder (Video Interaction's ``/{link}``): on a gateway they would take any path."""
    if product is None:
        return RouteTable(route for route in ALL_ROUTES if not is_placeholder(route.segments[0]))
    return RouteTable(route for route in ALL_ROUTES if route.product == product)


ANSWERS: Mapping[str, str] = MappingProxyType(
    {operation: shape for product in PRODUCTS.values() for operation, shape in product.answers.items()}
)
"""Operation id -> the shape of its successful answer worth reading."""


def lookup_code(code: int, product: str | None) -> ErrorCode | None:
    """What ``code`` means in ``product``'s answers: its own meaning, else the common catalog's."""
    known = PRODUCTS.get(product) if product is not None else None
    own = known.codes.get(code) if known is not None else None
    return own if own is not None else CATALOG.get(code)


def categorize(code: int | None, status: int, product: str | None) -> Category:
    """The category of an error: from ``product``'s codes or the catalog when they know ``code``, else the status."""
    entry = lookup_code(code, product) if code is not None else None
    return entry.category if entry is not None else category_for_status(status)


__all__ = [
    "ALL_ROUTES",
    "ANSWERS",
    "HOSTS",
    "PATH_WORDS",
    "PRODUCTS",
    "SHARED_PATHS",
    "Product",
    "categorize",
    "lookup_code",
    "route_table",
]
