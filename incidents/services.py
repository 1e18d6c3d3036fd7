"""Incident response writes: open, update, move through the NIST phases, contain, review — all audited."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound
from governance import artifacts, audit
from governance.models import ModelVersion, RegisteredModel
from governance.permissions import Action, require

from .choices import (
    FALSE_POSITIVE_FROM,
    INCIDENT_TRANSITIONS,
    PHASE_TIMESTAMP,
    REVIEW_REQUIRED,
    ActionItemStatus,
    Category,
    IncidentStatus,
    Resolution,
    Severity,
    TimelineKind,
)
from .models import (
    REVIEW_FIELDS,
    ActionItem,
    ContainmentAction,
    Incident,
    Notification,
    PlaybookStep,
    PlaybookTask,
    PostIncidentReview,
    TimelineEntry,
)

EDITABLE = ("title", "description", "category", "detection_source", "external_references", "harm_level",
            "harm_domain", "technical_failure", "affected_parties", "detected_at")
ROLE_FIELDS = ("commander", "scribe", "liaison")
REVIEW_DUE_BUSINESS_DAYS = 5


def add_business_days(start: datetime, days: int) -> datetime:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _entry(incident, kind, body, *, author=None, link_url="", link_label="", evidence=None, job=None):
    return TimelineEntry.objects.create(incident=incident, kind=kind, body=body, author=author, link_url=link_url,
                                        link_label=link_label[:200], evidence=evidence, job=job)


def _notify(users, incident, message: str) -> None:
    notify(users, message, incident=incident)


def notify(users, message: str, *, incident=None, url: str = "", body: str = "", exclude=None) -> int:
    """In-app notifications for active users (each once, `exclude` left out), and an e-mail after commit to those
    with an address when e-mail is configured. Returns how many were notified."""
    users = {u for u in users if u is not None and u.is_active and (exclude is None or u.pk != exclude.pk)}
    for user in users:
        Notification.objects.create(user=user, incident=incident, message=message[:500], url=url[:300])
    recipients = sorted({u.email for u in users if u.email})
    if recipients:
        prefix = f"Incident #{incident.pk}: " if incident is not None else ""
        subject = f"[Bulwark] {prefix}{message}"[:200]
        text = body or (f"{message}\n\n{incident.title} ({incident.get_severity_display()}, "
                        f"{incident.get_status_display()})" if incident is not None else message)
        if url and settings.SITE_URL:
            text += f"\n\n{settings.SITE_URL.rstrip('/')}{url}"
        messages = [(subject, text, settings.DEFAULT_FROM_EMAIL, [address]) for address in recipients]
        transaction.on_commit(lambda: send_mass_mail(messages, fail_silently=True))  # one each: no shared To:
    return len(users)


def _notify_model_owners(incident, models, actor) -> None:
    """Owners of the models an incident names learn of it (the first time each model is named)."""
    owners = [m.owner for m in models]
    names = ", ".join(m.name for m in models)
    if owners:
        notify(owners, f"Incident #{incident.pk} ({incident.get_severity_display()}) names your model {names}",
               incident=incident, exclude=actor)


def _responders(incident):
    return [incident.commander, incident.scribe, incident.liaison, *incident.experts.all()]


def _snapshot(incident) -> dict:
    return {
        **{f: str(getattr(incident, f)) for f in EDITABLE},
        "severity": incident.severity, "status": incident.status,
        **{f: getattr(incident, f).get_username() if getattr(incident, f) else None for f in ROLE_FIELDS},
    }


def _versions_and_models(models, versions):
    models = list(models or [])
    versions = list(versions or [])
    for version in versions:
        if version.model not in models:
            models.append(version.model)
    return models, versions


@transaction.atomic
def incident_open(*, actor, title: str, severity: str, category: str = Category.OTHER, description: str = "",
                  affected_models=(), affected_versions=(), detected_at=None, commander=None, experts=None,
                  **fields) -> Incident:
    """Open an incident. Anyone who may open one names the commander; experts, scribe and liaison are assigned
    by incident managers, checked before anything is written."""
    require(actor, Action.INCIDENT_OPEN)
    if experts or fields.get("scribe") or fields.get("liaison"):
        require(actor, Action.INCIDENT_MANAGE)
    if not (title or "").strip():
        raise InvalidInput("A title is required.", field="title")
    if severity not in Severity.values:
        raise InvalidInput(f"severity must be one of {', '.join(Severity.values)}.", field="severity")
    if category not in Category.values:
        raise InvalidInput(f"category must be one of {', '.join(Category.values)}.", field="category")
    unknown = set(fields) - set(EDITABLE) - {"scribe", "liaison"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    detected_at = detected_at or timezone.now()
    if detected_at > timezone.now() + timedelta(minutes=5):
        raise InvalidInput("detected_at cannot be in the future.", field="detected_at")
    incident = Incident.objects.create(title=title.strip(), severity=severity, category=category,
                                       description=description, reported_by=actor, detected_at=detected_at,
                                       commander=commander, **fields)
    models, versions = _versions_and_models(affected_models, affected_versions)
    incident.affected_models.set(models)
    incident.affected_versions.set(versions)
    if experts:
        incident.experts.set(experts)
    for step in PlaybookStep.objects.filter(category=category):
        PlaybookTask.objects.create(incident=incident, phase=step.phase, order=step.order, text=step.text,
                                    owner_role=step.owner_role, link=step.link)
    _entry(incident, TimelineKind.CREATED, f"Opened as {incident.get_severity_display()} "
                                           f"({incident.get_category_display()}) by {actor.get_username()}.",
           author=actor)
    audit.record(actor=actor, action="incident.open", obj=incident, after={
        **_snapshot(incident), "models": [m.name for m in models], "versions": [str(v) for v in versions]})
    if commander is not None:
        _notify([commander], incident, f"You are the incident commander of #{incident.pk}")
    _notify_model_owners(incident, models, actor)
    return incident


@transaction.atomic
def incident_update(*, actor, incident: Incident, affected_models=None, affected_versions=None, experts=None,
                    **fields) -> Incident:
    """Edit fields, severity and roles. Severity and role changes go on the timeline and notify people."""
    require(actor, Action.INCIDENT_MANAGE)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if "status" in fields:
        target = fields.pop("status")
        if target != incident.status:
            incident = incident_transition(actor=actor, incident=incident, to=target,
                                           reason=fields.pop("reason", ""),
                                           false_positive=fields.pop("false_positive", False))
    fields.pop("reason", None)
    fields.pop("false_positive", None)
    unknown = set(fields) - set(EDITABLE) - set(ROLE_FIELDS) - {"severity"}
    if unknown:
        raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    before = _snapshot(incident)
    if "severity" in fields and fields["severity"] not in Severity.values:
        raise InvalidInput(f"severity must be one of {', '.join(Severity.values)}.", field="severity")
    old_severity = incident.severity
    old_roles = {f: getattr(incident, f) for f in ROLE_FIELDS}
    for key, value in fields.items():
        setattr(incident, key, value)
    incident.save()
    if affected_models is not None or affected_versions is not None:
        named_before = set(incident.affected_models.values_list("pk", flat=True))
        models, versions = _versions_and_models(
            affected_models if affected_models is not None else incident.affected_models.all(),
            affected_versions if affected_versions is not None else incident.affected_versions.all())
        incident.affected_models.set(models)
        incident.affected_versions.set(versions)
        _notify_model_owners(incident, [m for m in models if m.pk not in named_before], actor)
    if experts is not None:
        incident.experts.set(experts)
    if incident.severity != old_severity:
        message = f"Severity changed from {Severity(old_severity).label} to {incident.get_severity_display()}"
        _entry(incident, TimelineKind.SEVERITY, message + f" by {actor.get_username()}.", author=actor)
        _notify(_responders(incident), incident, message)
    for role in ROLE_FIELDS:
        new = getattr(incident, role)
        if new != old_roles[role]:
            label = role.replace("_", " ")
            _entry(incident, TimelineKind.ASSIGNMENT,
                   f"{label.capitalize()}: {new.get_username() if new else 'nobody'} (was "
                   f"{old_roles[role].get_username() if old_roles[role] else 'nobody'}).", author=actor)
            if new is not None:
                _notify([new], incident, f"You are now the {label} of incident #{incident.pk}")
    after = _snapshot(incident)
    changed = {k: after[k] for k in after if after[k] != before.get(k)}
    if changed:
        audit.record(actor=actor, action="incident.update", obj=incident,
                     before={k: before.get(k) for k in changed}, after=changed)
    return incident


def review_required(incident: Incident) -> bool:
    return incident.severity in REVIEW_REQUIRED


@transaction.atomic
def incident_transition(*, actor, incident: Incident, to: str, reason: str = "",
                        false_positive: bool = False) -> Incident:
    """Move the incident on. `false_positive` closes a false alarm (reported or triaged, nothing contained) with a
    reason and no post-incident review, whatever its severity."""
    require(actor, Action.INCIDENT_MANAGE)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    current = incident.status
    if to not in IncidentStatus.values:
        raise InvalidInput(f"Unknown status {to!r}.", field="status")
    if false_positive:
        if to != IncidentStatus.CLOSED or current not in FALSE_POSITIVE_FROM:
            raise Conflict(f"Only a reported or triaged incident closes as a false positive; #{incident.pk} is "
                           f"{IncidentStatus(current).label.lower()}.")
        if not (reason or "").strip():
            raise InvalidInput("Say why this is a false positive.", field="reason")
    if to not in INCIDENT_TRANSITIONS[current]:
        raise Conflict(f"Incident #{incident.pk} is {IncidentStatus(current).label.lower()}; it cannot move to "
                       f"{IncidentStatus(to).label.lower()}.")
    reopening = current == IncidentStatus.CLOSED
    if reopening and not (reason or "").strip():
        raise InvalidInput("Reopening a closed incident needs a reason.", field="reason")
    if to == IncidentStatus.CLOSED and review_required(incident) and not false_positive:
        review = PostIncidentReview.objects.filter(incident=incident).first()
        if review is None or review.signed_off_at is None:
            raise Conflict(f"A {incident.get_severity_display()} incident cannot close before its post-incident "
                           "review is signed off by an incident manager.")
    now = timezone.now()
    incident.status = to
    stamp = PHASE_TIMESTAMP.get(to)
    if stamp and (getattr(incident, stamp) is None or to == IncidentStatus.CLOSED):
        setattr(incident, stamp, now)
    if reopening:
        incident.reopened_count += 1
        incident.closed_at = None
        incident.resolution, incident.resolution_reason = Resolution.NONE, ""
    elif to == IncidentStatus.CLOSED:
        incident.resolution = Resolution.FALSE_POSITIVE if false_positive else Resolution.RESOLVED
        incident.resolution_reason = (reason or "").strip() if false_positive else ""
    incident.save()
    if to == IncidentStatus.RECOVERED:
        review, _ = PostIncidentReview.objects.get_or_create(incident=incident)
        if review.due_at is None:
            review.due_at = add_business_days(now, REVIEW_DUE_BUSINESS_DAYS)
            review.save(update_fields=["due_at"])
    verb = ("Reopened" if reopening else "Closed as a false positive" if false_positive
            else f"Moved to {incident.get_status_display().lower()}")
    _entry(incident, TimelineKind.STATUS, f"{verb} by {actor.get_username()}" + (f": {reason}" if reason else "."),
           author=actor)
    audit.record(actor=actor, action="incident.transition", obj=incident, before={"status": current},
                 after={"status": to, **({"reason": reason} if reason else {}),
                        **({"resolution": incident.resolution} if to == IncidentStatus.CLOSED else {})})
    return incident


def timeline_add(*, actor, incident: Incident, body: str = "", link_url: str = "", link_label: str = "",
                 evidence_file=None) -> TimelineEntry:
    """A note, a link, or evidence (a file: size and type limited, stored encrypted, name sanitised)."""
    require(actor, Action.INCIDENT_OPEN)
    body = (body or "").strip()
    if not body and evidence_file is None and not link_url:
        raise InvalidInput("Write a note, add a link, or attach a file.", field="body")
    if link_url and not (link_url.startswith("/") or link_url.startswith("https://")
                         or link_url.startswith("http://")):
        raise InvalidInput("Links must be http(s) URLs or paths inside Bulwark.", field="link_url")
    if evidence_file is None:
        with transaction.atomic():
            entry = _entry(incident, TimelineKind.NOTE, body, author=actor, link_url=link_url,
                           link_label=link_label or link_url)
            audit.record(actor=actor, action="incident.note", obj=incident, after={"entry": entry.pk})
        return entry
    name = artifacts.sanitize_original_name(getattr(evidence_file, "name", "evidence"))
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if extension not in settings.EVIDENCE_EXTENSIONS:
        from core.errors import UnsupportedMediaType

        raise UnsupportedMediaType(f"Evidence files may be {', '.join(sorted(settings.EVIDENCE_EXTENSIONS))}; "
                                   f"not {extension or 'a file without extension'}.")
    with artifacts.artifact_upload(evidence_file, original_name=name,
                                   max_bytes=settings.EVIDENCE_MAX_BYTES) as stored:
        entry = _entry(incident, TimelineKind.EVIDENCE, body or f"Evidence: {stored.original_name}", author=actor,
                       evidence=stored)
        audit.record(actor=actor, action="incident.evidence", obj=incident,
                     after={"entry": entry.pk, "file": stored.original_name, "sha256": stored.sha256})
    return entry


@transaction.atomic
def timeline_add_analysis(*, actor, incident: Incident, job, body: str, after: dict) -> TimelineEntry:
    """Evidence computed from an analysis (e.g. a fingerprint check of a suspect model), linked to its job."""
    require(actor, Action.INCIDENT_OPEN)
    entry = _entry(incident, TimelineKind.JOB, body, author=actor, link_url=f"/jobs/{job.pk}/",
                   link_label=f"{job.kind} job #{job.pk}", job=job)
    audit.record(actor=actor, action="incident.analysis_evidence", obj=incident, after={"entry": entry.pk, **after})
    return entry


@transaction.atomic
def containment_action(*, actor, incident: Incident, kind: str, reason: str, version: ModelVersion | None = None,
                       model: RegisteredModel | None = None) -> ContainmentAction:
    """Revoke a version or roll a model back, through the registry's own services and rules."""
    from governance import services as registry

    require(actor, Action.INCIDENT_MANAGE)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why (it is recorded on the version and the incident).", field="reason")
    label = f"incident #{incident.pk}"
    if kind == ContainmentAction.Kind.REVOKE:
        if version is None:
            raise InvalidInput("Choose the version to revoke.", field="version")
        result = registry.version_revoke(actor=actor, version=version, reason=f"Revoked due to {label}: {reason}")
        model = result.model
    elif kind == ContainmentAction.Kind.ROLLBACK:
        model = model or (version.model if version else None)
        if model is None:
            raise InvalidInput("Choose the model to roll back.", field="model")
        result = registry.model_rollback(actor=actor, model=model, reason=f"Rollback due to {label}: {reason}")
    else:
        raise InvalidInput("kind must be 'revoke' or 'rollback'.", field="kind")
    action = ContainmentAction.objects.create(incident=incident, kind=kind, model=model, version=result,
                                              reason=reason, actor=actor)
    incident.affected_models.add(model)
    incident.affected_versions.add(result)
    link = f"/models/{model.name}/versions/{result.number}/"
    text = (f"Revoked {result}" if kind == ContainmentAction.Kind.REVOKE else f"Rolled {model.name} back to "
            f"v{result.number}")
    _entry(incident, TimelineKind.ACTION, f"{text}: {reason}", author=actor, link_url=link, link_label=str(result))
    audit.record(actor=actor, action=f"incident.{kind}", obj=incident,
                 after={"action": action.pk, "version": str(result), "reason": reason})
    _notify(_responders(incident), incident, f"Containment: {text}")
    return action


