"""Exports: the serious-incident report (EU AI Act Art. 73 style) and the post-incident review."""

from django.conf import settings
from django.utils import timezone

from .choices import NIST_PHASES
from .models import REVIEW_FIELDS, PostIncidentReview


def _iso(value):
    """A time to the second in the deployment's time zone (TIME_ZONE), with its offset; a date as a date."""
    if not value:
        return None
    if hasattr(value, "tzinfo"):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return value.isoformat()


def build(incident) -> dict:
    review = PostIncidentReview.objects.filter(incident=incident).first()
    phase, csf = NIST_PHASES[incident.status]
    return {
        "report_type": "serious-incident report (EU AI Act Art. 73 structure)",
        "generated_at": _iso(timezone.now()),
        "time_zone": settings.TIME_ZONE,
        "provider": settings.BULWARK_ORGANISATION,
        "provider_configured": settings.BULWARK_ORGANISATION != settings.DEFAULT_ORGANISATION,
        "incident": {"id": incident.pk, "title": incident.title, "severity": incident.get_severity_display(),
                     "category": incident.get_category_display(), "status": incident.get_status_display(),
                     "nist_phase": phase, "csf_function": csf,
                     "resolution": incident.get_resolution_display() if incident.resolution else None,
                     "resolution_reason": incident.resolution_reason},
        "ai_system": [
            {"model": v.model.name, "title": v.model.title, "version": v.number, "status": v.status,
             "artifact_sha256": v.artifact.sha256, "risk_tier": v.model.risk_tier}
            for v in incident.affected_versions.select_related("model", "artifact")
        ] or [{"model": m.name, "title": m.title, "risk_tier": m.risk_tier} for m in incident.affected_models.all()],
        "what_happened": incident.description,
        "when": {"detected_at": _iso(incident.detected_at), "reported_at": _iso(incident.created_at),
                 "triaged_at": _iso(incident.triaged_at), "contained_at": _iso(incident.contained_at),
                 "eradicated_at": _iso(incident.eradicated_at), "recovered_at": _iso(incident.recovered_at),
                 "closed_at": _iso(incident.closed_at)},
        "detection_source": incident.get_detection_source_display(),
        "harm": {"level": incident.get_harm_level_display(),
                 "domain": incident.get_harm_domain_display() if incident.harm_domain else None,
                 "technical_failure": (incident.get_technical_failure_display() if incident.technical_failure
                                       else None)},
        "affected_persons_or_services": incident.affected_parties,
        "corrective_actions": [
            {"action": a.get_kind_display(), "version": str(a.version), "reason": a.reason,
             "by": a.actor.get_username(), "at": _iso(a.created_at)}
            for a in incident.actions.select_related("version__model", "actor")
        ],
        "follow_up_actions": [
            {"description": i.description, "owner": i.owner.get_username() if i.owner else None,
             "due": _iso(i.due_date), "status": i.get_status_display()}
            for i in (review.action_items.select_related("owner") if review else [])
        ],
        "root_cause": review.root_cause if review else "",
        "review_signed_off": bool(review and review.signed_off_at),
        "external_references": [line for line in incident.external_references.splitlines() if line.strip()],
        "timeline": [{"at": _iso(e.at), "kind": e.kind, "by": e.author.get_username() if e.author else None,
                      "text": e.body} for e in incident.timeline.select_related("author")],
    }


def review_markdown(incident) -> str:
    review = PostIncidentReview.objects.filter(incident=incident).first()
    lines = [f"# Post-incident review: #{incident.pk} {incident.title}", "",
             f"Severity {incident.get_severity_display()} · {incident.get_category_display()} · "
             f"status {incident.get_status_display()}", ""]
    if review is None:
        return "\n".join(lines + ["No review written yet."]) + "\n"
    labels = {f: f.replace("_", " ").capitalize() for f in REVIEW_FIELDS}
    for field in REVIEW_FIELDS:
        lines += [f"## {labels[field]}", "", getattr(review, field) or "_Not written._", ""]
    lines += ["## Action items", ""]
    for item in review.action_items.select_related("owner"):
        owner = item.owner.get_username() if item.owner else "unassigned"
        lines.append(f"- [{'x' if item.status == 'done' else ' '}] {item.description} — {owner}, due "
                     f"{item.due_date or 'n/a'} ({item.get_status_display()})")
    signed = (f"Signed off by {review.signed_off_by.get_username()} on {review.signed_off_at:%Y-%m-%d %H:%M}."
              if review.signed_off_at else "Not signed off.")
    return "\n".join(lines + ["", signed]) + "\n"
