"""Routes of the `console` entry point; mounted by bounce_worker.http.app under /console.

The support console (docs/console.md): sign-in with an API key, search and the contact card,
the suppression list, statistics, the import check. Pages are in pages.py, what they read
in readmodel.py, the session cookie in session.py."""

from __future__ import annotations

from fastapi import FastAPI

from bounce_worker.http.console.pages import Denied, SignInNeeded, denied, router, sign_in_needed

__all__ = ["install", "router"]


def install(app: FastAPI) -> None:
    """The console's error pages: a redirect to sign-in, a one-line refusal page."""
    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(Denied, denied)
