"""The one rule of every step otel-8x8 takes: its own failures never reach the application.

And nothing otel-8x8 triggers itself (a logging handler that calls 8x8 while handling one of its
records, say) is observed again: ``IN_8X8_CALL`` marks the context of its own work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from opentelemetry import context

IN_8X8_CALL = context.create_key("otel-8x8-in-call")
"""Set while otel-8x8 handles a call or logs: 8x8 calls made meanwhile are not observed."""

_logger = logging.getLogger("otel_8x8.internal")


@contextmanager
def guarded(step: str) -> Iterator[None]:
    """Run a step of the instrumentation's own work; an exception is logged at DEBUG and dropped."""
    try:
        yield
    except Exception:
        with suppress(Exception):  # a broken logging setup must not break the call either
            token = context.attach(context.set_value(IN_8X8_CALL, True))
            try:
                _logger.debug("otel-8x8: %s failed", step, exc_info=True)
            finally:
                context.detach(token)
