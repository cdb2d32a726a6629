"""OpenTelemetry instrumentation for the 8x8 CPaaS APIs, over requests and httpx.

Installed, it is loaded by ``opentelemetry-instrument`` (entry point ``8x8``); in code::

    from otel_8x8 import EightByEightInstrumentor
    EightByEightInstrumentor().instrument()
"""

from .instrumentor import EightByEightInstrumentor
from .version import __version__

__all__ = ["EightByEightInstrumentor", "__version__"]
