"""Configuration: ``instrument()`` keyword arguments, falling back to environment variables."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.trace import Span

from .hosts import HOSTS_ENV, hosts_from_env
from .log_limit import DEFAULT_INTERVAL, DEFAULT_LIMIT, parse_interval, parse_limit

LOG_ERRORS_ENV = "OTEL_PYTHON_8X8_LOG_ERRORS"
LOG_LEVEL_ENV = "OTEL_PYTHON_8X8_LOG_LEVEL"
LOG_LIMIT_ENV = "OTEL_PYTHON_8X8_LOG_LIMIT"
LOG_INTERVAL_ENV = "OTEL_PYTHON_8X8_LOG_INTERVAL"

RequestHook = Callable[[Span, Any], None]
"""``request_hook(span, request)``: called before the call with the library's request object."""
ResponseHook = Callable[[Span, Any, Any], None]
"""``response_hook(span, request, response)``: called after the call with the library's response."""

ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    HOSTS_ENV: "Extra hosts treated as 8x8, comma-separated: `gw.example.com`, `*.example.com`, "
    "`127.0.0.1:8080`, `gw.example.com=sms` (with the product).",
    LOG_ERRORS_ENV: "`false` turns off the structured log record of 8x8 errors (default `true`).",
    LOG_LEVEL_ENV: "A fixed level (`INFO`, `WARNING`…) for the error log records instead of WARNING for 4xx "
    "and ERROR for 5xx.",
    LOG_LIMIT_ENV: f"At most this many error log records per (product, error code, `url.template`) per interval "
    f"(default `{DEFAULT_LIMIT}`); the errors beyond it keep their span attributes and their count on the metric, "
    "and the next record of that key says how many records were suppressed. `0` or `none`: no limit.",
    LOG_INTERVAL_ENV: f"The interval of `{LOG_LIMIT_ENV}`, in seconds (default `{DEFAULT_INTERVAL:g}`).",
}
"""Every environment variable otel-8x8 reads (docs/configuration.md's table is checked against it)."""


@dataclass(frozen=True)
class Options:
    hosts: tuple[str, ...] = ()
    log_errors: bool = True
    log_level: int | None = None
    log_limit: int = DEFAULT_LIMIT
    """Error log records per key per ``log_interval``; 0: no limit."""
    log_interval: float = DEFAULT_INTERVAL
    request_hook: RequestHook | None = None
    response_hook: ResponseHook | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Options:
        env = os.environ if environ is None else environ
        hosts: Iterable[str] = kwargs.get("hosts") or ()
        if isinstance(hosts, str):
            hosts = hosts.split(",")
        log_errors = kwargs.get("log_errors")
        if log_errors is None:
            log_errors = env.get(LOG_ERRORS_ENV, "true").strip().lower() not in ("false", "0", "no", "off")
        return cls(
            hosts=(*hosts_from_env(dict(env)), *(h.strip() for h in hosts if h.strip())),
            log_errors=bool(log_errors),
            log_level=_level(kwargs.get("log_level") or env.get(LOG_LEVEL_ENV)),
            log_limit=_first(parse_limit, kwargs.get("log_limit"), env.get(LOG_LIMIT_ENV), DEFAULT_LIMIT),
            log_interval=_first(
                parse_interval, kwargs.get("log_interval"), env.get(LOG_INTERVAL_ENV), DEFAULT_INTERVAL
            ),
            request_hook=kwargs.get("request_hook"),
            response_hook=kwargs.get("response_hook"),
        )


T = TypeVar("T")


def _first(parse: Callable[[object], T | None], keyword: object, variable: str | None, default: T) -> T:
    """The keyword's value if it reads, else the variable's if it reads, else the default."""
    for value in (keyword, variable):
        parsed = parse(value)
        if parsed is not None:
            return parsed
    return default


def _level(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    level = logging.getLevelName(str(value).strip().upper())
    return level if isinstance(level, int) else None
