"""pytest fixtures to test an app's 8x8 calls, its retries and its alerting against the fake 8x8 API.

Opt in: it is not loaded into every pytest run of every environment otel-8x8 is installed in. In the
``conftest.py`` at the root of your tests::

    pytest_plugins = ["otel_8x8.testing.pytest_plugin"]

or on the command line (or in ``addopts``): ``pytest -p otel_8x8.testing.pytest_plugin``. Fixtures:

``fake_8x8``
    A started :class:`~otel_8x8.testing.FakeEightByEight` on 127.0.0.1; stopped after the test. Point your
    client at ``fake_8x8.url``; script its answers with ``fake_8x8.script(...)``; read what your app sent
    in ``fake_8x8.requests``.

``instrumented_8x8``
    The :class:`~otel_8x8.EightByEightInstrumentor`, instrumented for the test with the fake's address as an
    8x8 host, with the global tracer and meter providers, or the ones given by ``otel_8x8_instrument_kwargs``;
    uninstrumented after the test. Fails when otel-8x8 is already instrumented (e.g. pytest run under
    ``opentelemetry-instrument``), since the fake's host could not be added then.

``otel_8x8_instrument_kwargs``
    Keyword arguments for ``instrument()``; ``{}`` unless you override this fixture, e.g. in ``conftest.py``::

        @pytest.fixture
        def otel_8x8_instrument_kwargs(fake_8x8, tracer_provider, meter_provider):
            return {
                "tracer_provider": tracer_provider,
                "meter_provider": meter_provider,
                "hosts": [f"{fake_8x8.netloc}=sms"],  # the fake as an SMS host: com.8x8.product="sms"
            }

    The fake's address is added to ``hosts`` unless an entry already names it.

See ``otel_8x8/testing/README.md`` for scripting the fake: any error code, status, body, delay, Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing.fake_api import FakeEightByEight

__all__ = ["fake_8x8", "instrumented_8x8", "otel_8x8_instrument_kwargs"]


@pytest.fixture
def fake_8x8() -> Iterator[FakeEightByEight]:
    """A started fake 8x8 API server on 127.0.0.1 (a free port), stopped after the test."""
    with FakeEightByEight() as fake:
        yield fake


@pytest.fixture
def otel_8x8_instrument_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``EightByEightInstrumentor().instrument()``: override it to give providers, hooks..."""
    return {}


def _hosts_with(fake: FakeEightByEight, hosts: object) -> list[str]:
    """``hosts`` (a list or a comma-separated string) plus the fake's address unless an entry names it."""
    if hosts is None:
        entries: list[str] = []
    elif isinstance(hosts, str):
        entries = [entry.strip() for entry in hosts.split(",") if entry.strip()]
    elif isinstance(hosts, (list, tuple, set, frozenset)):
        entries = [str(entry) for entry in hosts]
    else:
        raise TypeError(f"otel_8x8_instrument_kwargs: 'hosts' must be a list or a string, not {type(hosts).__name__}")
    if not any(entry.partition("=")[0].strip().lower() == fake.netloc.lower() for entry in entries):
        entries.append(fake.netloc)
    return entries


@pytest.fixture
def instrumented_8x8(
    fake_8x8: FakeEightByEight, otel_8x8_instrument_kwargs: dict[str, Any]
) -> Iterator[EightByEightInstrumentor]:
    """otel-8x8 instrumented for the test, with ``fake_8x8`` as an 8x8 host; uninstrumented after it."""
    instrumentor = EightByEightInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        pytest.fail(
            "instrumented_8x8: EightByEightInstrumentor is already instrumented (by opentelemetry-instrument or "
            "the test itself), so the fake 8x8's host cannot be added; run pytest without it",
            pytrace=False,
        )
    kwargs = dict(otel_8x8_instrument_kwargs)
    kwargs["hosts"] = _hosts_with(fake_8x8, kwargs.get("hosts"))
    instrumentor.instrument(**kwargs)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()
