"""Routes of the `v1` entry point; mounted by bounce_worker.http.app under /v1.

Identity comes from the API key (`identity.py`); each module holds one group of routes.
"""

from __future__ import annotations

from fastapi import APIRouter

from bounce_worker.http.v1 import (
    account,
    changes,
    checks,
    contacts,
    events,
    files,
    platform,
    policy,
)
from bounce_worker.http.v1.identity import ApiError, api_error

__all__ = ["ApiError", "api_error", "router"]

router = APIRouter()
for module in (checks, contacts, changes, files, platform, account, events, policy):
    router.include_router(module.router)
