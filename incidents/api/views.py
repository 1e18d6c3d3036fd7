"""REST endpoints for incidents: per docs/api-conventions.md, with the same services and rules as the pages."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from governance.models import ModelVersion, RegisteredModel
from governance.permissions import Action

from .. import report, selectors, services
from ..choices import Category, DetectionSource, HarmDomain, HarmLevel, IncidentStatus, Severity, TechnicalFailure
from ..filtersets import IncidentFilterSet
from ..models import REVIEW_FIELDS, ActionItem, Incident, PostIncidentReview, TimelineEntry
from ..views import evidence_response

User = get_user_model()
ERRORS = {400: OpenApiResponse(description="Invalid input"), 403: OpenApiResponse(description="Missing role"),
          404: OpenApiResponse(description="Unknown incident"),
          409: OpenApiResponse(description="Not allowed in the current state")}


class VersionRefField(serializers.CharField):
    """A version as 'model-name:number', e.g. 'credit-scoring:2'."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        name, _, number = text.partition(":")
        if not number.isdigit():
            raise serializers.ValidationError("Write versions as 'model-name:number'.")
        version = ModelVersion.objects.select_related("model").filter(model__name=name, number=int(number)).first()
        if version is None:
            raise serializers.ValidationError(f"No version {number} of model {name!r}.")
        return version

    def to_representation(self, value):
        return f"{value.model.name}:{value.number}"


class IncidentSerializer(serializers.ModelSerializer):
    reported_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    commander = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    scribe = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    liaison = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    affected_models = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    # Blank until the incident is classified: the schema's enums must admit "".
    harm_domain = serializers.ChoiceField(choices=HarmDomain.choices, allow_blank=True, read_only=True)
    technical_failure = serializers.ChoiceField(choices=TechnicalFailure.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "title", "description", "severity", "category", "status", "affected_models",
                  "detected_at", "detection_source", "external_references", "reported_by", "commander", "scribe",
                  "liaison", "harm_level", "harm_domain", "technical_failure", "affected_parties", "triaged_at",
                  "contained_at", "eradicated_at", "recovered_at", "closed_at", "resolution", "resolution_reason",
                  "reopened_count", "created_at",
                  "updated_at"]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    affected_versions = serializers.SerializerMethodField()
    experts = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = IncidentSerializer.Meta.fields + ["affected_versions", "experts"]
        read_only_fields = fields

    def get_affected_versions(self, incident) -> list[str]:
        return [f"{v.model.name}:{v.number}" for v in incident.affected_versions.all()]


class IncidentWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True,
                                   help_text="Needed to reopen a closed incident or to close one as a false positive.")
    false_positive = serializers.BooleanField(
        required=False, help_text='With status "closed": a false alarm (reported or triaged), closed with a reason and '
                                  "no post-incident review.")
    affected_models = serializers.SlugRelatedField(slug_field="name", many=True, required=False,
                                                   queryset=RegisteredModel.objects.all())
    affected_versions = serializers.ListField(child=VersionRefField(), required=False)
    detected_at = serializers.DateTimeField(required=False)
    detection_source = serializers.ChoiceField(choices=DetectionSource.choices, required=False)
    external_references = serializers.CharField(required=False, allow_blank=True)
    commander = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False,
                                             allow_null=True)
    scribe = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False,
                                          allow_null=True)
    liaison = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False,
                                           allow_null=True)
    experts = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), many=True,
                                           required=False)
    harm_level = serializers.ChoiceField(choices=HarmLevel.choices, required=False)
    harm_domain = serializers.ChoiceField(choices=HarmDomain.choices, required=False, allow_blank=True)
    technical_failure = serializers.ChoiceField(choices=TechnicalFailure.choices, required=False, allow_blank=True)
    affected_parties = serializers.CharField(required=False, allow_blank=True)


class TimelineEntrySerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    evidence = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "at", "author", "body", "link_url", "link_label", "evidence", "job"]
        read_only_fields = fields

    def get_evidence(self, entry) -> dict | None:
        if entry.evidence is None:
            return None
        return {"name": entry.evidence.original_name, "sha256": entry.evidence.sha256, "size": entry.evidence.size}


class TimelineCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="")
    link_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    link_label = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    evidence = serializers.FileField(required=False)


class ContainmentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["revoke", "rollback"])
    version = VersionRefField(required=False, help_text="'model:number' (revoke).")
    model = serializers.SlugRelatedField(slug_field="name", queryset=RegisteredModel.objects.all(), required=False,
                                         help_text="Model name (rollback).")
    reason = serializers.CharField()


class ActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False,
                                         allow_null=True)

    class Meta:
        model = ActionItem
        fields = ["id", "description", "owner", "due_date", "status"]
        read_only_fields = ["id"]


