"""Release governance pages: review queue, submit, review, release / rollback / revoke, verify."""

import json

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views import View

from core.errors import DomainError
from governance import attestation, checks, selectors, services
from governance.choices import Check, CheckOutcome, RiskTier, VersionStatus
from governance.forms import PolicyForm, ReviewForm, VerifyForm
from governance.models import ApprovalPolicy
from governance.permissions import Action, ActionRequiredMixin, can

from .accounts import form_error, paginate
from .registry import OwnedModelMixin, _get_model, _get_version


def release_panel(request, version) -> dict:
    """What the version page and the review page show about review and release, with reasons for disabled buttons."""
    user = request.user
    policy = checks.policy_for(version.model)
    results = checks.evaluate(version, policy)
    progress = services.approval_progress(version, policy)
    own = user.pk in (version.created_by_id, version.submitted_by_id)
    already = version.reviews.filter(round=version.review_round, reviewer=user).exists()
    blockers = checks.blocking(results)
    target = services.rollback_target(version.model)
    signed = version.attestations.select_related("version__artifact").order_by("-created_at", "-id").first()

    def reason_unless(ok: bool, why: str) -> str:
        return "" if ok else why

    status = version.status
    failing = [r for r in results if r.required and r.outcome == CheckOutcome.FAILED]
    return {
        "policy": policy, "checks": results, "progress": progress, "blockers": blockers,
        "submit_failing": failing if status == VersionStatus.DRAFT else [],
        "reviews": selectors.version_reviews(version),
        "can_submit": can(user, Action.VERSION_SUBMIT, version) and status == VersionStatus.DRAFT,
        "can_reopen": can(user, Action.VERSION_SUBMIT, version) and status == VersionStatus.REJECTED,
        "review_blocked": (
            reason_unless(can(user, Action.REVIEW_DECIDE), "You need the reviewer role.")
            or reason_unless(status == VersionStatus.IN_REVIEW, "The version is not in review.")
            or reason_unless(not own, "You wrote or submitted this version; someone else must review it.")
            or reason_unless(not already, "You have already reviewed this submission.")
        ),
        "approve_blocked": ", ".join(b.label for b in blockers),
        "release_blocked": (
            reason_unless(can(user, Action.RELEASE_MANAGE), "You need the reviewer role to release.")
            or reason_unless(status == VersionStatus.APPROVED, "Only an approved version can be released.")
            or reason_unless(not own, "You wrote or submitted this version; someone else must release it.")
            or reason_unless(not blockers, "A required check no longer passes.")
        ),
        "revoke_blocked": (
            reason_unless(can(user, Action.RELEASE_CONTAIN), "You need the reviewer or incident manager role.")
            or reason_unless(status in (VersionStatus.APPROVED, VersionStatus.RELEASED, VersionStatus.DEPRECATED),
                             "Only an approved, released or deprecated version can be revoked.")
        ),
        "rollback_target": target,
        "rollback_blocked": (
            reason_unless(can(user, Action.RELEASE_CONTAIN), "You need the reviewer or incident manager role.")
            or reason_unless(target is not None, "There is no earlier release to roll back to.")
        ),
        "attestation": signed,
        "signature_valid": _signature_valid(signed),
    }


def _signature_valid(signed) -> bool | None:
    if signed is None:
        return None
    try:
        attestation.verify(attestation.document(signed.payload, signed.signature, signed.key_fingerprint))
    except attestation.VerificationError:
        return False
    return signed.payload.get("artifact_sha256") == signed.version.artifact.sha256


class ReviewQueueView(ActionRequiredMixin, View):
    def get(self, request):
        return render(request, "governance/review_queue.html", {
            "page_obj": paginate(request, selectors.review_queue(request.user), per_page=25),
            "all_in_review": selectors.version_list().filter(status=VersionStatus.IN_REVIEW).count(),
            "is_reviewer": can(request.user, Action.REVIEW_DECIDE),
        })


class VersionReviewView(ActionRequiredMixin, View):
    required_action = {"GET": Action.VIEW, "POST": Action.REVIEW_DECIDE}

    def get(self, request, name, number, form=None, status=200):
        version = _get_version(name, number)
        released = version.model.versions.filter(status=VersionStatus.RELEASED).select_related(
            "artifact", "created_by", "evaluation_dataset", "training_dataset", "parent").first()
        comparison = selectors.compare_versions(released, version) if released and released.pk != version.pk else None
        return render(request, "governance/version_review.html", {
            "version": version, "model": version.model, "form": form or ReviewForm(),
            "released": released, "comparison": comparison, **release_panel(request, version),
        }, status=status)

    def post(self, request, name, number):
        version = _get_version(name, number)
        form = ReviewForm(request.POST)
        if form.is_valid():
            try:
                services.review_create(actor=request.user, version=version, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                version.refresh_from_db()
                messages.success(request, f"Your {form.cleaned_data['decision']} is recorded. "
                                          f"{version} is now {version.get_status_display().lower()}.")
                return redirect("version-detail", name=name, number=number)
        return self.get(request, name, number, form=form, status=400)


class _VersionAction(ActionRequiredMixin, View):
    """POST-only transitions; the outcome or the refusal comes back as a flash message."""

    service = None
    success = ""

    def post(self, request, name, number):
        version = _get_version(name, number)
        try:
            result = self.perform(request, version)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, self.success.format(version=result))
        return redirect("version-detail", name=name, number=number)


