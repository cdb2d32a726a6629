"""At instrument time otel-8x8 says, at DEBUG on its logger, what it patched: the first thing to read when
an app gets no spans. Never a host name, header or key: only method names and a count."""

from __future__ import annotations

import logging

import aiohttp  # noqa: F401  (imported before instrument(): it patches a library at once only when imported)
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
import urllib3  # noqa: F401

from otel_8x8 import EightByEightInstrumentor
from otel_8x8.hosts import HOSTS_ENV


def test_instrument_logs_what_it_patched_at_debug(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOSTS_ENV, "secret-gw.example.com=sms")
    instrumentor = EightByEightInstrumentor()
    with caplog.at_level(logging.DEBUG, logger="otel_8x8"):
        instrumentor.instrument(hosts=["127.0.0.1:9"])
        instrumentor.uninstrument()
    assert instrumentor.patched_methods() == []
    [record] = [r for r in caplog.records if r.name.startswith("otel_8x8") and "patched" in r.getMessage()]
    assert record.levelno == logging.DEBUG
    assert "secret-gw" not in record.getMessage()
    assert record.getMessage() == (
        "otel-8x8: patched requests.sessions.Session.send, httpx.Client.send, httpx.AsyncClient.send, "
        "urllib3.connectionpool.HTTPConnectionPool.urlopen, "
        "aiohttp.client.ClientSession._request, aiohttp.streams.StreamReader._read_nowait_chunk, "
        "aiohttp.streams.StreamReader.feed_eof, aiohttp.streams.StreamReader.set_exception; "
        "2 extra 8x8 host(s) configured"
    )
