"""Release governance: submit, review, release, revoke, roll back — each transition audited once."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, PermissionDenied
from core.events import publish
from governance import attestation, audit, checks
from governance.choices import VERSION_TRANSITIONS, CheckOutcome, Decision, ReleaseAction, Role, VersionStatus
from governance.models import Attestation, ModelVersion, RegisteredModel, ReleaseEvent, Review
from governance.permissions import Action, require, roles_of

from .registry import require_active


def _locked(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.select_for_update().select_related("model", "artifact").get(pk=version.pk)


def _transition(version: ModelVersion, to: str, *, actor, reason: str = "", extra: dict | None = None) -> None:
    """Move a locked version to ``to`` if the map allows it, and record exactly one audit event."""
    current = version.status
    if to not in VERSION_TRANSITIONS.get(current, set()):
        raise Conflict(
            f"{version} is {VersionStatus(current).label.lower()}; it cannot become "
            f"{VersionStatus(to).label.lower()}."
        )
    version.status = to
    if reason:
        version.status_reason = reason
    version.save(update_fields=["status", "status_reason", "updated_at"])
    audit.record(actor=actor, action=f"version.{to}", obj=version, before={"status": current},
                 after={"status": to, **({"reason": reason} if reason else {}), **(extra or {})})
    publish("version.status_changed", version=version, before=current, after=to, actor=actor, reason=reason,
                   extra=extra or {})


@transaction.atomic
def version_submit(*, actor, version: ModelVersion) -> ModelVersion:
    require(actor, Action.VERSION_SUBMIT, version)
    require_active(version.model)
    version = _locked(version)
    if version.status == VersionStatus.DRAFT:
        policy = checks.policy_for(version.model)
        failing = [r for r in checks.evaluate(version, policy) if r.required and r.outcome == CheckOutcome.FAILED]
        if failing and not policy.submit_with_failing_checks:
            raise Conflict("Fix the failing required checks before submitting: "
                           + "; ".join(f"{r.label}: {r.detail}" for r in failing),
                           details={"failing_checks": [r.as_dict() for r in failing]})
    version.review_round += 1
    version.submitted_by = actor
    version.submitted_at = timezone.now()
    version.status_reason = ""
    version.save(update_fields=["review_round", "submitted_by", "submitted_at", "status_reason", "updated_at"])
    _transition(version, VersionStatus.IN_REVIEW, actor=actor, extra={"round": version.review_round})
    return version


@transaction.atomic
def version_reopen(*, actor, version: ModelVersion) -> ModelVersion:
    """A rejected version goes back to draft, to be fixed and submitted again."""
    require(actor, Action.VERSION_SUBMIT, version)
    require_active(version.model)
    version = _locked(version)
    _transition(version, VersionStatus.DRAFT, actor=actor)
    return version


def approvals_of(version: ModelVersion):
    return version.reviews.filter(round=version.review_round, decision=Decision.APPROVE, stale=False)


def approval_progress(version: ModelVersion, policy=None) -> dict:
    policy = policy or checks.policy_for(version.model)
    current = list(approvals_of(version))
    has_admin = any(r.reviewer_was_admin for r in current)
    given, required = len(current), policy.required_approvals
    admin_missing = policy.admin_approval_required and not has_admin
    # An admin approval still to come counts as one more needed, so the counter never reads "3/2".
    needed = max(required, given + 1) if admin_missing else max(required, given)
    label = f"{given} of {needed} approval{'s' if needed != 1 else ''}"
    if admin_missing:
        label += " (admin approval still needed)"
    return {
        "required": required, "given": given, "needed": needed, "label": label,
        "admin_required": policy.admin_approval_required, "admin_given": has_admin,
        "complete": given >= required and not admin_missing,
    }


@transaction.atomic
def review_create(*, actor, version: ModelVersion, decision: str, comment: str = "") -> Review:
    require(actor, Action.REVIEW_DECIDE)
    version = _locked(version)
    if decision not in Decision.values:
        raise InvalidInput(f"decision must be 'approve' or 'reject', not {decision!r}.", field="decision")
    comment = (comment or "").strip()
    if version.status != VersionStatus.IN_REVIEW:
        raise Conflict(f"{version} is {version.get_status_display().lower()}, not in review.")
    if actor.pk == version.created_by_id:
        raise PermissionDenied("The author of a version cannot review it.")
    if actor.pk == version.submitted_by_id:
        raise PermissionDenied("Whoever submitted a version cannot review it.")
    if decision == Decision.REJECT and not comment:
        raise InvalidInput("A rejection needs a comment saying what must change.", field="comment")
    if version.reviews.filter(round=version.review_round, reviewer=actor).exists():
        raise Conflict("You have already reviewed this submission; a reviewer approves a version once.")
    policy = checks.policy_for(version.model)
    results = checks.evaluate(version, policy)
    if decision == Decision.APPROVE:
        blockers = checks.blocking(results)
        if blockers:
            raise Conflict(
                "Approval is refused while required checks do not pass: "
                + "; ".join(f"{b.label} ({b.outcome}: {b.detail})" for b in blockers),
                details={"checks": [b.as_dict() for b in blockers]},
            )
    try:
        with transaction.atomic():
            review = Review.objects.create(
                version=version, round=version.review_round, reviewer=actor, decision=decision, comment=comment,
                artifact_sha256=version.artifact.sha256, checks=checks.snapshot(results),
                reviewer_was_admin=Role.ADMIN in roles_of(actor),
            )
    except IntegrityError as exc:
        raise Conflict("You have already reviewed this submission.") from exc
    audit.record(actor=actor, action=f"review.{decision}", obj=version,
                 after={"decision": decision, "comment": comment, "round": version.review_round,
                        "artifact_sha256": version.artifact.sha256})
    if decision == Decision.REJECT:
        _transition(version, VersionStatus.REJECTED, actor=actor, reason=comment)
    elif approval_progress(version, policy)["complete"]:
        _transition(version, VersionStatus.APPROVED, actor=None,
                    extra={"approvals": [r.reviewer.get_username() for r in approvals_of(version)]})
    return review


def version_refresh_review(*, version_id: int, reason: str) -> None:
    """Something a reviewer saw changed: approvals whose checks no longer hold become stale."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model", "artifact").get(pk=version_id)
        if version.status not in (VersionStatus.IN_REVIEW, VersionStatus.APPROVED):
            return
        results = checks.evaluate(version)
        now = checks.snapshot(results)
        required = {r.check for r in results if r.required}
        stale = []
        for review in approvals_of(version):
            changed = [c for c in required if now.get(c) != CheckOutcome.PASSED or review.checks.get(c) != now.get(c)]
            if review.artifact_sha256 != version.artifact.sha256:
                changed.append("artifact")
            if changed:
                review.stale = True
                review.stale_reason = f"{reason}: {', '.join(sorted(changed))} changed since the approval."
                review.save(update_fields=["stale", "stale_reason"])
                stale.append(review)
        if stale:
            audit.record(actor=None, action="review.stale", obj=version,
                         after={"reviews": [r.pk for r in stale], "reason": reason})
            if version.status == VersionStatus.APPROVED:
                _transition(version, VersionStatus.IN_REVIEW, actor=None,
                            reason=f"Approvals went stale ({reason}); the version needs re-review.")


