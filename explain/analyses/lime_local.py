"""LIME for chosen rows, side by side with SHAP for the same rows.

LIME (`lime.lime_tabular.LimeTabularExplainer`) works on numeric arrays, so the original columns are encoded:
categorical columns become integer codes (passed as `categorical_features` / `categorical_names`, a missing
value being its own category "(missing)"), numeric columns stay numeric. LIME cannot sample NaN: a numeric
column's missing entries are replaced by the column's median for LIME's training statistics, and every numeric
column that has missing values gets an extra categorical feature "<column> is missing" (no/yes), so a row with a
missing value is explained as it is: the predict function decodes codes back to category values and puts NaN
back wherever "is missing" is yes, before calling the model. LIME weights are summed per original column (the
column and its "is missing" feature) for the comparison with SHAP.

Classification explains P(positive class) (binary; positive_class, default classes[1]) or, multiclass, the row's
predicted class; regression explains the prediction. Per row: LIME's local surrogate `score` (R² of its weighted
ridge on the perturbed samples), `intercept`, `local_prediction`, the weights (with LIME's readable conditions),
and the SHAP values (shap_local's engine) with their agreement: Spearman correlation of |weights| across
columns, and the top-k overlap (k = 3) in [0, 1]; `disagreement` is flagged when the top column differs or
the two methods give the SHAP top column opposite signs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError

from . import _shap
from ._common import (
    COMMON_DEFAULTS,
    MISSING_LABEL,
    REGRESSION,
    Progress,
    check_known,
    common_params,
    feature_value,
    figure,
    fmt,
    int_param,
    is_categorical,
    json_safe,
    local_frame,
    positive_class_param,
    resolve_outputs,
    resolve_task,
    rows_param,
    select_rows,
    sort_key,
    table,
)

KIND = "lime"
TITLE = "LIME local surrogate explanations (with SHAP side by side)"
DEFAULT_PARAMS = {
    **COMMON_DEFAULTS,
    "rows": None,
    "filter": None,
    "limit": 5,
    "num_samples": 2000,  # LIME's perturbed samples per row
    "num_features": 10,  # features shown per row (LIME is fitted on all of them)
    "top_k": 3,  # for the top-k overlap with SHAP
    "positive_class": None,
}
SAMPLE_ROWS = False  # the job runner passes the whole dataset: requested rows are always present
MAX_CHARTS = 5
MISSING_SUFFIX = " is missing"


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned.update(rows_param(params, n_rows=n_rows, columns=columns))
    cleaned["num_samples"] = int_param(params, "num_samples", minimum=100, maximum=50_000)
    cleaned["num_features"] = int_param(params, "num_features", minimum=1, maximum=100)
    cleaned["top_k"] = int_param(params, "top_k", minimum=1, maximum=20)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


class LimeCodec:
    """The original columns as LIME's numeric features (see the module docstring)."""

    def __init__(self, X: pd.DataFrame):
        self.columns = list(X.columns)
        self.names: list[str] = []  # LIME's feature names
        self.sources: list[str] = []  # the original column of each LIME feature
        self.categorical: dict[int, list] = {}  # LIME feature index -> category values (codes are positions)
        self.medians: dict[str, float] = {}
        self.indicator: dict[str, int] = {}  # numeric column -> index of its "is missing" feature
        self.position: dict[str, int] = {}
        for column in self.columns:
            self.position[column] = len(self.names)
            self.names.append(column)
            self.sources.append(column)
            series = X[column]
            if is_categorical(series):
                values = sorted(pd.unique(series.dropna()).tolist(), key=sort_key)
                self.categorical[self.position[column]] = values + [MISSING_LABEL]
            else:
                median = pd.to_numeric(series, errors="coerce").median()
                self.medians[column] = float(median) if pd.notna(median) else 0.0
        for column in self.columns:
            if column in self.medians and X[column].isna().any():
                self.indicator[column] = len(self.names)
                self.names.append(column + MISSING_SUFFIX)
                self.sources.append(column)
                self.categorical[self.indicator[column]] = ["no", "yes"]

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(X), len(self.names)))
        for column in self.columns:
            j = self.position[column]
            if j in self.categorical:
                values = self.categorical[j]
                lookup = {value: code for code, value in enumerate(values[:-1])}
                out[:, j] = [lookup.get(v, len(values) - 1) if not pd.isna(v) else len(values) - 1
                             for v in X[column].tolist()]
            else:
                numeric = X[column].to_numpy(dtype=float, na_value=np.nan)
                out[:, j] = np.where(np.isnan(numeric), self.medians[column], numeric)
                if column in self.indicator:
                    out[:, self.indicator[column]] = np.isnan(numeric).astype(float)
        return out

    def decode(self, array: np.ndarray) -> pd.DataFrame:
        data = {}
        for column in self.columns:
            j = self.position[column]
            if j in self.categorical:
                values = np.asarray(self.categorical[j][:-1] + [np.nan], dtype=object)
                codes = np.clip(np.rint(array[:, j]), 0, len(values) - 1).astype(int)
                data[column] = values[codes]
            else:
                numeric = np.asarray(array[:, j], dtype=float).copy()
                if column in self.indicator:
                    numeric[np.rint(array[:, self.indicator[column]]) == 1] = np.nan
                data[column] = numeric
        return pd.DataFrame(data, columns=self.columns)


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from lime.lime_tabular import LimeTabularExplainer

    report = Progress(progress)
    params = validate_params(params, n_rows=None, columns=list(X.columns))
    task = resolve_task(model, task)
    report(2, "Selecting rows")
    rows = select_rows(X, params)
    X = local_frame(X, rows, params)
    outputs = resolve_outputs(model, X, task, params["positive_class"])
    codec = LimeCodec(X)
    encoded = codec.encode(X)
    regression = task == REGRESSION

    def predict(array: np.ndarray) -> np.ndarray:
        frame = codec.decode(array)
        if regression:
            return np.asarray(model.predict(frame), dtype=float).reshape(-1)
        return np.asarray(model.predict_proba(frame), dtype=float)

    explainer = LimeTabularExplainer(
        encoded, mode="regression" if regression else "classification", feature_names=codec.names,
        categorical_features=sorted(codec.categorical), categorical_names=codec.categorical,
        class_names=None if regression else [str(c) for c in outputs.classes], discretize_continuous=True,
        random_state=params["random_state"],
    )
    report(5, "Computing SHAP for the same rows")
    shap_params = {**_shap.SHAP_DEFAULTS, **{k: params[k] for k in ("random_state", "positive_class")},
                   "agnostic_max_rows": len(rows)}
    explanation = _shap.explain(model, X, task=task, params=shap_params, progress=report, rows=rows, start=5, end=40)
    results = []
    for i, label in enumerate(rows):
        report(40 + 55 * i / len(rows), f"LIME: row {label} ({i + 1} of {len(rows)})")
        results.append(_explain_row(model, explainer, predict, codec, X, label, i, explanation, outputs, params))
    report(96, "Building charts")
    result = {
        "kind": KIND,
        "rows_used": rows,
        "background_rows": len(X),
        "explainer": "LimeTabularExplainer",
        "method": {
            "explainer": "lime.lime_tabular.LimeTabularExplainer",
            "mode": "regression" if regression else "classification",
            "num_samples": params["num_samples"],
            "discretize_continuous": True,
            "training_data": f"{len(X)} rows (the explained rows and up to max_rows others)",
            "categorical_encoding": "categorical columns as integer codes (categorical_features and "
                                    "categorical_names); a missing category is its own code '(missing)'",
            "missing_values": ("numeric missing values: median for LIME's statistics, plus a categorical '<column> "
                               "is missing' feature that puts NaN back before the model is called; imputed "
                               f"medians: {json_safe(codec.medians)}" if codec.indicator
                               else "no numeric column has missing values"),
            "lime_features": codec.names,
            "explained_output": ("the prediction" if regression else "the row's predicted class"
                                 if outputs.multiclass else f"P(class {outputs.positive_class!r})"),
            "random_state": params["random_state"],
            "shap": {"explainer": explanation.explainer, **explanation.method},
            "agreement": f"Spearman correlation of |weights| over columns, and top-{params['top_k']} overlap in "
                         "[0, 1]; disagreement when the top column differs or the signs on SHAP's top column differ",
        },
        "rows": results,
        "agreement": {
            "mean_top_k_overlap": float(np.mean([r["comparison"]["top_k_overlap"] for r in results])),
            "rows_with_disagreement": [r["row"] for r in results if r["comparison"]["disagreement"]],
        },
        "charts": [_chart(r) for r in results[:MAX_CHARTS]],
        "tables": [_table(results, list(X.columns))],
    }
    result["summary"] = _summary(result)
    report(100, "Done")
    return json_safe(result)


