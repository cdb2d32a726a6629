"""One intercepted 8x8 call: decide, own or enrich the CLIENT span, and never raise.

The hooks for requests and httpx only translate their library's objects; everything they
have in common — suppression, the one-span rule, timing, guarding — lives here.

The one-span rule: if another HTTP instrumentation is already handling this call (it has
set ``suppress_http_instrumentation`` around us), its CLIENT span is enriched. Otherwise
otel-8x8 owns a CLIENT span following the stable HTTP client conventions and runs the
library under ``suppress_http_instrumentation()`` so that nothing below adds a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from types import TracebackType
from typing import Any, NamedTuple

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer

from .answers import ErrorInfo, HeaderGetter, read_answer
from .call import Call, describe_call
from .compat import (
    SPAN_KEY,
    SUPPRESS_HTTP_INSTRUMENTATION_KEY,
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
)
from .guard import IN_8X8_CALL, dropped, guarded
from .hosts import HostMatcher
from .recorder import Recorder
from .streams import StreamTap


class ResponseAccess(NamedTuple):
    """What a hook knows of its library's response, for ``CallScope.report``."""

    read: Callable[[Any], tuple[int, bytes | None, HeaderGetter]]
    """``read(response)``: the status, the body if the application already has it (else None), a header getter."""
    install: Callable[[Any, StreamTap], None]
    """``install(response, tap)``: put the tap where the application's reads of the body pass, or finish it."""
    defer_success: bool = False
    """The library returns before any body is read (aiohttp): a success whose answer is in the body (a umid,
    a batch, a failure inside a 2xx) is also read from what the application reads, like a streamed error."""


def response_of(exc: BaseException) -> Any:
    """The response an exception carries (requests' HTTPError, httpx's HTTPStatusError), or None. Never raises."""
    try:
        return getattr(exc, "response", None)
    except Exception:
        return None


class Interceptor:
    """Shared by all hooks of one instrumentation."""

    def __init__(self, tracer: Tracer, recorder: Recorder, matcher: HostMatcher) -> None:
        self.tracer = tracer
        self.recorder = recorder
        self.matcher = matcher

    def intercept(self, method: str, url: str, netloc: str) -> CallScope | None:
        """A scope for this call, or None when it is not ours to observe. Never raises."""
        try:  # on every HTTP call of the application: a plain try, the host lookup first
            target = self.matcher.match(netloc)
            if target is None or not is_instrumentation_enabled() or context.get_value(IN_8X8_CALL):
                return None
            return CallScope(self, describe_call(method, url, target), owns=is_http_instrumentation_enabled())
        except Exception as exc:
            dropped("inspect a call", exc)
        return None


