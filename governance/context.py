"""Who is acting and through what channel, for audit events written deep inside services."""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass

from .choices import Channel


@dataclass(frozen=True)
class RequestMeta:
    channel: str = Channel.SYSTEM
    ip_address: str | None = None
    user_agent: str = ""


_current = contextvars.ContextVar("bulwark_request_meta", default=RequestMeta())  # noqa: B039 (frozen)


def current_meta() -> RequestMeta:
    return _current.get()


@contextmanager
def acting_as(meta: RequestMeta):
    token = _current.set(meta)
    try:
        yield meta
    finally:
        _current.reset(token)


def meta_from_request(request) -> RequestMeta:
    channel = Channel.API if request.path.startswith("/api/") else Channel.UI
    return RequestMeta(
        channel=channel,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
    )


def client_ip(request) -> str | None:
    from django.conf import settings

    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None
