"""A webhook that fails its provider's authentication: status, one-line reason, metric."""

from __future__ import annotations


class Refused(Exception):
    """401: the request does not prove who sent it; 403: it proves it, and is still refused
    (topic not allowed, stale or replayed). `code` labels the metric (a fixed, short word)."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


def unauthenticated(code: str, reason: str) -> Refused:
    return Refused(401, code, reason)


def forbidden(code: str, reason: str) -> Refused:
    return Refused(403, code, reason)


def not_configured(provider: str, variables: str) -> Refused:
    # Refuse rather than accept unsigned feedback: an endpoint without its secret is closed.
    return Refused(403, "not_configured", f"{provider} webhook is not configured: set {variables}")
