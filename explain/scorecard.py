"""The robustness scorecard: the latest result of each kind against the policy's thresholds, and the gate.

Thresholds are judged against a constant-model baseline (see explain.robustness._verdict), never in plain
accuracy: a result whose `verdict` names a failure (collapse, a model no better than always predicting the
majority class) is red whatever its headline figure, and a result computed before verdicts existed is grey (run it
again), so a constant model never passes.
"""

from dataclasses import asdict, dataclass

from . import selectors
from .analyses._common import fmt

DEFAULT_THRESHOLDS = {
    "cv_max_std": 0.05,                # cross-validation: std of the main metric across folds
    "noise_level": 0.1,                # stress test: at this Gaussian noise (in feature std) ...
    "noise_min_retained": 0.95,        # ... the model keeps this share of its margin over a constant model
    "evasion_eps": 0.1,                # evasion: at perturbations up to this (feature std) or black-box ...
    "evasion_max_success": 0.5,        # ... at most this share of attacked rows of any class flips
    "extraction_budget": 500,          # extraction: with this many queries returning probabilities ...
    "extraction_max_fidelity": 0.95,   # ... a surrogate's balanced agreement with the model is at most this
    "membership_max_advantage": 0.1,   # membership inference: attack advantage over guessing
    "required": ["cross_validation", "stress_test", "adversarial_evasion"],
}


# What a policy may set, and the range each threshold must lie in (checked when a policy is saved).
THRESHOLD_FIELDS = [
    # key, label, type, minimum, maximum, help
    ("cv_max_std", "Cross-validation: max std across folds", float, 0.0, 1.0, "of any unitless metric"),
    ("noise_level", "Stress test: noise level (σ)", float, 0.0, 10.0,
     "must be one of the stress test's noise levels (default 0.05, 0.1, 0.2, 0.5, 1)"),
    ("noise_min_retained", "Stress test: share of the margin over a constant model kept", float, 0.0, 1.0, ""),
    ("evasion_eps", "Evasion: largest perturbation judged (σ)", float, 0.0, 10.0, ""),
    ("evasion_max_success", "Evasion: max attack success on any class", float, 0.0, 1.0, ""),
    ("extraction_budget", "Extraction: query budget judged", int, 1, 100_000,
     "must be one of the extraction's budgets (default 100, 500, 2000)"),
    ("extraction_max_fidelity", "Extraction: max balanced fidelity of a surrogate", float, 0.0, 1.0, ""),
    ("membership_max_advantage", "Membership inference: max attack advantage", float, 0.0, 1.0, ""),
]


def validate_thresholds(values: dict) -> dict:
    """The thresholds a policy stores: known keys only, each a number in its range, `required` a list of gated
    kinds. Raises InvalidInput naming the first bad one."""
    from core.errors import InvalidInput

    if not isinstance(values, dict):
        raise InvalidInput("robustness_thresholds must be an object.", field="robustness_thresholds")
    known = {key for key, *_ in THRESHOLD_FIELDS} | {"required"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"Unknown robustness threshold(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}.",
                           field="robustness_thresholds")
    cleaned = {}
    for key, label, kind, minimum, maximum, _ in THRESHOLD_FIELDS:
        if key not in values or values[key] is None:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
            raise InvalidInput(f"{key} ({label}) must be {'an integer' if kind is int else 'a number'}, not "
                               f"{value!r}.", field="robustness_thresholds")
        if not minimum <= value <= maximum:
            raise InvalidInput(f"{key} ({label}) must lie between {minimum} and {maximum}, not {value}.",
                               field="robustness_thresholds")
        cleaned[key] = kind(value)
    if "required" in values and values["required"] is not None:
        required = values["required"]
        if not isinstance(required, list) or any(kind not in RULES for kind in required):
            raise InvalidInput(f"required must list some of {', '.join(RULES)}.", field="robustness_thresholds")
        cleaned["required"] = [kind for kind in RULES if kind in required]
    return cleaned


@dataclass
class Row:
    kind: str
    title: str
    light: str  # green / red / grey (not run or stale)
    value: str
    threshold: str
    detail: str
    job_id: int | None

    def as_dict(self):
        return asdict(self)


def thresholds_for(version) -> dict:
    from governance.checks import policy_for

    return {**DEFAULT_THRESHOLDS, **(policy_for(version.model).robustness_thresholds or {})}


MIN_CLASS_ROWS = 5  # a class's own success rate is judged once it has this many attacked rows the model got right
RUN_AGAIN = "computed before the constant-model checks: run it again"


def _gate(result):
    """(False, reason) when the verdict names a failure, (None, reason) when there is no verdict, else None."""
    block = result.get("verdict")
    if block is None:
        return None, RUN_AGAIN
    if block.get("failures"):
        return False, block["failures"][0]
    return None


