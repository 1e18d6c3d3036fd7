"""Approval policies through the API: a tier's policy, or a model's own override, with its robustness thresholds."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from core.errors import NotFound
from governance import checks, services
from governance.choices import Check, RiskTier
from governance.models import ApprovalPolicy, RegisteredModel
from governance.permissions import Action

from .registry import ERRORS


class PolicySerializer(serializers.Serializer):
    risk_tier = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_null=True, source="model.name", default=None)
    required_approvals = serializers.IntegerField()
    admin_approval_required = serializers.BooleanField()
    required_checks = serializers.ListField(child=serializers.CharField())
    submit_with_failing_checks = serializers.BooleanField()
    robustness_thresholds = serializers.SerializerMethodField(
        help_text="The thresholds in force: the gate's defaults with this policy's own values over them.")
    robustness_thresholds_set = serializers.JSONField(source="robustness_thresholds",
                                                      help_text="Only the values this policy sets itself.")

    def get_robustness_thresholds(self, policy) -> dict:
        return {**checks.threshold_schema()["defaults"], **(policy.robustness_thresholds or {})}


class PolicyUpdateSerializer(serializers.Serializer):
    required_approvals = serializers.IntegerField(min_value=1, max_value=10, required=False)
    admin_approval_required = serializers.BooleanField(required=False)
    required_checks = serializers.ListField(child=serializers.ChoiceField(choices=Check.choices), required=False)
    submit_with_failing_checks = serializers.BooleanField(required=False)
    robustness_thresholds = serializers.JSONField(
        required=False, help_text='Merged into the stored values, e.g. {"evasion_max_success": 0.3}; a key set to '
                                  'null goes back to the default.')


class _PolicyView(generics.GenericAPIView):
    required_action = {"PATCH": Action.POLICY_MANAGE}
    http_method_names = ["get", "patch", "head", "options"]
    serializer_class = PolicySerializer
    queryset = ApprovalPolicy.objects.none()  # for the schema generator; the views pick their policy themselves
    filter_backends = []

    def target(self) -> dict:
        raise NotImplementedError

    def current(self, target: dict) -> ApprovalPolicy:
        if "model" in target:
            try:
                return target["model"].policy_override
            except ApprovalPolicy.DoesNotExist:
                return checks.policy_for_tier(target["model"].risk_tier)
        return checks.policy_for_tier(target["risk_tier"])

    @extend_schema(responses={200: PolicySerializer, 404: ERRORS[404]})
    def get(self, request, **kwargs):
        return Response(PolicySerializer(self.current(self.target())).data)

    @extend_schema(request=PolicyUpdateSerializer, responses={200: PolicySerializer, 400: ERRORS[400],
                                                              403: ERRORS[403], 404: ERRORS[404]})
    def patch(self, request, **kwargs):
        target = self.target()
        data = PolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        policy = self.current(target)
        if "robustness_thresholds" in values:
            merged = {**(policy.robustness_thresholds or {}), **(values["robustness_thresholds"] or {})} \
                if isinstance(values["robustness_thresholds"], dict) else values["robustness_thresholds"]
            values["robustness_thresholds"] = {k: v for k, v in merged.items() if v is not None} \
                if isinstance(merged, dict) else merged
        saved = services.policy_update(
            actor=request.user, **target,
            required_approvals=values.get("required_approvals", policy.required_approvals),
            admin_approval_required=values.get("admin_approval_required", policy.admin_approval_required),
            required_checks=values.get("required_checks", list(policy.required_checks)),
            robustness_thresholds=values.get("robustness_thresholds"),
            submit_with_failing_checks=values.get("submit_with_failing_checks"))
        return Response(PolicySerializer(saved).data)


class TierPolicyView(_PolicyView):
    """The approval policy of a risk tier (low, medium, high)."""

    def target(self) -> dict:
        tier = self.kwargs["risk_tier"]
        if tier not in RiskTier.values:
            raise NotFound(f"No risk tier {tier!r}; known: {', '.join(RiskTier.values)}.")
        return {"risk_tier": tier}


class ModelPolicyView(_PolicyView):
    """A model's own policy: its override if it has one (else its tier's, shown); PATCH creates or changes the
    override."""

    def target(self) -> dict:
        return {"model": get_object_or_404(RegisteredModel, name=self.kwargs["model_name"])}


class PolicyListView(generics.GenericAPIView):
    """Every tier's policy, then every model override."""

    serializer_class = PolicySerializer
    queryset = ApprovalPolicy.objects.none()
    pagination_class = None  # three tiers and a few overrides: one list, no pages
    filter_backends = []

    @extend_schema(responses={200: PolicySerializer(many=True)})
    def get(self, request):
        policies = [checks.policy_for_tier(tier) for tier in RiskTier.values]
        policies += list(ApprovalPolicy.objects.filter(model__isnull=False).select_related("model")
                         .order_by("model__name"))
        return Response(PolicySerializer(policies, many=True).data)
