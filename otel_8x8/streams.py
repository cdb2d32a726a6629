"""Finish the span of a streamed 8x8 error when the application has read (or dropped) the body.

With ``stream=True`` (requests) or ``client.stream()`` (httpx) the body is not read when ``send``
returns, and otel-8x8 never reads it for the application. For an error answer, the span stays
open instead: the body stream is wrapped so that the chunks *the application reads* are also
copied, up to ``MAX_ENVELOPE_BYTES`` (beyond that the copy is dropped: no envelope is that big),
and when the stream ends, is closed, or the response is garbage-collected, the error code and
errorId are parsed from that copy and the span ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from .envelope import MAX_ENVELOPE_BYTES


class StreamTap:
    """A bounded copy of what the application reads, handed to ``on_finish`` exactly once."""

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_done",
        "_encoding",
        "_held",
        "_lock",
        "_on_finish",
        "_overflow",
        "_pending",
    )

    def __init__(self, on_finish: Callable[[bytes | None], None], content_encoding: str | None = None) -> None:
        self._on_finish = on_finish
        self._encoding: str | None = None
        self.set_encoding(content_encoding)
        self._buffer = bytearray()
        self._overflow = False
        self._done = False
        self._held = False
        self._pending = False
        self._lock = threading.Lock()

    def set_encoding(self, content_encoding: str | None) -> None:
        """The Content-Encoding of raw chunks (httpx); requests feeds decoded chunks."""
        self._encoding = (content_encoding or "").strip().lower() or None

    def feed(self, chunk: bytes) -> None:
        if self._overflow or self._done:
            return
        if len(self._buffer) + len(chunk) > MAX_ENVELOPE_BYTES:
            self._overflow = True
            self._buffer = bytearray()
        else:
            self._buffer += chunk

    def hold(self) -> None:
        """Until ``release()``, a ``finish()`` waits (the span stays open while a response hook runs)."""
        with self._lock:
            self._held = True

    def release(self) -> None:
        with self._lock:
            self._held = False
            pending = self._pending
        if pending:
            self.finish()

    def finish(self) -> None:
        """The body has ended, the stream was closed, or the response is gone. Idempotent."""
        with self._lock:
            if self._done:
                return
            if self._held:
                self._pending = True
                return
            self._done = True
        body = None if self._overflow else _decode(bytes(self._buffer), self._encoding)
        self._buffer = bytearray()
        self._on_finish(body)


def _decode(raw: bytes, encoding: str | None) -> bytes | None:
    """Undo a gzip/deflate Content-Encoding (httpx's raw stream is still encoded), bounded."""
    if not raw or encoding in (None, "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return None  # br, zstd…: not worth a dependency for an error envelope
    for wbits in (47, -15):  # gzip or zlib (auto-detected), then raw deflate
        try:
            decoder = zlib.decompressobj(wbits)
            out = decoder.decompress(raw, MAX_ENVELOPE_BYTES + 1)
        except zlib.error:
            continue
        return out if len(out) <= MAX_ENVELOPE_BYTES else None
    return None


def finish_when_collected(response: object, tap: StreamTap) -> None:
    """Last resort: finish when the application drops a response it never read nor closed.

    The finalizer may run inside the garbage collector, in any thread, at any point (with a lock of the
    application, of logging or of the SDK held): it only hands the tap over to otel-8x8's own thread,
    which records the error and ends the span. At exit, it finishes at once (the SDK flushes after).
    """
    _start_worker()
    weakref.finalize(response, _dropped_response, tap)


_dropped: queue.SimpleQueue[StreamTap] = queue.SimpleQueue()
_worker_lock = threading.Lock()
_worker_pid: int | None = None  # the process whose worker runs (a forked child starts its own)
_exiting = False


def _dropped_response(tap: StreamTap) -> None:
    if _exiting or getattr(weakref.finalize, "_shutdown", False):
        tap.finish()
    else:
        _dropped.put(tap)  # SimpleQueue.put is reentrant: safe in a finalizer


def _start_worker() -> None:
    global _worker_pid
    pid = os.getpid()
    if _worker_pid == pid:
        return
    with _worker_lock:
        if _worker_pid == pid:
            return
        threading.Thread(target=_finish_dropped, name="otel-8x8-dropped-responses", daemon=True).start()
        if _worker_pid is None:
            atexit.register(_finish_pending)
        _worker_pid = pid


def _finish_dropped() -> None:
    while True:
        tap = _dropped.get()
        try:
            tap.finish()
        except Exception:
            continue


def _finish_pending() -> None:
    global _exiting
    _exiting = True
    while True:
        try:
            tap = _dropped.get_nowait()
        except queue.Empty:
            return
        with contextlib.suppress(Exception):
            tap.finish()


def _reset_after_fork() -> None:
    global _dropped, _worker_lock
    _dropped = queue.SimpleQueue()
    _worker_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


# --- requests: the urllib3 response behind ``Response.raw`` -----------------------------------


def tap_raw(raw: Any, tap: StreamTap) -> None:
    """Copy the decoded chunks requests reads through ``raw.stream()`` (``content``, ``iter_content()``,
    ``iter_lines()``), and finish on ``raw.close()``.

    ``Response.raw`` stays the very same object (type, identity, iteration): only this instance's
    ``stream`` and ``close`` are shadowed. Without them (not urllib3's response), the tap is finished.
    """
    try:
        if raw is None:
            raise ValueError("no body")
        original_stream, original_close = raw.stream, raw.close

        def stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
            decoded = kwargs.get("decode_content", args[1] if len(args) > 1 else None)
            for chunk in original_stream(*args, **kwargs):
                if decoded:
                    tap.feed(chunk)
                yield chunk
            tap.finish()

        def close() -> Any:
            try:
                return original_close()
            finally:
                tap.finish()

        raw.stream, raw.close = stream, close
    except Exception:
        tap.finish()
