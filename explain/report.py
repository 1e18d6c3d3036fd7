"""Everything known about a version, as one document: the report page, the JSON and the HTML export."""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from governance import checks
from governance.models import MODEL_CARD_FIELDS, ModelCard

from . import selectors
from .kinds import KINDS as ANALYSES
from .scorecard import scorecard


def _card(version) -> dict:
    try:
        card = version.model.card
    except ModelCard.DoesNotExist:
        return {}
    return {label: getattr(card, field) for field, label, _ in MODEL_CARD_FIELDS}


def _analysis_entry(kind: str, job) -> dict:
    module = ANALYSES.get(kind)
    title = getattr(module, "TITLE", kind)
    entry = {"kind": kind, "title": title, "short_title": title.split(":")[0].split(" (")[0]}
    if job is None:
        return {**entry, "status": "missing"}
    result = job.result or {}
    return {
        **entry,
        "status": "stale" if job.stale_reason else "current",
        "stale_reason": job.stale_reason,
        "job_id": job.pk,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "run_by": job.created_by.get_username(),
        "dataset": {"id": job.dataset_id, "name": job.dataset.name if job.dataset else None,
                    "sha256": job.dataset_sha256},
        "artifact_sha256": job.artifact_sha256,
        "params": job.params,
        "rows": len(result.get("rows_used") or []),
        "explainer": result.get("explainer") or result.get("method"),
        "summary": result.get("summary"),
        "verdict": result.get("verdict"),
        "charts": result.get("charts", []),
        "tables": result.get("tables", []),
        "result": result,
    }


def build(version, *, include_full_results: bool = True) -> dict:
    latest = selectors.latest_results(version)
    analyses = [_analysis_entry(kind, latest.get(kind)) for kind in ANALYSES]
    if not include_full_results:
        for entry in analyses:
            entry.pop("result", None)
    return {
        "generated_at": timezone.now().isoformat(),
        "generator": "Bulwark",
        "model": {
            "name": version.model.name, "title": version.model.title, "task": version.model.task,
            "risk_tier": version.model.risk_tier, "owner": version.model.owner.get_username(),
            "description": version.model.description,
        },
        "version": {
            "number": version.number, "status": version.status, "flavour": version.flavour,
            "artifact_sha256": version.artifact.sha256, "artifact_size": version.artifact.size,
            "feature_names": version.feature_names, "class_labels": version.class_labels,
            "metrics": version.metrics, "created_by": version.created_by.get_username(),
            "created_at": version.created_at.isoformat(), "parent": version.parent.number if version.parent else None,
            "evaluation_dataset": ({"id": version.evaluation_dataset_id, "name": version.evaluation_dataset.name,
                                    "sha256": version.evaluation_dataset.file.sha256}
                                   if version.evaluation_dataset else None),
        },
        "model_card": _card(version),
        "compatibility": {"status": version.compat_status, **(version.compat_result or {})},
        "checks": [c.as_dict() for c in checks.evaluate(version)],
        "robustness_scorecard": scorecard(version, latest),
        "analyses": analyses,
    }


def export_html(version) -> str:
    """A single self-contained HTML file: styles, plotly.js and the data inline; it needs no network."""
    document = build(version)
    plotly_js = Path(finders.find("vendor/plotly/plotly-cartesian.min.js")).read_text(encoding="utf-8")
    css = Path(finders.find("vendor/bootstrap/bootstrap.min.css")).read_text(encoding="utf-8")
    return render_to_string("explain/report_export.html", {
        "report": document, "plotly_js": plotly_js, "bootstrap_css": css, "version": version,
        "debug": settings.DEBUG,
    })
