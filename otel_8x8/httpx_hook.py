"""The hooks on ``httpx.Client.send`` and ``httpx.AsyncClient.send``.

``send`` is where every httpx call goes (``get``, ``post``, ``stream``…), above the transport
that opentelemetry-instrumentation-httpx wraps, so otel-8x8 always sees the call first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any

from .compat import body_if_read, swap_httpx_stream
from .interceptor import CallScope, Interceptor, ResponseAccess, response_of
from .patching import Patch
from .streams import StreamTap, finish_when_collected

HOOKED_METHODS = ("Client.send", "AsyncClient.send")
"""The methods of ``httpx`` that otel-8x8 wraps."""


def httpx_patches(interceptor: Interceptor) -> list[Patch]:
    """The patches for httpx, or none when httpx is not installed."""
    try:
        import httpx
    except ImportError:
        return []
    return [
        Patch(httpx.Client, "send", _sync_wrapper(interceptor)),
        Patch(httpx.AsyncClient, "send", _async_wrapper(interceptor)),
    ]


def _scope(interceptor: Interceptor, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, CallScope | None]:
    request = args[0] if args else kwargs.get("request")
    try:
        url = request.url  # type: ignore[union-attr]
        netloc = url.netloc.decode("ascii", "replace")
        return request, interceptor.intercept(request.method, str(url), netloc)  # type: ignore[union-attr]
    except Exception:
        return request, None


def _sync_wrapper(interceptor: Interceptor) -> Any:
    def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request, scope = _scope(interceptor, args, kwargs)
        if scope is None:
            return wrapped(*args, **kwargs)
        return scope.run(request, lambda: wrapped(*args, **kwargs), _RESPONSES)

    return send


def _async_wrapper(interceptor: Interceptor) -> Any:
    async def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request, scope = _scope(interceptor, args, kwargs)
        if scope is None:
            return await wrapped(*args, **kwargs)
        with scope:
            scope.inject(request)
            scope.request_hook(request)
            try:
                response = await wrapped(*args, **kwargs)
            except Exception as exc:
                # An event hook that raised (raise_for_status): the error answer is still recorded.
                scope.report(request, response_of(exc), True, _RESPONSES)
                raise
            scope.report(request, response, False, _RESPONSES)
        return response

    return send


def _read(response: Any) -> tuple[int, bytes | None, Any]:
    return response.status_code, body_if_read(response), response.headers.get


def _tap_body(response: Any, tap: StreamTap) -> None:
    """Copy the raw chunks the application will read of a streamed error body (see streams.py)."""
    try:
        import httpx

        sync_tapped, async_tapped = _tapped_stream_classes()
        tap.set_encoding(response.headers.get("content-encoding"))
        swap_httpx_stream(
            response,
            lambda stream: (async_tapped if isinstance(stream, httpx.AsyncByteStream) else sync_tapped)(stream, tap),
        )
        finish_when_collected(response, tap)
    except Exception:
        tap.finish()


_RESPONSES = ResponseAccess(_read, _tap_body)


@lru_cache(maxsize=1)
def _tapped_stream_classes() -> tuple[type, type]:
    """httpx stream wrappers that copy the raw chunks the application reads (httpx imported lazily)."""
    import httpx

    class SyncTapped(httpx.SyncByteStream):
        def __init__(self, inner: Any, tap: StreamTap) -> None:
            self._inner = inner
            self._tap = tap

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                self._tap.feed(chunk)
                yield chunk
            self._tap.finish()

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._tap.finish_on_close()

    class AsyncTapped(httpx.AsyncByteStream):
        def __init__(self, inner: Any, tap: StreamTap) -> None:
            self._inner = inner
            self._tap = tap

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._inner:
                self._tap.feed(chunk)
                yield chunk
            self._tap.finish()

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._tap.finish_on_close()

    return SyncTapped, AsyncTapped
