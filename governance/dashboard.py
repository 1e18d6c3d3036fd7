"""The signed-in user's part of the dashboard: panels and the activity chart, with providers from outer apps.

The registry owns the dashboard; explain and incidents register what they add (a series of the activity chart, a
personal panel) in their AppConfig.ready(), so the registry never imports them. A panel is a function of the user
returning {"title", "items": [{"text", "url", "meta"}], "empty", "testid", "more_url"} or None.
"""

import datetime
from collections.abc import Callable

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

ACTIVITY_DAYS = 30
PANEL_ITEMS = 8

_panels: list[tuple[int, Callable]] = []
_series: dict[str, Callable] = {}
_counts: list[Callable] = []
_extras: dict[str, Callable] = {}


def register_panel(provider: Callable, *, order: int = 100) -> None:
    if all(existing is not provider for _, existing in _panels):
        _panels.append((order, provider))
        _panels.sort(key=lambda pair: pair[0])


def register_series(name: str, counts: Callable) -> None:
    """`counts(since)` -> {date: count} of things that happened per day since `since` (a datetime)."""
    _series[name] = counts


def register_counts(provider: Callable) -> None:
    """`provider()` -> {name: value} added to the dashboard's counts (the tiles at the top)."""
    if provider not in _counts:
        _counts.append(provider)


def register_extra(name: str, provider: Callable) -> None:
    """`provider(user)` -> a value the dashboard template shows under `name` (e.g. overdue action items)."""
    _extras[name] = provider


def counts() -> dict:
    from .selectors import dashboard_counts

    values = dashboard_counts()
    for provider in _counts:
        values.update(provider())
    return values


def extras(user) -> dict:
    return {name: provider(user) for name, provider in _extras.items()}


def panels(user) -> list[dict]:
    return [panel for panel in (provider(user) for _, provider in _panels) if panel is not None]


def activity_chart(days: int = ACTIVITY_DAYS) -> dict:
    """A Plotly figure (JSON-safe dict): one bar series per provider, per day over the last `days` days."""
    today = timezone.localdate()
    dates = [today - datetime.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    since = timezone.make_aware(datetime.datetime.combine(dates[0], datetime.time.min))
    data = []
    for name, counts in _series.items():
        per_day = counts(since)
        data.append({"type": "bar", "name": name, "x": [d.isoformat() for d in dates],
                     "y": [int(per_day.get(d, 0)) for d in dates]})
    highest = max((max(trace["y"]) for trace in data), default=0)
    step = max(1, -(-highest // 4))  # whole counts on the axis, about four ticks
    return {"data": data, "layout": {"barmode": "group", "height": 240, "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
                                     "legend": {"orientation": "h", "y": -0.25},
                                     "yaxis": {"title": "per day", "rangemode": "tozero", "dtick": step,
                                               "tickformat": "d"},
                                     "xaxis": {"type": "date", "tickformat": "%d %b"}}}


def _my_versions_in_review(user) -> dict:
    from .choices import VersionStatus
    from .models import ModelVersion

    mine = (ModelVersion.objects.filter(status=VersionStatus.IN_REVIEW)
            .filter(Q(created_by=user) | Q(submitted_by=user) | Q(model__owner=user))
            .select_related("model").order_by("-submitted_at")[:PANEL_ITEMS])
    return {"title": "My versions awaiting review", "testid": "my-versions-in-review",
            "empty": "None of your versions is waiting for a review.",
            "items": [{"text": f"{v.model.name} v{v.number}",
                       "url": reverse("version-detail", args=[v.model.name, v.number]),
                       "meta": f"submitted {v.submitted_at:%Y-%m-%d}" if v.submitted_at else ""} for v in mine]}


def _recent_activity_on_my_models(user) -> dict:
    from .models import AuditEvent, ModelVersion, RegisteredModel

    model_ids = list(RegisteredModel.objects.filter(owner=user).values_list("pk", flat=True))
    version_ids = ModelVersion.objects.filter(model_id__in=model_ids).values_list("pk", flat=True)
    events = (AuditEvent.objects.filter(Q(object_type="governance.registeredmodel",
                                          object_id__in=[str(pk) for pk in model_ids])
                                        | Q(object_type="governance.modelversion",
                                            object_id__in=[str(pk) for pk in version_ids]))
              .exclude(actor=user).order_by("-seq")[:PANEL_ITEMS]) if model_ids else []
    return {"title": "Recent activity on my models", "testid": "activity-on-my-models",
            "empty": "Nobody else has changed your models lately." if model_ids else "You own no models.",
            "more_url": reverse("audit-list"),
            "items": [{"text": f"{e.actor_username or 'system'}: {e.action} {e.object_label}", "url": "",
                       "meta": f"{timezone.localtime(e.created_at):%Y-%m-%d %H:%M}"} for e in events]}


register_panel(_my_versions_in_review, order=10)
register_panel(_recent_activity_on_my_models, order=30)
