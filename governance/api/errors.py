"""Map domain errors onto DRF's error shape and status codes; never an HTML page on /api/."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {exc.field: [exc.message]} if exc.field and exc.status_code == 400 else {"detail": exc.message}
        body.update(exc.details)
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: a row deleted by a concurrent request between lookup and write
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, ProtectedError | RestrictedError):
        return Response({"detail": "Other records depend on this one, so it cannot be deleted."}, status=409)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):  # ValidationError(["..."]): one shape only
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, detail: str) -> JsonResponse:
    """The error shape of DRF, for what fails before or outside a DRF view (unknown paths, crashes)."""
    response = JsonResponse({"detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    return response