def _explain_row(model, explainer, predict, codec: LimeCodec, X, label, i, explanation, outputs, params) -> dict:
    row = codec.encode(X.loc[[label]])[0]
    regression = outputs.task == REGRESSION
    k = int(np.argmax(explanation.predictions[i])) if outputs.multiclass else 0
    if regression:
        lime_label = 1  # lime's regression explanations are stored under label 1
        exp = explainer.explain_instance(row, predict, num_features=len(codec.names),
                                         num_samples=params["num_samples"])
    else:
        lime_label = outputs.columns[k]
        exp = explainer.explain_instance(row, predict, labels=(lime_label,), num_features=len(codec.names),
                                         num_samples=params["num_samples"])
    conditions = [text for text, _ in exp.as_list(label=lime_label)]
    weights = [(int(j), float(w)) for j, w in exp.local_exp[lime_label]]
    per_feature = []
    lime_by_column = dict.fromkeys(codec.columns, 0.0)
    for (j, weight), condition in zip(weights, conditions, strict=True):
        per_feature.append({"lime_feature": codec.names[j], "column": codec.sources[j], "condition": condition,
                            "weight": weight})
        lime_by_column[codec.sources[j]] += weight
    shap_by_column = {feature: float(explanation.values[i, j, k]) for j, feature in enumerate(explanation.features)}
    intercept = exp.intercept[lime_label] if isinstance(exp.intercept, dict) else exp.intercept
    original = X.loc[[label]]
    model_prediction = float(np.ravel(model.predict(original))[0] if regression
                             else np.asarray(model.predict_proba(original))[0, lime_label])
    return {
        "row": label,
        "feature_values": {c: feature_value(X.at[label, c]) for c in codec.columns},
        "explained_output": explanation.output_names[k] if regression else
        f"probability of class {explanation.outputs[k]!r}",
        "score": float(exp.score),
        "intercept": float(intercept),
        "local_prediction": float(np.ravel(exp.local_pred)[0]) if exp.local_pred is not None else None,
        "model_prediction": model_prediction,
        "weights": per_feature[: params["num_features"]],
        "all_weights": per_feature,
        "lime_by_column": lime_by_column,
        "shap_by_column": shap_by_column,
        "shap_space": explanation.space,
        "shap_base_value": float(explanation.base_values[k]),
        "comparison": compare(lime_by_column, shap_by_column, top_k=params["top_k"]),
    }


