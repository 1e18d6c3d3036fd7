import django_filters
from django.db.models import Q

from .choices import Category, IncidentStatus, Severity
from .models import Incident


class IncidentFilterSet(django_filters.FilterSet):
    """Shared by the incident list page and GET /api/v1/incidents/."""

    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices)
    open = django_filters.BooleanFilter(method="only_open", label="Open only")
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)
    model = django_filters.CharFilter(field_name="affected_models__name", distinct=True)
    commander = django_filters.CharFilter(field_name="commander__username", lookup_expr="iexact")
    since = django_filters.DateFilter(field_name="detected_at", lookup_expr="date__gte")
    until = django_filters.DateFilter(field_name="detected_at", lookup_expr="date__lte")

    class Meta:
        model = Incident
        fields = ["q", "status", "open", "severity", "category", "model", "commander", "since", "until"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value)) if value else queryset

    def only_open(self, queryset, name, value):
        return queryset.exclude(status=IncidentStatus.CLOSED) if value else queryset
