"""The hook on ``urllib3.HTTPConnectionPool.urlopen``: where ``PoolManager.request``/``urlopen`` (and the
clients openapi-generator writes from 8x8's specifications) end up.

One span per ``urlopen`` the application (or ``PoolManager``) makes, as opentelemetry-instrumentation-urllib3
does: urllib3's retries inside it are part of that call (its recursive ``urlopen`` runs inside otel-8x8's
scope and is not observed again); each redirect that ``PoolManager`` follows is a call of its own. A call
made by requests is already observed by the requests hook, which marks its context (``IN_8X8_CALL``): it
passes through here untouched, so it stays one span.

The headers the application passed are never changed: the trace context goes into a copy, sent instead.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .compat import preloaded_body
from .hosts import netloc_of
from .interceptor import Interceptor, ResponseAccess
from .patching import Patch
from .streams import StreamTap, decode_body, finish_when_collected
from .urllib3_tap import tap_response

HOOKED_METHODS = ("HTTPConnectionPool.urlopen",)
"""The methods of ``urllib3`` that otel-8x8 wraps."""

_HEADERS_POSITION = 3  # urlopen(method, url, body, headers, ...) in urllib3 1.26 and 2.x


class RequestInfo(NamedTuple):
    """What ``request_hook`` and ``response_hook`` get as the request of a urllib3 call. ``headers`` is the
    copy that is sent (trace context included): a request hook may add to it."""

    method: str
    url: str
    headers: Any
    body: Any


def urllib3_patches(interceptor: Interceptor) -> list[Patch]:
    """The patch for urllib3, or none when urllib3 is not installed."""
    try:
        from urllib3.connectionpool import HTTPConnectionPool
    except ImportError:
        return []
    return [Patch(HTTPConnectionPool, "urlopen", _urlopen_wrapper(interceptor))]


def _urlopen_wrapper(interceptor: Interceptor) -> Any:
    def urlopen(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            method = str(args[0] if args else kwargs["method"]).upper()
            url = full_url(instance, args[1] if len(args) > 1 else kwargs["url"])
            scope = interceptor.intercept(method, url, netloc_of(url))
            if scope is not None:  # not entered yet: nothing started
                request, sent_args, sent_kwargs = _with_own_headers(instance, method, url, args, kwargs)
        except Exception:
            scope = None
        if scope is None:
            return wrapped(*args, **kwargs)
        return scope.run(request, lambda: wrapped(*sent_args, **sent_kwargs), _RESPONSES)

    return urlopen


def full_url(pool: Any, url: str) -> str:
    """The absolute URL of a call: ``url`` as given when absolute (through a proxy), else the pool's origin
    and ``url``, the port left out when it is the scheme's default (as in the URL the application wrote)."""
    if not url.startswith("/"):
        return url
    scheme, host, port = pool.scheme, pool.host, pool.port
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{url}"


def _with_own_headers(
    pool: Any, method: str, url: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[RequestInfo, tuple[Any, ...], dict[str, Any]]:
    """The request, and urlopen's arguments with a copy of the headers to send (the pool's own when the
    application passed none, as urlopen does). Unchanged arguments, and a request whose headers are not
    sent, when they cannot be copied."""
    body = args[2] if len(args) > 2 else kwargs.get("body")
    try:
        given = args[_HEADERS_POSITION] if len(args) > _HEADERS_POSITION else kwargs.get("headers")
        if given is None:
            given = pool.headers
        copy = given.copy() if callable(getattr(given, "copy", None)) else dict(given)
    except Exception:
        return RequestInfo(method, url, {}, body), args, kwargs
    if len(args) > _HEADERS_POSITION:
        args = (*args[:_HEADERS_POSITION], copy, *args[_HEADERS_POSITION + 1 :])
    else:
        kwargs = {**kwargs, "headers": copy}
    return RequestInfo(method, url, copy, body), args, kwargs


def _read(response: Any) -> tuple[int, bytes | None, Any]:
    headers = response.headers

    def header(name: str) -> str | None:
        value = headers.get(name)
        return value if isinstance(value, str) else None

    status = response.status
    return (status if isinstance(status, int) else 0), _read_body(response, header("content-encoding")), header


def _read_body(response: Any, content_encoding: str | None) -> bytes | None:
    """The body only if urllib3 has already read it (``preload_content=True``, or the app read it with
    ``cache_content``), decoded when the application asked for it raw (``decode_content=False``)."""
    body = preloaded_body(response)
    if body is None:
        return None
    if body and not response.decode_content:
        return decode_body(body, content_encoding) or b""  # undecodable: the status speaks
    return body


def _install(response: Any, tap: StreamTap) -> None:
    try:
        tap_response(response, tap)
        finish_when_collected(response, tap)
    except Exception:
        tap.finish()  # the error as the status tells it, now


_RESPONSES = ResponseAccess(_read, _install)
