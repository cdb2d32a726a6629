"""Copy what the application reads of a urllib3 response opened with ``preload_content=False``.

Every way of reading the body goes through the response's ``read``, ``read1`` or ``read_chunked``
(``stream()``, ``data``, ``json()``, iteration, ``readinto`` and ``io`` wrappers call them), so those are
shadowed on this one instance, and the chunks they return to the application are fed to the tap. The tap
finishes when the body has been read to its end, when a ``stream()``/``read_chunked()`` loop ends, or when
the application calls ``release_conn()``, ``drain_conn()`` or ``close()``; a response dropped unread is
finished by ``finish_when_collected``. The response stays the very same object (type, identity); the
shadowing functions reach it through a weak reference, so there is no reference cycle.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

from .compat import finalizing
from .guard import guarded
from .streams import StreamTap

_READS = ("read", "read1")
_GENERATORS = ("read_chunked", "stream")
_ENDS = ("release_conn", "drain_conn", "close")


class _Reading:
    """How deep the application is in our read methods: urllib3 releases the connection from inside a read
    that reaches the end, before that read's chunk is handed back (and fed); the read finishes then."""

    __slots__ = ("depth", "encoding_known")

    def __init__(self) -> None:
        self.depth = 0
        self.encoding_known = False


def tap_response(response: Any, tap: StreamTap) -> None:
    """Shadow the response's read and release methods so that ``tap`` sees what the application reads."""
    try:
        cls = type(response)
        if not all(callable(getattr(cls, name, None)) for name in ("read", "stream", *_ENDS)):
            raise ValueError("not a urllib3 response")
        ref = weakref.ref(response)
        state = _Reading()
        shadows: dict[str, Callable[..., Any]] = {}
        for name in _READS:
            if callable(getattr(cls, name, None)):
                shadows[name] = _read(ref, getattr(cls, name), tap, state, whole=name == "read")
        for name in _GENERATORS:
            if callable(getattr(cls, name, None)):
                shadows[name] = _generator(ref, getattr(cls, name), tap, state, feeds=name == "read_chunked")
        for name in _ENDS:
            shadows[name] = _end(ref, getattr(cls, name), tap, state)
        vars(response).update(shadows)
    except Exception:
        tap.finish()


def _feed(
    target: Any, tap: StreamTap, state: _Reading, chunk: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Feed a chunk the application gets; raw chunks (``decode_content=False``) are decoded at the end."""
    if not state.encoding_known:
        state.encoding_known = True
        decode = kwargs.get("decode_content", args[1] if len(args) > 1 else None)
        if decode is None:
            decode = target.decode_content
        if not decode:
            tap.set_encoding(target.headers.get("content-encoding"))
    if isinstance(chunk, bytes) and chunk:
        tap.feed(chunk)


def _read(ref: Any, method: Callable[..., Any], tap: StreamTap, state: _Reading, whole: bool) -> Callable[..., Any]:
    """``read`` (``whole``: with no ``amt`` it returns all the rest) or ``read1``."""

    def read(*args: Any, **kwargs: Any) -> Any:
        target = ref()
        if target is None:
            return b""
        state.depth += 1
        try:
            chunk = method(target, *args, **kwargs)
        finally:
            state.depth -= 1
        with guarded("tap a read"):
            _feed(target, tap, state, chunk, args, kwargs)
            amt = kwargs.get("amt", args[0] if args else None)
            ended = (whole and (amt is None or amt < 0)) or (chunk == b"" and amt != 0 and _at_end(target))
            if state.depth == 0 and ended:
                tap.finish()
        return chunk

    return read


def _at_end(response: Any) -> bool:
    """The body has been read to its end (urllib3 closes its file then); a response without one has none."""
    try:
        return bool(response.isclosed())
    except Exception:
        return True


def _generator(
    ref: Any, method: Callable[..., Any], tap: StreamTap, state: _Reading, feeds: bool
) -> Callable[..., Iterator[bytes]]:
    def generate(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        target = ref()
        if target is None:
            return
        chunks = method(target, *args, **kwargs)
        del target  # the generator must not keep the response alive between chunks
        while True:
            state.depth += 1
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            finally:
                state.depth -= 1
            if feeds:
                with guarded("tap a chunk"):
                    target = ref()
                    if target is not None:
                        _feed(target, tap, state, chunk, args, kwargs)
                    del target
            yield chunk
        if state.depth == 0:
            tap.finish()

    return generate


def _end(ref: Any, method: Callable[..., Any], tap: StreamTap, state: _Reading) -> Callable[..., Any]:
    def end(*args: Any, **kwargs: Any) -> Any:
        target = ref()
        try:
            return method(target, *args, **kwargs) if target is not None else None
        finally:
            # On a dropped response, io's finalizer calls close(); finish_when_collected's finalizer, right
            # after, hands the tap to otel-8x8's thread.
            if state.depth == 0 and not finalizing(target):
                tap.finish_on_close()

    return end
