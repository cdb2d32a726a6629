"""otel-8x8 patches a library when the application first imports it: ``instrument()`` imports none of
requests, httpx, urllib3 or aiohttp itself (an app that only uses requests never loads aiohttp), and a library
imported after ``uninstrument()`` is left alone. Each case in a fresh interpreter, where nothing is imported yet."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from otel_8x8.testing import FakeEightByEight

pytestmark = pytest.mark.e2e  # a subprocess each

LIBRARIES = ("requests", "httpx", "urllib3", "aiohttp")


def run(code: str, fake: FakeEightByEight) -> dict[str, object]:
    prelude = f"""
        import json, sys
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from otel_8x8 import EightByEightInstrumentor
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        instrumentor = EightByEightInstrumentor()
        URL = "{fake.url}/api/v1/subaccounts/acme/messages"
        LIBRARIES = {LIBRARIES!r}
        def loaded():
            return [name for name in LIBRARIES if name in sys.modules]
        def span_names():
            return [span.name for span in exporter.get_finished_spans()]
        out = {{}}
    """
    script = textwrap.dedent(prelude) + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_instrument_imports_no_library_and_patches_each_on_its_first_import(fake: FakeEightByEight) -> None:
    out = run(
        f"""
        instrumentor.instrument(tracer_provider=provider, hosts=["{fake.netloc}=sms"])
        out["loaded after instrument"] = loaded()
        out["patched after instrument"] = instrumentor.patched_methods()
        import requests
        out["loaded after import requests"] = loaded()
        out["patched after import requests"] = instrumentor.patched_methods()
        requests.post(URL, json={{"destination": "+6591234567", "text": "hi"}}, timeout=10)
        out["spans"] = span_names()
        """,
        fake,
    )
    assert out["loaded after instrument"] == []
    assert out["patched after instrument"] == []
    assert out["loaded after import requests"] == ["requests", "urllib3"]  # requests imports urllib3
    assert out["patched after import requests"] == [
        "urllib3.connectionpool.HTTPConnectionPool.urlopen",
        "requests.sessions.Session.send",
    ]
    assert out["spans"] == ["POST /api/v1/subaccounts/{subAccountId}/messages (sms)"]


def test_a_library_imported_after_uninstrument_is_left_alone_and_instrument_again_patches_it(
    fake: FakeEightByEight,
) -> None:
    out = run(
        f"""
        instrumentor.instrument(tracer_provider=provider, hosts=["{fake.netloc}=sms"])
        instrumentor.uninstrument()
        import httpx
        original = httpx.Client.__dict__["send"]
        out["own send after uninstrument"] = type(original).__name__ == "function"
        out["patched after uninstrument"] = instrumentor.patched_methods()
        httpx.post(URL, json={{"text": "hi"}})
        out["spans after uninstrument"] = span_names()
        instrumentor.instrument(tracer_provider=provider, hosts=["{fake.netloc}=sms"])
        out["patched again"] = instrumentor.patched_methods()
        httpx.post(URL, json={{"text": "hi"}})
        out["spans again"] = span_names()
        instrumentor.uninstrument()
        out["restored"] = httpx.Client.__dict__["send"] is original
        """,
        fake,
    )
    assert out["own send after uninstrument"] is True
    assert out["patched after uninstrument"] == []
    assert out["spans after uninstrument"] == []
    assert out["patched again"] == ["httpx.Client.send", "httpx.AsyncClient.send"]
    assert out["spans again"] == ["POST /api/v1/subaccounts/{subAccountId}/messages (sms)"]
    assert out["restored"] is True
