"""A small Flask web service that sends one SMS through 8x8 per request: it knows nothing about OpenTelemetry.

``POST /notify`` with ``{"to": "+6591234567", "text": "..."}`` sends the SMS with ``requests`` and answers
with 8x8's status. Run it under ``opentelemetry-instrument`` with opentelemetry-instrumentation-flask
installed and the 8x8 CLIENT span is a child of the inbound request's SERVER span, in the same trace.

Environment: ``HOST`` (default ``127.0.0.1``), ``PORT`` (default ``8080``), ``EIGHTXEIGHT_SMS_URL`` (default
``https://sms.8x8.com``), ``EIGHTXEIGHT_API_KEY``, ``EIGHTXEIGHT_SUBACCOUNT``.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

BASE_URL = os.environ.get("EIGHTXEIGHT_SMS_URL", "https://sms.8x8.com").rstrip("/")
API_KEY = os.environ.get("EIGHTXEIGHT_API_KEY", "demo-api-key")
SUBACCOUNT = os.environ.get("EIGHTXEIGHT_SUBACCOUNT", "acme-demo")

app = Flask(__name__)
session = requests.Session()
session.headers["Authorization"] = f"Bearer {API_KEY}"


@app.post("/notify")
def notify() -> ResponseReturnValue:
    payload: dict[str, Any] = request.get_json(silent=True) or {}
    to, text = payload.get("to"), payload.get("text")
    if not isinstance(to, str) or not isinstance(text, str):
        return jsonify(error="'to' and 'text' are required strings"), 400
    response = session.post(
        f"{BASE_URL}/api/v1/subaccounts/{SUBACCOUNT}/messages",
        json={"destination": to, "text": text},
        timeout=10,
    )
    if response.ok:
        return jsonify(sent=True, umid=response.json().get("umid")), 200
    return jsonify(sent=False, status=response.status_code), 502


def stop(signum: int, frame: FrameType | None) -> None:
    """Exit normally on SIGTERM, so that exit handlers run (and whatever they flush is flushed)."""
    sys.exit(0)


def main() -> int:
    signal.signal(signal.SIGTERM, stop)
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8080")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
