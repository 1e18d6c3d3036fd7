"""k-fold cross-validation of the model's recipe: clones of the scikit-learn estimator (pipeline included) refitted
on k-1 folds and scored on the held-out fold.

Data (`data`): "auto" uses the training data when the engine supplies it (`_training`), else the evaluation
sample; "training" / "evaluation" force one (training without a linked training dataset is an error). Folds are
stratified for classification (StratifiedKFold, shuffled with `random_state`), plain KFold for regression.
Metrics per fold: accuracy, balanced accuracy, F1 and ROC-AUC (binary: about `positive_class`; multiclass: macro
F1, one-vs-rest macro ROC-AUC) or R², MAE and RMSE; mean and std (population std over the k folds).
`high_variance` is set when a unitless metric (accuracy, balanced accuracy, F1, ROC-AUC, R²) has a std above
`high_variance_threshold`, or when MAE / RMSE vary by more than that fraction of their mean (coefficient of
variation). Only models that are scikit-learn estimators can be refitted; others fail with a clear error.

The headline metric is chosen by `_verdict.choose_metric` (balanced accuracy for classifiers unless the model
declares another) and compared with a constant model on the same rows; out-of-fold predictions give per-class
recall and precision next to the registered model's. A fold whose refit predicts one class for every row, or a
class the registered model recalls that no refit recalls, is a failure in `verdict`.

Result keys: summary, charts, tables, rows_used, explainer, method, data_used, k, folds [{fold, train_rows,
test_rows, metrics}], mean, std, high_variance, high_variance_metrics, registered_model (its metrics on the
evaluation sample, for comparison), metric, per_class (out of fold), verdict.
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
    choice_param,
    common_params,
    figure,
    float_param,
    fmt,
    int_param,
    json_safe,
    positive_class_param,
    resolve_outputs,
    resolve_task,
    table,
)

from ._base import (
    LOWER_IS_BETTER,
    MAX_TRAINING_ROWS,
    compute_metrics,
    evaluation_target,
    model_metrics,
    predictions,
    refittable,
    reject_reserved,
    split_engine_params,
    training_data,
    wrap,
)
from ._verdict import (
    choose_metric,
    class_report,
    collapse,
    constant_baseline,
    constant_predictions,
    summary_lines,
    verdict,
)

KIND = "cross_validation"
TITLE = "Cross-validation (refitting the model on k folds)"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "k": 5, "high_variance_threshold": 0.05, "data": "auto",
                  "max_training_rows": 5000, "positive_class": None}
REQUIRES_TARGET = True
UNITLESS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "r2")


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["k"] = int_param(params, "k", minimum=2, maximum=20)
    cleaned["high_variance_threshold"] = float_param(params, "high_variance_threshold", minimum=0.0, maximum=1.0,
                                                     exclusive_minimum=True)
    cleaned["data"] = choice_param(params, "data", ("auto", "training", "evaluation"))
    cleaned["max_training_rows"] = int_param(params, "max_training_rows", minimum=10, maximum=MAX_TRAINING_ROWS)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.model_selection import KFold, StratifiedKFold

    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    refittable(model, "cross-validation")
    X_eval, target_eval, outputs = evaluation_target(model, X, y, task, params["positive_class"],
                                                     needed="cross-validation")
    use_training = params["data"] == "training" or (params["data"] == "auto" and "_training" in engine)
    training_info = None
    if use_training:
        X_cv, y_cv, training_info = training_data(engine, X, task, outputs.classes, title="cross-validation on the "
                                                  "training data", max_rows=params["max_training_rows"],
                                                  random_state=params["random_state"])
    else:
        X_cv, y_cv = X_eval, target_eval
    k = params["k"]
    if task == CLASSIFICATION:
        smallest = y_cv.astype(str).value_counts()
        if len(smallest) < 2:
            raise AnalysisError("cross-validation needs at least two classes in the target")
        if smallest.min() < k:
            raise AnalysisError(f"the rarest class ({smallest.idxmin()!r}) has {smallest.min()} rows: stratified "
                                f"{k}-fold needs at least {k}; lower k")
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=params["random_state"])
        splits = list(splitter.split(X_cv, y_cv.astype(str)))
    else:
        if len(X_cv) < 2 * k:
            raise AnalysisError(f"{len(X_cv)} rows are too few for {k}-fold cross-validation")
        splits = list(KFold(n_splits=k, shuffle=True, random_state=params["random_state"]).split(X_cv))
    choice = choose_metric(None, task, y_cv, primary=engine.get("_primary_metric"))
    folds = []
    out_of_fold = np.empty(len(X_cv), dtype=object)
    failures = []
    for number, (train, test) in enumerate(splits, start=1):
        report(3 + 90 * (number - 1) / k, f"Fold {number} of {k}: refitting")
        estimator = refittable(model, "cross-validation")
        try:
            estimator.fit(X_cv.iloc[train], y_cv.iloc[train])
        except Exception as exc:  # noqa: BLE001 - the recipe itself fails on this data
            raise AnalysisError(f"refitting the model on fold {number} failed: {type(exc).__name__}: {exc}")
        fitted = wrap(estimator)
        fold_outputs = resolve_outputs(fitted, X_cv.iloc[test[:1]], task, outputs.positive_class) \
            if task == CLASSIFICATION else outputs
        predicted, proba = predictions(fitted, X_cv.iloc[test], task, fold_outputs.classes)
        metrics = compute_metrics(task, y_cv.iloc[test].to_numpy(), predicted, proba, fold_outputs)
        if task == CLASSIFICATION:
            out_of_fold[test] = predicted
            message = constant_predictions(class_report(y_cv.iloc[test], predicted, outputs.classes), predicted)
            if message:
                failures.append(f"fold {number}: {message.replace('the model', 'the refitted model', 1)}")
        folds.append({"fold": number, "train_rows": int(len(train)), "test_rows": int(len(test)), "metrics": metrics})
    report(95, "Summarising")
    names = list(folds[0]["metrics"])
    mean, std = {}, {}
    for name in names:
        values = [f["metrics"][name] for f in folds if f["metrics"][name] is not None]
        mean[name] = float(np.mean(values)) if values else None
        std[name] = float(np.std(values)) if values else None
    threshold = params["high_variance_threshold"]
    flagged = []
    for name in names:
        if std[name] is None:
            continue
        spread = std[name] if name in UNITLESS else (std[name] / abs(mean[name]) if mean[name] else np.inf)
        if spread > threshold:
            flagged.append(name)
    registered = model_metrics(model, X_eval, target_eval.to_numpy(), task, outputs)
    metric = choice["name"]
    baseline = constant_baseline(task, metric, y_cv.to_numpy(), outputs)
    per_class = before = None
    if task == CLASSIFICATION:
        registered_predicted, _ = predictions(model, X_eval, task, outputs.classes)
        before = class_report(target_eval, registered_predicted, outputs.classes)
        per_class = class_report(y_cv, out_of_fold, outputs.classes)
        lost = collapse(before, per_class, out_of_fold)
        if lost:
            failures.append(f"out of fold, {lost['message']} (the registered model recalls it on the evaluation "
                            "sample)")
    result = {
        "kind": KIND,
        "rows_used": X_cv.index.tolist() if not use_training else X_eval.index.tolist(),
        "explainer": f"sklearn.model_selection.{'StratifiedKFold' if task == CLASSIFICATION else 'KFold'} with "
                     "sklearn.base.clone",
        "method": {
            "splitter": "StratifiedKFold" if task == CLASSIFICATION else "KFold",
            "k": k, "shuffle": True, "random_state": params["random_state"],
            "refit": "sklearn.base.clone of the whole estimator (preprocessing included), fitted on k-1 folds",
            "std": "population standard deviation over the folds",
            "high_variance": (f"std > {threshold:g} for accuracy, balanced_accuracy, f1, roc_auc, r2; std / mean > "
                              f"{threshold:g} for mae, rmse"),
            "positive_class": outputs.positive_class if task == CLASSIFICATION else None,
            "training_data": training_info,
        },
        "data_used": "training data" if use_training else "the evaluation sample",
        "k": k,
        "folds": folds,
        "mean": mean,
        "std": std,
        "high_variance": bool(flagged),
        "high_variance_metrics": flagged,
        "registered_model": {"data": "the evaluation sample", "rows": int(len(X_eval)), "metrics": registered,
                             "per_class": before},
        "metric": metric,
        "per_class": per_class,
        "baseline": baseline,
        "verdict": verdict(task=task, metric=choice, baseline=baseline, clean=mean.get(metric), failures=failures,
                           before=before),
        "charts": [_chart(folds, names, mean, std, baseline)],
        "tables": [
            table("Per-fold scores", ["fold", "train rows", "test rows", *names],
                  [[f["fold"], f["train_rows"], f["test_rows"], *[f["metrics"][n] for n in names]] for f in folds]),
            table("Mean ± std over the folds", ["metric", "mean", "std", "registered model (evaluation sample)"],
                  [[n, mean[n], std[n], registered.get(n)] for n in names]),
        ],
    }
    if per_class is not None:
        result["tables"].append(table(
            "Per-class recall and precision: out of fold vs the registered model (evaluation sample)",
            ["class", "rows", "recall (out of fold)", "precision (out of fold)", "recall (registered)",
             "precision (registered)"],
            [[a["class"], a["support"], a["recall"], a["precision"], b["recall"], b["precision"]]
             for a, b in zip(per_class, before, strict=True)]))
    result["summary"] = _summary(result, names, threshold)
    report(100, "Done")
    return json_safe(result)


def _chart(folds: list[dict], names: list[str], mean: dict, std: dict, baseline: dict) -> dict:
    shown = [n for n in names if n not in LOWER_IS_BETTER] or names
    fig = go.Figure(go.Bar(x=shown, y=[mean[n] for n in shown], name="mean",
                           error_y={"type": "data", "array": [std[n] or 0 for n in shown], "visible": True},
                           marker_color="#90CAF9"))
    for fold in folds:
        fig.add_trace(go.Scatter(x=shown, y=[fold["metrics"][n] for n in shown], mode="markers",
                                 name=f"fold {fold['fold']}", marker={"size": 8}))
    fig.add_trace(go.Scatter(x=shown, y=[baseline["metrics"].get(n) for n in shown], mode="markers",
                             name="constant model", marker={"symbol": "line-ew-open", "size": 28, "color": "#E53935"}))
    fig.update_layout(yaxis_title="score", height=380)
    return figure("Cross-validated scores (mean ± std, one dot per fold)", fig)


def _summary(result: dict, names: list[str], threshold: float) -> dict:
    summary = {**summary_lines(result["verdict"]), "Data": f"{result['data_used']}, {result['k']}-fold"}
    for name in names:
        if result["mean"][name] is not None:
            summary[name] = f"{fmt(result['mean'][name], 4)} ± {fmt(result['std'][name], 3)}"
    summary["High variance"] = (f"yes: {', '.join(result['high_variance_metrics'])} vary more than {threshold:g} "
                                "across folds" if result["high_variance"] else f"no (threshold {threshold:g})")
    return summary
