"""Record what an 8x8 call told: span attributes and status, the error log record, the metrics.

The last step of a call's way through otel-8x8 (``call.py`` describes it, ``answers.py`` reads its answer).
Nothing here reads a body or touches the HTTP libraries.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.trace import Span, Status, StatusCode

from . import attributes as A
from .answers import ErrorInfo, Sent
from .call import Attributes, Call
from .catalog import Category, code_for_reason
from .config import Options
from .envelope import Batch
from .guard import guarded
from .log_limit import SUPPRESS, LogLimiter
from .products import categorize, lookup_code
from .redaction import redact_id, redact_text
from .texts import exportable

LOGGER_NAME = "otel_8x8"
_LOG_FORMAT = "8x8 %s %s [%s] on %s: HTTP %d%s%s%s"
error_logger = logging.getLogger(LOGGER_NAME)

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Recorder:
    """Writes spans, logs and metrics for 8x8 calls. One per instrumentation."""

    def __init__(self, meter: Meter, options: Options) -> None:
        self.options = options
        self.log_limiter: LogLimiter | None = (
            LogLimiter(options.log_limit, options.log_interval) if options.log_limit > 0 else None
        )
        self._errors = meter.create_counter(
            A.ERRORS_METRIC, unit="{error}", description="8x8 API calls answered with an error."
        )
        try:
            self._duration = meter.create_histogram(
                A.DURATION_METRIC,
                unit="s",
                description="Duration of HTTP client requests.",
                explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
            )
        except TypeError:  # opentelemetry-api before 1.23 has no advisory parameter
            self._duration = meter.create_histogram(
                A.DURATION_METRIC, unit="s", description="Duration of HTTP client requests."
            )

    # --- spans -------------------------------------------------------------------------------

    def enrich_start(self, span: Span, call: Call) -> None:
        """Make an outer instrumentation's span look like ours: name, attributes, redacted URL."""
        span.update_name(call.span_name)
        span.set_attributes(call.attributes)
        existing: Any = getattr(span, "attributes", None)
        if existing is not None:
            for key in A.LEGACY_URL_KEYS:
                if key in existing:
                    span.set_attribute(key, call.attributes[A.URL_FULL])

    def record_answer(
        self, span: Span, call: Call, status: int, answer: ErrorInfo | Sent | Batch | None, enriching: bool = False
    ) -> None:
        """The status, and what the answer told (``answers.read_answer``): an error's attributes, log record
        and count, or a success's umid or batch counts and rejections."""
        if span.is_recording():
            span.set_attribute(A.HTTP_RESPONSE_STATUS_CODE, status)
        if isinstance(answer, ErrorInfo):
            self.record_error(span, call, answer, enriching)
        elif isinstance(answer, Sent):
            if span.is_recording():
                span.set_attribute(A.MESSAGE_UMID, answer.umid)
        elif isinstance(answer, Batch):
            self._record_batch(span, call, status, answer)

    def record_error(self, span: Span, call: Call, error: ErrorInfo, enriching: bool = False) -> ErrorInfo:
        """The error attributes and status on the span, the counter, and the log record."""
        attrs = self.error_attributes(call, error)
        with guarded("error attributes"):  # each signal on its own: one failing never costs the others
            if span.is_recording():
                span.set_attributes(attrs)
                status_with_message = Status(StatusCode.ERROR, error.message)
                span.set_status(status_with_message)
                if enriching and error.message:
                    _keep_error_description(span, status_with_message)
        with guarded("error counter"):
            self._count_error(call, error)
        with guarded("error log"):
            self._log_error(call, error, attrs)
        return error

    def record_status(self, span: Span, status: int) -> None:
        """What the status line alone says, before a streamed error body is read."""
        if span.is_recording():
            span.set_attributes({A.HTTP_RESPONSE_STATUS_CODE: status, A.ERROR_TYPE: str(status)})

    def _record_batch(self, span: Span, call: Call, status: int, batch: Batch) -> None:
        if span.is_recording():
            batch_id = redact_id(batch.batch_id) if batch.batch_id is not None else None
            counts = {A.BATCH_ID: batch_id, A.BATCH_ACCEPTED: batch.accepted, A.BATCH_REJECTED: batch.rejected}
            span.set_attributes({key: value for key, value in counts.items() if value is not None})
            for reason, count in batch.reasons.items():
                span.add_event(
                    A.BATCH_REJECTION_EVENT,
                    {A.BATCH_REJECTION_REASON: redact_text(reason), A.BATCH_REJECTED: count},
                )
        self._count_rejections(call, status, batch)

    def _count_rejections(self, call: Call, status: int, batch: Batch) -> None:
        by_code: Counter[int | None] = Counter()
        for reason, count in batch.reasons.items():
            by_code[batch.codes.get(reason) or code_for_reason(reason)] += count
        unexplained = (batch.rejected or 0) - sum(by_code.values())
        if unexplained > 0:
            by_code[None] += unexplained
        for code, count in by_code.items():
            attrs: Attributes = {
                A.ERROR_CATEGORY: categorize(code, 400, call.product).value
                if code is not None
                else Category.INVALID_REQUEST.value,
                A.HTTP_RESPONSE_STATUS_CODE: status,
                A.ERROR_TYPE: "REJECTED",
                A.URL_TEMPLATE: call.template,
            }
            if call.product:
                attrs[A.PRODUCT] = call.product
            if code is not None and _known(code, call.product):
                attrs[A.ERROR_CODE] = code
            self._errors.add(count, attrs)

    def error_attributes(self, call: Call, error: ErrorInfo) -> Attributes:
        attrs: Attributes = {
            A.ERROR_TYPE: error.error_type,
            A.ERROR_CATEGORY: error.category.value,
            A.ERROR_RETRYABLE: error.category.retryable,
        }
        if error.envelope.code is not None:
            attrs[A.ERROR_CODE] = error.envelope.code
        if error.error_id is not None:
            attrs[A.ERROR_ID] = error.error_id
        if error.retry_after is not None:
            attrs[A.RETRY_AFTER] = error.retry_after
        return attrs

    def record_exception(self, span: Span, exc: BaseException, as_event_only: bool = False) -> str:
        """The exception as an event, and (unless ``as_event_only``: the response already set them) as the
        span's ``error.type`` and ERROR status. Returns the error type."""
        error_type = _qualified_name(type(exc))
        if span.is_recording():
            # Exception messages carry URLs (phone numbers in lookup paths, keys in queries): record them
            # redacted, never through span.record_exception(), which would store the raw message and traceback.
            message = redact_text(exportable(str(exc)))
            span.add_event("exception", {"exception.type": error_type, "exception.message": message})
            if not as_event_only:
                span.set_attribute(A.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))
        return error_type

    # --- metrics -----------------------------------------------------------------------------

    def _count_error(self, call: Call, error: ErrorInfo) -> None:
        attrs: Attributes = {
            A.ERROR_CATEGORY: error.category.value,
            A.HTTP_RESPONSE_STATUS_CODE: error.status,
            A.ERROR_TYPE: error.error_type,
            A.URL_TEMPLATE: call.template,
        }
        if call.product:
            attrs[A.PRODUCT] = call.product
        code = error.envelope.code
        if code is not None and _known(code, call.product):
            attrs[A.ERROR_CODE] = code
        self._errors.add(1, attrs)

    def record_duration(self, call: Call, seconds: float, status: int | None, error_type: str | None) -> None:
        attrs = dict(call.duration_attributes)
        if status is not None:
            attrs[A.HTTP_RESPONSE_STATUS_CODE] = status
        if error_type is not None:
            attrs[A.ERROR_TYPE] = error_type
        self._duration.record(max(seconds, 0.0), attrs)

    # --- logs --------------------------------------------------------------------------------

    def _log_error(self, call: Call, error: ErrorInfo, error_attrs: Attributes) -> None:
        if not self.options.log_errors:
            return
        level = self.options.log_level
        if level is None:
            level = logging.ERROR if error.status >= 500 else logging.WARNING
        if not error_logger.isEnabledFor(level):
            return
        code = error.envelope.code
        suppressed = 0
        limiter = self.log_limiter
        if limiter is not None:  # before anything is built: a suppressed record costs this lookup only
            suppressed = limiter.admit((call.product, error.error_type if code is None else code, call.template))
            if suppressed == SUPPRESS:
                return
        extra: dict[str, Any] = {**call.log_attributes, A.HTTP_RESPONSE_STATUS_CODE: error.status, **error_attrs}
        if error.message is not None:
            extra[A.ERROR_MESSAGE] = error.message
        if suppressed:
            extra[A.ERROR_SUPPRESSED_COUNT] = suppressed
        entry = lookup_code(code, call.product) if code is not None else None
        what = f"error {code}" if code is not None else "error"
        if entry is not None:
            what += f" ({entry.description})"
        args = (
            call.product or "API",
            what,
            error.category.value,
            call.span_name,
            error.status,
            f": {error.message}" if error.message else "",
            f" errorId={error.error_id}" if error.error_id else "",
            f" ({suppressed} similar suppressed)" if suppressed else "",
        )
        # What Logger.log() does, minus its stack walk to find the caller (the caller is always here).
        record = error_logger.makeRecord(
            LOGGER_NAME, level, __file__, _LOG_LINE, _LOG_FORMAT, args, None, "_log_error", extra
        )
        error_logger.handle(record)


# Where the error record says it comes from (pathname, funcName, lineno): Recorder._log_error.
_LOG_LINE = Recorder._log_error.__code__.co_firstlineno


def _keep_error_description(span: Span, ours: Status) -> None:
    """An outer HTTP instrumentation sets ``Status(ERROR)`` with no description after we return
    (opentelemetry-instrumentation-requests does). On that one span object, such a call keeps
    our description instead of erasing it. Any other status call goes through unchanged."""
    original = span.set_status

    def set_status(status: Status | StatusCode, description: str | None = None) -> None:
        code = status.status_code if isinstance(status, Status) else status
        text = status.description if isinstance(status, Status) else description
        if code is StatusCode.ERROR and not text:
            original(ours)
        else:
            original(status, description)

    with contextlib.suppress(AttributeError, TypeError):
        span.set_status = set_status  # type: ignore[method-assign]


def _known(code: int, product: str | None) -> bool:
    """Whether ``code`` may be a metric attribute: only codes the catalog knows, so that an API (or a gateway)
    answering with ever new codes cannot grow the number of series. Spans and log records keep any code."""
    return lookup_code(code, product) is not None


def _qualified_name(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
