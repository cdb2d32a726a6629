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

from .compat import finalizers_shut_down, stream_decodes
from .envelope import MAX_ENVELOPE_BYTES


class StreamTap:
    """A bounded copy of what the application reads, handed to ``on_finish`` exactly once."""

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_done",
        "_encoding",
        "_handed_over",
        "_held",
        "_lock",
        "_on_finish",
        "_overflow",
        "_pending",
        "pid",
    )

    def __init__(self, on_finish: Callable[[bytes | None], None], held: bool = False) -> None:
        self._on_finish = on_finish
        self._encoding: str | None = None  # see set_encoding()
        self._buffer = bytearray()
        self._overflow = False
        self._done = False
        self._held = held  # see release()
        self._pending = False
        self._handed_over = False  # see hand_over()
        self._lock = threading.Lock()
        self.pid = os.getpid()

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

    def release(self) -> None:
        """End the hold a tap made with ``held=True`` starts in: a ``finish()`` until now waited for this
        (the span stays open while the response hook runs)."""
        with self._lock:
            self._held = False
            pending = self._pending
        if pending:
            self.finish()

    def hand_over(self) -> None:
        """The response was dropped: otel-8x8's own thread finishes. A ``close()`` that the response's
        own finalizer makes afterwards (inside the garbage collector) must not finish here."""
        self._handed_over = True

    def finish_on_close(self) -> None:
        """The application closed the stream (or, after ``hand_over()``, a finalizer did: then nothing)."""
        if not self._handed_over:
            self.finish()

    def finish(self) -> None:
        """The body has ended, the stream was closed, or the response is gone. Idempotent. In a forked child
        (its inherited copy of the response read, closed or dropped), nothing: the call is its parent's."""
        if self.pid != os.getpid():
            return
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


def decode_body(raw: bytes, content_encoding: str | None) -> bytes | None:
    """A body as it came off the wire (``Content-Encoding`` still applied), decoded like a tap's copy;
    None when it cannot be (an encoding otel-8x8 does not undo, a corrupt or oversized body)."""
    return _decode(raw, (content_encoding or "").strip().lower() or None)


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


_dropped: queue.SimpleQueue[StreamTap | None] = queue.SimpleQueue()
_worker_lock = threading.Lock()
_worker: threading.Thread | None = None
_worker_pid: int | None = None  # the process whose worker runs (a forked child starts its own)
_exiting = False
_EXIT_WAIT_S = 5.0


def _dropped_response(tap: StreamTap) -> None:
    if tap.pid != os.getpid():
        return  # a forked child does not finish its parent's calls
    tap.hand_over()
    if _exiting or finalizers_shut_down():
        tap.finish()
    else:
        _dropped.put(tap)  # SimpleQueue.put is reentrant: safe in a finalizer


def _start_worker() -> None:
    global _worker, _worker_pid
    pid = os.getpid()
    if _worker_pid == pid:
        return
    with _worker_lock:
        if _worker_pid == pid:
            return
        worker = threading.Thread(
            target=_finish_dropped, args=(_dropped,), name="otel-8x8-dropped-responses", daemon=True
        )
        worker.start()
        if _worker_pid is None:
            atexit.register(_finish_pending)
        _worker, _worker_pid = worker, pid


def _finish_dropped(dropped: queue.SimpleQueue[StreamTap | None]) -> None:
    while (tap := dropped.get()) is not None:
        with contextlib.suppress(Exception):  # finish() is guarded; this thread must outlive anything
            tap.finish()


def _finish_pending() -> None:
    """At exit, before the SDK flushes: let the worker finish what it holds, then finish the rest here."""
    global _exiting
    _exiting = True
    worker = _worker
    if worker is not None and _worker_pid == os.getpid() and worker.is_alive():
        _dropped.put(None)
        worker.join(_EXIT_WAIT_S)
    while True:
        try:
            tap = _dropped.get_nowait()
        except queue.Empty:
            return
        if tap is not None:
            with contextlib.suppress(Exception):
                tap.finish()


def _reset_after_fork() -> None:
    global _dropped, _worker_lock, _worker
    _dropped = queue.SimpleQueue()
    _worker_lock = threading.Lock()
    _worker = None


os.register_at_fork(after_in_child=_reset_after_fork)


# --- requests: the urllib3 response behind ``Response.raw`` -----------------------------------


def tap_raw(raw: Any, tap: StreamTap) -> None:
    """Copy the decoded chunks requests reads through ``raw.stream()`` (``content``, ``iter_content()``,
    ``iter_lines()``), and finish on ``raw.close()``.

    ``Response.raw`` stays the very same object (type, identity, iteration): only this instance's
    ``stream`` and ``close`` are shadowed, by functions that reach it through a weak reference (no
    reference cycle: the response and its socket go as soon as the application drops them). Without
    them (not urllib3's response), the tap is finished.
    """
    try:
        if raw is None:
            raise ValueError("no body")
        cls = type(raw)
        if not (callable(getattr(cls, "stream", None)) and callable(getattr(cls, "close", None))):
            raise ValueError("not a urllib3 response")
        ref = weakref.ref(raw)

        def stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
            target = ref()
            if target is None:
                return
            decoded = stream_decodes(args, kwargs)
            for chunk in cls.stream(target, *args, **kwargs):
                if decoded:
                    tap.feed(chunk)
                yield chunk
            tap.finish()

        def close() -> Any:
            target = ref()
            try:
                return cls.close(target) if target is not None else None
            finally:
                tap.finish_on_close()

        raw.stream, raw.close = stream, close
    except Exception:
        tap.finish()
