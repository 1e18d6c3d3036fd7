"""Evaluation metrics for a loaded model on a labelled table (used by the compatibility check)."""

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def _as_str(values) -> np.ndarray:
    return np.asarray(pd.Series(values).astype(str))


def classification_metrics(y_true, y_pred, proba: np.ndarray | None, classes: list | None,
                           positive_class: str = "") -> dict:
    y_true_s, y_pred_s = _as_str(y_true), _as_str(y_pred)
    result = {
        "accuracy": float(skm.accuracy_score(y_true_s, y_pred_s)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true_s, y_pred_s)),
        "f1_macro": float(skm.f1_score(y_true_s, y_pred_s, average="macro", zero_division=0)),
    }
    labels = [str(c) for c in classes] if classes else sorted(set(y_true_s))
    if len(labels) == 2:
        # F1 of the declared positive class, else of the rarer one: what a credit or fraud model exists to catch.
        counts = pd.Series(y_true_s).value_counts()
        positive = positive_class if positive_class in labels else min(labels, key=lambda c: counts.get(c, 0))
        result["f1"] = float(skm.f1_score(y_true_s, y_pred_s, pos_label=positive, zero_division=0))
        result["positive_class"] = positive
    if proba is not None and classes and proba.shape[1] == len(labels) and len(set(y_true_s)) > 1:
        known = np.isin(y_true_s, labels)
        if known.all():
            if len(labels) == 2:
                result["roc_auc"] = float(skm.roc_auc_score(y_true_s == labels[1], proba[:, 1]))
            else:
                result["roc_auc"] = float(
                    skm.roc_auc_score(y_true_s, proba, multi_class="ovr", average="macro", labels=labels)
                )
    return result


def regression_metrics(y_true, y_pred) -> dict:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float).reshape(-1)
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
    }


def evaluate(loaded, X: pd.DataFrame, y, task: str, positive_class: str = "") -> dict:
    predictions = loaded.predict(X)
    if task == "regression":
        return regression_metrics(y, predictions)
    proba = loaded.predict_proba(X)
    return classification_metrics(y, predictions, proba, loaded.classes, positive_class=positive_class)
