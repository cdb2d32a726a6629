"""The hook on ``aiohttp.ClientSession._request``: every call made with an aiohttp session passes through it.

``get``, ``post``, ``request`` and ``async with session.get(...)`` all await ``_request``, once per call
(redirects and ``raise_for_status`` included), and it returns the ``ClientResponse`` before any of the body
is read: so the span is one per call, the trace context goes into a copy of the application's headers, and
the answer is read from what the application then reads (``aiohttp_streams``). aiohttp's request tracing
(``TraceConfig``, which opentelemetry-instrumentation-aiohttp-client uses) is not used: it must be passed to
each session when it is created, fires once per redirect, and never gives the body the application reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from opentelemetry.instrumentation.utils import suppress_instrumentation

from .aiohttp_streams import content_patches, tap_content
from .compat import AIOHTTP_REQUEST, session_url
from .hosts import netloc_of
from .interceptor import CallScope, Interceptor, ResponseAccess
from .patching import Patch
from .streams import StreamTap

HOOKED_METHODS = (
    "ClientSession._request",
    "StreamReader._read_nowait_chunk",
    "StreamReader.feed_eof",
    "StreamReader.set_exception",
)
"""The methods of ``aiohttp`` that otel-8x8 wraps."""


class AiohttpRequest(NamedTuple):
    """What ``request_hook(span, request)`` gets for an aiohttp call. ``headers`` is what will be sent: a copy
    of the application's headers with the trace context (a hook may add to it); the session's own are added
    by aiohttp after."""

    method: str
    url: Any  # yarl.URL
    headers: Any  # multidict.CIMultiDict[str]


def aiohttp_patches(interceptor: Interceptor) -> list[Patch]:
    """The patches for aiohttp, or none when aiohttp is not installed."""
    try:
        from aiohttp import ClientSession
    except ImportError:
        return []
    return [Patch(ClientSession, AIOHTTP_REQUEST, _request_wrapper(interceptor)), *content_patches()]


def _request_wrapper(interceptor: Interceptor) -> Any:
    async def request(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        prepared = _prepare(interceptor, instance, args, kwargs)
        if prepared is None:
            return await wrapped(*args, **kwargs)
        scope, call = prepared
        with scope:
            scope.inject(call)
            scope.request_hook(call)
            try:
                with _below(scope):
                    response = await wrapped(*args, **{**kwargs, "headers": call.headers})
            except Exception as exc:
                _report_raised(scope, exc)
                raise
            scope.report(call, response, False, _RESPONSES if _decompresses(instance, kwargs) else _RAW_RESPONSES)
        return response

    return request


def _prepare(
    interceptor: Interceptor, session: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[CallScope, AiohttpRequest] | None:
    """The scope of this call and the request the hooks see, or None when the call is not observed."""
    try:
        from multidict import CIMultiDict

        method = str(args[0] if args else kwargs["method"]).upper()
        target = args[1] if len(args) > 1 else kwargs["str_or_url"]
        url = session_url(session, target)
        params = kwargs.get("params")
        if params:
            with contextlib.suppress(Exception):  # the span's URL without them, rather than no span
                url = url.extend_query(params)
        text = str(url)
        scope = interceptor.intercept(method, text, netloc_of(text))
        if scope is None:
            return None
        return scope, AiohttpRequest(method, url, CIMultiDict(kwargs.get("headers") or ()))
    except Exception:
        return None


@contextlib.contextmanager
def _below(scope: CallScope) -> Iterator[None]:
    """Around aiohttp's own work when otel-8x8 owns the span: older opentelemetry-instrumentation-aiohttp-client
    releases (0.48b0 to 0.52b0 at least) ignore ``suppress_http_instrumentation``, honour only this."""
    if scope.owns:
        with suppress_instrumentation():
            yield
    else:
        yield


def _report_raised(scope: CallScope, exc: BaseException) -> None:
    """``raise_for_status`` raised ``ClientResponseError`` (the response already released): its status is
    the answer (the body was never read). The exception itself is recorded, redacted, by the scope."""
    try:
        from aiohttp import ClientResponseError

        if isinstance(exc, ClientResponseError) and exc.status >= 400:
            headers = exc.headers
            scope.response(exc.status, None, headers.get if headers is not None else _no_header, can_defer=False)
    except Exception:
        pass


def _no_header(name: str) -> str | None:
    return None


def _decompresses(session: Any, kwargs: dict[str, Any]) -> bool:
    value = kwargs.get("auto_decompress")  # per request since aiohttp 3.10
    return bool(getattr(session, "auto_decompress", True) if value is None else value)


def _read(response: Any) -> tuple[int, bytes | None, Any]:
    # _request returns before any of the body is read: what the application reads is tapped.
    return response.status, None, response.headers.get


def _install(response: Any, tap: StreamTap) -> None:
    tap_content(response, tap, auto_decompress=True)


def _install_raw(response: Any, tap: StreamTap) -> None:
    tap_content(response, tap, auto_decompress=False)


_RESPONSES = ResponseAccess(_read, _install, defer_success=True)
_RAW_RESPONSES = ResponseAccess(_read, _install_raw, defer_success=True)
