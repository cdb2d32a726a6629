"""The hook on ``requests.Session.send``: every call made with requests passes through it."""

from __future__ import annotations

from typing import Any

from .compat import body_if_read
from .hosts import netloc_of
from .interceptor import Interceptor, ResponseAccess
from .patching import Patch
from .streams import StreamTap, finish_when_collected, tap_raw

HOOKED_METHODS = ("Session.send",)
"""The methods of ``requests`` that otel-8x8 wraps."""


def requests_patches(interceptor: Interceptor) -> list[Patch]:
    """The patches for requests, or none when requests is not installed."""
    try:
        from requests import Session
    except ImportError:
        return []
    return [Patch(Session, "send", _send_wrapper(interceptor))]


def _send_wrapper(interceptor: Interceptor) -> Any:
    def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = args[0] if args else kwargs.get("request")
        try:
            url = request.url  # type: ignore[union-attr]
            scope = interceptor.intercept(request.method or "GET", url, netloc_of(url))  # type: ignore[union-attr]
        except Exception:
            scope = None
        if scope is None:
            return wrapped(*args, **kwargs)
        return scope.run(request, lambda: wrapped(*args, **kwargs), _RESPONSES)

    return send


def _read(response: Any) -> tuple[int, bytes | None, Any]:
    return _status(response), body_if_read(response), _header_getter(response)


def _install(response: Any, tap: StreamTap) -> None:
    tap_raw(response.raw, tap)
    finish_when_collected(response, tap)


def _status(response: Any) -> int:
    status = response.status_code
    return status if isinstance(status, int) else 0


def _header_getter(response: Any) -> Any:
    headers = response.headers

    def get(name: str) -> str | None:
        value = headers.get(name)
        return value if isinstance(value, str) else None

    return get


_RESPONSES = ResponseAccess(_read, _install)
