"""Test helpers for otel-8x8: a fake 8x8 CPaaS API server.

See :class:`FakeEightByEight`; ``python -m otel_8x8.testing`` runs one from the command line.
"""

from otel_8x8.testing.fake_api import FAIL_HEADER, FakeEightByEight, RecordedRequest, Reply, error_envelope

__all__ = ["FAIL_HEADER", "FakeEightByEight", "RecordedRequest", "Reply", "error_envelope"]
