"""Routes of the `webhooks` entry point; mounted by bounce_worker.http.app under /webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
