"""Copy what the application reads of an aiohttp response body, and finish when it has read it all or let go.

Every read of ``ClientResponse.content`` (``read()``, ``text()``, ``json()``, ``content.read(n)``,
``iter_chunked``, ``iter_any``, ``async for``, ``readline``…) takes its bytes out of the StreamReader's buffer
in one method, ``_read_nowait_chunk``. aiohttp's StreamReader has ``__slots__``, so a method cannot be
shadowed on the instance: for the time of the tap the instance's class is switched to a subclass that adds
nothing but the copy (same layout, same name, ``isinstance(content, StreamReader)`` still true), and switched
back when the tap finishes. The tap finishes when the application has read everything, or the body is cut
(``release()``, ``close()``, the context manager's exit, a broken connection: aiohttp sets an exception on the
stream), or the response is garbage-collected (``streams.finish_when_collected``).

The taps are kept by ``id(content)`` (the StreamReader has no ``__weakref__`` slot) while the response is alive.
"""

from __future__ import annotations

import contextlib
import weakref
from functools import lru_cache
from typing import Any

from .streams import StreamTap, finish_when_collected

_TAPS: dict[int, StreamTap] = {}


def tap_content(response: Any, tap: StreamTap, auto_decompress: bool) -> None:
    """Feed ``tap`` what the application reads of ``response.content``; finish it at once when that cannot be."""
    try:
        from aiohttp.streams import StreamReader

        content = response.content
        if type(content) is not StreamReader:  # EmptyStreamReader (no body), or a stream aiohttp did not make
            raise TypeError("not aiohttp's StreamReader")
        if not auto_decompress:
            tap.set_encoding(response.headers.get("Content-Encoding"))
        key = id(content)
        _TAPS[key] = tap
        content.__class__ = _tapped_class()
        weakref.finalize(response, _forget, key, tap)
        finish_when_collected(response, tap)
        if content.exception() is not None or content.at_eof():  # already cut, or an empty body
            _finish(content)
    except Exception:
        tap.finish()


def _forget(key: int, tap: StreamTap) -> None:
    if _TAPS.get(key) is tap:
        with contextlib.suppress(KeyError):
            del _TAPS[key]


def _finish(content: Any) -> None:
    """Give ``content`` its own class back and finish its tap. Never raises."""
    with contextlib.suppress(Exception):
        from aiohttp.streams import StreamReader

        content.__class__ = StreamReader
        tap = _TAPS.pop(id(content), None)
        if tap is not None:
            tap.finish()


@lru_cache(maxsize=1)
def _tapped_class() -> type:
    """The StreamReader subclass that copies the bytes read (aiohttp imported lazily)."""
    from aiohttp.streams import StreamReader

    class TappedStreamReader(StreamReader):
        __slots__ = ()

        # private API: aiohttp's StreamReader._read_nowait_chunk, where every read takes its bytes.
        def _read_nowait_chunk(self, n: int) -> bytes:
            data: bytes = super()._read_nowait_chunk(n)
            try:
                tap = _TAPS.get(id(self))
                if tap is None:
                    _finish(self)  # finished elsewhere (the response was collected): nothing left to copy
                else:
                    tap.feed(data)
                    if self.at_eof():
                        _finish(self)
            except Exception:
                pass
            return data

        def feed_eof(self) -> None:
            super().feed_eof()
            if self.at_eof():  # the application had already read every byte that came
                _finish(self)

        def set_exception(self, *args: Any, **kwargs: Any) -> None:
            super().set_exception(*args, **kwargs)
            _finish(self)

    TappedStreamReader.__name__ = TappedStreamReader.__qualname__ = StreamReader.__name__
    return TappedStreamReader