def _verify_artifact(version: ModelVersion, actor) -> bytes:
    from .registry import version_read_artifact

    return version_read_artifact(version, actor=actor)


def _attest(version: ModelVersion, *, actor, previous: ModelVersion | None, action: str) -> Attestation:
    policy = checks.policy_for(version.model)
    results = checks.evaluate(version, policy)
    approvals = version.reviews.filter(round=version.review_round, stale=False).select_related("reviewer")
    payload = {
        "type": attestation.PAYLOAD_TYPE,
        "issuer": "Bulwark",
        "model": version.model.name,
        "version": version.number,
        "artifact_sha256": version.artifact.sha256,
        "artifact_size": version.artifact.size,
        "flavour": version.flavour,
        "risk_tier": version.model.risk_tier,
        "approvals": [
            {"reviewer": r.reviewer.get_username(), "decision": r.decision, "at": r.created_at.isoformat(),
             "artifact_sha256": r.artifact_sha256} for r in approvals
        ],
        "policy": {"required_approvals": policy.required_approvals,
                   "admin_approval_required": policy.admin_approval_required,
                   "required_checks": list(policy.required_checks)},
        "checks": [{"check": r.check, "outcome": r.outcome, "required": r.required} for r in results],
        "action": action,
        "released_by": actor.get_username() if actor else None,
        "released_at": timezone.now().isoformat(),
        "previous_release": previous.number if previous else None,
    }
    signature, fingerprint = attestation.sign(payload)
    return Attestation.objects.create(version=version, payload=payload, signature=signature,
                                      key_fingerprint=fingerprint)


