"""Everything otel-8x8 relies on that its libraries do not promise as public API, in one place.

Each entry says what it is and why otel-8x8 needs it, with a fallback where one makes sense;
``tests/test_compat.py`` checks each one against the installed library (one test per entry), so a
release that changes one fails there, by name. The upper bound on ``opentelemetry-instrumentation``
in ``pyproject.toml`` is one minor past the newest release these were checked against.

Nothing here may raise at import: otel-8x8 is imported by ``opentelemetry-instrument`` at start-up.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import wrapt
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import (
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
    suppress_http_instrumentation,
)

__all__ = [
    "AIOHTTP_READ_CHUNK",
    "AIOHTTP_REQUEST",
    "PROXY_BASE",
    "SPAN_KEY",
    "SUPPRESS_HTTP_INSTRUMENTATION_KEY",
    "BaseInstrumentor",
    "body_if_read",
    "bound_wrapper_parent",
    "finalizers_shut_down",
    "finalizing",
    "is_http_instrumentation_enabled",
    "is_instrumentation_enabled",
    "key_set_by",
    "preloaded_body",
    "session_url",
    "stream_decodes",
    "swap_httpx_stream",
]

# --- OpenTelemetry API ------------------------------------------------------------------------

# opentelemetry-instrumentation's utils.suppress_http_instrumentation() sets this private key of the API. otel-8x8
# sets it itself, in the one Context it builds per call (entering the context manager would copy the context again).
# Fallback: the key that context manager is seen to set.


def key_set_by(manager: Callable[[], AbstractContextManager[Any]]) -> str | None:
    """The one context key that ``manager()`` sets to True while it is entered, or None."""
    try:
        before = context.get_current()
        with manager():
            inside = context.get_current()
        added = [key for key, value in inside.items() if value is True and before.get(key) is not True]
        return added[0] if len(added) == 1 else None
    except Exception:
        return None


def _suppress_http_key() -> str:
    key = getattr(context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)
    if isinstance(key, str):
        return key
    # Last resort, a key nobody reads: instrumentations below otel-8x8 would add their own span (a duplicate).
    return key_set_by(suppress_http_instrumentation) or context.create_key("suppress_http_instrumentation")


SUPPRESS_HTTP_INSTRUMENTATION_KEY = _suppress_http_key()

# The context key the trace API keeps the current span under (trace.propagation._SPAN_KEY, private), read through
# the public set_span_in_context(). With it and SUPPRESS_HTTP_INSTRUMENTATION_KEY, otel-8x8 builds a call's Context
# in one go: Context is a dict (Context({**ctx, key: value})), which the API does not document either.
((SPAN_KEY, _),) = trace.set_span_in_context(trace.INVALID_SPAN, Context()).items()

# --- opentelemetry-instrumentation --------------------------------------------------------------

# Imported above: is_instrumentation_enabled() and is_http_instrumentation_enabled(), undocumented helpers of its
# utils module (the reason for its upper bound): whether instrumentation is suppressed (suppress_instrumentation(),
# e.g. inside an exporter), and whether an outer HTTP instrumentation is already handling the call (it suppresses
# HTTP instrumentation below it): otel-8x8 then enriches that one's span instead of starting its own.
#
# BaseInstrumentor is not in opentelemetry.instrumentation.instrumentor's __all__ (hence the ignore above), and its
# _instrument(**kwargs) / _uninstrument(**kwargs) methods, private by name, are what an instrumentation overrides.

# --- requests and httpx ----------------------------------------------------------------------


def body_if_read(response: Any) -> bytes | None:
    """The body of a requests or httpx ``Response`` if the application has already read it, else None: never reads.

    Both keep it in the private ``_content`` (requests: False until read; httpx: unset until read). No public way
    asks "is it read?" without reading (``.content`` reads, ``is_stream_consumed`` is httpx-only). Fallback: None,
    which is what an unread body gives (the error is then recorded when the application reads it, or by status).
    """
    content = getattr(response, "_content", None)
    return content if isinstance(content, bytes) else None


def swap_httpx_stream(response: Any, wrap: Callable[[Any], Any]) -> None:
    """Replace an httpx ``Response``'s body stream by ``wrap(stream)``.

    httpx reads the body through the ``stream`` attribute (``read``, ``iter_raw``, ``aread``, ``close``); it is a
    constructor argument, not documented as a settable attribute. otel-8x8 wraps it to copy what the application
    reads of a streamed error answer.
    """
    response.stream = wrap(response.stream)


def stream_decodes(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether a call ``raw.stream(*args, **kwargs)`` on urllib3's ``HTTPResponse`` asks for decoded chunks.

    requests reads a body through ``Response.raw.stream(chunk_size, decode_content=True)`` and closes it with
    ``raw.close()`` (an implementation detail of requests); urllib3's signature is ``stream(amt, decode_content)``.
    otel-8x8 shadows both on the one response instance to copy the decoded chunks.
    """
    decode = kwargs.get("decode_content", args[1] if len(args) > 1 else None)
    return bool(decode)


