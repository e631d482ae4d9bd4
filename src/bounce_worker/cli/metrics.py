"""`bounce-worker metrics`: serve the domain figures on /metrics for Prometheus."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker.config import settings
from bounce_worker.observability.exporter import serve


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "metrics",
        help="serve Prometheus metrics: transitions, dead letters, queue depth, entries",
        description="Serve /metrics until stopped. Counters from the workers are read from "
        "PROMETHEUS_MULTIPROC_DIR (set the same directory for the workers); entry counts, "
        "waiting dead letters and queue depth are read from the database and broker on "
        "each scrape.",
    )
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 inside a container)",
    )
    parser.add_argument("--port", type=_port, default=9808, help="TCP port (default: 9808)")
    parser.set_defaults(func=run_metrics)


def run_metrics(args: argparse.Namespace) -> int:
    s = settings()
    print(f"serving metrics on http://{args.address}:{args.port}/metrics", flush=True)
    serve(s, args.address, args.port)
    return 0


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value!r}")
    return int(value)
