import json

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, mixins, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from explain import report, selectors, services
from explain.filtersets import AnalysisJobFilterSet
from explain.models import AnalysisJob
from governance import selectors as registry_selectors
from governance.models import ModelVersion
from governance.permissions import Action

from .serializers import AnalysisJobCreateSerializer, AnalysisJobDetailSerializer, AnalysisJobSerializer

ERRORS = {400: OpenApiResponse(description="Invalid kind, params or dataset"),
          403: OpenApiResponse(description="Missing role"), 404: OpenApiResponse(description="Unknown job"),
          409: OpenApiResponse(description="The job is already finished")}


class AnalysisJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Analysis jobs: queue one, follow its progress, read its result, cancel or re-run it."""

    filterset_class = AnalysisJobFilterSet
    ordering_fields = ["created_at", "finished_at", "status"]
    search_fields = ["kind", "version__model__name"]
    required_action = Action.JOB_RUN
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if self.action == "retrieve":
            return AnalysisJob.objects.select_related("version__model", "created_by", "dataset")
        return selectors.job_list()

    def get_serializer_class(self):
        return AnalysisJobDetailSerializer if self.action == "retrieve" else AnalysisJobSerializer

    @extend_schema(request=AnalysisJobCreateSerializer, responses={201: AnalysisJobSerializer, **ERRORS})
    def create(self, request):
        data = AnalysisJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = get_object_or_404(ModelVersion.objects.select_related("model", "artifact", "evaluation_dataset"),
                                    model__name=values["model"], number=values["version"])
        job = services.job_enqueue(actor=request.user, version=version, kind=values["kind"],
                                   params=values.get("params") or {}, dataset=values.get("dataset"))
        return Response(AnalysisJobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AnalysisJobSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel: a queued job never runs; a running one stops at its next checkpoint."""
        job = services.job_cancel(actor=request.user, job=self.get_object())
        return Response(AnalysisJobSerializer(job).data)

    @extend_schema(request=None, responses={201: dict, **ERRORS})
    @action(detail=True, methods=["post"])
    def register(self, request, pk=None):
        """Register a hardening job's candidate model as a new draft version (a child of the hardened version)."""
        version = services.hardened_candidate_register(actor=request.user, job=self.get_object())
        return Response({"model": version.model.name, "version": version.number, "parent": version.parent.number,
                         "derived_by": version.derived_by}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: AnalysisJobSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        """Queue a new job with the same kind, version, dataset and params."""
        job = services.job_rerun(actor=request.user, job=self.get_object())
        return Response(AnalysisJobSerializer(job).data, status=status.HTTP_201_CREATED)


class ReportHTMLRenderer(renderers.BaseRenderer):
    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()  # an error body, e.g. 404, stays readable


class VersionReportView(generics.GenericAPIView):
    """Everything known about the version as JSON; `?format=html` gives the self-contained HTML export."""

    renderer_classes = [renderers.JSONRenderer, ReportHTMLRenderer]

    @extend_schema(responses={200: dict, (200, "text/html"): str, 404: ERRORS[404]})
    def get(self, request, model_name, number):
        version = get_object_or_404(registry_selectors.version_list(), model__name=model_name, number=number)
        if request.accepted_renderer.format == "html":
            response = Response(report.export_html(version))
            response["Content-Disposition"] = f'attachment; filename="{model_name}-v{number}-report.html"'
            return response
        return Response(report.build(version))
