"""Local SHAP: a waterfall per chosen row (same explainer choice and additivity check as shap_global).

Rows are chosen with `rows` (dataset row numbers, matched against X's index; at most 20), or `filter` (up to 3
conditions {column, op, value}, ANDed; the first `limit` matches), or neither (the first `limit` rows of X).
The job runner passes the whole dataset (SAMPLE_ROWS = False); at most max_rows other rows, sampled with
random_state, are the background (linear and permutation explainers). Result keys: those of shap_global plus
`rows` (per row: feature values, and per explained output the base value, prediction and SHAP value per feature,
sorted by |SHAP|) and `waterfall_output` (which output each chart shows: the positive class, the value, or for
multiclass the row's predicted class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import _shap
from ._common import (
    COMMON_DEFAULTS,
    Progress,
    check_known,
    common_params,
    feature_value,
    figure,
    fmt,
    json_safe,
    local_frame,
    resolve_task,
    rows_param,
    select_rows,
    table,
    tick_label,
)
from .shap_global import explanation_result

KIND = "shap_local"
TITLE = "SHAP explanation of individual rows"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, **_shap.SHAP_DEFAULTS, "rows": None, "filter": None, "limit": 5}
SAMPLE_ROWS = False  # the job runner passes the whole dataset: requested rows are always present
MAX_CHARTS = 5
WATERFALL_FEATURES = 12  # the rest are grouped into one "other features" bar


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned = _shap.validate_shap_params(params, cleaned, columns=columns)
    cleaned.update(rows_param(params, n_rows=n_rows, columns=columns))
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params = validate_params(params, n_rows=None, columns=list(X.columns))  # rows are checked against X below
    task = resolve_task(model, task)
    report(2, "Selecting rows")
    rows = select_rows(X, params)
    X = local_frame(X, rows, params)
    explanation = _shap.explain(model, X, task=task, params=params, progress=report, rows=rows, start=5, end=85)
    report(90, "Building waterfalls")
    result = explanation_result(explanation, X)
    result["kind"] = KIND
    result["selection"] = {"rows": params["rows"], "filter": params["filter"], "limit": params["limit"]}
    result["rows"] = local_rows(explanation, X)
    result["waterfall_output"] = ("the row's predicted class" if len(explanation.outputs) > 1
                                  else explanation.output_names[0])
    result["charts"] = [waterfall_chart(explanation, X, i) for i in range(min(MAX_CHARTS, len(rows)))]
    result["tables"] = [_rows_table(explanation, result["rows"])]
    result["summary"] = _summary(explanation, result["rows"])
    report(100, "Done")
    return json_safe(result)


def explained_output(explanation: _shap.Explanation, i: int) -> int:
    """The output a row's chart shows: the only one, or (multiclass) the class with the highest prediction."""
    return int(np.argmax(explanation.predictions[i])) if len(explanation.outputs) > 1 else 0


def local_rows(explanation: _shap.Explanation, X: pd.DataFrame) -> list[dict]:
    rows = []
    for i, label in enumerate(explanation.index):
        values = {feature: feature_value(X.at[label, feature]) for feature in explanation.features}
        per_output = []
        for k, output in enumerate(explanation.outputs):
            phi = explanation.values[i, :, k]
            order = np.argsort(-np.abs(phi), kind="stable")
            per_output.append({
                "output": output,
                "output_name": explanation.output_names[k],
                "base_value": float(explanation.base_values[k]),
                "prediction": float(explanation.predictions[i, k]),
                "shap": {explanation.features[j]: float(phi[j]) for j in order},
            })
        rows.append({"row": label, "feature_values": values, "explained_output": explained_output(explanation, i),
                     "outputs": per_output})
    return rows


def waterfall_chart(explanation: _shap.Explanation, X: pd.DataFrame, i: int) -> dict:
    k = explained_output(explanation, i)
    label = explanation.index[i]
    phi = explanation.values[i, :, k]
    order = list(np.argsort(-np.abs(phi), kind="stable"))
    shown, rest = order[:WATERFALL_FEATURES], order[WATERFALL_FEATURES:]
    names, deltas = [], []
    for j in reversed(shown):  # smallest first: the waterfall reads bottom-up towards the prediction
        value = feature_value(X.at[label, explanation.features[j]])
        names.append(f"{explanation.features[j]} = {'missing' if value is None else tick_label(value)}")
        deltas.append(float(phi[j]))
    if rest:
        names.insert(0, f"{len(rest)} other features")
        deltas.insert(0, float(phi[rest].sum()))
    base, prediction = float(explanation.base_values[k]), float(explanation.predictions[i, k])
    # A waterfall drawn as floating bars: each contribution starts where the running sum stands. (plotly's own
    # waterfall trace is not in the cartesian bundle the pages load: 1.5 MB instead of the full 4.8 MB.)
    starts = list(np.cumsum([base, *deltas[:-1]])) if deltas else []
    fig = go.Figure(go.Bar(
        orientation="h",
        y=["base value E[f(x)]", *names, "prediction f(x)"],
        base=[0.0, *[_round(b) for b in starts], 0.0],
        x=[_round(base), *[_round(d) for d in deltas], _round(prediction)],
        marker={"color": ["#455A64", *["#FF0D57" if d > 0 else "#1E88E5" for d in deltas], "#455A64"]},
        text=[fmt(base, 4), *[f"{d:+.4g}" for d in deltas], fmt(prediction, 4)],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    fig.update_layout(xaxis_title=explanation.output_names[k], height=max(320, 28 * (len(names) + 2) + 100),
                      margin={"l": 220}, showlegend=False)
    return figure(f"Row {label}: {explanation.output_names[k]} = {fmt(prediction, 4)}", fig)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _rows_table(explanation: _shap.Explanation, rows: list[dict]) -> dict:
    columns = ["row", "output", "base value", "prediction", *explanation.features]
    body = []
    for row in rows:
        for item in row["outputs"]:
            body.append([row["row"], str(item["output"]), item["base_value"], item["prediction"],
                         *[item["shap"][feature] for feature in explanation.features]])
    return table(f"SHAP values per row ({explanation.space})", columns, body)


def _summary(explanation: _shap.Explanation, rows: list[dict]) -> dict:
    summary = {
        "Explainer": _shap.describe_explainer(explanation),
        "Rows explained": len(rows),
    }
    for row in rows[:MAX_CHARTS]:
        item = row["outputs"][row["explained_output"]]
        top = list(item["shap"].items())[:2]
        drivers = " and ".join(f"{feature} ({'+' if value >= 0 else ''}{fmt(value, 3)})" for feature, value in top)
        summary[f"Row {row['row']}"] = (f"{item['output_name']} {fmt(item['prediction'], 4)} against a base of "
                                        f"{fmt(item['base_value'], 4)}, driven most by {drivers}")
    summary["Additivity"] = (f"max error {fmt(explanation.additivity_max_error, 2)} "
                             f"(tolerance {fmt(explanation.additivity_tolerance, 2)})")
    if explanation.method.get("fallback_reason"):
        summary["Fallback"] = explanation.method["fallback_reason"]
    return summary
