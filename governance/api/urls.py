from django.urls import path
from rest_framework.routers import SimpleRouter

from . import registry, views

router = SimpleRouter(trailing_slash=True)
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("auth/tokens", views.ApiTokenViewSet, basename="token")
router.register("models", registry.RegisteredModelViewSet, basename="model")
router.register(r"models/(?P<model_name>[-a-zA-Z0-9_]+)/versions", registry.ModelVersionViewSet, basename="version")
router.register("datasets", registry.DatasetViewSet, basename="dataset")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("keys/attestation.pub", views.AttestationPublicKeyView.as_view(), name="attestation-public-key"),
    *router.urls,
]
