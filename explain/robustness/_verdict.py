"""Verdicts a trivial model cannot pass: the metric chosen from the task and the data, the constant-model
baseline, per-class recall and precision, and collapse.

On a target with 3 % positives, plain accuracy rewards a model that always predicts the majority class (it scores
0.97), so a robustness figure in accuracy can call a collapsed model healthy. Every robustness and validation kind
therefore:

* scores classifiers with balanced accuracy (the mean of the per-class recalls; a constant model scores 1/k),
  unless the job asks for another metric or the model declares a primary metric; a declared or requested plain
  accuracy is replaced (declared) or warned about (requested) when the rarest class is under `IMBALANCED_SHARE`;
* states the metric and why in `result["verdict"]["metric"]`;
* measures drops against the constant-model baseline (`skill_lost`: the share of the model's margin over always
  predicting the majority class, or the mean for regression, that a perturbation takes away), so a threshold line
  never sits below what a trivial model scores;
* reports per-class recall and precision before and after, and names a collapse (a class the model recalled is
  never recalled any more: "the model now predicts 'no' for 100.0% of rows") as a failure, whatever the headline
  metric says.
"""

from __future__ import annotations

import numpy as np

from explain.analyses._common import CLASSIFICATION, fmt

IMBALANCED_SHARE = 0.20
CLASSIFICATION_DEFAULT = "balanced_accuracy"
REGRESSION_DEFAULT = "r2"
LOWER_IS_BETTER = ("mae", "rmse")
NO_SKILL = 1e-9


def _texts(values) -> np.ndarray:
    return np.array([str(v) for v in np.asarray(values, dtype=object).ravel()])


def class_shares(target) -> dict[str, float]:
    """Share of each class in the target, largest first."""
    truth = _texts(target)
    if not len(truth):
        return {}
    labels, counts = np.unique(truth, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(labels[i]): float(counts[i] / len(truth)) for i in order}


def choose_metric(requested: str | None, task: str, target, *, primary: str | None = None) -> dict:
    """{"name", "source" (parameter / model / default), "reason", "rarest_class", "rarest_share", "warning"}."""
    from ._base import CLASSIFICATION_METRICS, REGRESSION_METRICS

    allowed = CLASSIFICATION_METRICS if task == CLASSIFICATION else REGRESSION_METRICS
    primary = primary if primary in allowed else None
    choice = {"name": None, "source": None, "reason": "", "rarest_class": None, "rarest_share": None,
              "warning": None}
    if task != CLASSIFICATION:
        if requested:
            choice.update(name=requested, source="parameter", reason=f"{requested}, as the job asked")
        elif primary:
            choice.update(name=primary, source="model", reason=f"{primary}, the model's declared primary metric")
        else:
            choice.update(name=REGRESSION_DEFAULT, source="default",
                          reason="r2, the default for regression: predicting the mean scores 0")
        return choice
    shares = class_shares(target)
    majority = next(iter(shares), None)
    rarest = min(shares, key=shares.get) if shares else None
    imbalanced = rarest is not None and shares[rarest] < IMBALANCED_SHARE
    choice.update(rarest_class=rarest, rarest_share=shares.get(rarest))
    imbalance = (f"the rarest class ({rarest!r}) is {shares[rarest]:.1%} of the rows, so always predicting "
                 f"{majority!r} would score {shares[majority]:.3f} in accuracy" if imbalanced else "")
    if requested:
        choice.update(name=requested, source="parameter", reason=f"{requested}, as the job asked")
        if requested == "accuracy" and imbalanced:
            choice["warning"] = f"plain accuracy misleads here: {imbalance}; balanced_accuracy would not"
    elif primary and not (primary == "accuracy" and imbalanced):
        choice.update(name=primary, source="model", reason=f"{primary}, the model's declared primary metric")
    elif primary:
        choice.update(name=CLASSIFICATION_DEFAULT, source="default",
                      reason=f"balanced_accuracy instead of the model's primary metric accuracy: {imbalance}")
    else:
        k = len(shares) or 2
        choice.update(name=CLASSIFICATION_DEFAULT, source="default",
                      reason=("balanced_accuracy (the mean of the per-class recalls), the default for classifiers: "
                              f"a model that always predicts one class scores 1/{k} = {1 / k:.3f}"
                              + (f"; {imbalance}" if imbalanced else "")))
    return choice


def constant_baseline(task: str, metric: str, y_true, outputs) -> dict:
    """What a constant model scores on these rows: the majority class (with the class priors as probabilities)
    for classifiers, the mean (median for mae) for regressors."""
    from ._base import compute_metrics

    y = np.asarray(y_true, dtype=object).ravel()
    if task != CLASSIFICATION:
        values = y.astype(float)
        centre = float(np.median(values)) if metric == "mae" else float(np.mean(values))
        scores = compute_metrics(task, values, np.full(len(values), centre), None, outputs)
        return {"strategy": f"always predict the {'median' if metric == 'mae' else 'mean'} ({fmt(centre, 4)})",
                "score": scores.get(metric), "metrics": scores}
    shares = class_shares(y)
    majority = next(iter(shares))
    classes = list(outputs.classes)
    label = next((c for c in classes if str(c) == majority), majority)
    prior = np.array([shares.get(str(c), 0.0) for c in classes])
    scores = compute_metrics(task, y, np.array([label] * len(y), dtype=object), np.tile(prior, (len(y), 1)),
                             outputs)
    return {"strategy": f"always predict {majority!r} (the majority class, {shares[majority]:.1%} of the rows)",
            "score": scores.get(metric), "metrics": scores}


