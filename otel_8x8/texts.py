"""Text taken from a body or an exception, made safe to hand to the OpenTelemetry SDK.

OTLP encodes every string as UTF-8. JSON can carry a lone surrogate (``"bad \\udfff"`` decodes to
one), which UTF-8 cannot encode: the exporter would raise for the whole batch and the SDK would
drop it, with the application's unrelated spans and log records. So every such text is replaced,
not dropped: a lone surrogate becomes U+FFFD.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def exportable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD: valid UTF-8 once encoded."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)