def compare(lime: dict[str, float], shap: dict[str, float], *, top_k: int = 3) -> dict:
    """How far LIME and SHAP agree on one row (weights per original column; scales may differ)."""
    from scipy.stats import spearmanr

    columns = list(shap)
    lime_abs = np.array([abs(lime.get(c, 0.0)) for c in columns])
    shap_abs = np.array([abs(shap[c]) for c in columns])
    k = min(top_k, len(columns))
    lime_top = [columns[j] for j in np.argsort(-lime_abs, kind="stable")[:k]]
    shap_top = [columns[j] for j in np.argsort(-shap_abs, kind="stable")[:k]]
    overlap = len(set(lime_top) & set(shap_top)) / k if k else 1.0
    rho = None
    if len(columns) > 1 and np.ptp(lime_abs) > 0 and np.ptp(shap_abs) > 0:
        rho = float(spearmanr(lime_abs, shap_abs).statistic)
    reasons = []
    if lime_top and shap_top and lime_top[0] != shap_top[0]:
        reasons.append(f"the top column differs: LIME {lime_top[0]} ({fmt(lime.get(lime_top[0], 0.0), 3)}), "
                       f"SHAP {shap_top[0]} ({fmt(shap[shap_top[0]], 3)})")
    if shap_top:
        top = shap_top[0]
        if lime.get(top, 0.0) * shap[top] < 0:
            reasons.append(f"opposite signs on {top}: LIME {fmt(lime[top], 3)}, SHAP {fmt(shap[top], 3)}")
    sentence = ("LIME and SHAP agree on the top column and its direction."
                if not reasons else "LIME and SHAP disagree: " + "; ".join(reasons) + ".")
    return {
        "spearman_abs": rho,
        "top_k": k,
        "top_k_overlap": float(overlap),
        "lime_top": lime_top,
        "shap_top": shap_top,
        "disagreement": bool(reasons),
        "sentence": sentence,
    }


