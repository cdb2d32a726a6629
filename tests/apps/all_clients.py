"""An unmodified application: calls 8x8 with requests, httpx and async httpx (whichever import).

Base URL from EIGHTXEIGHT_URL. Prints one line per call: "<client> <status>".
"""

from __future__ import annotations

import asyncio
import os
import sys

BASE = os.environ["EIGHTXEIGHT_URL"]
HEADERS = {"Authorization": "Bearer sk-live-SECRET-0000"}
SEND = "/api/v1/subaccounts/acme/messages"
BODIES = [{"destination": "+6591234567", "text": "hello"}, {"destination": "+6591234567", "text": "FAIL 1002"}]


def with_requests() -> None:
    import requests

    for body in BODIES:
        response = requests.post(BASE + SEND, json=body, headers=HEADERS, timeout=10)
        print("requests", response.status_code, flush=True)


def with_httpx() -> None:
    import httpx

    with httpx.Client(timeout=10) as client:
        for body in BODIES:
            print("httpx", client.post(BASE + SEND, json=body, headers=HEADERS).status_code, flush=True)

    async def run() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for body in BODIES:
                response = await client.post(BASE + SEND, json=body, headers=HEADERS)
                print("httpx-async", response.status_code, flush=True)

    asyncio.run(run())


def main() -> None:
    for name, run in (("requests", with_requests), ("httpx", with_httpx)):
        try:
            run()
        except ImportError:
            print(name, "not installed", file=sys.stderr)


if __name__ == "__main__":
    main()
