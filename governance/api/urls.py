from django.urls import path
from rest_framework.routers import SimpleRouter

from . import policies, registry, views

router = SimpleRouter(trailing_slash=True)
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("auth/tokens", views.ApiTokenViewSet, basename="token")
router.register("models", registry.RegisteredModelViewSet, basename="model")
router.register(r"models/(?P<model_name>[-a-zA-Z0-9_]+)/versions", registry.ModelVersionViewSet, basename="version")
router.register("datasets", registry.DatasetViewSet, basename="dataset")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("keys/attestation.pub", views.AttestationPublicKeyView.as_view(), name="attestation-public-key"),
    path("policies/", policies.PolicyListView.as_view(), name="policy-list"),
    path("policies/<slug:risk_tier>/", policies.TierPolicyView.as_view(), name="policy-tier"),
    path("models/<slug:model_name>/policy/", policies.ModelPolicyView.as_view(), name="policy-model"),
    *router.urls,
]
