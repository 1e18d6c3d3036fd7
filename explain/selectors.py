"""Reads about analyses: job lists, the latest result per kind, and release evidence."""

from django.db.models import Q

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
        return "computed on a different artifact"
    if version.evaluation_dataset_id and job.dataset_id != version.evaluation_dataset_id:
        return "the version's evaluation dataset changed since"
    return ""


def latest_results(version) -> dict:
    """The latest succeeded job per kind for this version, with its staleness."""
    latest = {}
    for job in (AnalysisJob.objects.filter(version=version, status=JobStatus.SUCCEEDED)
                .select_related("dataset", "created_by").order_by("-finished_at", "-id")):
        if job.kind not in latest:
            job.stale_reason = is_stale(job, version)
            latest[job.kind] = job
    return latest


def version_jobs(version, limit=20):
    return job_list().filter(version=version).order_by("-created_at", "-id")[:limit]


def _evidence(version, kinds, label) -> tuple[str, str, str]:
    from django.urls import reverse

    jobs = AnalysisJob.objects.filter(version=version, kind__in=kinds).filter(
        Q(status=JobStatus.SUCCEEDED) | Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    ).order_by("-created_at")
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
    return (CheckOutcome.MISSING, "No robustness gate has been evaluated for this artifact yet.", "")
