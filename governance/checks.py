"""The release checks a policy can require, evaluated for one version with links to the evidence."""

from dataclasses import asdict, dataclass

from django.urls import reverse

from .choices import Check, CheckOutcome, CheckStatus, RiskTier
from .models import ApprovalPolicy, ModelCard

DEFAULT_POLICY = {
    RiskTier.LOW: (1, False, [Check.COMPATIBILITY, Check.SECURITY]),
    RiskTier.MEDIUM: (2, False, [Check.COMPATIBILITY, Check.SECURITY, Check.MODEL_CARD]),
    RiskTier.HIGH: (2, True, [Check.COMPATIBILITY, Check.SECURITY, Check.MODEL_CARD, Check.EXPLAINABILITY]),
}


@dataclass
class CheckResult:
    check: str
    label: str
    outcome: str
    detail: str
    evidence_url: str
    required: bool

    def as_dict(self) -> dict:
        return asdict(self)


# The robustness gate's thresholds are the analysis app's to define: it registers their defaults, their fields
# (key, label, type, minimum, maximum, help), the kinds they gate and a validator here, in its AppConfig.ready().
_thresholds: dict = {"defaults": {}, "fields": [], "gated": [], "validate": None}


def register_thresholds(*, defaults: dict, fields: list, gated: list, validate) -> None:
    _thresholds.update(defaults=defaults, fields=fields, gated=gated, validate=validate)


def threshold_schema() -> dict:
    return _thresholds


def clean_thresholds(values: dict) -> dict:
    validate = _thresholds["validate"]
    return validate(values) if validate is not None else dict(values)


def policy_for(model) -> ApprovalPolicy:
    """The model's own override, else its tier's policy (else the built-in default for the tier).

    Remembered on the model instance for the request: a page asks several times.
    """
    cached = getattr(model, "_bulwark_policy", None)
    if cached is not None:
        return cached
    try:
        policy = model.policy_override
    except ApprovalPolicy.DoesNotExist:
        policy = policy_for_tier(model.risk_tier)
    model._bulwark_policy = policy
    return policy


def policy_for_tier(risk_tier: str) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.filter(risk_tier=risk_tier, model__isnull=True).first()
    if policy is None:
        approvals, admin, required = DEFAULT_POLICY[risk_tier]
        policy = ApprovalPolicy(risk_tier=risk_tier, required_approvals=approvals, admin_approval_required=admin,
                                required_checks=list(required))
    return policy


def _version_url(version) -> str:
    return reverse("version-detail", args=[version.model.name, version.number])


def _compatibility(version) -> tuple[str, str, str]:
    url = _version_url(version) + "#compat-check"
    result = version.compat_result or {}
    if version.compat_status in (CheckStatus.PENDING, CheckStatus.RUNNING):
        return CheckOutcome.MISSING, "The compatibility check has not finished.", url
    if result.get("artifact_sha256") and result["artifact_sha256"] != version.artifact.sha256:
        return CheckOutcome.MISSING, "The last check ran on a different artifact.", url
    if version.compat_status == CheckStatus.PASSED:
        if version.evaluation_dataset_id is None:
            return CheckOutcome.FAILED, "No evaluation dataset is linked, so nothing was predicted.", url
        return CheckOutcome.PASSED, result.get("message", "Passed."), url
    return CheckOutcome.FAILED, result.get("message", "The check failed."), url


def _security(version) -> tuple[str, str, str]:
    url = _version_url(version)
    open_findings = [f for f in version.findings.all() if f.resolved_at is None]
    if open_findings:
        return CheckOutcome.FAILED, f"{len(open_findings)} unresolved finding(s): {open_findings[0].title}", url
    if not (version.scan_report or {}).get("ok", False):
        return CheckOutcome.FAILED, "The static scan reported findings.", url
    return CheckOutcome.PASSED, "Static scan clean; no unresolved findings.", url


def _model_card(version) -> tuple[str, str, str]:
    url = reverse("model-card-edit", args=[version.model.name])
    try:
        card = version.model.card
    except ModelCard.DoesNotExist:
        return CheckOutcome.FAILED, "The model has no card.", url
    missing = card.missing_sections
    if missing:
        return CheckOutcome.FAILED, f"Missing: {', '.join(missing)}.", url
    return CheckOutcome.PASSED, "All nine sections are written.", reverse("model-detail", args=[version.model.name])


def _not_provided(check: str):
    def evaluate(version) -> tuple[str, str, str]:
        return CheckOutcome.MISSING, f"No installed app provides the {check} evidence.", _version_url(version)

    return evaluate


# The registry's own checks; the analysis app registers the explainability and robustness evidence in its
# AppConfig.ready() (register_evaluator), so the registry never imports it.
EVALUATORS = {
    Check.COMPATIBILITY: _compatibility,
    Check.SECURITY: _security,
    Check.EXPLAINABILITY: _not_provided("explainability"),
    Check.ROBUSTNESS: _not_provided("robustness"),
    Check.MODEL_CARD: _model_card,
}


def register_evaluator(check: str, evaluate) -> None:
    """`evaluate(version) -> (outcome, detail, evidence_url)` for a check whose evidence another app holds."""
    EVALUATORS[Check(check)] = evaluate


def evaluate(version, policy: ApprovalPolicy | None = None) -> list[CheckResult]:
    policy = policy or policy_for(version.model)
    required = set(policy.required_checks)
    results = []
    for check in Check:
        outcome, detail, url = EVALUATORS[check](version)
        results.append(CheckResult(check=check.value, label=check.label, outcome=str(outcome), detail=detail,
                                   evidence_url=url, required=check.value in required))
    return results


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.required and r.outcome != CheckOutcome.PASSED]


def snapshot(results: list[CheckResult]) -> dict:
    return {r.check: r.outcome for r in results}
