"""Reads about incidents: lists with their joins, the detail, metrics."""

import statistics
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from .choices import (
    FALSE_POSITIVE_FROM,
    INCIDENT_TRANSITIONS,
    NEXT_STEP,
    OPEN_INCIDENT_STATUSES,
    REVIEW_REQUIRED,
    ActionItemStatus,
    Category,
    IncidentStatus,
    Severity,
)
from .models import ActionItem, Incident, Notification


def _overdue_items():
    return ActionItem.objects.filter(review__incident=OuterRef("pk"), status=ActionItemStatus.OPEN,
                                     due_date__lt=timezone.localdate())


def incident_list():
    return (Incident.objects.select_related("commander", "reported_by")
            .prefetch_related("affected_models")
            .annotate(has_overdue_items=Exists(_overdue_items()),
                      tasks_total=Count("tasks", distinct=True),
                      tasks_done=Count("tasks", filter=Q(tasks__done_at__isnull=False), distinct=True)))


def incident_detail(pk: int) -> Incident:
    return (Incident.objects.select_related("commander", "scribe", "liaison", "reported_by")
            .prefetch_related("affected_models", "affected_versions__model", "experts").get(pk=pk))


def timeline(incident, kind: str | None = None):
    qs = incident.timeline.select_related("author", "evidence", "job").order_by("at", "id")
    return qs.filter(kind=kind) if kind else qs


def overdue_action_items():
    return (ActionItem.objects.filter(status=ActionItemStatus.OPEN, due_date__lt=timezone.localdate())
            .select_related("owner", "review__incident").order_by("due_date"))


def unread_notifications(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).select_related("incident")


def _hours(start, end):
    return (end - start).total_seconds() / 3600 if start and end else None


def _stats(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return {"n": 0, "median": None, "p90": None}
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return {"n": len(values), "median": round(statistics.median(values), 2), "p90": round(p90, 2)}


def metrics(days: int = 90, now=None) -> dict:
    """Time to triage / contain / recover (hours from detection; median and p90) and counts, over a window."""
    now = now or timezone.now()
    window = Incident.objects.filter(detected_at__gte=now - timedelta(days=days)).prefetch_related("affected_models")
    incidents = list(window)
    open_now = Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES)
    by_model = {}
    for incident in incidents:
        for model in incident.affected_models.all():
            by_model[model.name] = by_model.get(model.name, 0) + 1
    items = ActionItem.objects.all()
    return {
        "days": days,
        "count": len(incidents),
        "time_to_triage": _stats(_hours(i.detected_at, i.triaged_at) for i in incidents),
        "time_to_contain": _stats(_hours(i.detected_at, i.contained_at) for i in incidents),
        "time_to_recover": _stats(_hours(i.detected_at, i.recovered_at) for i in incidents),
        "open_by_severity": {s.label: open_now.filter(severity=s).count() for s in Severity},
        "open_by_category": {c.label: n for c in Category if (n := open_now.filter(category=c).count())},
        "by_model": dict(sorted(by_model.items(), key=lambda kv: -kv[1])),
        "action_items": {"open": items.filter(status=ActionItemStatus.OPEN).count(),
                         "overdue": items.filter(status=ActionItemStatus.OPEN,
                                                 due_date__lt=timezone.localdate()).count()},
    }


def metric_charts(data: dict) -> list[dict]:
    def bar(title, mapping, colour="#0d6efd"):
        return {"title": title, "figure": {
            "data": [{"type": "bar", "x": list(mapping.keys()), "y": list(mapping.values()),
                      "marker": {"color": colour}}],
            "layout": {"height": 260, "margin": {"l": 40, "r": 10, "t": 10, "b": 80}}}}

    times = {name: data[key] for name, key in (("triage", "time_to_triage"), ("contain", "time_to_contain"),
                                               ("recover", "time_to_recover"))}
    return [
        bar("Open incidents by severity", data["open_by_severity"], "#dc3545"),
        bar("Open incidents by category", data["open_by_category"] or {"none": 0}),
        {"title": f"Hours from detection (last {data['days']} days)", "figure": {
            "data": [{"type": "bar", "name": "median", "x": list(times), "y": [t["median"] for t in times.values()]},
                     {"type": "bar", "name": "p90", "x": list(times), "y": [t["p90"] for t in times.values()]}],
            "layout": {"height": 260, "barmode": "group", "margin": {"l": 40, "r": 10, "t": 10, "b": 40}}}},
        bar("Incidents per model", data["by_model"] or {"none": 0}, "#6f42c1"),
    ]


def incidents_per_day(since) -> dict:
    """{date: incidents opened that day} since `since` (the dashboard's activity chart)."""
    from django.db.models.functions import TruncDate

    rows = (Incident.objects.filter(created_at__gte=since).annotate(day=TruncDate("created_at"))
            .values("day").annotate(n=Count("id")))
    return {row["day"]: row["n"] for row in rows}


def my_open_action_items(user) -> dict:
    """The dashboard panel: the signed-in user's open action items from post-incident reviews."""
    from django.urls import reverse

    items = (ActionItem.objects.filter(owner=user, status=ActionItemStatus.OPEN)
             .select_related("review").order_by("due_date", "id")[:8])
    today = timezone.localdate()
    return {"title": "My open action items", "testid": "my-action-items",
            "empty": "You have no open action items.",
            "items": [{"text": item.description,
                       "url": reverse("incident-detail", args=[item.review.incident_id]) + "#review",
                       "meta": (f"due {item.due_date}" + (" · overdue" if item.due_date < today else ""))
                       if item.due_date else "no due date"} for item in items]}


def dashboard_incident_counts() -> dict:
    """The dashboard's incident tile: open incidents, by severity."""
    incidents = Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES).aggregate(
        total=Count("id"), **{s.value: Count("id", filter=Q(severity=s)) for s in Severity})
    return {"open_incidents": incidents["total"],
            "open_incidents_by_severity": [{"severity": s, "label": s.label, "count": incidents[s.value]}
                                           for s in Severity]}


def unread_notification_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def next_steps(incident, review) -> dict:
    """The transitions the page offers: the forward step as the primary button, unless closing still waits for the
    post-incident review (then writing it is the next step, and closing is shown disabled with the reason)."""
    order = list(IncidentStatus)
    states = sorted((IncidentStatus(s) for s in INCIDENT_TRANSITIONS[incident.status]), key=order.index)
    forward = NEXT_STEP.get(incident.status)
    waiting_for_review = (incident.severity in REVIEW_REQUIRED and not (review and review.signed_off_at))
    close_blocked = ""
    if IncidentStatus.CLOSED in states and waiting_for_review and incident.status not in FALSE_POSITIVE_FROM:
        close_blocked = (f"A {incident.get_severity_display()} incident closes only after its post-incident review "
                         "is signed off.")
    primary = forward if forward in states and not (forward == IncidentStatus.CLOSED and close_blocked) else None
    if incident.status in FALSE_POSITIVE_FROM and waiting_for_review:
        states = [s for s in states if s != IncidentStatus.CLOSED]  # such an incident closes as a false positive
    return {"next_states": states, "primary_next": primary, "close_blocked": close_blocked,
            "review_is_next": bool(close_blocked),
            "may_close_false_positive": incident.status in FALSE_POSITIVE_FROM}
