import django_filters

from .choices import JobStatus
from .models import AnalysisJob


class AnalysisJobFilterSet(django_filters.FilterSet):
    """Shared by the jobs page and GET /api/v1/jobs/."""

    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    kind = django_filters.CharFilter()
    model = django_filters.CharFilter(field_name="version__model__name")
    version = django_filters.NumberFilter(field_name="version__number")
    created_by = django_filters.CharFilter(field_name="created_by__username", lookup_expr="iexact")

    class Meta:
        model = AnalysisJob
        fields = ["status", "kind", "model", "version", "created_by"]
