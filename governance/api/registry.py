"""REST endpoints of the registry: models, versions, artifacts, datasets."""


from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from governance import attestation, loading, selectors, services
from governance.filtersets import DatasetFilterSet, ModelVersionFilterSet, RegisteredModelFilterSet
from governance.models import ModelVersion
from governance.permissions import Action
from incidents.models import Incident

from .serializers import (
    VERSION_DETAIL_ONLY,
    AttestationSerializer,
    DatasetCreateSerializer,
    DatasetDetailSerializer,
    DatasetSerializer,
    ModelVersionCreateSerializer,
    ModelVersionListSerializer,
    ModelVersionSerializer,
    ModelVersionUpdateSerializer,
    ReasonSerializer,
    RegisteredModelCreateSerializer,
    RegisteredModelDetailSerializer,
    RegisteredModelSerializer,
    RegisteredModelUpdateSerializer,
    ReviewCreateSerializer,
    ReviewSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="Invalid input (field errors or a security-scan report)"),
    403: OpenApiResponse(description="Missing role"),
    404: OpenApiResponse(description="Unknown model, version or dataset"),
    409: OpenApiResponse(description="Conflict with the current state"),
}
UPLOAD_ERRORS = {
    **ERRORS,
    413: OpenApiResponse(description="Upload larger than the configured limit"),
    415: OpenApiResponse(description="Unsupported or unrecognised file type"),
}


class FingerprintCheckSerializer(serializers.Serializer):
    suspect = serializers.FileField(help_text="The suspect model file, or a CSV with a 'prediction' column.")
    incident = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all(), required=False, allow_null=True,
                                                  help_text="Record the result on this incident's timeline.")


