"""The one rule of every step otel-8x8 takes: its own failures never reach the application.

And nothing otel-8x8 triggers itself (a logging handler that calls 8x8 while handling one of its
records, say) is observed again: ``IN_8X8_CALL`` marks the context of its own work.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from types import TracebackType

from opentelemetry import context

IN_8X8_CALL = context.create_key("otel-8x8-in-call")
"""Set while otel-8x8 handles a call or logs: 8x8 calls made meanwhile are not observed."""

_logger = logging.getLogger("otel_8x8.internal")


def dropped(step: str, exc: Exception) -> None:
    """Log a failed step of otel-8x8's own work at DEBUG; the caller drops the exception. Never raises."""
    with suppress(Exception):  # a broken logging setup must not break the call either
        token = context.attach(context.set_value(IN_8X8_CALL, True))
        try:
            _logger.debug("otel-8x8: %s failed", step, exc_info=exc)
        finally:
            context.detach(token)


class guarded:  # lower case: used like a function, ``with guarded("step"):``
    """Run a step of the instrumentation's own work; an ``Exception`` is logged at DEBUG and dropped.

    A class rather than ``@contextmanager``: it costs a third. The steps every call takes use a plain
    ``try: ... except Exception as exc: dropped(step, exc)`` instead, which costs nothing until it fails.
    """

    __slots__ = ("step",)

    def __init__(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # KeyboardInterrupt and friends are not ours to swallow
        dropped(self.step, exc)
        return True
