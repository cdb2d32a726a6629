"""An unmodified application that gets streamed 8x8 errors and holds the responses, unread and unclosed, until it
exits. Base URL from EIGHTXEIGHT_URL. Prints one line per call: "<client> <status>"."""

from __future__ import annotations

import os
from typing import Any

import httpx
import requests

URL = os.environ["EIGHTXEIGHT_URL"] + "/api/v1/subaccounts/acme/messages"
HEADERS = {"Authorization": "Bearer sk-live-SECRET-0000"}

held: list[Any] = [requests.post(URL, json={"text": "hi"}, headers=HEADERS, stream=True, timeout=10)]
client = httpx.Client(timeout=10)
held.append(client.send(client.build_request("POST", URL, json={"text": "hi"}, headers=HEADERS), stream=True))
print("requests", held[0].status_code, flush=True)
print("httpx", held[1].status_code, flush=True)
