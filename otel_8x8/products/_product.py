"""What otel-8x8 knows of one 8x8 product: its hosts and regions, and the words of its paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..catalog import Category, ErrorCode

# 8x8's host naming for products served in every region: {product}.8x8.com (Asia-Pacific),
# {product}.us.8x8.com (North America), {product}.8x8.uk (Europe), {product}.8x8.id (Indonesia).
_REGION_SUFFIXES = {".8x8.com": "ap", ".us.8x8.com": "us", ".8x8.uk": "eu", ".8x8.id": "id"}


def regional_hosts(prefix: str) -> dict[str, str | None]:
    """The four regional hosts of a product, each with its region (``com.8x8.region``)."""
    return {prefix + suffix: region for suffix, region in _REGION_SUFFIXES.items()}


@dataclass(frozen=True)
class Product:
    """One 8x8 product. Its routes are in ``routes_table.py`` under its name."""

    name: str
    """``com.8x8.product``."""
    title: str
    """As 8x8's documentation names it."""
    hosts: Mapping[str, str | None]
    """Every host of the product -> its region (None where 8x8 does not tie the host to a region)."""
    path_words: frozenset[str] = field(default_factory=frozenset)
    """Words that tell this product in a path no route knows, on a host that does not tell (a gateway)."""
    answers: Mapping[str, str] = field(default_factory=dict)
    """Operation id -> the shape of its successful answer worth reading (``envelope.SUCCESS_READERS``):
    what it tells (a umid, a batch's rejections) or a failure 8x8 reports inside HTTP 2xx."""
    codes: Mapping[int, ErrorCode] = field(default_factory=dict)
    """The product's own meaning of codes where it differs from the common catalog (``catalog.CATALOG``)."""


def own_codes(entries: Mapping[int, tuple[str, Category]]) -> dict[int, ErrorCode]:
    """A product's ``codes`` from ``code -> (8x8's description, category)``."""
    return {code: ErrorCode(code, description, category) for code, (description, category) in entries.items()}
