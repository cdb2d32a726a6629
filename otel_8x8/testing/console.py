"""Read back what OpenTelemetry's console exporters printed.

With ``OTEL_TRACES_EXPORTER=console`` (and the same for logs and metrics) a process prints one
indented JSON object per span, log record and metrics export, in any order and mixed with the
application's own output. :func:`parse_console_output` sorts them out::

    telemetry = parse_console_output(completed.stdout)
    [span["name"] for span in telemetry.spans]
    telemetry.points("com.8x8.api.errors")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConsoleTelemetry", "parse_console_output"]


@dataclass
class ConsoleTelemetry:
    """The telemetry found in console-exporter output.

    ``spans`` and ``logs`` are the exporters' JSON objects as printed. ``metrics`` has one dict
    per data point: the point's own fields (``attributes``, ``value`` or ``count``/``sum``…) plus
    ``name``, ``unit`` and ``scope`` (the instrumentation scope's name). ``text`` holds the lines
    that are not telemetry: the application's own output.
    """

    spans: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def points(self, name: str) -> list[dict[str, Any]]:
        """The data points of the metric called ``name``."""
        return [point for point in self.metrics if point["name"] == name]


def parse_console_output(text: str) -> ConsoleTelemetry:
    """Split ``text`` into spans, log records, metric data points and other lines."""
    telemetry = ConsoleTelemetry()
    decoder = json.JSONDecoder()
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        if text[position] == "{":
            try:
                obj, end = decoder.raw_decode(text, position)
            except ValueError:
                pass
            else:
                if isinstance(obj, dict) and _add(telemetry, obj):
                    position = end
                    continue
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        telemetry.text.append(text[position:line_end])
        position = line_end + 1
    return telemetry


def _add(telemetry: ConsoleTelemetry, obj: dict[str, Any]) -> bool:
    """File ``obj`` under its kind; False when it is not something an exporter prints."""
    if "resource_metrics" in obj:
        telemetry.metrics.extend(_data_points(obj))
    elif "context" in obj and "kind" in obj:
        telemetry.spans.append(obj)
    elif "severity_number" in obj and "body" in obj:
        telemetry.logs.append(obj)
    else:
        return False
    return True


def _data_points(export: dict[str, Any]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    for resource_metrics in export.get("resource_metrics") or ():
        for scope_metrics in resource_metrics.get("scope_metrics") or ():
            scope = (scope_metrics.get("scope") or {}).get("name")
            for metric in scope_metrics.get("metrics") or ():
                header = {"name": metric.get("name"), "unit": metric.get("unit"), "scope": scope}
                for point in (metric.get("data") or {}).get("data_points") or ():
                    points.append({**point, **header})
    return points
