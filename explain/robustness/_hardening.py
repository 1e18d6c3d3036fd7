"""What the hardening kinds (adversarial_training, defensive_distillation) share: parameters, the before/after
comparison on the same evaluation rows with the same attacks, and the result they build.

Before/after: clean metrics of the original and the new model on the SAME evaluation rows (the sample's rows with
a target), and the same evasion battery (same attacked rows, same settings, same seeds) against both models.
`clean_accuracy_change` = new - original accuracy, always reported with a sentence, whatever its sign; the same for
the chosen metric (`_verdict.choose_metric`: balanced accuracy unless the model declares another), with per-class
recall and precision of both models. A class the original recalls that the new model never recalls is a collapse:
a failure in `verdict`, however much the attacks' success fell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    figure,
    fmt,
    int_param,
    positive_class_param,
    resolve_outputs,
    table,
)

from ._base import MAX_TRAINING_ROWS, compute_metrics, predictions, sentence_change
from ._evasion import ATTACK_NAMES, Evasion, class_positions, make_pool, summarise, validate_evasion
from ._verdict import (
    choose_metric,
    class_report,
    collapse,
    constant_baseline,
    constant_predictions,
    summary_lines,
    verdict,
)

HARDENING_DEFAULTS = {**COMMON_DEFAULTS, "n_samples": 20, "eps": [0.1, 0.3], "attacks": ["hop_skip_jump", "pgd"],
                      "hsj_norm": "2", "hsj_max_iter": 5, "hsj_max_eval": 100, "hsj_init_eval": 10,
                      "pgd_max_iter": 10, "max_training_rows": 5000, "positive_class": None}


def validate_hardening(params: dict, cleaned: dict) -> dict:
    cleaned["n_samples"] = int_param(params, "n_samples", minimum=1, maximum=500)
    validate_evasion(params, cleaned)
    cleaned["max_training_rows"] = int_param(params, "max_training_rows", minimum=10, maximum=MAX_TRAINING_ROWS)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


def compare(original, new, X_eval: pd.DataFrame, target: pd.Series, outputs, space, params: dict, progress, *,
            primary: str | None = None) -> dict:
    """Clean metrics and evasion success for both models on the same rows."""
    task = CLASSIFICATION
    new_outputs = resolve_outputs(new, X_eval.iloc[:1], task, outputs.positive_class)
    truth = target.to_numpy()
    classes = outputs.classes
    predicted_before, proba_before = predictions(original, X_eval, task, classes)
    predicted_after, proba_after = predictions(new, X_eval, task, new_outputs.classes)
    before = compute_metrics(task, truth, predicted_before, proba_before, outputs)
    after = compute_metrics(task, truth, predicted_after, proba_after, new_outputs)
    choice = choose_metric(None, task, truth, primary=primary)
    metric = choice["name"]
    per_class_before = class_report(truth, predicted_before, classes)
    per_class_after = class_report(truth, predicted_after, classes)
    failures = [m.replace("the model", "the new model", 1) for m in [constant_predictions(per_class_after,
                                                                                         predicted_after)] if m]
    lost = collapse(per_class_before, per_class_after, predicted_after)
    if lost and not failures:
        failures.append(f"the new model's {lost['message']}")
    chosen = X_eval if len(X_eval) <= params["n_samples"] else \
        X_eval.sample(params["n_samples"], random_state=params["random_state"]).sort_index()
    truth_index = class_positions(target.loc[chosen.index], classes)
    pool = make_pool(space, X_eval, params["random_state"])
    attacks = {}
    for position, (name, model) in enumerate((("original", original), ("new", new))):
        evasion = Evasion(model, space, classes, params, pool=pool, random_state=params["random_state"])
        runs = evasion.run(space.encode(chosen), lambda fraction, message, p=position, n=name: progress(
            (p + fraction) / 2, f"{n} model: {message}"))
        attacks[name] = {"records": summarise(runs, space, params["eps"], truth_index),
                         "attacks": evasion.attacks(), "gradient_note": evasion.gradient_note,
                         "notes": [note for run_ in runs for note in run_.notes]}
    common = [a for a in attacks["original"]["attacks"] if a in attacks["new"]["attacks"]]
    rows = []
    for attack in common:
        for eps in params["eps"]:
            pick = {name: next(r for r in attacks[name]["records"] if r["attack"] == attack and r["eps"] == eps)
                    for name in attacks}
            rows.append({"attack": attack, "eps": eps,
                         "success_before": pick["original"]["success_rate"],
                         "success_after": pick["new"]["success_rate"],
                         "robust_accuracy_before": pick["original"]["robust_accuracy"],
                         "robust_accuracy_after": pick["new"]["robust_accuracy"]})
    change = (after["accuracy"] - before["accuracy"]) if before["accuracy"] is not None else None
    return {
        "clean_before": before,
        "clean_after": after,
        "clean_accuracy_change": change,
        "clean_accuracy_sentence": sentence_change("Clean accuracy", before["accuracy"], after["accuracy"]) +
        f" on the same {len(X_eval)} evaluation rows",
        "clean_metric": metric,
        "clean_metric_change": _difference(after.get(metric), before.get(metric)),
        "clean_metric_sentence": sentence_change(f"Clean {metric}", before.get(metric), after.get(metric)) +
        f" on the same {len(X_eval)} evaluation rows",
        "per_class_before": per_class_before,
        "per_class_after": per_class_after,
        "verdict": verdict(task=task, metric=choice, baseline=constant_baseline(task, metric, truth, outputs),
                           clean=after.get(metric), failures=failures, before=per_class_before),
        "clean_rows": X_eval.index.tolist(),
        "attacked_rows": chosen.index.tolist(),
        "robustness": rows,
        "attack_details": attacks,
        "attacks_compared": common,
    }


def result_parts(comparison: dict, metric_names=("accuracy", "balanced_accuracy", "f1", "roc_auc")) -> dict:
    """Charts and tables of a before/after comparison."""
    rows = comparison["robustness"]
    fig = go.Figure()
    for attack in comparison["attacks_compared"]:
        points = [r for r in rows if r["attack"] == attack]
        for when, dash in (("before", "dot"), ("after", "solid")):
            fig.add_trace(go.Scatter(x=[p["eps"] for p in points],
                                     y=[None if p[f"success_{when}"] is None else round(100 * p[f"success_{when}"], 2)
                                        for p in points], mode="lines+markers", line={"dash": dash},
                                     name=f"{ATTACK_NAMES[attack]} {when}"))
    fig.update_layout(xaxis_title="eps (standard deviations, L-inf)", yaxis_title="attack success rate (%)",
                      yaxis_range=[0, 100], height=380)
    clean = go.Figure(go.Bar(x=list(metric_names), y=[comparison["clean_before"].get(m) for m in metric_names],
                             name="original", marker_color="#90A4AE"))
    clean.add_trace(go.Bar(x=list(metric_names), y=[comparison["clean_after"].get(m) for m in metric_names],
                           name="new", marker_color="#43A047"))
    clean.update_layout(barmode="group", yaxis_title="score on the same evaluation rows", height=360)
    return {
        "charts": [figure("Attack success before and after", fig), figure("Clean metrics before and after", clean)],
        "tables": [
            table("Per-class recall and precision, original and new model",
                  ["class", "rows", "recall (original)", "recall (new)", "precision (original)", "precision (new)"],
                  [[b["class"], b["support"], b["recall"], a["recall"], b["precision"], a["precision"]]
                   for b, a in zip(comparison["per_class_before"], comparison["per_class_after"], strict=True)]),
            table("Clean metrics on the same evaluation rows", ["metric", "original", "new", "change"],
                  [[m, comparison["clean_before"].get(m), comparison["clean_after"].get(m),
                    _difference(comparison["clean_after"].get(m), comparison["clean_before"].get(m))]
                   for m in metric_names]),
            table("Attack success before and after", ["attack", "eps (std)", "success before", "success after",
                                                      "robust accuracy before", "robust accuracy after"],
                  [[ATTACK_NAMES[r["attack"]], r["eps"], r["success_before"], r["success_after"],
                    r["robust_accuracy_before"], r["robust_accuracy_after"]] for r in rows]),
        ],
    }


def _difference(after, before):
    return None if after is None or before is None else after - before


def robustness_sentence(rows: list[dict]) -> str:
    parts = []
    for r in rows:
        if r["success_before"] is None or r["success_after"] is None:
            continue
        parts.append(f"{ATTACK_NAMES[r['attack']]} eps {r['eps']:g}: {100 * r['success_before']:.0f}% → "
                     f"{100 * r['success_after']:.0f}%")
    return ", ".join(parts) or "no comparable attack"


def soften(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the teacher's probabilities at temperature T."""
    logits = np.log(np.clip(np.asarray(proba, dtype=float), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fmt_change(value) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


COMPARISON_KEYS = ("clean_before", "clean_after", "clean_accuracy_change", "clean_accuracy_sentence", "clean_metric",
                   "clean_metric_change", "clean_metric_sentence", "per_class_before", "per_class_after", "verdict",
                   "attacked_rows", "robustness", "attacks_compared")


def comparison_summary(comparison: dict) -> dict:
    return {**summary_lines(comparison["verdict"]), "Clean score": comparison["clean_metric_sentence"],
            "Clean accuracy": comparison["clean_accuracy_sentence"]}


__all__ = ["COMPARISON_KEYS", "HARDENING_DEFAULTS", "compare", "comparison_summary", "fmt", "fmt_change",
           "result_parts", "robustness_sentence", "soften", "validate_hardening"]
