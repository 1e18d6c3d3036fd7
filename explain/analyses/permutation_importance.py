"""Permutation importance on the original columns: how much the score drops when one column's values are shuffled.

`sklearn.inspection.permutation_importance` shuffles each column of the ORIGINAL DataFrame `n_repeats` times
(categorical columns included: shuffling keeps their values valid) and re-scores a thin estimator wrapper
through a callable scorer that calls the loaded model's predict / predict_proba. Metrics: classification
roc_auc (binary, P(positive class)) | roc_auc_ovr (multiclass, macro one-vs-rest) | accuracy |
balanced_accuracy | f1 (binary: positive class; multiclass: macro); regression r2 | neg_mean_absolute_error.
Needs the target: rows with a missing target are dropped. Result keys: summary, charts (bar with ±std error
bars), tables, rows_used, explainer, method, metric, baseline_score, importances (sorted: feature, mean, std,
the n_repeats values), noise_level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.base import BaseEstimator

from explain.analyses import AnalysisError, ParamError

from ._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    Progress,
    align_target,
    check_known,
    common_params,
    figure,
    fmt,
    int_param,
    json_safe,
    positive_class_param,
    resolve_outputs,
    resolve_task,
    table,
)

KIND = "permutation_importance"
TITLE = "Permutation feature importance"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "metric": None, "n_repeats": 10, "positive_class": None}
REQUIRES_TARGET = True
CLASSIFICATION_METRICS = ("roc_auc", "roc_auc_ovr", "accuracy", "balanced_accuracy", "f1")
REGRESSION_METRICS = ("r2", "neg_mean_absolute_error")
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    metric = params.get("metric")
    if metric is not None and metric not in METRICS:
        raise ParamError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    cleaned["metric"] = metric
    cleaned["n_repeats"] = int_param(params, "n_repeats", minimum=1, maximum=100)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


class _Model(BaseEstimator):
    """What permutation_importance needs: an object with fit (never called); scoring goes through `score_model`."""

    def __init__(self, loaded=None):
        self.loaded = loaded

    def fit(self, X, y=None):
        return self


def _metric_for(task: str, metric: str | None, binary: bool) -> str:
    if metric is None:
        return ("roc_auc" if binary else "roc_auc_ovr") if task == CLASSIFICATION else "r2"
    if task == CLASSIFICATION and metric == "roc_auc" and not binary:
        return "roc_auc_ovr"
    allowed = CLASSIFICATION_METRICS if task == CLASSIFICATION else REGRESSION_METRICS
    if metric not in allowed:
        raise ParamError(f"metric {metric!r} does not apply to {task}; use one of {', '.join(allowed)}")
    return metric


def make_score(model, metric: str, outputs):
    """score(X, y) -> float, higher is better, computed from the loaded model's own predictions."""
    from sklearn import metrics

    classes = outputs.classes if outputs is not None else None

    def score(X: pd.DataFrame, y: np.ndarray) -> float:
        if metric == "roc_auc":
            proba = np.asarray(model.predict_proba(X))[:, outputs.columns[0]]
            return metrics.roc_auc_score(y == outputs.positive_class, proba)
        if metric == "roc_auc_ovr":
            return metrics.roc_auc_score(y, np.asarray(model.predict_proba(X)), labels=classes, multi_class="ovr",
                                         average="macro")
        predicted = model.predict(X)
        if metric == "accuracy":
            return metrics.accuracy_score(y, _as_labels(predicted, classes))
        if metric == "balanced_accuracy":
            return metrics.balanced_accuracy_score(y, _as_labels(predicted, classes))
        if metric == "f1":
            predicted = _as_labels(predicted, classes)
            if outputs.binary:
                return metrics.f1_score(y, predicted, pos_label=outputs.positive_class, average="binary")
            return metrics.f1_score(y, predicted, labels=classes, average="macro")
        if metric == "r2":
            return metrics.r2_score(y, np.asarray(predicted, dtype=float))
        return -metrics.mean_absolute_error(y, np.asarray(predicted, dtype=float))

    return score


