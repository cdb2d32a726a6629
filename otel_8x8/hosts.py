"""Decide whether a call goes to 8x8, and which product and region it belongs to.

The decision runs on every HTTP call the application makes, so it is a dictionary lookup
on the ``host[:port]`` text of the URL, cached per distinct host.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from .products import HOSTS as _HOSTS
from .products import PRODUCTS as _PRODUCTS

HOSTS_ENV = "OTEL_PYTHON_8X8_HOSTS"
"""Extra hosts treated as 8x8 (comma-separated; ``*.`` wildcards; ``host:port``; ``host=product``)."""

PRODUCTS = tuple(_PRODUCTS)
"""The product names ``OTEL_PYTHON_8X8_HOSTS`` accepts after ``=``."""


@dataclass(frozen=True)
class Target:
    """What the instrumentation knows about an 8x8 host before looking at the path."""

    product: str | None
    region: str | None


DEFAULT_HOSTS: dict[str, Target] = {host: Target(product.name, region) for host, (product, region) in _HOSTS.items()}
"""Every 8x8 host in 8x8's documentation, with its product and region."""


@dataclass(frozen=True)
class HostEntry:
    """One entry of ``OTEL_PYTHON_8X8_HOSTS`` (or ``hosts=``) as the matcher reads it."""

    text: str
    """The entry as written (stripped)."""
    pattern: str
    """What the matcher compares: ``host`` or ``host:port`` (lowercase), or for a wildcard the suffix with its
    dot (``.example.com``). Empty when the entry names no host (it is then ignored)."""
    wildcard: bool
    target: Target
    """The product after ``=`` when it is one of ``PRODUCTS``, else None; never a region."""
    product_given: str | None
    """The text after ``=``, if any: a product ``PRODUCTS`` does not know is ignored."""


def parse_host_entry(entry: str) -> HostEntry | None:
    """How the matcher reads one configured entry; None for an empty one."""
    text = entry.strip()
    if not text:
        return None
    pattern, _, product = text.lower().partition("=")
    pattern = pattern.strip().rstrip(".")
    product = product.strip()
    target = Target(product if product in PRODUCTS else None, None)
    wildcard = pattern.startswith("*.")
    # a wildcard keeps the dot: ".example.com"
    return HostEntry(text, pattern[1:] if wildcard else pattern, wildcard, target, product or None)


class HostMatcher:
    """Matches the ``host`` or ``host:port`` of a URL against the known and configured 8x8 hosts."""

    __slots__ = ("_cache", "_exact", "_wildcards")

    _CACHE_LIMIT = 4096

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._exact: dict[str, Target] = dict(DEFAULT_HOSTS)
        self._wildcards: list[tuple[str, Target]] = []
        for entry in extra:
            self._add(entry)
        self._cache: dict[str, Target | None] = {}

    def _add(self, entry: str) -> None:
        parsed = parse_host_entry(entry)
        if parsed is None:
            return
        if parsed.wildcard:
            self._wildcards.append((parsed.pattern, parsed.target))
        elif parsed.pattern:
            self._exact[parsed.pattern] = parsed.target

    def match(self, netloc: str) -> Target | None:
        """The target for ``netloc`` (``host`` or ``host:port``, any case), or None if it is not 8x8."""
        try:
            return self._cache[netloc]
        except KeyError:
            pass
        target = self._lookup(netloc)
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[netloc] = target
        return target

    def _lookup(self, netloc: str) -> Target | None:
        netloc = netloc.lower().rpartition("@")[2]
        found = self._exact.get(netloc)
        if found is not None:
            return found
        host = _strip_port(netloc).rstrip(".")
        found = self._exact.get(host)
        if found is not None:
            return found
        for suffix, target in self._wildcards:
            if host.endswith(suffix) or netloc.endswith(suffix):
                return target
        return None


def _strip_port(netloc: str) -> str:
    if netloc.startswith("["):  # IPv6 literal
        return netloc[: netloc.find("]") + 1]
    host, sep, port = netloc.rpartition(":")
    return host if sep and port.isdigit() else netloc


def hosts_from_env(environ: dict[str, str] | None = None) -> list[str]:
    """The extra hosts configured in ``OTEL_PYTHON_8X8_HOSTS``."""
    value = (os.environ if environ is None else environ).get(HOSTS_ENV, "")
    return [part.strip() for part in value.split(",") if part.strip()]


def netloc_of(url: str) -> str:
    """The ``host[:port]`` part of an absolute URL, cheaply (no full parse)."""
    start = url.find("://")
    if start < 0:
        return ""
    start += 3
    return url[start : authority_end(url, start)].rpartition("@")[2]


def authority_end(url: str, start: int = 0) -> int:
    """Where the authority (``user@host:port``) that begins at ``start`` ends: the first ``/``, ``?`` or ``#``."""
    end = len(url)
    for stop in ("/", "?", "#"):
        i = url.find(stop, start)
        if 0 <= i < end:
            end = i
    return end
