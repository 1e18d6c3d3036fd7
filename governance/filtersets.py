import django_filters
from django import forms
from django.db.models import Q

from .choices import RiskTier, Task, VersionStatus
from .models import AuditEvent, Dataset, ModelVersion, RegisteredModel


class AuditEventFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact", label="Actor")
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith", label="Action")
    object_type = django_filters.CharFilter(field_name="object_type", lookup_expr="iexact", label="Object type")
    object_id = django_filters.CharFilter(field_name="object_id", lookup_expr="exact", label="Object id")
    object = django_filters.CharFilter(field_name="object_label", lookup_expr="icontains", label="Object")
    channel = django_filters.CharFilter(field_name="channel", lookup_expr="exact")
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "object_type", "object_id", "object", "channel", "since", "until"]


MODEL_ORDERINGS = {
    "name": "name", "-name": "-name", "updated": "updated_at", "-updated": "-updated_at",
    "risk": "risk_tier", "-risk": "-risk_tier", "versions": "version_count", "-versions": "-version_count",
}


class RegisteredModelFilterSet(django_filters.FilterSet):
    """Shared by the model list page and GET /api/v1/models/."""

    q = django_filters.CharFilter(method="search", label="Search")
    risk_tier = django_filters.ChoiceFilter(choices=RiskTier.choices)
    task = django_filters.ChoiceFilter(choices=Task.choices)
    owner = django_filters.CharFilter(field_name="owner__username", lookup_expr="iexact")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(field_name="latest_status", choices=VersionStatus.choices,
                                         label="Latest version status")
    sort = django_filters.ChoiceFilter(method="sort_by", choices=[(k, k) for k in MODEL_ORDERINGS], label="Sort")
    retired = django_filters.ChoiceFilter(method="retired_filter", label="Retired models", empty_label="Hidden",
                                          choices=[("include", "Shown"), ("only", "Only retired")])

    class Meta:
        model = RegisteredModel
        fields = ["q", "risk_tier", "task", "owner", "tag", "status", "sort", "retired"]

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("retired"):  # retired models are hidden unless asked for
            queryset = queryset.filter(retired_at__isnull=True)
        return super().filter_queryset(queryset)

    def retired_filter(self, queryset, name, value):
        return queryset.filter(retired_at__isnull=False) if value == "only" else queryset

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(title__icontains=value) | Q(tags__name__iexact=value)
        ).distinct()

    def sort_by(self, queryset, name, value):
        return queryset.order_by(MODEL_ORDERINGS[value], "name")


class ModelVersionFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=VersionStatus.choices)
    flavour = django_filters.CharFilter()
    created_by = django_filters.CharFilter(field_name="created_by__username", lookup_expr="iexact")

    class Meta:
        model = ModelVersion
        fields = ["status", "flavour", "created_by"]


class DatasetFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    format = django_filters.CharFilter()

    class Meta:
        model = Dataset
        fields = ["q", "format"]