def _cv(result, t):
    if (gate := _gate(result)) is not None:
        return gate
    std = result.get("std")
    value = max((v for v in std.values() if isinstance(v, int | float)), default=None) if isinstance(std, dict) \
        else std
    if value is None:
        return None, "no fold spread"
    metric = result["verdict"]["metric"]["name"]
    return value <= t["cv_max_std"], (f"max std across folds {value:.4f}; {metric} "
                                      f"{fmt(result['mean'].get(metric), 3)} vs "
                                      f"{fmt((result.get('baseline') or {}).get('score'), 3)} for a constant model")


def _stress(result, t):
    if (gate := _gate(result)) is not None:
        return gate
    for name, points in (result.get("curves") or {}).items():
        if "noise" not in name or not isinstance(points, list):
            continue
        at = [p for p in points if p.get("level") is not None and abs(p["level"] - t["noise_level"]) < 1e-9]
        if at and at[0].get("skill_lost") is not None:
            if at[0].get("collapse"):
                return False, at[0]["collapse"]["message"]
            retained = 1 - at[0]["skill_lost"]
            return retained >= t["noise_min_retained"], (f"{retained:.1%} of the margin over a constant model kept "
                                                         f"at {t['noise_level']}σ noise")
    return None, "no noise curve at the threshold level"


def _evasion(result, t):
    if (gate := _gate(result)) is not None:
        return gate
    records = [r for r in result.get("results", []) if r.get("success_rate") is not None
               and (r.get("eps") is None or r["eps"] <= t["evasion_eps"] + 1e-12)]
    if not records:
        return None, "no attack within the threshold"
    worst, where = -1.0, ""
    for record in records:
        judged = [c for c in record.get("per_class", []) if c["success_rate"] is not None
                  and c["rows_counted"] >= MIN_CLASS_ROWS]
        for candidate, label in ([(c["success_rate"], f" on class {c['class']!r}") for c in judged]
                                 or [(record["success_rate"], "")]):
            if candidate > worst:
                worst, where = candidate, label
    return worst <= t["evasion_max_success"], f"worst attack success {worst:.1%}{where} (ε ≤ {t['evasion_eps']}σ " \
                                              "or black-box)"


def _extraction(result, t):
    points = [p for p in result.get("points", []) if p.get("mode") == "probabilities"
              and p.get("budget") == t["extraction_budget"] and p.get("fidelity") is not None]
    if not points:
        return None, f"no point at budget {t['extraction_budget']}"
    if "balanced_fidelity" not in points[0]:
        return None, RUN_AGAIN
    fidelity = points[0]["balanced_fidelity"]
    if fidelity is None:  # regression: R² against the model
        fidelity = points[0]["fidelity"]
    return fidelity <= t["extraction_max_fidelity"], f"surrogate balanced fidelity {fidelity:.1%} after " \
                                                     f"{t['extraction_budget']} queries"


def _membership(result, t):
    advantage = (result.get("attack") or {}).get("advantage")
    if advantage is None:
        return None, "no attack result"
    return advantage <= t["membership_max_advantage"], f"attack advantage {advantage:.3f}"


RULES = {
    "cross_validation": (_cv, lambda t: f"std ≤ {t['cv_max_std']}"),
    "stress_test": (_stress, lambda t: f"≥ {t['noise_min_retained']:.0%} of the margin over a constant model at "
                                       f"{t['noise_level']}σ"),
    "adversarial_evasion": (_evasion, lambda t: f"success ≤ {t['evasion_max_success']:.0%} on every class"),
    "model_extraction": (_extraction, lambda t: f"balanced fidelity ≤ {t['extraction_max_fidelity']:.0%}"),
    "membership_inference": (_membership, lambda t: f"advantage ≤ {t['membership_max_advantage']}"),
}


def scorecard(version, latest: dict | None = None) -> dict:
    """`latest`: the caller's selectors.latest_results(version), when it already has it."""
    from .kinds import KINDS

    t = thresholds_for(version)
    if latest is None:
        latest = selectors.latest_results(version, kinds=RULES)
    required = [k for k in t["required"] if not (version.model.task == "regression" and k == "adversarial_evasion")]
    rows, failures, missing = [], [], []
    for kind, (rule, describe) in RULES.items():
        job = latest.get(kind)
        title = KINDS[kind].TITLE if kind in KINDS else kind
        if job is None or job.stale_reason:
            reason = "not run on this artifact" if job is None else f"stale: {job.stale_reason}"
            rows.append(Row(kind, title, "grey", "—", describe(t), reason, job.pk if job else None))
            if kind in required:
                missing.append(kind)
            continue
        ok, detail = rule(job.result or {}, t)
        light = "grey" if ok is None else ("green" if ok else "red")
        rows.append(Row(kind, title, light, detail if ok is not None else "—", describe(t), detail, job.pk))
        if ok is False:
            failures.append(kind)
        elif ok is None and kind in required:
            missing.append(kind)
    passed = not failures and not missing
    return {"rows": [r.as_dict() for r in rows], "passed": passed, "failures": failures, "missing": missing,
            "thresholds": t}
