"""Reads with logic. Querysets come back with their joins applied, so pages stay at a fixed query count."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q

from incidents.choices import OPEN_INCIDENT_STATUSES
from incidents.models import Incident

from .choices import Role, VersionStatus
from .models import ApiToken, AuditEvent, Dataset, ModelVersion, RegisteredModel

User = get_user_model()


def audit_event_list():
    return AuditEvent.objects.select_related("actor").order_by("-seq")


# Changes to who may do what: users, roles, teams, approval policies, playbooks, revoked credentials.
ADMIN_CHANGE_PREFIXES = ("user.", "policy.", "playbook.", "token.revoke_all")


def admin_change_list():
    from django.db.models import Q

    match = Q()
    for prefix in ADMIN_CHANGE_PREFIXES:
        match |= Q(action__startswith=prefix)
    return audit_event_list().filter(match)


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
    """The registry's counts; the other apps add theirs through dashboard.register_counts."""
    return {
        "models": RegisteredModel.objects.count(),
        "versions": ModelVersion.objects.count(),
        "awaiting_review": ModelVersion.objects.filter(status=VersionStatus.IN_REVIEW).count(),
    }


def dataset_frame(dataset):
    """The dataset's table, decrypted and hash-verified."""
    import io

    from . import artifacts, datasets

    data = artifacts.read_bytes(dataset.file)
    _, frame = datasets.read_table(io.BytesIO(data), filename=dataset.file.original_name,
                                   declared_format=dataset.format, enforce_row_limit=False)
    return frame