class PostIncidentReviewSerializer(serializers.ModelSerializer):
    action_items = ActionItemSerializer(many=True, required=False)
    signed_off_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PostIncidentReview
        fields = [*REVIEW_FIELDS, "due_at", "signed_off_by", "signed_off_at", "action_items", "updated_at"]
        read_only_fields = ["due_at", "signed_off_by", "signed_off_at", "updated_at"]


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents through the NIST SP 800-61 life cycle."""

    filterset_class = IncidentFilterSet
    search_fields = ["title", "description"]
    ordering_fields = ["detected_at", "created_at", "severity", "status"]
    lookup_value_regex = r"\d+"
    required_action = {"create": Action.INCIDENT_OPEN, "partial_update": Action.INCIDENT_MANAGE,
                       "timeline": Action.INCIDENT_OPEN, "actions": Action.INCIDENT_MANAGE,
                       "review": Action.INCIDENT_MANAGE, "sign": Action.INCIDENT_MANAGE}
    parser_classes = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def get_queryset(self):
        return selectors.incident_list()

    def get_serializer_class(self):
        return IncidentDetailSerializer if self.action == "retrieve" else IncidentSerializer

    def _detail(self, incident, code=status.HTTP_200_OK):
        return Response(IncidentDetailSerializer(selectors.incident_detail(incident.pk)).data, status=code)

    @extend_schema(request=IncidentWriteSerializer, responses={201: IncidentDetailSerializer, **ERRORS})
    def create(self, request):
        data = IncidentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("status", None)
        values.pop("reason", None)
        values.pop("false_positive", None)
        incident = services.incident_open(actor=request.user, **values)  # one transaction, permissions first
        return self._detail(incident, status.HTTP_201_CREATED)

    @extend_schema(request=IncidentWriteSerializer, responses={200: IncidentDetailSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        incident = self.get_object()
        data = IncidentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        incident = services.incident_update(actor=request.user, incident=incident, **data.validated_data)
        return self._detail(incident)

    @extend_schema(methods=["GET"], responses={200: TimelineEntrySerializer(many=True)})
    @extend_schema(methods=["POST"], request={"multipart/form-data": TimelineCreateSerializer,
                                              "application/json": TimelineCreateSerializer},
                   responses={201: TimelineEntrySerializer, 413: OpenApiResponse(description="File too large"),
                              415: OpenApiResponse(description="File type not allowed"), **ERRORS})
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def timeline(self, request, pk=None):
        """The timeline, oldest first (`?kind=` filters); POST adds a note, a link or an evidence file."""
        incident = self.get_object()
        if request.method == "GET":
            return Response(TimelineEntrySerializer(selectors.timeline(incident, request.GET.get("kind")),
                                                    many=True).data)
        data = TimelineCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        entry = services.timeline_add(actor=request.user, incident=incident, evidence_file=values.pop("evidence", None),
                                      **values)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS})
    @action(detail=True, methods=["get"], url_path=r"evidence/(?P<entry_id>\d+)", filter_backends=[],
            pagination_class=None)
    def evidence(self, request, pk=None, entry_id=None):
        """Download an evidence file of the timeline: decrypted, hash-verified, audited, always an attachment."""
        data, name = services.evidence_download(actor=request.user, incident=self.get_object(), entry_id=int(entry_id))
        return evidence_response(data, name)

    @extend_schema(request=ContainmentSerializer, responses={201: TimelineEntrySerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def actions(self, request, pk=None):
        """Containment through the registry: revoke a version, or roll a model back."""
        incident = self.get_object()
        data = ContainmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.containment_action(actor=request.user, incident=incident, **data.validated_data)
        entry = incident.timeline.order_by("-at", "-id").first()
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: PostIncidentReviewSerializer, 404: ERRORS[404]})
    @extend_schema(methods=["PUT"], request=PostIncidentReviewSerializer,
                   responses={200: PostIncidentReviewSerializer, **ERRORS})
    @action(detail=True, methods=["get", "put"])
    def review(self, request, pk=None):
        """The post-incident review with its action items (PUT replaces them)."""
        incident = self.get_object()
        if request.method == "GET":
            review = get_object_or_404(PostIncidentReview, incident=incident)
            return Response(PostIncidentReviewSerializer(review).data)
        data = PostIncidentReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        items = [{**i, "owner": i["owner"].username if i.get("owner") else None}
                 for i in values.pop("action_items", [])]
        review = services.review_save(actor=request.user, incident=incident, action_items=items, **values)
        return Response(PostIncidentReviewSerializer(review).data)

    @extend_schema(request=None, responses={200: PostIncidentReviewSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="review/sign")
    def sign(self, request, pk=None):
        """Sign off the post-incident review (incident managers)."""
        review = services.review_sign(actor=request.user, incident=self.get_object())
        return Response(PostIncidentReviewSerializer(review).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """A serious-incident report (EU AI Act Art. 73 style) as JSON."""
        return Response(report.build(selectors.incident_detail(self.get_object().pk)))