class CallScope:
    """Use as ``with scope:`` around the library call; report the response with ``response()``."""

    __slots__ = ("_deferred", "_error_type", "_start", "_status", "_token", "call", "interceptor", "owns", "span")

    def __init__(self, interceptor: Interceptor, call: Call, owns: bool) -> None:
        self.interceptor = interceptor
        self.call = call
        self.owns = owns
        self.span: Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._start = 0.0
        self._status: int | None = None
        self._error_type: str | None = None
        self._deferred = False

    # The steps every call takes guard themselves with a plain try (no cost until one fails), the rarer
    # ones with ``guarded()``: the 8 context managers a call took cost 26,000-34,000 instructions, a fifth of
    # otel-8x8's own work (benchmarks/README.md).
    def __enter__(self) -> CallScope:
        entered: Context | None = None
        try:
            ctx = context.get_current()
            if self.owns:
                self.span = self.interceptor.tracer.start_span(
                    self.call.span_name, kind=SpanKind.CLIENT, attributes=self.call.attributes
                )
                # One new context for the span, the suppression and the in-call mark: each
                # context.set_value() would copy the whole context twice.
                entered = Context(
                    {**ctx, SPAN_KEY: self.span, SUPPRESS_HTTP_INSTRUMENTATION_KEY: True, IN_8X8_CALL: True}
                )
            else:
                current = trace.get_current_span(ctx)
                if current.is_recording() and getattr(current, "kind", None) is SpanKind.CLIENT:
                    self.span = current
                    self.interceptor.recorder.enrich_start(current, self.call)
                entered = context.set_value(IN_8X8_CALL, True, ctx)
        except Exception as exc:
            dropped("start", exc)
        try:
            # Even without a span (a tracer that raised), the call is marked as observed: the library
            # below (urllib3 under requests) must not observe it a second time.
            self._token = context.attach(entered if entered is not None else context.set_value(IN_8X8_CALL, True))
            self._start = perf_counter()
        except Exception as exc:
            dropped("attach", exc)
        return self

    def run(self, request: Any, send: Callable[[], Any], access: ResponseAccess) -> Any:
        """The library's ``send()`` inside this scope: trace context and request hook first, then the
        response (or the response an exception carries, raised by a response hook) to ``report()``.
        The library's exception propagates unchanged."""
        with self:
            self.inject(request)
            self.request_hook(request)
            try:
                response = send()
            except Exception as exc:
                self.report(request, response_of(exc), True, access)  # e.g. raise_for_status in a hook
                raise
            self.report(request, response, False, access)
        return response

    def report(self, request: Any, response: Any, raised: bool, access: ResponseAccess) -> None:
        """Record ``response`` (None: nothing to record), install the body tap if the error is deferred,
        run the response hook, then release the tap: the span ends after the hook at the earliest.
        ``raised``: the library raised with this response (see ``response()``)."""
        if response is None:
            return
        tap = None
        try:
            try:
                status, body, header = access.read(response)
                tap = self.response(status, body, header, can_defer=not raised, defer_success=access.defer_success)
                if tap is not None:
                    try:
                        access.install(response, tap)
                    except Exception:
                        tap.finish()  # not installed: the span ends now (once the hold is released)
                        raise
            except Exception as exc:
                dropped("read the response", exc)
            self.response_hook(request, response)
        finally:
            if tap is not None:
                tap.release()

    def inject(self, request: Any) -> None:
        """Put the trace context of the span otel-8x8 owns into the request's headers (``traceparent``…),
        with the global propagator (``OTEL_PROPAGATORS``), as every HTTP client instrumentation does: the
        instrumentations below that would have done it are suppressed. Where an outer instrumentation owns
        the span, it has injected its own (the same span's) already."""
        if self.owns and self.span is not trace.INVALID_SPAN:
            try:
                propagate.inject(request.headers)
            except Exception as exc:
                dropped("inject", exc)

    def request_hook(self, request: object) -> None:
        hook = self.interceptor.recorder.options.request_hook
        if hook is not None:
            with guarded("request_hook"):
                if self.span.is_recording():
                    hook(self.span, request)

    def response(
        self,
        status: int,
        body: bytes | None,
        header: HeaderGetter,
        can_defer: bool = True,
        defer_success: bool = False,
    ) -> StreamTap | None:
        """Record the response. ``body`` is only what the application has already read (or None).

        For an error whose body the application has not read yet (a streamed response) on a span
        otel-8x8 owns, the error is recorded later: the returned tap must be fed what the
        application reads and finished; it ends the span. It comes held: the caller releases it
        once it has installed it and run the response hook. With ``can_defer=False`` (the library
        raised with this response: the app will not read it through the library), what the status
        says is recorded at once. With ``defer_success``, a success whose operation answers with a body
        (``Call.kind``) is deferred the same way.
        """
        tap = None
        try:
            self._status = status
            recorder = self.interceptor.recorder
            if body is None and status >= 400 and self.owns and can_defer:
                recorder.record_status(self.span, status)
                self._error_type = str(status)
                tap = StreamTap(self._deferred_answer(status, header), held=True)
                self._deferred = True
            elif body is None and defer_success and self.call.kind is not None and self.owns and can_defer:
                tap = StreamTap(self._deferred_answer(status, header), held=True)
                self._deferred = True
            else:
                answer = read_answer(self.call, status, body, header)
                recorder.record_answer(self.span, self.call, status, answer, enriching=not self.owns)
                if isinstance(answer, ErrorInfo):
                    self._error_type = answer.error_type
        except Exception as exc:
            dropped("response", exc)
        return tap

    def response_hook(self, request: object, response: object) -> None:
        """The user's ``response_hook``. ``report`` calls it after installing the body tap (so a hook that
        reads a streamed error body feeds it), and releases the tap after it (so the span it was given
        ends only after it returns)."""
        hook = self.interceptor.recorder.options.response_hook
        if hook is not None:
            with guarded("response_hook"):
                if self.span.is_recording():
                    hook(self.span, request, response)

    def _deferred_answer(self, status: int, header: HeaderGetter) -> Callable[[bytes | None], None]:
        """What ends a deferred span: the answer read from the body the application read, then the end."""
        span, call, recorder = self.span, self.call, self.interceptor.recorder

        def finish(body: bytes | None) -> None:
            token = None
            with guarded("streamed answer"):
                # As during the call: the span is current for the log record, and an 8x8 call made
                # from inside (a logging handler's) is not observed, so nothing can loop.
                token = context.attach(context.set_value(IN_8X8_CALL, True, trace.set_span_in_context(span)))
                recorder.record_answer(span, call, status, read_answer(call, status, body, header))
            if token is not None:
                with guarded("detach"):
                    context.detach(token)
            with guarded("end"):
                span.end()

        return finish

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = perf_counter() - self._start
        try:
            if exc is not None and self.owns:  # an outer instrumentation records its own exception
                # Raised with an error response (raise_for_status in a response hook): the response's
                # error type and status stay, the exception is an event.
                error_type = self.interceptor.recorder.record_exception(
                    self.span, exc, as_event_only=self._error_type is not None
                )
                self._error_type = self._error_type or error_type
            if self.owns:
                self.interceptor.recorder.record_duration(self.call, elapsed, self._status, self._error_type)
        except Exception as failure:
            dropped("end", failure)
        if self._token is not None:
            try:
                context.detach(self._token)  # type: ignore[arg-type]
            except Exception as failure:
                dropped("detach", failure)
        if self.owns and not self._deferred:
            try:
                self.span.end()
            except Exception as failure:
                dropped("end", failure)
        # returning None: an exception from the library propagates unchanged