def _release(*, actor, model: RegisteredModel, version: ModelVersion, action: str, reason: str = "") -> ModelVersion:
    """With the model row locked: deprecate the released version, release this one, sign, record."""
    previous = model.versions.select_for_update().filter(status=VersionStatus.RELEASED).first()
    if previous is not None and previous.pk == version.pk:
        raise Conflict(f"{version} is already the released version.")
    _verify_artifact(version, actor)
    if previous is not None:
        _transition(previous, VersionStatus.DEPRECATED, actor=actor, reason=f"Superseded by v{version.number}.")
        ReleaseEvent.objects.create(model=model, version=previous, action=ReleaseAction.DEPRECATE, actor=actor,
                                    reason=f"Superseded by v{version.number}")
    _transition(version, VersionStatus.RELEASED, actor=actor, reason=reason,
                extra={"previous_release": previous.number if previous else None, "release_action": action})
    signed = _attest(version, actor=actor, previous=previous, action=action)
    ReleaseEvent.objects.create(model=model, version=version, action=action, actor=actor, reason=reason,
                                attestation=signed)
    return version


@transaction.atomic
def version_release(*, actor, version: ModelVersion, reason: str = "") -> ModelVersion:
    require(actor, Action.RELEASE_MANAGE)
    model = RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    version = _locked(version)
    if version.status == VersionStatus.RELEASED:
        raise Conflict(f"{version} is already released.")
    if version.status != VersionStatus.APPROVED:
        raise Conflict(f"{version} is {version.get_status_display().lower()}; only an approved version can be "
                       "released.")
    if actor.pk in (version.created_by_id, version.submitted_by_id):
        # Maker-checker: whoever made or submitted a version never puts it into service, whatever their roles
        # and however many others approved it.
        raise PermissionDenied(f"You wrote or submitted {version}; someone else must release it.")
    blockers = checks.blocking(checks.evaluate(version))
    if blockers:
        raise Conflict("A required check no longer passes: " + "; ".join(b.label for b in blockers))
    return _release(actor=actor, model=model, version=version, action=ReleaseAction.RELEASE, reason=reason)


@transaction.atomic
def version_revoke(*, actor, version: ModelVersion, reason: str) -> ModelVersion:
    require(actor, Action.RELEASE_CONTAIN)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the version is revoked.", field="reason")
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    version = _locked(version)
    was_released = version.status == VersionStatus.RELEASED
    _transition(version, VersionStatus.REVOKED, actor=actor, reason=reason, extra={"was_released": was_released})
    ReleaseEvent.objects.create(model=version.model, version=version, action=ReleaseAction.REVOKE, actor=actor,
                                reason=reason)
    return version


def rollback_target(model: RegisteredModel) -> ModelVersion | None:
    """The most recently released version, other than the current one, that is not revoked."""
    current = model.versions.filter(status=VersionStatus.RELEASED).values_list("pk", flat=True).first()
    events = (ReleaseEvent.objects.filter(model=model, action__in=[ReleaseAction.RELEASE, ReleaseAction.ROLLBACK])
              .exclude(version_id=current).select_related("version").order_by("-created_at", "-id"))
    for event in events:
        if event.version.status in (VersionStatus.APPROVED, VersionStatus.DEPRECATED):
            return event.version
    return None