def preloaded_body(response: Any) -> bytes | None:
    """The body a urllib3 ``HTTPResponse`` holds already (``preload_content=True``, or read with ``cache_content``).

    urllib3 (1.26 and 2.x) keeps it in the private ``_body``; ``.data`` would read the body when it is not there.
    Fallback: None, as for a body not read yet (the error is then recorded from what the app reads, or by status).
    """
    body = getattr(response, "_body", None)
    return body if isinstance(body, bytes) else None


# --- wrapt ---------------------------------------------------------------------------------

# The base of wrapt's proxies, FunctionWrapper included: BaseObjectProxy in wrapt 2, ObjectProxy in wrapt 1. A
# proxy's __wrapped__ can be assigned (documented only as readable): otel-8x8 re-points another wrapper at its own.
PROXY_BASE: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


def bound_wrapper_parent(obj: Any) -> Any:
    """The ``FunctionWrapper`` that ``obj`` was bound from (a method read through its class), else None.

    wrapt keeps it in the private ``_self_parent`` of the bound wrapper; otel-8x8 needs it to recognise its own
    wrapper when another instrumentation has put the bound form of it back on the class.
    """
    return getattr(obj, "_self_parent", None)


# --- Python --------------------------------------------------------------------------------


def finalizers_shut_down() -> bool:
    """Whether the interpreter is exiting and ``weakref.finalize``'s exit hook has run (its private ``_shutdown``).

    A response dropped then is finished at once rather than handed to otel-8x8's thread, which may be gone.
    Fallback: False (the atexit hook otel-8x8 registers finishes what is left).
    """
    return bool(getattr(weakref.finalize, "_shutdown", False))


def finalizing(stream: Any) -> bool:
    """Whether ``stream.close()`` is being called by ``io.IOBase``'s finalizer (a dropped urllib3 response).

    CPython's ``io`` sets the private ``_finalizing`` on the object before that call. otel-8x8 then leaves the
    call's end to its own finalizer, which hands it to otel-8x8's thread instead of ending it on whatever thread
    dropped the response. Fallback: False (the call is ended in ``close()``, on that thread).
    """
    return bool(getattr(stream, "_finalizing", False))


# --- aiohttp -------------------------------------------------------------------------------------

AIOHTTP_REQUEST = "_request"
"""The ``ClientSession`` coroutine that every request method of a session (``get``, ``post``, ``request``,
awaited or ``async with``) awaits, once per call, redirects included: otel-8x8's hook point (private by name;
contrib's aiohttp-client uses ``TraceConfig`` instead, which sees neither sessions made before it nor bodies)."""

AIOHTTP_READ_CHUNK = "_read_nowait_chunk"
"""The ``StreamReader`` method every read of a response body takes its bytes through (``read``, ``text``,
``json``, ``content.read(n)``, ``iter_chunked``, ``iter_any``, ``async for``…): otel-8x8 copies an error body
there, as the application reads it (private by name)."""


def session_url(session: Any, target: Any) -> Any:
    """The ``yarl.URL`` a ``ClientSession`` calls for ``target``: its ``base_url`` applied (private ``_build_url``).

    Fallback: ``URL(target)``, right for every session without a ``base_url``.
    """
    from yarl import URL

    build_url = getattr(session, "_build_url", None)
    return build_url(target) if callable(build_url) else URL(target)
