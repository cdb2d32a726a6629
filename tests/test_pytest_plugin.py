"""The pytest plugin (opt-in: ``pytest_plugins`` or ``-p otel_8x8.testing.pytest_plugin``), tested with ``pytester``."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

import httpx  # noqa: F401  (loaded before pytester's in-process runs, which unload the modules they import)
import pytest
import requests  # noqa: F401

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import FakeEightByEight, pytest_plugin

pytest_plugins = ["pytester"]
PLUGIN = "otel_8x8.testing.pytest_plugin"
# Hypothesis' plugin re-imports all of hypothesis at the end of each in-process run (seconds): not needed inside.
BARE_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
INNER_ARGS = (*BARE_ARGS, "-p", PLUGIN)  # the plugin opted into on the command line


@pytest.fixture(autouse=True)
def inner_ini(pytester: pytest.Pytester) -> Iterator[None]:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    yield


PROVIDERS_CONFTEST = """
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture
def spans():
    return InMemorySpanExporter()


@pytest.fixture
def metrics():
    return InMemoryMetricReader()


@pytest.fixture
def otel_8x8_instrument_kwargs(fake_8x8, spans, metrics):
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return {
        "tracer_provider": tracer_provider,
        "meter_provider": MeterProvider(metric_readers=[metrics]),
        "hosts": [f"{fake_8x8.netloc}=sms"],
    }
"""

RETRY_TESTS = """
import time

import requests

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.testing import Reply, error_envelope

SEND = r"/api/v1/subaccounts/[^/]+/messages"
BODY = {"destination": "+6591234567", "text": "hello"}


def send_with_retries(base_url, attempts=3):
    # the app's retry code under test: honours Retry-After on 429
    for _ in range(attempts):
        response = requests.post(f"{base_url}/api/v1/subaccounts/acme/messages", json=BODY,
                                 headers={"Authorization": "Bearer k"}, timeout=5)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers["Retry-After"]) / 100)
    return response


def test_retries_after_rate_limiting(instrumented_8x8, fake_8x8, spans, metrics):
    fake_8x8.script("POST", SEND, [Reply(429, {"code": 429, "message": "Quota exceeded"}, retry_after=2),
                                   Reply(200, {"umid": "u-1"})])
    response = send_with_retries(fake_8x8.url)

    assert response.json() == {"umid": "u-1"}
    assert len(fake_8x8.requests) == 2
    first, second = spans.get_finished_spans()
    assert first.attributes["com.8x8.error.code"] == 429
    assert first.attributes["com.8x8.error.category"] == "rate_limit"
    assert first.attributes["com.8x8.retry_after"] == 2.0
    assert first.attributes["com.8x8.product"] == "sms"
    assert "com.8x8.error.code" not in second.attributes
    [errors] = [m for m in metrics.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
                if m.name == "com.8x8.api.errors"]
    [point] = errors.data.data_points
    assert point.value == 1 and point.attributes["com.8x8.error.code"] == 429


def test_scripted_error_code_status_and_delay(instrumented_8x8, fake_8x8, spans):
    fake_8x8.script("POST", SEND, error_envelope(3038, "Template not found", 400), times=1)
    fake_8x8.script("GET", r"/api/v1/subaccounts/[^/]+/phones/.+", Reply(504, "<html>timeout</html>", delay=0.2))
    started = time.monotonic()
    assert requests.get(f"{fake_8x8.url}/api/v1/subaccounts/acme/phones/+6591234567", timeout=5).status_code == 504
    assert time.monotonic() - started >= 0.2
    assert send_with_retries(fake_8x8.url).status_code == 400
    assert send_with_retries(fake_8x8.url).status_code == 200  # times=1: back to the default answer
    lookup, template, ok = spans.get_finished_spans()
    assert lookup.attributes["com.8x8.error.category"] == "server_error"
    assert template.attributes["com.8x8.error.code"] == 3038
    assert template.attributes["com.8x8.error.category"] == "template"
    assert ok.status.is_ok


def test_uninstrumented_after_the_tests():
    assert not EightByEightInstrumentor().is_instrumented_by_opentelemetry
"""


USES_THE_FAKE = """
def test_uses_the_fake(fake_8x8):
    assert fake_8x8.url.startswith("http://127.0.0.1:")