@transaction.atomic
def model_rollback(*, actor, model: RegisteredModel, reason: str = "") -> ModelVersion:
    require(actor, Action.RELEASE_CONTAIN)
    model = RegisteredModel.objects.select_for_update().get(pk=model.pk)
    target = rollback_target(model)
    if target is None:
        raise Conflict(f"{model.name} has no earlier release that is still approved or deprecated to roll back to.")
    target = _locked(target)
    return _release(actor=actor, model=model, version=target, action=ReleaseAction.ROLLBACK,
                    reason=reason or "Rollback")


def verify_release(version: ModelVersion, data: bytes | None = None, *, sha256: str | None = None) -> None:
    """A released version is used only if its latest attestation verifies against these exact bytes (or their
    SHA-256, when the caller verified the decrypted file against it)."""
    signed = version.attestations.order_by("-created_at", "-id").first()
    if signed is None:
        raise attestation.VerificationError("The released version has no attestation.")
    doc = attestation.document(signed.payload, signed.signature, signed.key_fingerprint)
    payload = attestation.verify(doc, artifact=data, artifact_sha256=None if data is not None else sha256)
    if payload.get("model") != version.model.name or payload.get("version") != version.number:
        raise attestation.VerificationError("The attestation names a different model or version.")




@transaction.atomic
def policy_update(*, actor, risk_tier: str | None = None, model: RegisteredModel | None = None,
                  required_approvals: int, admin_approval_required: bool, required_checks: list[str],
                  robustness_thresholds: dict | None = None, submit_with_failing_checks: bool | None = None):
    """Set a tier's policy, or (with ``model``) a model's own override. Versions in review are re-checked.
    `robustness_thresholds` (validated by the robustness gate's own rules) replaces the stored ones when given."""
    from governance.choices import Check, RiskTier
    from governance.models import ApprovalPolicy

    require(actor, Action.POLICY_MANAGE)
    unknown = set(required_checks) - set(Check.values)
    if unknown:
        raise InvalidInput(f"Unknown check(s): {', '.join(sorted(unknown))}.", field="required_checks")
    if required_approvals < 1:
        raise InvalidInput("At least one approval is required.", field="required_approvals")
    if model is None and risk_tier not in RiskTier.values:
        raise InvalidInput("Give a risk tier or a model.", field="risk_tier")
    lookup = {"model": model} if model is not None else {"risk_tier": risk_tier, "model": None}
    policy = ApprovalPolicy.objects.select_for_update().filter(**lookup).first() or ApprovalPolicy(**lookup)
    if robustness_thresholds is not None:
        robustness_thresholds = checks.clean_thresholds(robustness_thresholds)

    def state() -> dict:
        return {"required_approvals": policy.required_approvals,
                "admin_approval_required": policy.admin_approval_required,
                "required_checks": list(policy.required_checks),
                "robustness_thresholds": dict(policy.robustness_thresholds or {}),
                "submit_with_failing_checks": policy.submit_with_failing_checks}

    before = state() if policy.pk else None
    policy.required_approvals = required_approvals
    policy.admin_approval_required = admin_approval_required
    policy.required_checks = [c for c in Check.values if c in set(required_checks)]
    if robustness_thresholds is not None:
        policy.robustness_thresholds = robustness_thresholds
    if submit_with_failing_checks is not None:
        policy.submit_with_failing_checks = submit_with_failing_checks
    policy.updated_by = actor
    policy.save()
    after = state()
    if before is not None:
        before = {k: v for k, v in before.items() if after[k] != v}
        after = {k: v for k, v in after.items() if k in before}
    audit.record(actor=actor, action="policy.update", obj=policy, before=before, after=after)
    affected = ModelVersion.objects.filter(status__in=[VersionStatus.IN_REVIEW, VersionStatus.APPROVED])
    affected = affected.filter(model=model) if model is not None else affected.filter(
        model__risk_tier=risk_tier, model__policy_override__isnull=True)
    ids = list(affected.values_list("pk", flat=True))
    transaction.on_commit(lambda: [version_refresh_review(version_id=i, reason="the approval policy changed")
                                   for i in ids])
    return policy
