"""Reads with logic. Querysets come back with their joins applied, so pages stay at a fixed query count."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q

from explain.choices import JobStatus
from explain.models import AnalysisJob
from incidents.choices import OPEN_INCIDENT_STATUSES, Severity
from incidents.models import Incident

from .choices import Role, VersionStatus
from .models import ApiToken, AuditEvent, ModelVersion, RegisteredModel

User = get_user_model()


def audit_event_list():
    return AuditEvent.objects.select_related("actor").order_by("-seq")


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def api_token_list(*, user):
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def user_list():
    from django.contrib.auth.models import Group

    return User.objects.order_by("username").prefetch_related(
        Prefetch("groups", queryset=Group.objects.filter(name__in=list(Role)).order_by("name"))
    )


def dashboard_counts() -> dict:
    incidents = Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES).aggregate(
        total=Count("id"), **{s.value: Count("id", filter=Q(severity=s)) for s in Severity}
    )
    return {
        "models": RegisteredModel.objects.count(),
        "versions": ModelVersion.objects.count(),
        "awaiting_review": ModelVersion.objects.filter(status=VersionStatus.IN_REVIEW).count(),
        "running_jobs": AnalysisJob.objects.filter(status=JobStatus.RUNNING).count(),
        "queued_jobs": AnalysisJob.objects.filter(status=JobStatus.QUEUED).count(),
        "open_incidents": incidents["total"],
        "open_incidents_by_severity": [
            {"severity": s, "label": s.label, "count": incidents[s.value]} for s in Severity
        ],
    }


def review_queue_count() -> int:
    return ModelVersion.objects.filter(status=VersionStatus.IN_REVIEW).count()
