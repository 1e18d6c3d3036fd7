"""What the analysis app does when the registry announces something. Subscribed in ExplainConfig.ready()."""

import contextlib

from core import events
from core.errors import DomainError


def fingerprint_after_check(*, version, status, **_):
    """Ownership evidence, kept from the start: inputs near the decision boundary and the model's answers, for a
    classifier whose compatibility check passed on an evaluation dataset."""
    from .models import AnalysisJob
    from .services import job_enqueue

    if status != "passed" or version.model.task != "classification" or not version.evaluation_dataset_id:
        return
    if AnalysisJob.objects.filter(version=version, kind="fingerprint").exists():
        return
    with contextlib.suppress(DomainError):  # e.g. the author may no longer run jobs: run it by hand then
        job_enqueue(actor=version.created_by, version=version, kind="fingerprint")


def connect() -> None:
    events.subscribe("model_version.compatibility_checked", fingerprint_after_check)
