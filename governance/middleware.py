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


class UploadSizeLimitMiddleware:
    """Refuse an oversized upload from its Content-Length, before Django reads the body (413)."""

    OVERHEAD = 1024 * 1024  # multipart boundaries and form fields around the file

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.http import JsonResponse
        from django.shortcuts import render

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_UPLOAD_BYTES
        if length > limit + self.OVERHEAD:
            message = f"The upload is larger than the {limit // (1024 * 1024)} MB limit."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return render(request, "errors/413.html", {"message": message}, status=413)
        return self.get_response(request)


class NoStoreMiddleware:
    """API answers, artifact downloads and exports carry data no shared or browser cache should keep."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") or response.has_header("Content-Disposition"):
            response["Cache-Control"] = "no-store"
        return response
