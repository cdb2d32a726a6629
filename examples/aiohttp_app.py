"""A plain async service sending 8x8 SMS with aiohttp: it knows nothing about OpenTelemetry.

Its ``SmsApi`` is shaped like a client generated from 8x8's OpenAPI specification: one method per operation,
the session's base URL and bearer token set once, an ``ApiError`` carrying the status and the parsed error body
for any answer >= 400. It sends a few messages concurrently and one batch. Run it under
``opentelemetry-instrument`` and every call becomes a CLIENT span with ``com.8x8.*`` attributes (the error's
code and category, a message's umid, a batch's rejections), read from the bodies the app itself reads.
(Against the fake 8x8 API of ``otel_8x8.testing``, a text ``"FAIL <code>"`` is answered with that 8x8 error.)

Environment: ``EIGHTXEIGHT_SMS_URL`` (default ``https://sms.8x8.com``), ``EIGHTXEIGHT_API_KEY``,
``EIGHTXEIGHT_SUBACCOUNT``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp

BASE_URL = os.environ.get("EIGHTXEIGHT_SMS_URL", "https://sms.8x8.com").rstrip("/")
API_KEY = os.environ.get("EIGHTXEIGHT_API_KEY", "demo-api-key")
SUBACCOUNT = os.environ.get("EIGHTXEIGHT_SUBACCOUNT", "acme-sms")
PHONE = "+6591234567"
TEXTS = ("Your parcel is on its way", "FAIL 1002", "FAIL 1200")
BATCH = ("Sale starts today", "FAIL 1002", "See you soon")


class ApiError(Exception):
    """An answer >= 400: its status and what 8x8 said."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body.get('code')} {body.get('message')}")
        self.status = status
        self.body = body


class SmsApi:
    """The two SMS operations this service uses."""

    def __init__(self, session: aiohttp.ClientSession, subaccount: str) -> None:
        self.session = session
        self.subaccount = subaccount

    async def send_sms(self, destination: str, text: str) -> dict[str, Any]:
        return await self._post(
            f"/api/v1/subaccounts/{self.subaccount}/messages", {"destination": destination, "text": text}
        )

    async def send_sms_batch(self, destination: str, texts: tuple[str, ...]) -> dict[str, Any]:
        messages = [{"destination": destination, "text": text} for text in texts]
        return await self._post(f"/api/v1/subaccounts/{self.subaccount}/messages/batch", {"messages": messages})

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(path, json=payload) as response:
            body: dict[str, Any] = await response.json()
            if response.status >= 400:
                raise ApiError(response.status, body)
            return body


async def main() -> int:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url=BASE_URL, headers=headers, timeout=timeout) as session:
        api = SmsApi(session, SUBACCOUNT)
        results = await asyncio.gather(*(api.send_sms(PHONE, text) for text in TEXTS), return_exceptions=True)
        for text, result in zip(TEXTS, results, strict=True):
            outcome = (
                f"error {result.status} code {result.body.get('code')}" if isinstance(result, ApiError) else "sent"
            )
            print(f"send {text!r}: {outcome}")
        batch = await api.send_sms_batch(PHONE, BATCH)
        print(f"batch of {len(BATCH)}: {batch.get('acceptedCount')} accepted, {batch.get('rejectedCount')} rejected")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
