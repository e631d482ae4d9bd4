"""`bounce-worker serve`: the HTTP service (webhooks, the /v1 API, the console) under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from bounce_worker.cli.common import port_free, tcp_port
from bounce_worker.config import settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the HTTP service: ESP webhooks, the /v1 API and the console",
        description="Serve the HTTP entry points with uvicorn: POST /webhooks/... (signed ESP "
        "and gateway callbacks), the /v1 JSON API (API keys) and /console. Feedback is "
        "answered 2xx only after the broker accepted it (503 while the broker is down, so the "
        "sender retries). GET /healthz for load balancers; OpenAPI at /docs.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=tcp_port, default=8025, help="TCP port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (default: %(default)s; one per core is typical)",
    )
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings()  # a bad setting fails here, as one line, before the server starts
    port_free(args.host, args.port)  # uvicorn's own message would be a log line, exit 3
    uvicorn.run(
        "bounce_worker.http.app:app_from_settings",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0
