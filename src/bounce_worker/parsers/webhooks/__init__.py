"""ESP webhooks -> Events. One module per provider; each exposes `parse(payload)`.

Organization and list travel with the message as the sender's own metadata, which every
provider echoes back: SES message tags or the X-Organization / List-Id headers, SendGrid
custom args, Mailgun user-variables, Postmark Metadata. Keys read: `organization` (or
`org`) and `list` (or `list_id`).

Events the provider reports but that are not feedback for suppression (opens, clicks,
"processed", provider-side drops of already suppressed addresses, deferrals that the
provider will retry) yield no event rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bounce_worker.domain.events import Event
from bounce_worker.parsers._common import ParseError

PROVIDERS = ("ses", "sendgrid", "mailgun", "postmark")


def parse_webhook(provider: str, payload: object) -> list[Event]:
    parser = _parser(provider)
    try:
        return parser(payload)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"{provider} payload nested too deeply") from None
    except Exception as exc:  # malformed shapes of any kind end as a dead-letter reason
        raise ParseError(
            f"malformed {provider} payload: {type(exc).__name__}: {str(exc)[:120]}"
        ) from None


def _parser(provider: str) -> Callable[[object], list[Event]]:
    from bounce_worker.parsers.webhooks import mailgun, postmark, sendgrid, ses

    parsers = {
        "ses": ses.parse,
        "sendgrid": sendgrid.parse,
        "mailgun": mailgun.parse,
        "postmark": postmark.parse,
    }
    if not isinstance(provider, str) or provider.strip().lower() not in parsers:
        raise ParseError(
            f"unknown webhook provider {str(provider)[:40]!r} "
            f"(expected one of {', '.join(PROVIDERS)})"
        )
    return parsers[provider.strip().lower()]


def require_mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def require_str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ParseError(f"{what} lacks {key!r}")
    return value.strip()


def metadata(values: object) -> tuple[str | None, str | None]:
    """(organization, list) from a provider's custom metadata mapping."""
    if not isinstance(values, Mapping):
        return None, None
    org = _scalar(values.get("organization", values.get("org")))
    lst = _scalar(values.get("list", values.get("list_id")))
    return org, lst


def _scalar(value: object) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None