def model_list():
    """Models with their latest and released version and open incident count, in a fixed number of queries."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    versions = ModelVersion.objects.filter(model=OuterRef("pk")).order_by("-number")
    released = ModelVersion.objects.filter(model=OuterRef("pk"), status=VersionStatus.RELEASED)
    open_incidents = (
        Incident.objects.filter(affected_models=OuterRef("pk"), status__in=OPEN_INCIDENT_STATUSES)
        .order_by().values("affected_models").annotate(c=Count("id")).values("c")
    )
    version_count = (
        ModelVersion.objects.filter(model=OuterRef("pk")).order_by().values("model").annotate(c=Count("id")).values("c")
    )
    return (
        RegisteredModel.objects.select_related("owner")
        .prefetch_related("tags")
        .annotate(
            latest_number=Subquery(versions.values("number")[:1]),
            latest_status=Subquery(versions.values("status")[:1]),
            released_number=Subquery(released.values("number")[:1]),
            version_count=Coalesce(Subquery(version_count, output_field=IntegerField()), 0),
            open_incidents=Coalesce(Subquery(open_incidents, output_field=IntegerField()), 0),
        )
    )


def model_detail(name: str):
    return (
        model_list()
        .select_related("card", "card__updated_by")
        .get(name=name)
    )


def model_for_permission(name):
    """Just what an ownership decision reads: owner and team (one light query)."""
    return RegisteredModel.objects.only("pk", "name", "owner_id", "team", "retired_at").filter(name=name).first()


def version_list(model=None):
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from .models import SecurityFinding

    open_findings = (SecurityFinding.objects.filter(version=OuterRef("pk"), resolved_at__isnull=True).order_by()
                     .values("version").annotate(c=Count("id")).values("c"))
    qs = ModelVersion.objects.select_related(
        "model", "artifact", "created_by", "parent", "evaluation_dataset", "training_dataset"
    ).defer("card_snapshot", "parent__card_snapshot", "parent__scan_report", "parent__compat_result").annotate(
        open_findings=Coalesce(Subquery(open_findings, output_field=IntegerField()), 0)
    )
    if model is not None:
        qs = qs.filter(model=model)
    return qs.order_by("model__name", "-number")


def version_detail(model_name: str, number: int):
    return version_list().prefetch_related("findings").get(model__name=model_name, number=number)


def dataset_list():
    return Dataset.objects.select_related("file", "created_by").order_by("-created_at")


def dataset_usage(dataset):
    return (
        ModelVersion.objects.filter(Q(evaluation_dataset=dataset) | Q(training_dataset=dataset))
        .select_related("model").order_by("model__name", "-number")
    )


def open_findings(version):
    """Unresolved findings, newest first (uses the prefetched findings when there are any)."""
    return sorted((f for f in version.findings.all() if f.resolved_at is None), key=lambda f: f.created_at,
                  reverse=True)


def model_incidents(model):
    return Incident.objects.filter(affected_models=model).order_by("-created_at")[:20]


def compare_versions(a, b) -> dict:
    """Side by side: metrics with deltas, features added/removed, metadata and card changes."""
    metric_names = sorted(
        {k for k, v in a.metrics.items() if isinstance(v, int | float)}
        | {k for k, v in b.metrics.items() if isinstance(v, int | float)}
    )
    metrics = []
    for name in metric_names:
        va, vb = a.metrics.get(name), b.metrics.get(name)
        delta = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        metrics.append({"name": name, "a": va, "b": vb, "delta": delta})
    fa, fb = list(a.feature_names or []), list(b.feature_names or [])
    metadata = []
    for label, getter in [
        ("Status", lambda v: v.get_status_display()), ("Flavour", lambda v: v.get_flavour_display()),
        ("SHA-256", lambda v: v.artifact.sha256), ("Size (bytes)", lambda v: v.artifact.size),
        ("Evaluation dataset", lambda v: str(v.evaluation_dataset or "—")),
        ("Training dataset", lambda v: str(v.training_dataset or "—")),
        ("Parent", lambda v: f"v{v.parent.number}" if v.parent else "—"),
        ("Classes", lambda v: ", ".join(map(str, v.class_labels)) or "—"),
        ("Compatibility check", lambda v: v.get_compat_status_display()),
        ("Created by", lambda v: v.created_by.get_username()), ("Notes", lambda v: v.notes or "—"),
    ]:
        va, vb = getter(a), getter(b)
        metadata.append({"label": label, "a": va, "b": vb, "changed": va != vb})
    card = []
    from .models import MODEL_CARD_FIELDS

    for field, label, _ in MODEL_CARD_FIELDS:
        va, vb = a.card_snapshot.get(field, ""), b.card_snapshot.get(field, "")
        if va != vb:
            card.append({"label": label, "a": va, "b": vb})
    return {
        "metrics": metrics,
        "features_added": [f for f in fb if f not in fa],
        "features_removed": [f for f in fa if f not in fb],
        "features_common": [f for f in fa if f in fb],
        "feature_order_changed": [f for f in fa if f in fb] != [f for f in fb if f in fa],
        "metadata": metadata,
        "card_changes": card,
    }


def _awaiting(user, queryset):
    from django.db.models import Exists, F, OuterRef

    from .models import Review

    reviewed = Review.objects.filter(version=OuterRef("pk"), round=F("version__review_round"), reviewer=user)
    return (queryset.filter(status=VersionStatus.IN_REVIEW).exclude(created_by=user)
            .exclude(submitted_by=user).exclude(Exists(reviewed)))


def review_queue(user):
    """Versions in review that this user may still review: not their own, not yet reviewed this round."""
    return (_awaiting(user, version_list()).select_related("submitted_by", "model__owner")
            .order_by("submitted_at", "pk"))


def review_queue_count(user) -> int:
    """The navigation badge: a plain indexed count, on every page for reviewers."""
    return _awaiting(user, ModelVersion.objects.all()).count()


def release_history(model):
    from .models import ReleaseEvent

    return (ReleaseEvent.objects.filter(model=model).select_related("version", "actor", "attestation")
            .order_by("-created_at", "-id"))


def version_reviews(version):
    return version.reviews.select_related("reviewer").order_by("-round", "-created_at")


def version_lineage(model):
    """Only what the lineage graph draws, for every version of the model."""
    return (ModelVersion.objects.filter(model=model).select_related("created_by", "artifact")
            .only("pk", "number", "status", "flavour", "parent_id", "created_at", "model_id",
                  "created_by__username", "artifact__sha256").order_by("number"))
