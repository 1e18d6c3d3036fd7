"""Reads about analyses: job lists, the latest result per kind, and release evidence."""

from django.db.models import Max, Min, Q

from governance.choices import CheckOutcome

from .choices import JobStatus
from .models import AnalysisJob

EXPLAINABILITY_KINDS = ("shap_global",)


def job_list():
    return AnalysisJob.objects.select_related("version__model", "dataset", "created_by").defer("result")


def job_detail(pk: int):
    return AnalysisJob.objects.select_related("version__model", "version__artifact", "dataset__file",
                                              "created_by", "rerun_of").get(pk=pk)


def is_stale(job: AnalysisJob, version=None) -> str:
    """Why a result no longer describes the version as it stands (empty when it still does)."""
    version = version or job.version
    if job.artifact_sha256 and job.artifact_sha256 != version.artifact.sha256:
        return (f"computed on another artifact (SHA-256 {job.artifact_sha256[:12]}…, the version's is "
                f"{version.artifact.sha256[:12]}…)")
    if version.evaluation_dataset_id and job.dataset_id != version.evaluation_dataset_id:
        current = version.evaluation_dataset
        if job.dataset_sha256 and job.dataset_sha256 == current.sha256:
            return ""  # another upload of the very same table
        used = f"“{job.dataset.name}” (#{job.dataset_id})" if job.dataset is not None else "a deleted dataset"
        return f"run on dataset {used}, not on the version's evaluation dataset “{current.name}” (#{current.pk})"
    return ""


def latest_results(version, kinds=None) -> dict:
    """The latest succeeded job per kind for this version, with its staleness.

    Only the chosen rows are fetched with their results: a version collects re-runs, and decoding every
    result (each up to megabytes of JSON) was most of the report page's time."""
    candidates = AnalysisJob.objects.filter(version=version, status=JobStatus.SUCCEEDED)
    if kinds is not None:
        candidates = candidates.filter(kind__in=list(kinds))
    chosen = {}
    for pk, kind in candidates.order_by("-finished_at", "-id").values_list("pk", "kind"):
        chosen.setdefault(kind, pk)
    latest = {}
    if not chosen:
        return latest
    for job in AnalysisJob.objects.filter(pk__in=chosen.values()).select_related("dataset", "created_by"):
        job.stale_reason = is_stale(job, version)
        latest[job.kind] = job
    return latest


def version_jobs(version, limit=20):
    return job_list().filter(version=version).order_by("-created_at", "-id")[:limit]


def _evidence(version, kinds, label) -> tuple[str, str, str]:
    from django.urls import reverse

    jobs = AnalysisJob.objects.filter(version=version, kind__in=kinds).filter(
        Q(status=JobStatus.SUCCEEDED) | Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    ).defer("result").order_by("-created_at")
    url = reverse("version-report", args=[version.model.name, version.number])
    for job in jobs:
        if job.status != JobStatus.SUCCEEDED:
            continue
        stale = is_stale(job, version)
        if stale:
            continue
        return CheckOutcome.PASSED, f"{label} #{job.pk} finished {job.finished_at:%Y-%m-%d %H:%M}.", url
    if any(j.status in (JobStatus.QUEUED, JobStatus.RUNNING) for j in jobs):
        return CheckOutcome.MISSING, f"A {label} is running.", url
    return CheckOutcome.MISSING, f"No {label} for this artifact and evaluation dataset yet.", url


def explainability_evidence(version) -> tuple[str, str, str]:
    return _evidence(version, EXPLAINABILITY_KINDS, "SHAP report")


def robustness_evidence(version) -> tuple[str, str, str]:
    """The gate: every required robustness result current and within the policy's thresholds."""
    from django.urls import reverse

    from .scorecard import scorecard

    card = scorecard(version)
    url = reverse("version-report", args=[version.model.name, version.number]) + "#scorecard"
    if card["failures"]:
        return CheckOutcome.FAILED, f"Outside the thresholds: {', '.join(card['failures'])}.", url
    if card["missing"]:
        return CheckOutcome.MISSING, f"Not run on this artifact and dataset: {', '.join(card['missing'])}.", url
    return CheckOutcome.PASSED, "Every robustness result is within the policy's thresholds.", url


