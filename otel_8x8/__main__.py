"""``python -m otel_8x8 explain 1002`` / ``python -m otel_8x8 codes``: see :mod:`otel_8x8.cli`."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
