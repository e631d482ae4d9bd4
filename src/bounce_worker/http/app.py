"""The ASGI app. FastAPI (on Starlette, under uvicorn): the operator API needs request
validation and an OpenAPI description, which FastAPI derives from the route signatures; the
webhook routes read the raw body themselves (signatures are computed over exact bytes)."""

from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bounce_worker import __version__
from bounce_worker.config import ConfigError, settings
from bounce_worker.http import console, errors, health, v1, webhooks
from bounce_worker.http.limits import BodySizeLimit
from bounce_worker.http.publish import BrokerUnavailable
from bounce_worker.http.v1.fastcheck import FastCheck


def create_app(*, max_body_bytes: int | None = None) -> FastAPI:
    """The whole service; each entry point's router is mounted under its own prefix."""
    app = FastAPI(
        title="bounce-worker",
        version=__version__,
        description="Delivery-feedback intake and the suppression API.",
    )
    app.include_router(health.router)
    app.include_router(webhooks.router, prefix="/webhooks")
    app.include_router(v1.router, prefix="/v1")
    app.include_router(console.router, prefix="/console")
    console.install(app)
    app.add_exception_handler(BrokerUnavailable, _broker_unavailable)
    app.add_exception_handler(v1.ApiError, v1.api_error)
    app.add_exception_handler(ConfigError, _misconfigured)
    errors.install(app)
    if max_body_bytes is not None:
        app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Outermost: an ordinary GET /v1/check is answered before the framework (fastcheck.py).
    app.add_middleware(FastCheck)
    return app


async def _broker_unavailable(_request: object, exc: Exception) -> JSONResponse:
    # 503 tells an ESP (and our own producers) to retry later: nothing was queued.
    return JSONResponse(
        {"error": f"broker unavailable, retry later: {exc}"},
        status_code=503,
        headers={"Retry-After": "30"},
    )


async def _misconfigured(_request: object, exc: Exception) -> JSONResponse:
    # A setting the answer needs is missing (e.g. the secret key once addresses were
    # forgotten: a check would read them active): 503 with the one-line reason, never a
    # wrong answer.
    return JSONResponse({"error": str(exc)}, status_code=503)


def app_from_settings() -> FastAPI:
    """The app as `serve` runs it (uvicorn's factory): limits from the environment."""
    app = create_app(max_body_bytes=settings().max_message_bytes)
    freeze_heap()
    return app


def freeze_heap() -> None:
    """Move every object alive now (modules, FastAPI's routes and models, SQLAlchemy's
    metadata: ~150,000) out of the garbage collector's reach. They live as long as the
    process, yet each full (generation 2) collection walked all of them: ~100 ms of one
    CPU, triggered about every other 10,000-address batch check and, under the single
    check's load, a stall of every request queued on that process meanwhile (the p99 and
    max of bench/api.py). Objects made per request are still collected as before."""
    gc.collect()
    gc.freeze()
