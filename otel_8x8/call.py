"""Describe an 8x8 call before it is sent: its span name, start attributes and what its answer will tell.

The first step of a call's way through otel-8x8: describe the call (here) -> read the answer (``answers.py``,
with the product's shapes and codes) -> record it (``recorder.py``: span, log record, metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from opentelemetry.util.types import AttributeValue

from . import attributes as A
from .hosts import Target, authority_end
from .products import ANSWERS, SHARED_PATHS
from .redaction import redact_url
from .templates import path_info
from .texts import exportable

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Attributes = dict[str, AttributeValue]


@dataclass(frozen=True)
class Call:
    """An 8x8 call as known before it is sent."""

    span_name: str
    attributes: Attributes  # recorded on the span at start (the sampler sees them)
    method: str
    template: str
    product: str | None
    kind: str | None = None  # the shape of a successful answer worth reading (products' ``answers``)
    duration_attributes: Attributes = field(default_factory=dict)  # http.client.request.duration, before status
    log_attributes: Attributes = field(default_factory=dict)  # the error log record's, before the error


def _subset(attributes: Attributes, keys: tuple[str, ...]) -> Attributes:
    return {key: value for key in keys if (value := attributes.get(key)) is not None}


@lru_cache(maxsize=1024)
def describe_call(method: str, url: str, target: Target) -> Call:
    """Span name and start attributes of a call to an 8x8 host.

    Cached: a service calls the same few URLs again and again. The returned Call and its
    attribute dicts are shared and must never be modified.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    netloc_end = authority_end(rest)
    netloc = rest[:netloc_end].rpartition("@")[2]
    path = rest[netloc_end:].partition("?")[0].partition("#")[0] or "/"
    host, port = _split_host_port(netloc, scheme)
    upper = method.upper()
    info = path_info(upper, path, target.product)
    known = upper if upper in _KNOWN_METHODS else "_OTHER"
    product = info.product
    attrs: Attributes = {
        A.HTTP_REQUEST_METHOD: known,
        A.SERVER_ADDRESS: host,
        A.URL_FULL: exportable(redact_url(url, info)),
        A.URL_TEMPLATE: info.template,
    }
    if port is not None:
        attrs[A.SERVER_PORT] = port
    if known == "_OTHER":
        attrs[A.HTTP_REQUEST_METHOD_ORIGINAL] = method
    if product:
        attrs[A.PRODUCT] = product
    if target.region:
        attrs[A.REGION] = target.region
    if info.subaccount_id:
        attrs[A.SUBACCOUNT_ID] = info.subaccount_id
    return Call(
        span_name(known, info.template, product),
        attrs,
        known,
        info.template,
        product,
        ANSWERS.get(info.operation_id) if info.operation_id is not None else None,
        _subset(attrs, A.DURATION_METRIC_ATTRIBUTES),
        _subset(attrs, A.LOG_CALL_ATTRIBUTES),
    )


def span_name(method: str, template: str, product: str | None) -> str:
    """``{METHOD} {url.template}``; where 8x8 documents the same method and path for several products (SMS and
    Chat Apps ``POST /api/v1/subaccounts/{subAccountId}/messages``...), the product follows in brackets, so that
    no two documented operations share a span name (span-derived metrics group by name)."""
    name = f"{'HTTP' if method == '_OTHER' else method} {template}"
    if product is not None and (method, template) in SHARED_PATHS:
        return f"{name} ({product})"
    return name


def _split_host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[1:end], netloc[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = netloc.rpartition(":")
        if not sep:
            host, port_text = netloc, ""
    port = int(port_text) if port_text.isdigit() else _DEFAULT_PORTS.get(scheme)
    return host.lower(), port
