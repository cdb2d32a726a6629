"""A FastAPI app that receives 8x8 delivery receipts, with otel-8x8's ASGI middleware on its webhook.

The app's own code stays as it was; one line adds :class:`otel_8x8.receipts.ReceiptsASGIMiddleware`. Every
receipt 8x8 POSTs to ``/webhooks/8x8`` then becomes a span ``8x8 delivery receipt`` carrying the message's
``com.8x8.message.umid`` (under opentelemetry-instrumentation-fastapi, a child of the request's SERVER span);
an undelivered one also a WARNING log record and a ``com.8x8.delivery.errors`` count.

Run it under ``opentelemetry-instrument`` (or with your own SDK set-up)::

    opentelemetry-instrument python examples/receipts_fastapi.py
    curl -X POST localhost:8000/webhooks/8x8 -H 'Content-Type: application/json' -d @receipt.json
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request, Response

from otel_8x8.receipts import ReceiptsASGIMiddleware

WEBHOOK_PATH = "/webhooks/8x8"

app = FastAPI()
last_state: dict[str, str] = {}  # umid -> state: what an app typically keeps

# The one line otel-8x8 needs: the receipts POSTed to WEBHOOK_PATH are recorded, nothing else is touched.
app.add_middleware(ReceiptsASGIMiddleware, path=WEBHOOK_PATH)


@app.post(WEBHOOK_PATH, status_code=204)
async def delivery_receipt(request: Request) -> Response:
    try:
        event: Any = await request.json()
    except ValueError:
        event = None
    if isinstance(event, dict) and event.get("eventType") == "outbound_message_status_changed":
        payload = event.get("payload") or {}
        status = payload.get("status") or {}
        last_state[str(payload.get("umid"))] = str(status.get("state"))
    return Response(status_code=204)  # any 2xx: 8x8 retries after 4xx/5xx


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")))
