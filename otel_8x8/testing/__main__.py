"""Run the fake 8x8 API server: ``python -m otel_8x8.testing [--host 127.0.0.1] [--port 0] [--product NAME]``.

Prints ``FAKE_8X8_URL=http://HOST:PORT`` on one line once listening, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from otel_8x8.products import PRODUCTS
from otel_8x8.testing.fake_api import FakeEightByEight


def main(argv: Sequence[str] | None = None) -> int:
    """Start the fake server, print its URL and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m otel_8x8.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--product",
        choices=sorted(PRODUCTS),
        default=None,
        help="answer this product's routes only, as its own host would (default: every product's, as a gateway)",
    )
    args = parser.parse_args(argv)

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    with FakeEightByEight(host=args.host, port=args.port, product=args.product) as fake:
        print(f"FAKE_8X8_URL={fake.url}", flush=True)
        while not stop_requested.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
