"""The ways an application calls 8x8 in these tests: requests, httpx, async httpx, urllib3, aiohttp."""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import requests
import urllib3

from .conftest import API_KEY


@dataclass
class Result:
    status: int
    content: bytes
    headers: dict[str, str]
    response: Any


Call = Callable[..., Result]


def _headers(extra: dict[str, str] | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}", **(extra or {})}


def call_requests(method: str, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Result:
    with requests.Session() as session:
        response = session.request(method, url, json=json, headers=_headers(headers), timeout=10)
    return Result(response.status_code, response.content, dict(response.headers), response)


def call_httpx(method: str, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Result:
    with httpx.Client(timeout=10) as client:
        response = client.request(method, url, json=json, headers=_headers(headers))
    return Result(response.status_code, response.content, dict(response.headers), response)


def call_httpx_async(method: str, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Result:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.request(method, url, json=json, headers=_headers(headers))

    response = asyncio.run(run())
    return Result(response.status_code, response.content, dict(response.headers), response)


def call_urllib3(method: str, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Result:
    """As a client generated from 8x8's specifications calls: ``PoolManager.request`` (urllib3 1.26 and 2.x)."""
    sent = _headers(headers)
    body = None
    if json is not None:
        body = jsonlib.dumps(json).encode()
        sent["Content-Type"] = "application/json"
    with urllib3.PoolManager(timeout=10) as pool:
        response = pool.request(method, url, body=body, headers=sent)
    return Result(response.status, response.data, dict(response.headers), response)


def call_aiohttp(method: str, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Result:
    async def run() -> tuple[aiohttp.ClientResponse, bytes]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.request(method, url, json=json, headers=_headers(headers)) as response,
        ):
            return response, await response.read()

    response, content = asyncio.run(run())
    return Result(response.status, content, dict(response.headers), response)


CLIENTS: dict[str, Call] = {
    "requests": call_requests,
    "httpx": call_httpx,
    "httpx-async": call_httpx_async,
    "urllib3": call_urllib3,
    "aiohttp": call_aiohttp,
}