def margin(clean: float | None, baseline: float | None, metric: str) -> float | None:
    """How much better than the constant model the model is (positive = better)."""
    if clean is None or baseline is None:
        return None
    return (baseline - clean) if metric in LOWER_IS_BETTER else (clean - baseline)


def skill_lost(clean: float | None, value: float | None, baseline: float | None, metric: str) -> float | None:
    """Share of the clean margin over the constant model that `value` loses: 0 = as good as clean, 1 = no better
    than a constant model, above 1 = worse than one. None when the clean model has no margin to lose."""
    room = margin(clean, baseline, metric)
    if room is None or value is None or room <= NO_SKILL:
        return None
    worse = (value - clean) if metric in LOWER_IS_BETTER else (clean - value)
    return float(worse / room)


def threshold_line(clean: float, baseline: float | None, metric: str, max_lost: float) -> float:
    """The score at which `max_lost` of the margin over the constant model is gone (never below the baseline)."""
    room = margin(clean, baseline, metric)
    if room is None or room <= NO_SKILL:
        return clean
    return clean + max_lost * room if metric in LOWER_IS_BETTER else clean - max_lost * room


def class_report(y_true, predicted, classes) -> list[dict]:
    """Per class of the model: rows in the truth, rows predicted, recall and precision (None when undefined)."""
    truth, guess = _texts(y_true), _texts(predicted)
    rows = []
    for c in classes:
        label = str(c)
        actual, chosen = truth == label, guess == label
        hits = int((actual & chosen).sum())
        rows.append({"class": label, "support": int(actual.sum()), "predicted": int(chosen.sum()),
                     "recall": hits / int(actual.sum()) if actual.any() else None,
                     "precision": hits / int(chosen.sum()) if chosen.any() else None})
    return rows


def dominant(predicted) -> tuple[str | None, float]:
    guess = _texts(predicted)
    if not len(guess):
        return None, 0.0
    labels, counts = np.unique(guess, return_counts=True)
    return str(labels[int(np.argmax(counts))]), float(counts.max() / len(guess))


def collapse(before: list[dict], after: list[dict], predicted) -> dict | None:
    """A collapse: some class the model recalled before (recall > 0) is recalled no more. None when none."""
    lost = [b["class"] for b, a in zip(before, after, strict=True)
            if (b["recall"] or 0) > 0 and (a["recall"] or 0) == 0 and a["support"] > 0]
    if not lost:
        return None
    label, share = dominant(predicted)
    recalls = ", ".join(f"{c!r} {fmt(next(b['recall'] for b in before if b['class'] == c), 3)} → 0"
                        for c in lost)
    return {"lost_classes": lost, "dominant_class": label, "dominant_share": share,
            "message": f"collapse: the model now predicts {label!r} for {share:.1%} of rows (recall {recalls})"}


def constant_predictions(report: list[dict], predicted) -> str | None:
    """A failure message when the model predicts a single class for every row although the truth holds several."""
    present = [r for r in report if r["support"] > 0]
    label, share = dominant(predicted)
    if len(present) >= 2 and share >= 1.0:
        return (f"the model predicts {label!r} for every row: it is no better than a constant model, so no "
                "robustness figure says anything about it")
    return None


def verdict(*, task: str, metric: dict, baseline: dict | None, clean: float | None,
            failures: list[str] | None = None, before: list[dict] | None = None) -> dict:
    """The block every robustness result carries under "verdict"; `failures` name what fails whatever the
    headline metric says (collapse, a model no better than a constant one)."""
    failures = list(failures or [])
    room = margin(clean, (baseline or {}).get("score"), metric["name"])
    said = any("constant model" in failure for failure in failures)
    if baseline is not None and room is not None and room <= NO_SKILL and not said:
        failures.insert(0, f"no better than a constant model: {metric['name']} {fmt(clean, 4)} vs "
                           f"{fmt(baseline['score'], 4)} when the model would {baseline['strategy']}")
    return {"task": task, "metric": metric, "baseline": baseline, "clean_score": clean, "margin": room,
            "per_class_before": before, "failures": failures, "passed": not failures}


def summary_lines(block: dict) -> dict:
    """Summary entries that state the metric, its reason and any failure first."""
    lines = {"Metric": f"{block['metric']['name']} ({block['metric']['reason']})"}
    if block["metric"].get("warning"):
        lines["Metric warning"] = block["metric"]["warning"]
    if block.get("baseline"):
        lines["Constant-model baseline"] = f"{fmt(block['baseline']['score'], 4)} ({block['baseline']['strategy']})"
    if block["failures"]:
        lines["Failures"] = "; ".join(block["failures"])
    return lines
