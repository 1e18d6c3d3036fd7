"""Label-flip poisoning: how much the model's recipe degrades when part of its training labels are wrong.

Needs the training data (`_training`) and a refittable scikit-learn model. For each poison rate (0 always
included), a seeded random `rate` share of the training rows gets a wrong target: classification, a different
class drawn uniformly from the other classes; regression, the target of another randomly drawn training row
(a permutation of the chosen rows' targets). A clone of the estimator is refitted on the poisoned data and
scored on the evaluation sample; with `repeats` > 1 the scores are averaged over independent draws. The
rate-0 clone is the recipe refitted on clean data (compare it with the registered model, also reported).

The metric is chosen by `_verdict.choose_metric` (balanced accuracy for classifiers unless the job or the model
names another); each rate also reports per-class recall and precision, pooled over the repeats, and a collapse (a
class the clean refit recalled is recalled no more) is a failure in `verdict`, whatever the metric says.

Result keys: summary, charts, tables, rows_used, explainer, method, metric, registered_score, points [{rate,
score, drop, skill_lost, scores, rows_flipped, per_class, collapse}], drop_at_10_percent (None when 0.1 is not
among the rates), training_data, verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError
from explain.analyses._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    Progress,
    check_known,
    common_params,
    figure,
    fmt,
    int_param,
    json_safe,
    positive_class_param,
    resolve_outputs,
    resolve_task,
    rng,
    table,
)

from ._base import (
    MAX_TRAINING_ROWS,
    compute_metrics,
    drop,
    evaluation_target,
    metric_param,
    model_metrics,
    number_list_param,
    predictions,
    refittable,
    reject_reserved,
    split_engine_params,
    training_data,
    wrap,
)
from ._verdict import choose_metric, class_report, collapse, constant_baseline, skill_lost, summary_lines, verdict

KIND = "poisoning"
TITLE = "Data poisoning (label flips) and retraining"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "rates": [0, 0.05, 0.1, 0.2], "repeats": 1, "metric": None,
                  "max_training_rows": 5000, "positive_class": None}
REQUIRES_TARGET = True


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    rates = number_list_param(params, "rates", minimum=0.0, maximum=0.5)
    cleaned["rates"] = rates if 0 in rates else [0.0, *rates]
    cleaned["repeats"] = int_param(params, "repeats", minimum=1, maximum=10)
    cleaned["metric"] = metric_param(params)
    cleaned["max_training_rows"] = int_param(params, "max_training_rows", minimum=10, maximum=MAX_TRAINING_ROWS)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


def poison(y: pd.Series, rate: float, task: str, classes, generator: np.random.Generator) -> tuple[pd.Series, int]:
    """y with round(rate * n) rows given a wrong target (see the module docstring)."""
    n_flip = int(round(rate * len(y)))
    if n_flip == 0:
        return y.copy(), 0
    chosen = generator.choice(len(y), size=n_flip, replace=False)
    values = y.to_numpy(copy=True).astype(object)
    if task == CLASSIFICATION:
        labels = list(classes)
        for position in chosen:
            others = [c for c in labels if str(c) != str(values[position])]
            values[position] = others[int(generator.integers(len(others)))]
    else:
        donors = generator.integers(len(y), size=n_flip)
        values[chosen] = y.to_numpy()[donors]
    poisoned = pd.Series(values, index=y.index, name=y.name)
    return poisoned.infer_objects() if task == CLASSIFICATION else poisoned.astype(float), n_flip


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    refittable(model, "poisoning")
    X_eval, target, outputs = evaluation_target(model, X, y, task, params["positive_class"], needed="poisoning")
    choice = choose_metric(params["metric"], task, target, primary=engine.get("_primary_metric"))
    metric = choice["name"]
    X_train, y_train, info = training_data(engine, X, task, outputs.classes, title="poisoning",
                                           max_rows=params["max_training_rows"], random_state=params["random_state"])
    truth = target.to_numpy()
    registered = model_metrics(model, X_eval, truth, task, outputs)[metric]
    baseline = constant_baseline(task, metric, truth, outputs)
    points = []
    total = len(params["rates"]) * params["repeats"]
    step = 0
    for rate in params["rates"]:
        scores, flipped, guesses = [], 0, []
        for repeat in range(params["repeats"]):
            report(3 + 92 * step / total, f"Poison rate {rate:.0%}: refit {repeat + 1} of {params['repeats']}")
            step += 1
            generator = rng(params["random_state"] + 1000 * repeat + int(round(rate * 10_000)))
            poisoned, flipped = poison(y_train, rate, task, outputs.classes, generator)
            estimator = refittable(model, "poisoning")
            try:
                estimator.fit(X_train, poisoned)
            except Exception as exc:  # noqa: BLE001 - the recipe fails on the poisoned data
                raise AnalysisError(f"refitting at poison rate {rate:.0%} failed: {type(exc).__name__}: {exc}")
            fitted = wrap(estimator)
            fitted_outputs = resolve_outputs(fitted, X_eval.iloc[:1], task, outputs.positive_class) \
                if task == CLASSIFICATION else outputs
            predicted, proba = predictions(fitted, X_eval, task, fitted_outputs.classes)
            scores.append(compute_metrics(task, truth, predicted, proba, fitted_outputs)[metric])
            guesses.append(predicted)
        valid = [s for s in scores if s is not None]
        point = {"rate": rate, "score": float(np.mean(valid)) if valid else None, "scores": scores,
                 "rows_flipped": flipped}
        if task == CLASSIFICATION:
            point["guesses"] = guesses
        points.append(point)
    clean_score = points[0]["score"]
    failures = []
    before = None
    if task == CLASSIFICATION:
        before = class_report(np.tile(truth, params["repeats"]), np.concatenate(points[0]["guesses"]),
                              outputs.classes)
    for point in points:
        point["drop"] = drop(clean_score, point["score"], metric)
        point["skill_lost"] = skill_lost(clean_score, point["score"], baseline["score"], metric)
        point["change"] = None if point["score"] is None or clean_score is None else point["score"] - clean_score
        guesses = point.pop("guesses", None)
        if guesses is None:
            continue
        point["per_class"] = class_report(np.tile(truth, len(guesses)), np.concatenate(guesses), outputs.classes)
        collapsed = [c for c in (collapse(before, class_report(truth, g, outputs.classes), g) for g in guesses) if c]
        point["collapse"] = collapsed[0] if collapsed else None
        if collapsed:
            repeats = f" in {len(collapsed)} of {len(guesses)} refits" if len(guesses) > 1 else ""
            failures.append(f"at {point['rate']:.0%} flipped labels{repeats}: {collapsed[0]['message']}")
    at_ten = next((p for p in points if abs(p["rate"] - 0.1) < 1e-9), None)
    result = {
        "kind": KIND,
        "rows_used": X_eval.index.tolist(),
        "explainer": "sklearn.base.clone refitted on label-flipped training data",
        "method": {
            "flip": ("classification: a different class drawn uniformly" if task == CLASSIFICATION else
                     "regression: the target of another randomly drawn training row"),
            "rows_flipped": "round(rate × training rows), drawn without replacement with a seeded generator",
            "repeats": params["repeats"], "random_state": params["random_state"], "metric": metric,
            "metric_reason": choice["reason"],
            "skill_lost": "(score at rate 0 - score) / (score at rate 0 - constant-model score): the share of the "
                          "margin over a constant model that the flips take away",
            "per_class": "recall and precision on the evaluation sample, pooled over the repeats",
            "drop": "(score at rate 0 - score) / |score at rate 0|, rate 0 being the recipe refitted on clean data",
            "scored_on": "the evaluation sample",
            "positive_class": outputs.positive_class if task == CLASSIFICATION else None,
        },
        "metric": metric,
        "registered_score": registered,
        "points": points,
        "drop_at_10_percent": at_ten["drop"] if at_ten else None,
        "change_at_10_percent": at_ten["change"] if at_ten else None,
        "training_data": info,
        "verdict": verdict(task=task, metric=choice, baseline=baseline, clean=clean_score, failures=failures,
                           before=before),
        "charts": [_chart(points, metric, registered, baseline)],
        "tables": [table("Score on the evaluation sample by poison rate",
                         ["poison rate", "rows flipped", metric, "drop", "margin over a constant model lost",
                          "change"],
                         [[p["rate"], p["rows_flipped"], p["score"], p["drop"], p["skill_lost"], p["change"]]
                          for p in points])],
    }
    if task == CLASSIFICATION:
        result["tables"].append(_class_table(points))
    result["summary"] = _summary(result)
    report(100, "Done")
    return json_safe(result)


def _class_table(points: list[dict]) -> dict:
    rows = [[p["rate"], c["class"], c["support"], c["predicted"], c["recall"], c["precision"],
             "collapse" if p.get("collapse") and c["class"] in p["collapse"]["lost_classes"] else ""]
            for p in points for c in p["per_class"]]
    return table("Per-class recall and precision by poison rate",
                 ["poison rate", "class", "rows", "predicted", "recall", "precision", "failure"], rows)


def _chart(points: list[dict], metric: str, registered: float | None, baseline: dict) -> dict:
    fig = go.Figure(go.Scatter(x=[round(100 * p["rate"], 3) for p in points], y=[p["score"] for p in points],
                               mode="lines+markers", name="refitted"))
    if registered is not None:
        fig.add_hline(y=registered, line_dash="dot", line_color="#757575", annotation_text="registered model")
    if baseline.get("score") is not None:
        fig.add_hline(y=baseline["score"], line_dash="dash", line_color="#E53935",
                      annotation_text="constant model", annotation_position="bottom right")
    fig.update_layout(xaxis_title="training labels flipped (%)", yaxis_title=metric, height=360)
    return figure(f"{metric} vs poison rate", fig)


def _summary(result: dict) -> dict:
    points = result["points"]
    summary = {
        **summary_lines(result["verdict"]),
        "Registered model": fmt(result["registered_score"], 4),
        "Refitted on clean labels": fmt(points[0]["score"], 4),
        "By poison rate": ", ".join(f"{p['rate']:.0%}: {fmt(p['score'], 4)}" for p in points),
        "Training rows": result["training_data"]["rows_used"],
    }
    if result["drop_at_10_percent"] is not None:
        summary["Drop at 10% flipped"] = f"{100 * result['drop_at_10_percent']:.2f}% of the clean score"
        at_ten = next(p for p in points if abs(p["rate"] - 0.1) < 1e-9)
        if at_ten.get("skill_lost") is not None:
            summary["Margin over a constant model lost at 10%"] = f"{100 * at_ten['skill_lost']:.1f}%"
    return summary
