"""Routes of the `v1` entry point; mounted by bounce_worker.http.app under /v1."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
