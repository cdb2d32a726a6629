"""Copy what the application reads of an aiohttp response body, and finish when it has read it all or let go.

Every read of ``ClientResponse.content`` (``read()``, ``text()``, ``json()``, ``content.read(n)``,
``iter_chunked``, ``iter_any``, ``async for``, ``readline``…) takes its bytes out of the StreamReader's buffer
in one method, ``_read_nowait_chunk``. aiohttp's StreamReader has ``__slots__`` (nothing can be shadowed on one
instance), and the application must keep seeing its very type: so that method, ``feed_eof`` and
``set_exception`` are wrapped on the class, and act only for a stream in ``_TAPS`` (kept by ``id``: the
StreamReader has no ``__weakref__`` slot; the entry goes when the tap finishes or the response is collected).

The tap finishes when the application has read everything, or the body is cut (``release()``, ``close()``,
the context manager's exit, a broken connection: aiohttp sets an exception on the stream), or the response is
garbage-collected (``streams.finish_when_collected``).
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from .compat import AIOHTTP_READ_CHUNK
from .patching import Patch
from .streams import StreamTap, finish_when_collected

_TAPS: dict[int, StreamTap] = {}


def content_patches() -> list[Patch]:
    """The patches on aiohttp's StreamReader (aiohttp is installed)."""
    from aiohttp.streams import StreamReader

    return [
        Patch(StreamReader, AIOHTTP_READ_CHUNK, _read_chunk),
        Patch(StreamReader, "feed_eof", _fed_eof),
        Patch(StreamReader, "set_exception", _cut),
    ]


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
        weakref.finalize(response, _forget, key, tap)
        finish_when_collected(response, tap)
        if content.exception() is not None or content.at_eof():  # already cut, or an empty body
            _finish(content)
    except Exception:
        tap.finish()


def _read_chunk(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    data = wrapped(*args, **kwargs)
    if _TAPS:
        try:
            tap = _TAPS.get(id(instance))
            if tap is not None:
                tap.feed(data)
                if instance.at_eof():
                    _finish(instance)
        except Exception:
            pass
    return data


def _fed_eof(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if _TAPS:
        with contextlib.suppress(Exception):
            if id(instance) in _TAPS and instance.at_eof():  # the app had already read every byte that came
                _finish(instance)
    return result


def _cut(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    if _TAPS:
        with contextlib.suppress(Exception):
            _finish(instance)
    return result


def _forget(key: int, tap: StreamTap) -> None:
    if _TAPS.get(key) is tap:
        with contextlib.suppress(KeyError):
            del _TAPS[key]


def _finish(content: Any) -> None:
    """Finish the tap of ``content``, if it has one. Never raises."""
    with contextlib.suppress(Exception):
        tap = _TAPS.pop(id(content), None)
        if tap is not None:
            tap.finish()