def _importance(version, kind):
    job = (AnalysisJob.objects.filter(version=version, kind=kind, status=JobStatus.SUCCEEDED)
           .order_by("-finished_at", "-id").first())
    if job is None or not job.result:
        return None, None
    if kind == "permutation_importance":
        values = {i["feature"]: i["mean"] for i in job.result.get("importances", [])}
    else:
        values = {i["feature"]: i["mean_abs_shap"] for i in job.result.get("importance", [])}
    return job, values


def importance_comparison(a, b) -> dict | None:
    """Feature importance of two versions side by side, from the same kind of analysis for both."""
    for kind, label in (("permutation_importance", "Permutation importance (drop in the metric)"),
                        ("shap_global", "Mean |SHAP|")):
        job_a, values_a = _importance(a, kind)
        job_b, values_b = _importance(b, kind)
        if values_a and values_b:
            chosen = label
            break
    else:
        return None
    features = sorted(set(values_a) | set(values_b), key=lambda f: -max(values_a.get(f, 0), values_b.get(f, 0)))
    features = features[:25]
    rows = [{"feature": f, "a": values_a.get(f), "b": values_b.get(f),
             "delta": (values_b[f] - values_a[f]) if f in values_a and f in values_b else None} for f in features]
    shown = list(reversed(features))
    figure = {
        "data": [
            {"type": "bar", "orientation": "h", "name": f"v{a.number}", "y": shown,
             "x": [values_a.get(f) for f in shown], "marker": {"color": "#adb5bd"}},
            {"type": "bar", "orientation": "h", "name": f"v{b.number}", "y": shown,
             "x": [values_b.get(f) for f in shown], "marker": {"color": "#0d6efd"}},
        ],
        "layout": {"barmode": "group", "height": 140 + 22 * len(shown), "margin": {"l": 140, "r": 20, "t": 10, "b": 40},
                   "xaxis": {"title": {"text": chosen}}, "legend": {"orientation": "h"}},
    }
    return {"kind": kind, "label": chosen, "rows": rows, "figure": figure, "job_a": job_a.pk, "job_b": job_b.pk}


def hardening_origin(version):
    """The hardening job that produced this version, if any: its before/after comparison belongs on the page."""
    from .kinds import HARDENING_KINDS

    return (AnalysisJob.objects.filter(version__model_id=version.model_id, kind__in=HARDENING_KINDS,
                                       status=JobStatus.SUCCEEDED, result__new_version=version.number)
            .select_related("version").first())


def job_queue_progress(*, waiting_since):
    """For the health check: when the oldest queued job was enqueued, and the latest sign of work — a start,
    a heartbeat or a finish (looked up only when a job has waited past `waiting_since`)."""
    waiting = AnalysisJob.objects.filter(status=JobStatus.QUEUED).aggregate(at=Min("created_at"))["at"]
    if waiting is None or waiting >= waiting_since:
        return waiting, None
    marks = AnalysisJob.objects.aggregate(s=Max("started_at"), h=Max("heartbeat_at"), f=Max("finished_at"))
    return waiting, max((m for m in marks.values() if m is not None), default=None)


def jobs_per_day(since) -> dict:
    """{date: analysis jobs created that day} since `since` (the dashboard's activity chart)."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    rows = (AnalysisJob.objects.filter(created_at__gte=since).annotate(day=TruncDate("created_at"))
            .values("day").annotate(n=Count("id")))
    return {row["day"]: row["n"] for row in rows}


def dashboard_job_counts() -> dict:
    """The dashboard's job tiles."""
    return {"running_jobs": AnalysisJob.objects.filter(status=JobStatus.RUNNING).count(),
            "queued_jobs": AnalysisJob.objects.filter(status=JobStatus.QUEUED).count()}


def version_page_context(version) -> dict:
    """What the registry's version page shows of the analyses: recent jobs and the hardening origin."""
    return {"jobs": version_jobs(version, limit=10), "hardening": hardening_origin(version)}
