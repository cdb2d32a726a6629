"""A large batch answer on the application's thread: a 3.3 MiB successful batch send, read by the application
(``r.json()``) over real HTTP from a local server, without and with otel-8x8 (issue 12 item 9).

    python benchmarks/bench_batch.py [--calls 40] [--rejected 0]

Prints the wall time per call (median and mean) of both, and otel-8x8's share. ``--rejected N`` makes N messages
rejected: then otel-8x8 parses the whole answer for the rejection reasons (bounded at 4 MiB), as it must.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from inprocess import install_sdk

from otel_8x8 import EightByEightInstrumentor

PATH = "/api/v1/subaccounts/acme/messages/batch"


def batch_answer(messages: int, rejected: int) -> bytes:
    items = [
        {
            "umid": str(uuid.uuid4()),
            "clientMessageId": f"client-{i}",
            "destination": "+6591234567",
            "encoding": "GSM7",
            "status": {"code": "REJECTED", "description": "Invalid MSISDN format"}
            if i < rejected
            else {"code": "QUEUED", "description": "SMS is accepted and queued for processing"},
        }
        for i in range(messages)
    ]
    answer = {
        "batchId": str(uuid.uuid4()),
        "clientBatchId": "bench",
        "acceptedCount": messages - rejected,
        "rejectedCount": rejected,
        "messages": items,
    }
    return json.dumps(answer).encode()


def serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed_calls(url: str, calls: int) -> list[float]:
    times = []
    with requests.Session() as session:
        for _ in range(calls + 2):
            start = time.perf_counter()
            session.post(url, json={"messages": []}, timeout=30).json()
            times.append(time.perf_counter() - start)
    return times[2:]  # the first calls warm up connections and caches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--messages", type=int, default=16_500, help="16,500 messages make 3.3 MiB")
    parser.add_argument("--rejected", type=int, default=0)
    args = parser.parse_args()
    body = batch_answer(args.messages, args.rejected)
    server = serve(body)
    url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    install_sdk()
    print(f"batch answer: {len(body) / 2**20:.2f} MiB, {args.messages} messages, {args.rejected} rejected")
    plain = timed_calls(url, args.calls)
    instrumentor = EightByEightInstrumentor()
    instrumentor.instrument(hosts=[f"127.0.0.1:{server.server_address[1]}=sms"])
    try:
        instrumented = timed_calls(url, args.calls)
    finally:
        instrumentor.uninstrument()
        server.shutdown()
    for name, times in (("uninstrumented", plain), ("otel-8x8", instrumented)):
        print(
            f"{name:>15}: median {statistics.median(times) * 1e3:7.2f} ms, mean {statistics.mean(times) * 1e3:7.2f} ms"
        )
    added = statistics.median(instrumented) - statistics.median(plain)
    print(f"otel-8x8 adds {added * 1e3:+.2f} ms per call (median), {added / statistics.median(plain):+.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
