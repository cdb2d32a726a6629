"""Bound the error log records during an error storm: at most ``limit`` records per key per ``interval``.

During an 8x8 outage every call is an error; each error keeps its span attributes and its count on
``com.8x8.api.errors``, but its log record (the costliest part of an error call: ``logging``, then the
OpenTelemetry ``LoggingHandler``) is written only for the first ``limit`` errors of a key in each interval.
The first record of a key after a suppression says how many were suppressed in between.

Fixed windows per key: a key's window opens with the first error that finds none open (or finds it older than
``interval``); the errors of that window beyond ``limit`` are counted, not logged, and the count is handed to the
first record of the key's next window. The check is a lock, a monotonic clock read and a dict lookup; it runs
before the record is built. At most ``max_keys`` keys are kept (the oldest window goes first). A forked child
starts with no windows.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable

DEFAULT_LIMIT = 10
"""Records per key per interval."""
DEFAULT_INTERVAL = 60.0
"""Seconds."""
DEFAULT_MAX_KEYS = 1024

SUPPRESS = -1
"""What :meth:`LogLimiter.admit` returns for an error whose record is to be skipped."""


class LogLimiter:
    """Which error log records to write: ``admit(key)`` is ``SUPPRESS`` (skip the record) or the number of
    records of ``key`` skipped since the last one written (write the record, with that count if not 0)."""

    __slots__ = ("__weakref__", "_clock", "_lock", "_windows", "interval", "limit", "max_keys")

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        interval: float = DEFAULT_INTERVAL,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 (no limiter at all means unlimited)")
        if interval < 0:
            raise ValueError("interval must not be negative")
        self.limit = limit
        self.interval = interval
        self.max_keys = max(1, max_keys)
        self._clock = clock
        self._lock = threading.Lock()
        # key -> [window start, records written in the window, records suppressed since the last one written].
        # Insertion order is the order of the windows' starts: a new window moves its key to the end.
        self._windows: dict[Hashable, list[float]] = {}
        _live.add(self)

    def admit(self, key: Hashable) -> int:
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window[0] < self.interval:
                if window[1] < self.limit:
                    window[1] += 1
                    return 0
                window[2] += 1
                return SUPPRESS
            suppressed = 0
            if window is not None:  # the window is over: a new one, at the end of the order
                suppressed = int(window[2])
                del self._windows[key]
            elif len(self._windows) >= self.max_keys:
                del self._windows[next(iter(self._windows))]
            self._windows[key] = [now, 1, 0]
            return suppressed

    def __len__(self) -> int:
        return len(self._windows)

    def reset(self) -> None:
        """Forget every window (and the counts they held)."""
        self._lock = threading.Lock()  # a lock held by another thread at fork time stays held in the child
        self._windows = {}


_live: weakref.WeakSet[LogLimiter] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for limiter in list(_live):
        limiter.reset()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_reset_after_fork)


def parse_limit(value: object) -> int | None:
    """Records per key per interval from a keyword or the environment: a positive int; ``0``, ``none``,
    ``off``, ``unlimited`` mean no limit (``0`` is returned); ``None``, empty or unreadable: ``None`` (default)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    text = str(value).strip().lower()
    if text in ("none", "off", "unlimited", "no", "false"):
        return 0
    try:
        return max(int(text), 0)
    except ValueError:
        return None


def parse_interval(value: object) -> float | None:
    """Seconds from a keyword or the environment: a number > 0; ``None``, empty, unreadable or <= 0: ``None``."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds > 0 and seconds != float("inf") else None
