"""The ways an application calls 8x8 in these tests: requests, httpx, async httpx, aiohttp."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import requests

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
    "aiohttp": call_aiohttp,
}