class RegisteredModelViewSet(viewsets.ModelViewSet):
    """Registered models, addressed by their name (a slug)."""

    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_class = RegisteredModelFilterSet
    search_fields = ["name", "title", "tags__name"]
    ordering_fields = ["name", "updated_at", "created_at", "risk_tier"]
    required_action = {"create": Action.MODEL_REGISTER, "partial_update": Action.MODEL_REGISTER,
                       "destroy": Action.MODEL_REGISTER, "rollback": Action.RELEASE_CONTAIN,
                       "retire": Action.MODEL_REGISTER}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.model_list()

    def permission_object(self):
        name = self.kwargs.get("name")
        return selectors.model_for_permission(name) if name else None

    def get_serializer_class(self):
        return RegisteredModelDetailSerializer if self.action == "retrieve" else RegisteredModelSerializer

    def get_object(self):
        return get_object_or_404(selectors.model_list().select_related("card"), name=self.kwargs["name"])

    @extend_schema(request=RegisteredModelCreateSerializer, responses={201: RegisteredModelDetailSerializer, **ERRORS})
    def create(self, request):
        data = RegisteredModelCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.model_create(actor=request.user, **data.validated_data)
        return Response(RegisteredModelDetailSerializer(selectors.model_detail(model.name)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=RegisteredModelUpdateSerializer, responses={200: RegisteredModelDetailSerializer, **ERRORS})
    def partial_update(self, request, name=None):
        model = self.get_object()
        data = RegisteredModelUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        card = fields.pop("card", None)
        services.model_update(actor=request.user, model=model, **fields)
        if card:
            services.model_card_update(actor=request.user, model=model, **card)
        return Response(RegisteredModelDetailSerializer(selectors.model_detail(model.name)).data)

    @extend_schema(request=ReasonSerializer, responses={200: ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def rollback(self, request, name=None):
        """Release again the most recent earlier release that is still approved or deprecated."""
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_rollback(actor=request.user, model=self.get_object(), **data.validated_data)
        return Response(ModelVersionSerializer(selectors.version_list().get(pk=version.pk)).data)

    @extend_schema(request=ReasonSerializer, responses={200: RegisteredModelDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def retire(self, request, name=None):
        """Make the model read-only and hide it from lists (`?retired=include` shows it). A model with release
        history cannot be deleted; this is what it gets instead."""
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.model_retire(actor=request.user, model=self.get_object(), **data.validated_data)
        return Response(RegisteredModelDetailSerializer(selectors.model_detail(model.name)).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request, name=None):
        services.model_delete(actor=request.user, model=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Versions of one model, addressed by their number. The artifact of a version never changes."""

    lookup_field = "number"
    lookup_value_regex = r"\d+"
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    ordering_fields = ["number", "created_at"]
    search_fields = ["notes"]
    required_action = {
        "create": Action.MODEL_REGISTER, "partial_update": Action.MODEL_REGISTER,
        "submit": Action.VERSION_SUBMIT, "reopen": Action.VERSION_SUBMIT, "reviews": Action.REVIEW_DECIDE,
        "release": Action.RELEASE_MANAGE, "revoke": Action.RELEASE_CONTAIN, "fingerprint_check": Action.JOB_RUN,
    }
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, parsers.JSONParser]

    def permission_object(self):
        return selectors.model_for_permission(self.kwargs.get("model_name"))

    def get_model(self):
        if not hasattr(self, "_model"):
            self._model = get_object_or_404(selectors.model_list(), name=self.kwargs["model_name"])
        return self._model

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no model in the URL
            return ModelVersion.objects.none()
        queryset = selectors.version_list(self.get_model()).order_by("-number")
        if self.action == "list":
            queryset = queryset.defer(*VERSION_DETAIL_ONLY)
        return queryset

    def get_serializer_class(self):
        return ModelVersionListSerializer if self.action == "list" else ModelVersionSerializer

    def get_object(self):
        return get_object_or_404(self.get_queryset(), number=self.kwargs["number"])

    @extend_schema(request={"multipart/form-data": ModelVersionCreateSerializer},
                   responses={201: ModelVersionSerializer, **UPLOAD_ERRORS})
    def create(self, request, model_name=None):
        model = self.get_model()
        data = ModelVersionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        upload = values.pop("artifact")
        parent_number = values.pop("parent", None)
        parent = None
        if parent_number is not None:
            parent = ModelVersion.objects.filter(model=model, number=parent_number).first()
            if parent is None:
                return Response({"parent": [f"{model.name} has no version {parent_number}."]},
                                status=status.HTTP_400_BAD_REQUEST)
        version = services.model_version_create(
            actor=request.user, model=model, fileobj=upload, filename=upload.name, parent=parent, **values
        )
        return Response(self.get_serializer(selectors.version_list().get(pk=version.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelVersionUpdateSerializer, responses={200: ModelVersionSerializer, **ERRORS})
    def partial_update(self, request, model_name=None, number=None):
        version = self.get_object()
        data = ModelVersionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.model_version_update(actor=request.user, version=version, **data.validated_data)
        return Response(self.get_serializer(selectors.version_list().get(pk=version.pk)).data)

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 409: ERRORS[409], 404: ERRORS[404]})
    @action(detail=True, methods=["get"])
    def artifact(self, request, model_name=None, number=None):
        """Download the artifact: decrypted and verified against its SHA-256 before the first byte is sent."""
        version = self.get_object()
        data = services.version_read_artifact(version, actor=request.user)
        response = StreamingHttpResponse(iter([data]), content_type="application/octet-stream")
        extension = loading.FLAVOUR_EXTENSIONS.get(version.flavour, (".bin",))[0]
        response["Content-Disposition"] = f'attachment; filename="{version.model.name}-v{version.number}{extension}"'
        response["Content-Length"] = str(len(data))
        response["X-Artifact-SHA256"] = version.artifact.sha256
        return response


    def _version_response(self, version, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(selectors.version_list().get(pk=version.pk)).data, status=status_code)

    @extend_schema(request=None, responses={200: ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def submit(self, request, model_name=None, number=None):
        """Submit a draft for review (draft → in review)."""
        return self._version_response(services.version_submit(actor=request.user, version=self.get_object()))

    @extend_schema(request=None, responses={200: ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request, model_name=None, number=None):
        """Send a rejected version back to draft, to be fixed and submitted again."""
        return self._version_response(services.version_reopen(actor=request.user, version=self.get_object()))

    @extend_schema(methods=["GET"], responses={200: ReviewSerializer(many=True)})
    @extend_schema(methods=["POST"], request=ReviewCreateSerializer, responses={201: ReviewSerializer, **ERRORS})
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def reviews(self, request, model_name=None, number=None):
        """The reviews of this version (all rounds), or approve / reject it."""
        version = self.get_object()
        if request.method == "GET":
            reviews = version.reviews.select_related("reviewer").order_by("-created_at")
            return Response(ReviewSerializer(reviews, many=True).data)
        data = ReviewCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(actor=request.user, version=version, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={200: ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def release(self, request, model_name=None, number=None):
        """Make this approved version the released one; the previous release is deprecated."""
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.version_release(actor=request.user, version=self.get_object(), **data.validated_data)
        return self._version_response(version)

    @extend_schema(request=ReasonSerializer, responses={200: ModelVersionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def revoke(self, request, model_name=None, number=None):
        """Take this version out of service, with a reason. A revoked release leaves no released version."""
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.version_revoke(actor=request.user, version=self.get_object(), **data.validated_data)
        return self._version_response(version)

    @extend_schema(request={"multipart/form-data": FingerprintCheckSerializer},
                   responses={200: dict, **ERRORS})
    @action(detail=True, methods=["post"], url_path="fingerprint-check",
            parser_classes=[parsers.MultiPartParser, parsers.FormParser])
    def fingerprint_check(self, request, model_name=None, number=None):
        """Is a suspect model derived from this version? Upload the suspect model, or a CSV of its outputs
        (`prediction` column) on the fingerprint rows; returns the match rate and a p-value against chance."""
        from explain.services import fingerprint_check

        data = FingerprintCheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        suspect = data.validated_data["suspect"]
        incident = data.validated_data.get("incident")
        return Response(fingerprint_check(actor=request.user, version=self.get_object(), suspect_file=suspect,
                                          filename=suspect.name, incident=incident))

    @extend_schema(responses={200: AttestationSerializer, 404: ERRORS[404]})
    @action(detail=True, methods=["get"])
    def attestation(self, request, model_name=None, number=None):
        """The signed release attestation (latest), verifiable offline with the published public key."""
        signed = self.get_object().attestations.order_by("-created_at", "-id").first()
        if signed is None:
            return Response({"detail": "This version has never been released, so it has no attestation."},
                            status=status.HTTP_404_NOT_FOUND)
        return Response(attestation.document(signed.payload, signed.signature, signed.key_fingerprint))


class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Evaluation and training datasets (CSV or Parquet), immutable once uploaded."""

    filterset_class = DatasetFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["created_at", "name", "rows"]
    required_action = Action.MODEL_REGISTER
    lookup_value_regex = r"\d+"
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def get_queryset(self):
        return selectors.dataset_list()

    def get_serializer_class(self):
        return DatasetDetailSerializer if self.action == "retrieve" else DatasetSerializer

    @extend_schema(request={"multipart/form-data": DatasetCreateSerializer},
                   responses={201: DatasetDetailSerializer, **UPLOAD_ERRORS})
    def create(self, request):
        data = DatasetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        upload = values.pop("file")
        dataset = services.dataset_create(actor=request.user, fileobj=upload, filename=upload.name, **values)
        return Response(DatasetDetailSerializer(dataset).data, status=status.HTTP_201_CREATED)