def _as_labels(predicted, classes) -> np.ndarray:
    """Predicted labels as the model's class objects (ONNX may return ints where classes are text, and back)."""
    by_text = {str(c): c for c in classes}
    return np.array([by_text.get(str(p), p) for p in np.asarray(predicted).ravel()], dtype=object)


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.inspection import permutation_importance

    report = Progress(progress)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if y is None:
        raise AnalysisError("permutation importance needs the target column, and this dataset has none")
    report(2, "Preparing the target")
    outputs = resolve_outputs(model, X, task, params["positive_class"]) if task == CLASSIFICATION else None
    target = align_target(y.loc[X.index], outputs.classes if outputs else None)
    dropped = len(X) - len(target)
    X_scored = X.loc[target.index]
    if len(X_scored) < 10:
        raise AnalysisError(f"only {len(X_scored)} rows have a target; permutation importance needs at least 10")
    metric = _metric_for(task, params["metric"], bool(outputs and outputs.binary))
    score = make_score(model, metric, outputs)
    y_array = target.to_numpy()
    if task == CLASSIFICATION and len(pd.unique(target)) < 2 and metric.startswith("roc_auc"):
        raise AnalysisError(f"{metric} needs at least two classes in the target; the sample has only "
                            f"{target.iloc[0]!r}")
    total = len(X.columns) * params["n_repeats"] + 1
    calls = [0]

    def scorer(estimator, X_permuted, y_true):
        calls[0] += 1
        report(5 + 90 * calls[0] / total, f"Scoring permutation {calls[0]} of {total}")
        try:
            return score(X_permuted, np.asarray(y_true))
        except ValueError as exc:  # a metric that cannot be computed on these labels
            raise AnalysisError(f"cannot compute {metric}: {exc}")

    report(4, f"Baseline {metric}")
    outcome = permutation_importance(_Model(model), X_scored, y_array, scoring=scorer, n_repeats=params["n_repeats"],
                                     random_state=params["random_state"], n_jobs=None)
    baseline = float(score(X_scored, y_array))
    order = np.argsort(-outcome.importances_mean, kind="stable")
    importances = [
        {
            "feature": X.columns[j],
            "mean": float(outcome.importances_mean[j]),
            "std": float(outcome.importances_std[j]),
            "values": outcome.importances[j].tolist(),
        }
        for j in order
    ]
    noise = [item["feature"] for item in importances if item["mean"] - 2 * item["std"] <= 0]
    report(97, "Building the chart")
    result = {
        "kind": KIND,
        "rows_used": X_scored.index.tolist(),
        "explainer": "sklearn.inspection.permutation_importance",
        "method": {
            "function": "sklearn.inspection.permutation_importance",
            "metric": metric,
            "metric_about": (f"P(class {outputs.positive_class!r})" if outputs and outputs.binary
                             and metric == "roc_auc" else None),
            "n_repeats": params["n_repeats"],
            "random_state": params["random_state"],
            "columns": "original columns of the DataFrame, each shuffled as a whole (categories included)",
            "rows_without_target_dropped": dropped,
        },
        "metric": metric,
        "baseline_score": baseline,
        "importances": importances,
        "noise_level": noise,
        "charts": [_chart(importances, metric)],
        "tables": [table(f"Permutation importance (drop in {metric})", ["feature", "mean", "std"],
                         [[item["feature"], item["mean"], item["std"]] for item in importances])],
    }
    result["summary"] = _summary(result, len(X_scored))
    report(100, "Done")
    return json_safe(result)


def _chart(importances: list[dict], metric: str) -> dict:
    items = list(reversed(importances))
    fig = go.Figure(go.Bar(
        x=[float(f"{item['mean']:.5g}") for item in items], y=[item["feature"] for item in items], orientation="h",
        error_x={"type": "data", "array": [float(f"{item['std']:.5g}") for item in items], "visible": True},
        marker={"color": ["#1E88E5" if item["mean"] > 0 else "#BDBDBD" for item in items]},
    ))
    fig.update_layout(xaxis_title=f"drop in {metric} when shuffled (mean ± std)",
                      height=max(300, 26 * len(items) + 120), margin={"l": 160})
    return figure("Permutation importance", fig)


def _summary(result: dict, n: int) -> dict:
    importances = result["importances"]
    summary = {
        "Metric": result["metric"],
        "Baseline score": round(result["baseline_score"], 4),
        "Rows scored": n,
        "Repeats": result["method"]["n_repeats"],
        "Most important": ", ".join(f"{item['feature']} ({fmt(item['mean'], 3)} ± {fmt(item['std'], 2)})"
                                    for item in importances[:3]),
    }
    if result["noise_level"]:
        summary["Within noise"] = (", ".join(result["noise_level"]) + ": shuffling them changes the score by no "
                                   "more than two standard deviations of the repeats")
    return summary
