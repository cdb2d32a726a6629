"""A Flask app that receives 8x8 delivery receipts, with otel-8x8's WSGI middleware on its webhook.

The app's own code stays as it was; one line mounts :class:`otel_8x8.receipts.ReceiptsMiddleware`. Every
receipt 8x8 POSTs to ``/webhooks/8x8`` then becomes a span ``8x8 delivery receipt`` carrying the message's
``com.8x8.message.umid``; an undelivered one also a WARNING log record and a ``com.8x8.delivery.errors`` count.

Run it under ``opentelemetry-instrument`` (or with your own SDK set-up)::

    opentelemetry-instrument python examples/receipts_flask.py
    curl -X POST localhost:8000/webhooks/8x8 -H 'Content-Type: application/json' -d @receipt.json

Point 8x8's webhook (Webhooks Configuration API, or ``dlrCallbackUrl`` on a send) at ``https://<host>/webhooks/8x8``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request

from otel_8x8.receipts import ReceiptsMiddleware

WEBHOOK_PATH = "/webhooks/8x8"

app = Flask(__name__)
last_state: dict[str, str] = {}  # umid -> state: what an app typically keeps


@app.post(WEBHOOK_PATH)
def delivery_receipt() -> Response:
    event: Any = request.get_json(silent=True)
    if isinstance(event, dict) and event.get("eventType") == "outbound_message_status_changed":
        payload = event.get("payload") or {}
        status = payload.get("status") or {}
        last_state[str(payload.get("umid"))] = str(status.get("state"))
    return Response(status=204)  # any 2xx: 8x8 retries after 4xx/5xx


# The one line otel-8x8 needs: the receipts POSTed to WEBHOOK_PATH are recorded, nothing else is touched.
app.wsgi_app = ReceiptsMiddleware(app.wsgi_app, path=WEBHOOK_PATH)  # type: ignore[method-assign]


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")))
