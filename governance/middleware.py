from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware

from .context import _current, meta_from_request

PUBLIC_PREFIXES = ("/static/", "/healthz")


class RequestContextMiddleware:
    """Remember the channel, IP and user agent of this request for audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current.set(meta_from_request(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Login everywhere except the login page, /healthz and static files.

    API paths are left to DRF, which answers 401 (not a redirect) to anonymous callers.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith("/api/") or request.path.startswith(PUBLIC_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