class VersionSubmitView(OwnedModelMixin, _VersionAction):
    required_action = Action.VERSION_SUBMIT
    success = "{version} is submitted for review."

    def perform(self, request, version):
        return services.version_submit(actor=request.user, version=version)


class VersionReopenView(OwnedModelMixin, _VersionAction):
    required_action = Action.VERSION_SUBMIT
    success = "{version} is back in draft; fix it and submit it again."

    def perform(self, request, version):
        return services.version_reopen(actor=request.user, version=version)


class VersionReleaseView(_VersionAction):
    required_action = Action.RELEASE_MANAGE
    success = "{version} is released; its signed attestation is ready."

    def perform(self, request, version):
        return services.version_release(actor=request.user, version=version, reason=request.POST.get("reason", ""))


class VersionRevokeView(_VersionAction):
    required_action = Action.RELEASE_CONTAIN
    success = "{version} is revoked."

    def perform(self, request, version):
        return services.version_revoke(actor=request.user, version=version, reason=request.POST.get("reason", ""))


class ModelRollbackView(ActionRequiredMixin, View):
    required_action = Action.RELEASE_CONTAIN

    def post(self, request, name):
        model = _get_model(name)
        try:
            version = services.model_rollback(actor=request.user, model=model, reason=request.POST.get("reason", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Rolled back: {version} is the released version again.")
        return redirect("model-detail", name=name)


class AttestationDownloadView(ActionRequiredMixin, View):
    def get(self, request, name, number):
        version = _get_version(name, number)
        signed = version.attestations.order_by("-created_at", "-id").first()
        if signed is None:
            messages.error(request, "This version has never been released, so it has no attestation.")
            return redirect("version-detail", name=name, number=number)
        response = JsonResponse(attestation.document(signed.payload, signed.signature, signed.key_fingerprint),
                                json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="{name}-v{number}.attestation.json"'
        return response


class VerifyView(ActionRequiredMixin, View):
    """About / Verify: the public key, and a form that checks an attestation (and artifact) right here."""

    required_action = Action.TOKEN_MANAGE_OWN

    def get(self, request, form=None, result=None, status=200):
        key = attestation.private_key().public_key()
        return render(request, "governance/verify.html", {
            "form": form or VerifyForm(), "result": result, "public_key": attestation.public_key_pem(),
            "fingerprint": attestation.fingerprint(key),
        }, status=status)

    def post(self, request):
        form = VerifyForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            doc = json.loads(form.cleaned_data["attestation"].read())
            artifact = form.cleaned_data.get("artifact")
            payload = attestation.verify(doc, artifact=artifact.read() if artifact else None)
        except (ValueError, attestation.VerificationError) as exc:
            return self.get(request, form=form, result={"ok": False, "message": str(exc)})
        return self.get(request, form=VerifyForm(), result={"ok": True, "payload": payload,
                                                            "artifact_checked": bool(artifact)})


class PolicyView(ActionRequiredMixin, View):
    required_action = {"GET": Action.VIEW, "POST": Action.POLICY_MANAGE}

    def get(self, request, forms=None, status=200):
        tiers = {p.risk_tier: p for p in ApprovalPolicy.objects.filter(model__isnull=True)}
        overrides = ApprovalPolicy.objects.filter(model__isnull=False).select_related("model")
        forms = forms or {
            tier: PolicyForm(prefix=tier, instance_policy=tiers.get(tier) or checks.policy_for_tier(tier))
            for tier in RiskTier.values
        }
        return render(request, "governance/policies.html", {
            "forms": [(RiskTier(t), f) for t, f in forms.items()], "overrides": overrides,
            "checks": list(Check), "may_edit": can(request.user, Action.POLICY_MANAGE),
        }, status=status)

    def post(self, request):
        tier = request.POST.get("tier")
        if tier not in RiskTier.values:
            messages.error(request, "Unknown risk tier.")
            return redirect("policies")
        form = PolicyForm(request.POST, prefix=tier)
        if form.is_valid():
            try:
                services.policy_update(actor=request.user, risk_tier=tier, **form.values())
                tier = form.cleaned_data["model"].name if form.cleaned_data.get("model") else tier
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"The policy for {tier} is saved. Versions in review are re-checked.")
                return redirect("policies")
        tiers = {p.risk_tier: p for p in ApprovalPolicy.objects.filter(model__isnull=True)}
        forms = {t: PolicyForm(prefix=t, instance_policy=tiers.get(t) or checks.policy_for_tier(t))
                 for t in RiskTier.values}
        forms[tier] = form
        return self.get(request, forms=forms, status=400)