@transaction.atomic
def task_set_done(*, actor, task: PlaybookTask, done: bool) -> PlaybookTask:
    require(actor, Action.INCIDENT_MANAGE)
    task = PlaybookTask.objects.select_for_update().get(pk=task.pk)
    if bool(task.done_at) == done:
        return task
    task.done_at = timezone.now() if done else None
    task.done_by = actor if done else None
    task.save(update_fields=["done_at", "done_by"])
    _entry(task.incident, TimelineKind.TASK, f"{'Done' if done else 'Reopened'}: {task.text}", author=actor)
    audit.record(actor=actor, action="incident.task", obj=task.incident, after={"task": task.pk, "done": done})
    return task


def timeline_summary(incident: Incident) -> str:
    lines = [f"- {e.at:%Y-%m-%d %H:%M} — {e.body}" for e in incident.timeline.all()
             if e.kind in (TimelineKind.CREATED, TimelineKind.STATUS, TimelineKind.SEVERITY, TimelineKind.ACTION)]
    return "\n".join(lines)


@transaction.atomic
def review_save(*, actor, incident: Incident, action_items: list[dict] | None = None, **fields) -> PostIncidentReview:
    require(actor, Action.INCIDENT_MANAGE)
    unknown = set(fields) - set(REVIEW_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown review field(s): {', '.join(sorted(unknown))}.")
    review, created = PostIncidentReview.objects.select_for_update().get_or_create(incident=incident)
    if review.signed_off_at is not None:
        raise Conflict("The review is signed off; it can no longer change.")
    if created and not fields.get("timeline_summary"):
        review.timeline_summary = timeline_summary(incident)
    for key, value in fields.items():
        setattr(review, key, value or "")
    review.save()
    if action_items is not None:
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        review.action_items.all().delete()
        for item in action_items:
            description = str(item.get("description", "")).strip()
            if not description:
                raise InvalidInput("Every action item needs a description.", field="action_items")
            status = item.get("status") or ActionItemStatus.OPEN
            if status not in ActionItemStatus.values:
                raise InvalidInput(f"Unknown action item status {status!r}.", field="action_items")
            owner = users.filter(username=item["owner"]).first() if item.get("owner") else None
            if item.get("owner") and owner is None:
                raise InvalidInput(f"No user named {item['owner']!r}.", field="action_items")
            due = item.get("due_date") or None
            if isinstance(due, str):
                try:
                    due = date.fromisoformat(due)
                except ValueError:
                    raise InvalidInput(f"Due date {due!r} is not a date (YYYY-MM-DD).", field="action_items")
            ActionItem.objects.create(review=review, description=description[:500], owner=owner,
                                      due_date=due, status=status)
    _entry(incident, TimelineKind.REVIEW, f"Post-incident review {'started' if created else 'updated'} by "
                                          f"{actor.get_username()}.", author=actor)
    audit.record(actor=actor, action="incident.review_save", obj=incident,
                 after={**{k: v[:200] for k, v in fields.items()}, "action_items": len(action_items or [])})
    return review


@transaction.atomic
def review_sign(*, actor, incident: Incident) -> PostIncidentReview:
    require(actor, Action.INCIDENT_MANAGE)
    review = PostIncidentReview.objects.select_for_update().filter(incident=incident).first()
    if review is None:
        raise NotFound("Write the post-incident review before signing it off.")
    if review.signed_off_at is not None:
        raise Conflict("The review is already signed off.")
    missing = [f for f in ("summary", "root_cause", "lessons_learned") if not getattr(review, f).strip()]
    if missing:
        raise InvalidInput(f"Fill in {', '.join(missing)} before signing off.", field=missing[0])
    review.signed_off_by = actor
    review.signed_off_at = timezone.now()
    review.save(update_fields=["signed_off_by", "signed_off_at"])
    _entry(incident, TimelineKind.REVIEW, f"Review signed off by {actor.get_username()}.", author=actor)
    audit.record(actor=actor, action="incident.review_sign", obj=incident, after={"signed_off_by":
                                                                                  actor.get_username()})
    return review


def incident_start_job(*, actor, incident: Incident, version: ModelVersion, kind: str, params: dict | None = None):
    from explain.services import job_enqueue

    job = job_enqueue(actor=actor, version=version, kind=kind, params=params or {}, incident=incident)
    with transaction.atomic():
        _entry(incident, TimelineKind.JOB, f"Started {kind} on {version} (job #{job.pk}).", author=actor,
               link_url=f"/jobs/{job.pk}/", link_label=f"job #{job.pk}", job=job)
    return job


def job_finished(job) -> None:
    """Called by the job engine: the result of an analysis started from an incident goes on its timeline."""
    if not job.incident_id:
        return
    outcome = job.get_status_display().lower()
    detail = f": {job.error_message[:300]}" if job.error_message else "."
    _entry(job.incident, TimelineKind.JOB, f"Analysis {job.kind} on {job.version} {outcome}{detail}",
           link_url=f"/jobs/{job.pk}/", link_label=f"job #{job.pk}", job=job)


def notifications_overdue_action_items() -> int:
    """Periodic: tell owners about action items past their due date (once per item per day)."""
    today = timezone.localdate()
    sent = 0
    for item in ActionItem.objects.filter(status=ActionItemStatus.OPEN, due_date__lt=today).select_related(
            "owner", "review__incident"):
        incident = item.review.incident
        message = f"Overdue action item from incident #{incident.pk}: {item.description[:200]}"
        already = Notification.objects.filter(user=item.owner, message=message,
                                              created_at__date=today).exists() if item.owner else True
        if not already:
            with transaction.atomic():
                _notify([item.owner, incident.commander], incident, message)
            sent += 1
    return sent


@transaction.atomic
def playbook_step_add(*, actor, category: str, phase: str, text: str, owner_role: str = "", link: str = ""):
    from django.db.models import Max

    from .choices import Phase

    require(actor, Action.POLICY_MANAGE)
    if category not in Category.values:
        raise InvalidInput("Unknown category.", field="category")
    if phase not in Phase.values:
        raise InvalidInput("Unknown phase.", field="phase")
    if not (text or "").strip():
        raise InvalidInput("Write the step.", field="text")
    order = (PlaybookStep.objects.filter(category=category).aggregate(n=Max("order"))["n"] or 0) + 1
    step = PlaybookStep.objects.create(category=category, phase=phase, order=order, text=text.strip()[:500],
                                       owner_role=owner_role[:30], link=link[:500])
    audit.record(actor=actor, action="playbook.add", obj=step, after={"category": category, "phase": phase,
                                                                      "text": step.text})
    return step


@transaction.atomic
def playbook_step_delete(*, actor, step: PlaybookStep) -> None:
    require(actor, Action.POLICY_MANAGE)
    audit.record(actor=actor, action="playbook.delete", obj=step, before={"category": step.category,
                                                                          "phase": step.phase, "text": step.text})
    step.delete()


def evidence_download(*, actor, incident: Incident, entry_id: int) -> tuple[bytes, str]:
    """The decrypted, hash-verified bytes of an evidence file and its name; the download is audited."""
    require(actor, Action.VIEW)
    entry = (TimelineEntry.objects.select_related("evidence")
             .filter(pk=entry_id, incident=incident, evidence__isnull=False).first())
    if entry is None:
        raise NotFound(f"Incident #{incident.pk} has no evidence file #{entry_id}.")
    try:
        data = artifacts.read_bytes(entry.evidence)
    except artifacts.ArtifactIntegrityError as exc:
        raise Conflict(f"Refused: the evidence file failed its integrity check ({exc}).")
    with transaction.atomic():
        audit.record(actor=actor, action="incident.evidence_download", obj=incident,
                     after={"entry": entry.pk, "file": entry.evidence.original_name, "sha256": entry.evidence.sha256})
    return data, entry.evidence.original_name
