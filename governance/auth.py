"""API authentication (hashed tokens, session) and the failed-login lockout response."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework import authentication, exceptions

from . import tokens
from .models import ApiToken

TOKEN_TOUCH_INTERVAL_SECONDS = 300


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        prefix = tokens.split_prefix(key)
        token = (
            ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        )
        if token is None or not tokens.matches(key, token.key_hash):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > TOKEN_TOUCH_INTERVAL_SECONDS:
            # Bookkeeping, not a user write: throttled so reads do not write on every call.
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with DRF's CSRF enforcement."""


def lockout_response(request, credentials, *args, **kwargs):
    message = "Too many failed login attempts. Try again later or ask an admin to unlock the account."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
