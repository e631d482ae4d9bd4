"""Routes of the `console` entry point; mounted by bounce_worker.http.app under /console."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