"""


def test_the_plugin_is_not_loaded_unless_asked(pytester: pytest.Pytester) -> None:
    assert not [e for e in entry_points(group="pytest11") if e.value.startswith("otel_8x8")]
    pytester.makepyfile(USES_THE_FAKE)
    result = pytester.runpytest(*BARE_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'fake_8x8' not found*"])


def test_opting_in_with_dash_p(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_THE_FAKE)
    result = pytester.runpytest(*BARE_ARGS, "-p", PLUGIN)
    result.assert_outcomes(passed=1)


def test_opting_in_with_pytest_plugins_in_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"pytest_plugins = [{PLUGIN!r}]\n")
    pytester.makepyfile(USES_THE_FAKE)
    result = pytester.runpytest(*BARE_ARGS)
    result.assert_outcomes(passed=1)
    assert pytest_plugin.__name__ == PLUGIN


def test_fake_8x8_is_started_for_the_test_and_stopped_after(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket

        import requests

        PORTS = []


        def test_uses_the_fake(fake_8x8):
            PORTS.append(fake_8x8.port)
            response = requests.post(f"{fake_8x8.url}/api/v1/subaccounts/acme/messages",
                                     json={"destination": "+6591234567", "text": "FAIL 1002"},
                                     headers={"Authorization": "Bearer k"}, timeout=5)
            assert response.status_code == 400
            assert response.json()["code"] == 1002
            assert fake_8x8.requests[0].json()["text"] == "FAIL 1002"


        def test_a_new_fake_each_test(fake_8x8):
            assert fake_8x8.requests == []


        def test_the_first_fake_was_stopped():
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", PORTS[0])) != 0
        """
    )
    result = pytester.runpytest(*INNER_ARGS)
    result.assert_outcomes(passed=3)


def test_instrumented_8x8_with_given_providers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROVIDERS_CONFTEST)
    pytester.makepyfile(RETRY_TESTS)
    result = pytester.runpytest(*INNER_ARGS)
    result.assert_outcomes(passed=3)
    assert not EightByEightInstrumentor().is_instrumented_by_opentelemetry


def test_instrumented_8x8_with_the_global_providers(pytester: pytest.Pytester) -> None:
    # In a subprocess: the global tracer provider can be set only once in a process.
    pytester.makeconftest(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        SPANS = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(SPANS))
        trace.set_tracer_provider(provider)
        """
    )
    pytester.makepyfile(
        """
        import httpx

        from conftest import SPANS


        def test_global_provider(instrumented_8x8, fake_8x8):
            httpx.post(f"{fake_8x8.url}/api/v1/subaccounts/acme/messages", json={"text": "hi"})  # no key: 1200
            [span] = SPANS.get_finished_spans()
            assert span.attributes["com.8x8.error.code"] == 1200
            assert span.attributes["com.8x8.error.category"] == "auth"
            assert span.attributes["server.port"] == fake_8x8.port
        """
    )
    result = pytester.runpytest_subprocess(*INNER_ARGS)
    result.assert_outcomes(passed=1)


def test_a_failing_assertion_still_fails(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROVIDERS_CONFTEST)
    pytester.makepyfile(
        """
        def test_expects_a_span_that_is_not_there(instrumented_8x8, fake_8x8, spans):
            assert spans.get_finished_spans(), "no span recorded"
        """
    )
    result = pytester.runpytest(*INNER_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no span recorded*"])
    assert not EightByEightInstrumentor().is_instrumented_by_opentelemetry


def test_instrumented_8x8_refuses_an_already_instrumented_otel_8x8(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        from otel_8x8 import EightByEightInstrumentor


        @pytest.fixture
        def already():
            instrumentor = EightByEightInstrumentor()
            instrumentor.instrument()
            yield
            instrumentor.uninstrument()


        def test_it(already, instrumented_8x8):
            pass
        """
    )
    result = pytester.runpytest(*INNER_ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*EightByEightInstrumentor is already instrumented*"])
    assert not EightByEightInstrumentor().is_instrumented_by_opentelemetry


def test_hosts_are_completed_with_the_fake() -> None:
    with FakeEightByEight() as fake:
        assert pytest_plugin._hosts_with(fake, None) == [fake.netloc]
        assert pytest_plugin._hosts_with(fake, "gw.example.com, x.example.com=sms") == [
            "gw.example.com",
            "x.example.com=sms",
            fake.netloc,
        ]
        assert pytest_plugin._hosts_with(fake, [f"{fake.netloc}=chatapps"]) == [f"{fake.netloc}=chatapps"]
        with pytest.raises(TypeError):
            pytest_plugin._hosts_with(fake, 42)
