"""Attribute names recorded by otel-8x8: 8x8's own (``com.8x8.*``) and the stable HTTP ones."""

from __future__ import annotations

from typing import Final

# 8x8 attributes
PRODUCT: Final = "com.8x8.product"
REGION: Final = "com.8x8.region"
SUBACCOUNT_ID: Final = "com.8x8.subaccount.id"
ERROR_CODE: Final = "com.8x8.error.code"
ERROR_ID: Final = "com.8x8.error.id"
ERROR_CATEGORY: Final = "com.8x8.error.category"
ERROR_RETRYABLE: Final = "com.8x8.error.retryable"
ERROR_MESSAGE: Final = "com.8x8.error.message"
ERROR_SUPPRESSED_COUNT: Final = "com.8x8.error.suppressed_count"
RETRY_AFTER: Final = "com.8x8.retry_after"
MESSAGE_UMID: Final = "com.8x8.message.umid"
BATCH_ID: Final = "com.8x8.batch.id"
BATCH_ACCEPTED: Final = "com.8x8.batch.accepted_count"
BATCH_REJECTED: Final = "com.8x8.batch.rejected_count"
BATCH_REJECTION_EVENT: Final = "com.8x8.batch.rejection"
BATCH_REJECTION_REASON: Final = "com.8x8.batch.rejection.reason"
RECEIPT_STATE: Final = "com.8x8.receipt.state"

# Stable HTTP client semantic conventions
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
URL_FULL: Final = "url.full"
URL_TEMPLATE: Final = "url.template"
ERROR_TYPE: Final = "error.type"
HTTP_REQUEST_METHOD_ORIGINAL: Final = "http.request.method_original"

# Old (pre-stable) HTTP conventions that an outer instrumentation may have set with the raw URL.
LEGACY_URL_KEYS: Final = ("http.url", "http.target")

# Metrics
ERRORS_METRIC: Final = "com.8x8.api.errors"
DURATION_METRIC: Final = "http.client.request.duration"

ERROR_METRIC_ATTRIBUTES: Final = (
    PRODUCT,
    ERROR_CODE,
    ERROR_CATEGORY,
    HTTP_RESPONSE_STATUS_CODE,
    ERROR_TYPE,
    URL_TEMPLATE,
)
"""The only attributes on ``com.8x8.api.errors``: all of bounded cardinality."""

DURATION_METRIC_ATTRIBUTES: Final = (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_TEMPLATE,
    ERROR_TYPE,
    PRODUCT,
)

LOG_CALL_ATTRIBUTES: Final = (
    PRODUCT,
    REGION,
    SUBACCOUNT_ID,
    HTTP_REQUEST_METHOD,
    URL_TEMPLATE,
    SERVER_ADDRESS,
)
"""What the error log record carries of the call, beside the error attributes and the message."""

LOG_ONLY_ATTRIBUTES: Final = (ERROR_MESSAGE, ERROR_SUPPRESSED_COUNT)
"""What only the error log record carries (docs/attributes.md's log-record table is checked against it)."""

SPAN_ATTRIBUTES: Final = (
    PRODUCT,
    REGION,
    SUBACCOUNT_ID,
    ERROR_CODE,
    ERROR_ID,
    ERROR_CATEGORY,
    ERROR_RETRYABLE,
    RETRY_AFTER,
    MESSAGE_UMID,
    BATCH_ID,
    BATCH_ACCEPTED,
    BATCH_REJECTED,
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
    URL_TEMPLATE,
    ERROR_TYPE,
)
"""Every attribute otel-8x8 may set on a span (docs/attributes.md's attribute table is checked against it)."""
