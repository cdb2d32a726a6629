"""A plain 8x8 SMS app: it knows nothing about OpenTelemetry.

Run it under ``opentelemetry-instrument`` (see ``examples/run_demo.py``) and every call it makes
to 8x8 becomes a span; the failed ones also a log record and a ``com.8x8.api.errors`` count.

Environment: ``EIGHTXEIGHT_SMS_URL`` (default ``https://sms.8x8.com``), ``EIGHTXEIGHT_API_KEY``,
``EIGHTXEIGHT_SUBACCOUNT``.
"""

from __future__ import annotations

import os

import requests

BASE_URL = os.environ.get("EIGHTXEIGHT_SMS_URL", "https://sms.8x8.com").rstrip("/")
API_KEY = os.environ.get("EIGHTXEIGHT_API_KEY", "demo-api-key")
SUBACCOUNT = os.environ.get("EIGHTXEIGHT_SUBACCOUNT", "acme-demo")
PHONE = "+6591234567"


def send_sms(session: requests.Session, text: str) -> requests.Response:
    return session.post(
        f"{BASE_URL}/api/v1/subaccounts/{SUBACCOUNT}/messages",
        json={"destination": PHONE, "text": text},
        timeout=10,
    )


def main() -> int:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {API_KEY}"
        for text in ("Your code is 123456", "FAIL 1002", "FAIL 1200"):
            response = send_sms(session, text)
            print(f"send {text!r}: HTTP {response.status_code}")
        response = session.get(f"{BASE_URL}/api/v1/subaccounts/{SUBACCOUNT}/phones/{PHONE}", timeout=10)
        print(f"lookup {PHONE}: HTTP {response.status_code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
