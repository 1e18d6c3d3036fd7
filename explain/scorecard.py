"""The robustness scorecard: the latest result of each kind against the policy's thresholds, and the gate."""

from dataclasses import asdict, dataclass

from . import selectors

DEFAULT_THRESHOLDS = {
    "cv_max_std": 0.05,                # cross-validation: std of the main metric across folds
    "noise_level": 0.1,                # stress test: at this Gaussian noise (in feature std) ...
    "noise_min_retained": 0.95,        # ... the metric keeps at least this share of the clean metric
    "evasion_eps": 0.1,                # evasion: at perturbations up to this (feature std) or black-box ...
    "evasion_max_success": 0.5,        # ... at most this share of attacked rows flips
    "extraction_budget": 500,          # extraction: with this many queries returning probabilities ...
    "extraction_max_fidelity": 0.95,   # ... a surrogate agrees with the model at most this often
    "membership_max_advantage": 0.1,   # membership inference: attack advantage over guessing
    "required": ["cross_validation", "stress_test", "adversarial_evasion"],
}


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


def _cv(result, t):
    std = result.get("std")
    value = max((v for v in std.values() if isinstance(v, int | float)), default=None) if isinstance(std, dict) \
        else std
    if value is None:
        return None, "no fold spread"
    return value <= t["cv_max_std"], f"max std across folds {value:.4f}"


def _stress(result, t):
    clean = result.get("clean_score")
    for name, points in (result.get("curves") or {}).items():
        if "noise" not in name or not isinstance(points, list):
            continue
        at = [p for p in points if p.get("level") is not None and abs(p["level"] - t["noise_level"]) < 1e-9]
        if at and clean and at[0].get("score") is not None:
            retained = at[0]["score"] / clean if clean else None
            return retained >= t["noise_min_retained"], f"{retained:.1%} of the clean metric kept at " \
                                                         f"{t['noise_level']}σ noise"
    return None, "no noise curve at the threshold level"


def _evasion(result, t):
    rates = [r["success_rate"] for r in result.get("results", []) if r.get("success_rate") is not None
             and (r.get("eps") is None or r["eps"] <= t["evasion_eps"] + 1e-12)]
    if not rates:
        return None, "no attack within the threshold"
    worst = max(rates)
    return worst <= t["evasion_max_success"], f"worst attack success {worst:.1%} (ε ≤ {t['evasion_eps']}σ or " \
                                              f"black-box)"


def _extraction(result, t):
    points = [p for p in result.get("points", []) if p.get("mode") == "probabilities"
              and p.get("budget") == t["extraction_budget"] and p.get("fidelity") is not None]
    if not points:
        return None, f"no point at budget {t['extraction_budget']}"
    fidelity = points[0]["fidelity"]
    return fidelity <= t["extraction_max_fidelity"], f"surrogate fidelity {fidelity:.1%} after " \
                                                     f"{t['extraction_budget']} queries"


def _membership(result, t):
    advantage = (result.get("attack") or {}).get("advantage")
    if advantage is None:
        return None, "no attack result"
    return advantage <= t["membership_max_advantage"], f"attack advantage {advantage:.3f}"


RULES = {
    "cross_validation": (_cv, lambda t: f"std ≤ {t['cv_max_std']}"),
    "stress_test": (_stress, lambda t: f"≥ {t['noise_min_retained']:.0%} at {t['noise_level']}σ"),
    "adversarial_evasion": (_evasion, lambda t: f"success ≤ {t['evasion_max_success']:.0%}"),
    "model_extraction": (_extraction, lambda t: f"fidelity ≤ {t['extraction_max_fidelity']:.0%}"),
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
