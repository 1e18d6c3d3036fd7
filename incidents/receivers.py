"""What the incident app does when the registry announces a decision: tell the version's author and the model's
owner (in-app, and by e-mail where configured). Subscribed in IncidentsConfig.ready()."""

from django.urls import reverse

from core import events

from .services import job_finished, notify, timeline_add_analysis

MESSAGES = {
    "approved": "{version} was approved{by}",
    "rejected": "{version} was rejected{by}: {reason}",
    "released": "{version} was released{by}",
    "revoked": "{version} was revoked{by}: {reason}",
}


def on_version_status_changed(*, version, before, after, actor, reason, extra, **_):
    template = MESSAGES.get(after)
    if template is None:
        return
    if after == "released" and extra.get("release_action") == "rollback":
        template = "{model} was rolled back to v{number}{by}: {reason}"
    if after == "approved" and extra.get("approvals"):
        by = f" by {', '.join(extra['approvals'])}"
    else:
        by = f" by {actor.get_username()}" if actor is not None else ""
    message = template.format(version=f"{version.model.name} v{version.number}", model=version.model.name,
                              number=version.number, by=by, reason=reason or "no reason given")
    url = reverse("version-detail", args=[version.model.name, version.number])
    notify([version.created_by, version.model.owner], message, url=url, exclude=actor)


def on_job_finished(*, job, **_):
    if job.incident_id:
        job_finished(job)


def on_fingerprint_checked(*, actor, version, job, incident, outcome, filename, **_):
    timeline_add_analysis(
        actor=actor, incident=incident, job=job, after={"check": "fingerprint", **outcome},
        body=f"Fingerprint check of {filename} against {version}: {outcome.get('matches')}/{outcome.get('n')} "
             f"outputs match, p = {outcome.get('p_value'):.2e}. {outcome.get('verdict', '')}",
    )


def connect() -> None:
    events.subscribe("version.status_changed", on_version_status_changed)
    events.subscribe("job.finished", on_job_finished)
    events.subscribe("fingerprint.checked", on_fingerprint_checked)
