"""``EightByEightInstrumentor``: the entry point that ``opentelemetry-instrument`` loads."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection
from functools import partial
from types import ModuleType
from typing import Any

import wrapt
from opentelemetry import context, metrics, trace

from .aiohttp_hook import aiohttp_patches
from .compat import BaseInstrumentor
from .config import Options
from .guard import IN_8X8_CALL
from .hosts import HostMatcher
from .httpx_hook import httpx_patches
from .interceptor import Interceptor
from .patching import Patch, Switch
from .recorder import Recorder
from .requests_hook import requests_patches
from .urllib3_hook import urllib3_patches
from .version import __version__

_logger = logging.getLogger(__name__)
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"

LIBRARIES: dict[str, Callable[[Interceptor], list[Patch]]] = {
    "requests": requests_patches,
    "httpx": httpx_patches,
    "urllib3": urllib3_patches,
    "aiohttp": aiohttp_patches,
}
"""The libraries otel-8x8 patches, each when the application first imports it (at once if it already has)."""


class EightByEightInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Observe every call to the 8x8 APIs made with requests, httpx (sync and async), urllib3 or aiohttp.

    ``instrument(tracer_provider=..., meter_provider=..., hosts=[...], log_errors=True,
    log_level=None, log_limit=10, log_interval=60.0, request_hook=None, response_hook=None)``
    """

    _patches: list[Patch]
    _armed: Switch
    _lock = threading.RLock()  # import hooks may run in any thread, beside uninstrument()

    def instrumentation_dependencies(self) -> Collection[str]:
        # requests, httpx, urllib3 and aiohttp are all optional: whichever the application imports is instrumented.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        options = Options.from_kwargs(kwargs)
        try:
            tracer = trace.get_tracer(
                __name__, __version__, tracer_provider=kwargs.get("tracer_provider"), schema_url=_SCHEMA_URL
            )
        except Exception:  # a broken provider costs the spans, never the application's start-up
            _logger.warning("otel-8x8: no tracer, spans are off", exc_info=True)
            tracer = trace.NoOpTracer()
        try:
            meter = metrics.get_meter(
                __name__, __version__, meter_provider=kwargs.get("meter_provider"), schema_url=_SCHEMA_URL
            )
            recorder = Recorder(meter, options)
        except Exception:
            _logger.warning("otel-8x8: no meter, metrics are off", exc_info=True)
            recorder = Recorder(metrics.NoOpMeter(__name__), options)
        interceptor = Interceptor(tracer, recorder, HostMatcher(options.hosts))
        self._patches = []
        self._armed = armed = Switch()  # the import hooks below patch while on; uninstrument() turns it off
        # Patched on import, not imported here: an app that only uses requests never loads aiohttp or httpx
        # (0.4 s of start-up and a heap the garbage collector keeps walking, in benchmarks/README.md).
        for module, patches_of in LIBRARIES.items():
            try:
                wrapt.register_post_import_hook(partial(self._patch, armed, patches_of, interceptor), module)
            except Exception:  # never break the application's start-up
                _logger.warning("otel-8x8: could not watch for %s", module, exc_info=True)
        # What is patched and how many hosts were added, for "no spans?": never a host name or header value.
        # Marked as otel-8x8's own work: a handler that calls 8x8 for this record is not observed.
        with contextlib.suppress(Exception):
            token = context.attach(context.set_value(IN_8X8_CALL, True))
            try:
                _logger.debug(
                    "otel-8x8: patched %s; %d extra 8x8 host(s) configured",
                    ", ".join(self.patched_methods())
                    or "nothing yet (requests, httpx, urllib3 and aiohttp are patched when first imported)",
                    len(options.hosts),
                )
            finally:
                context.detach(token)

    def _patch(
        self, armed: Switch, patches_of: Callable[[Interceptor], list[Patch]], interceptor: Interceptor, _: ModuleType
    ) -> None:
        """Patch one library: the import hook of ``instrument()``, run when the library is imported. Never raises
        (it runs inside the application's ``import``)."""
        try:
            with self._lock:
                if not armed.on:
                    return  # uninstrumented before the library was imported
                for patch in patches_of(interceptor):
                    try:
                        patch.apply()
                    except Exception:
                        _logger.warning("otel-8x8: could not instrument %s", patch, exc_info=True)
                    self._patches.append(patch)
        except Exception:
            _logger.warning("otel-8x8: could not instrument a library", exc_info=True)

    def patched_methods(self) -> list[str]:
        """The library methods otel-8x8 wraps now (``requests.sessions.Session.send``…); empty when not instrumented."""
        return [repr(patch) for patch in getattr(self, "_patches", []) if patch.applied]

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            if hasattr(self, "_armed"):
                self._armed.on = False
            for patch in reversed(getattr(self, "_patches", [])):
                try:
                    patch.remove()
                except Exception:
                    _logger.warning("otel-8x8: could not uninstrument %s", patch, exc_info=True)
            self._patches = []
