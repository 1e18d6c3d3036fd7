from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, permissions, status, throttling, viewsets
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response

from governance import selectors, services
from governance.filtersets import AuditEventFilterSet
from governance.models import ApiToken
from governance.permissions import Action

from .serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEventSerializer,
)


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The tamper-evident audit log, newest first. Read-only."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    search_fields = ["action", "object_label", "actor_username"]
    ordering_fields = ["seq", "created_at", "action"]
    lookup_field = "seq"

    def get_queryset(self):
        return selectors.audit_event_list()


class TokenCreateThrottle(throttling.AnonRateThrottle):
    scope = "token_create"


class TokenCreatePermission(permissions.BasePermission):
    """Creating a token is open to anyone who proves who they are with username and password."""

    def has_permission(self, request, view):
        return request.method == "POST" or bool(request.user and request.user.is_authenticated)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your own API tokens. Create with your session or with username + password; revoke with DELETE."""

    serializer_class = ApiTokenSerializer
    filter_backends = []
    required_action = Action.TOKEN_MANAGE_OWN
    read_action = Action.TOKEN_MANAGE_OWN
    lookup_value_regex = r"\d+"

    def get_permissions(self):
        if self.action == "create":
            return [TokenCreatePermission()]
        return super().get_permissions()

    def get_throttles(self):
        if self.action == "create":
            return [TokenCreateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        return selectors.api_token_list(user=self.request.user)

    @extend_schema(
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer, 400: OpenApiResponse(description="Invalid input"),
                   401: OpenApiResponse(description="Bad credentials"),
                   429: OpenApiResponse(description="Locked out after repeated failures")},
    )
    def create(self, request):
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if not user.is_authenticated:
            username, password = data.validated_data.get("username"), data.validated_data.get("password")
            if not username or not password:
                raise AuthenticationFailed("Send username and password, or authenticate first.")
            user = authenticate(request._request, username=username, password=password)
            if user is None:
                raise AuthenticationFailed("Invalid username or password.")
        token, key = services.api_token_create(
            actor=user, name=data.validated_data["name"], expires_at=data.validated_data.get("expires_at"),
            via_token=isinstance(request.auth, ApiToken),
        )
        body = ApiTokenCreatedSerializer(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="Not one of your tokens"),
                              409: OpenApiResponse(description="Already revoked")})
    def destroy(self, request, pk=None):
        services.api_token_revoke(actor=request.user, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiDocsRedirect(generics.GenericAPIView):
    """The API reference lives in the app, with its navigation: /docs/api/."""

    @extend_schema(exclude=True)
    def get(self, request):
        from django.shortcuts import redirect

        return redirect("api-docs")


class MeView(generics.GenericAPIView):
    """Who am I: username and roles."""

    read_action = Action.TOKEN_MANAGE_OWN

    @extend_schema(responses={200: dict})
    def get(self, request):
        from governance.permissions import roles_of

        return Response({"username": request.user.username, "roles": sorted(roles_of(request.user))})


class AttestationPublicKeyView(generics.GenericAPIView):
    """The Ed25519 public key that verifies release attestations (PEM), for any signed-in user or token."""

    read_action = Action.TOKEN_MANAGE_OWN

    @extend_schema(responses={(200, "application/x-pem-file"): str})
    def get(self, request):
        from django.http import HttpResponse

        from governance import attestation

        return HttpResponse(attestation.public_key_pem(), content_type="application/x-pem-file")