def _chart(row: dict) -> dict:
    columns = sorted(row["shap_by_column"], key=lambda c: abs(row["shap_by_column"][c]) + abs(row["lime_by_column"][c]))
    columns = columns[-12:]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[round(row["lime_by_column"][c], 6) for c in columns], y=columns, orientation="h",
                         name="LIME weight", marker={"color": "#7E57C2"}, xaxis="x", yaxis="y"))
    fig.add_trace(go.Bar(x=[round(row["shap_by_column"][c], 6) for c in columns], y=columns, orientation="h",
                         name=f"SHAP ({row['shap_space']})", marker={"color": "#26A69A"}, xaxis="x2", yaxis="y"))
    fig.update_layout(
        xaxis={"domain": [0, 0.47], "title": {"text": "LIME weight (probability scale)"}, "zeroline": True},
        xaxis2={"domain": [0.53, 1], "title": {"text": f"SHAP value ({row['shap_space']})"}, "zeroline": True},
        yaxis={"automargin": True}, height=max(320, 28 * len(columns) + 120), margin={"l": 140},
        legend={"orientation": "h", "y": -0.2},
    )
    flag = " (disagreement)" if row["comparison"]["disagreement"] else ""
    return figure(f"Row {row['row']}: LIME vs SHAP, {row['explained_output']}{flag}", fig)


def _table(results: list[dict], columns: list[str]) -> dict:
    body = []
    for row in results:
        for column in columns:
            body.append([row["row"], column, row["feature_values"][column], row["lime_by_column"][column],
                         row["shap_by_column"][column]])
    return table("LIME weight and SHAP value per row and column", ["row", "column", "value", "LIME", "SHAP"], body)


def _summary(result: dict) -> dict:
    rows = result["rows"]
    if not rows:
        raise AnalysisError("no row to explain")
    scores = [row["score"] for row in rows]
    summary = {
        "Explainer": f"LIME ({result['method']['num_samples']} samples per row), SHAP by "
                     f"{result['method']['shap']['explainer']}",
        "Rows explained": len(rows),
        "Local surrogate R² (LIME score)": f"{fmt(min(scores), 3)} to {fmt(max(scores), 3)}",
        "Mean top-k overlap with SHAP": round(result["agreement"]["mean_top_k_overlap"], 3),
    }
    for row in rows[:MAX_CHARTS]:
        summary[f"Row {row['row']}"] = row["comparison"]["sentence"]
    if any(score < 0.3 for score in scores):
        summary["Caution"] = ("a low LIME score means the linear surrogate fits the model poorly around that row; "
                              "its weights are then unreliable")
    return summary
