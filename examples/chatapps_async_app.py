"""A plain 8x8 Chat Apps app using async httpx: it knows nothing about OpenTelemetry.

It sends a few WhatsApp-style text messages concurrently. Run it under ``opentelemetry-instrument`` and every
call becomes a CLIENT span with ``com.8x8.*`` attributes; the ones 8x8 rejects also give a log record and a
``com.8x8.api.errors`` count. (Against the fake 8x8 API of ``otel_8x8.testing``, a text ``"FAIL <code>"`` is
answered with that 8x8 error.)

Environment: ``EIGHTXEIGHT_CHATAPPS_URL`` (default ``https://chatapps.8x8.com``), ``EIGHTXEIGHT_API_KEY``,
``EIGHTXEIGHT_SUBACCOUNT``.
"""

from __future__ import annotations

import asyncio
import os

import httpx

BASE_URL = os.environ.get("EIGHTXEIGHT_CHATAPPS_URL", "https://chatapps.8x8.com").rstrip("/")
API_KEY = os.environ.get("EIGHTXEIGHT_API_KEY", "demo-api-key")
SUBACCOUNT = os.environ.get("EIGHTXEIGHT_SUBACCOUNT", "acme-chat")
PHONE = "+6591234567"
TEXTS = ("Your parcel is on its way", "FAIL 3003", "FAIL 3038")


async def send_message(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/subaccounts/{SUBACCOUNT}/messages",
        json={"user": {"msisdn": PHONE}, "type": "text", "content": {"text": text}},
    )


async def main() -> int:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=BASE_URL, headers=headers, timeout=10) as client:
        responses = await asyncio.gather(*(send_message(client, text) for text in TEXTS))
    for text, response in zip(TEXTS, responses, strict=True):
        print(f"send {text!r}: HTTP {response.status_code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
