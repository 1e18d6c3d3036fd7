"""Global SHAP: SHAP values for every row of the sample, summarised per original column.

Result keys: summary, charts (mean |SHAP| bar, one beeswarm per explained output), tables (per-feature mean |SHAP|
and mean SHAP), rows_used, explainer, method, outputs, output_space, base_values, shap_values (full values:
outputs x rows x features), feature_values, importance, transformed (the preprocessing's columns and the original
column each was summed into), additivity_max_error, additivity_tolerance. See `_shap` for the explainer choice.
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
    is_categorical,
    json_safe,
    resolve_task,
    sort_key,
    table,
)

KIND = "shap_global"
TITLE = "SHAP feature attributions (global)"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, **_shap.SHAP_DEFAULTS}
MAX_BEESWARM_POINTS = 300  # per feature, in the chart; the result keeps every value
MAX_BEESWARM_FEATURES = 20
MAX_BEESWARM_CHARTS = 4  # multiclass: one beeswarm per class, up to this many


def validate_params(params: dict, *, n_rows: int, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    return _shap.validate_shap_params(params, cleaned, columns=columns)


def warm_up() -> float:
    """Compile shap's numba helpers once per worker process (the first Permutation call costs ~6 s)."""
    return _shap.warm_up()


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    report(2, "Starting SHAP")
    explanation = _shap.explain(model, X, task=task, params=params, progress=report, start=5, end=85)
    report(90, "Building charts")
    result = explanation_result(explanation, X)
    result["charts"] = [importance_chart(explanation)] + beeswarm_charts(explanation, X, params["random_state"])
    result["tables"] = [importance_table(explanation)]
    result["summary"] = _summary(explanation, len(X))
    report(100, "Done")
    return json_safe(result)


def explanation_result(explanation: _shap.Explanation, X: pd.DataFrame) -> dict:
    """The data every SHAP result carries (also used by shap_local)."""
    rows = X.loc[explanation.index]
    return {
        "kind": KIND,
        "rows_used": explanation.index,
        "explainer": explanation.explainer,
        "method": explanation.method,
        "features": explanation.features,
        "outputs": explanation.outputs,
        "output_names": explanation.output_names,
        "output_space": explanation.space,
        "base_values": explanation.base_values.tolist(),
        "shap_values": [explanation.values[:, :, k].tolist() for k in range(len(explanation.outputs))],
        "predictions": [explanation.predictions[:, k].tolist() for k in range(len(explanation.outputs))],
        "feature_values": [[feature_value(v) for v in row] for row in rows.itertuples(index=False, name=None)],
        "importance": importance(explanation),
        "transformed": {
            "features": explanation.transformed_features,
            "sources": explanation.transformed_sources,
        },
        "additivity_max_error": explanation.additivity_max_error,
        "additivity_tolerance": explanation.additivity_tolerance,
    }


def importance(explanation: _shap.Explanation) -> list[dict]:
    mean_abs = np.abs(explanation.values).mean(axis=0)  # (features, outputs)
    mean = explanation.values.mean(axis=0)
    order = np.argsort(-mean_abs.mean(axis=1), kind="stable")
    rows = []
    for j in order:
        rows.append({
            "feature": explanation.features[j],
            "mean_abs_shap": float(mean_abs[j].mean()),
            "mean_abs_shap_per_output": mean_abs[j].tolist(),
            "mean_shap_per_output": mean[j].tolist(),
        })
    return rows


def importance_table(explanation: _shap.Explanation) -> dict:
    labels = [str(label) for label in explanation.outputs]
    single = len(labels) == 1
    columns = ["feature", "mean |SHAP|", "mean SHAP"] if single else (
        ["feature", "mean |SHAP| (all classes)"] + [f"mean |SHAP| {label}" for label in labels]
        + [f"mean SHAP {label}" for label in labels])
    rows = []
    for item in importance(explanation):
        if single:
            rows.append([item["feature"], item["mean_abs_shap"], item["mean_shap_per_output"][0]])
        else:
            rows.append([item["feature"], item["mean_abs_shap"], *item["mean_abs_shap_per_output"],
                         *item["mean_shap_per_output"]])
    return table(f"Mean |SHAP| per feature ({explanation.space})", columns, rows)


def importance_chart(explanation: _shap.Explanation) -> dict:
    items = list(reversed(importance(explanation)))  # largest at the top of a horizontal bar chart
    features = [item["feature"] for item in items]
    fig = go.Figure()
    for k, name in enumerate(explanation.output_names):
        fig.add_trace(go.Bar(x=[_round(item["mean_abs_shap_per_output"][k]) for item in items], y=features,
                             orientation="h", name=name))
    fig.update_layout(barmode="stack", xaxis_title=f"mean |SHAP value| ({explanation.space})",
                      height=max(300, 28 * len(features) + 120), margin={"l": 160},
                      showlegend=len(explanation.outputs) > 1)
    return figure("Mean |SHAP| per feature", fig)


def beeswarm_charts(explanation: _shap.Explanation, X: pd.DataFrame, random_state: int) -> list[dict]:
    rows = X.loc[explanation.index]
    n = len(rows)
    shown = np.arange(n)
    if n > MAX_BEESWARM_POINTS:
        shown = np.sort(np.random.default_rng(random_state).choice(n, MAX_BEESWARM_POINTS, replace=False))
    jitter = np.random.default_rng(random_state + 1).uniform(-0.3, 0.3, size=len(shown))
    charts = []
    for k, label in enumerate(explanation.outputs[:MAX_BEESWARM_CHARTS]):
        mean_abs = np.abs(explanation.values[:, :, k]).mean(axis=0)
        order = np.argsort(-mean_abs, kind="stable")[:MAX_BEESWARM_FEATURES][::-1]
        fig = go.Figure()
        for position, j in enumerate(order):
            feature = explanation.features[j]
            column = rows[feature].iloc[shown]
            colour = _colour_values(rows[feature], column)
            values = explanation.values[shown, j, k]
            present = [i for i in range(len(shown)) if colour[i] is not None]
            absent = [i for i in range(len(shown)) if colour[i] is None]
            if present:
                fig.add_trace(go.Scatter(
                    x=[_round(values[i]) for i in present], y=[round(position + jitter[i], 3) for i in present],
                    text=[str(feature_value(column.iloc[i])) for i in present], name=feature, mode="markers",
                    hovertemplate="%{fullData.name} = %{text}<br>SHAP %{x}<extra></extra>",
                    marker={"color": [round(colour[i], 3) for i in present], "coloraxis": "coloraxis", "size": 5,
                            "opacity": 0.7},
                ))
            if absent:
                fig.add_trace(go.Scatter(
                    x=[_round(values[i]) for i in absent], y=[round(position + jitter[i], 3) for i in absent],
                    name=feature, mode="markers", hovertemplate="%{fullData.name} missing<br>SHAP %{x}<extra></extra>",
                    marker={"color": "#9E9E9E", "size": 5, "opacity": 0.7},
                ))
        fig.update_layout(
            xaxis_title=f"SHAP value ({explanation.output_names[k]})",
            yaxis={"tickvals": list(range(len(order))), "ticktext": [explanation.features[j] for j in order],
                   "range": [-0.6, len(order) - 0.4]},
            height=max(320, 30 * len(order) + 120), margin={"l": 160}, showlegend=False,
            coloraxis={"colorscale": [[0, "#1E88E5"], [1, "#FF0D57"]], "cmin": 0, "cmax": 1,
                       "colorbar": {"title": {"text": "feature value"}, "tickvals": [0, 1],
                                    "ticktext": ["low", "high"]}},
        )
        shown_note = f" ({len(shown)} of {n} rows shown)" if len(shown) < n else ""
        title = "SHAP values per feature" + (f": class {label}" if len(explanation.outputs) > 1 else "")
        charts.append(figure(title + shown_note, fig))
    return charts


def _colour_values(full: pd.Series, shown: pd.Series) -> list:
    """Colour in [0, 1] per shown value: numeric min-max over the sample, categories by code; None if missing."""
    if is_categorical(full):
        categories = sorted(pd.unique(full.dropna()).tolist(), key=sort_key)
        scale = max(len(categories) - 1, 1)
        lookup = {value: code / scale for code, value in enumerate(categories)}
        return [None if pd.isna(value) else lookup.get(value, 0.5) for value in shown.tolist()]
    numeric = pd.to_numeric(full, errors="coerce").astype(float)
    low, high = numeric.min(), numeric.max()
    span = high - low if np.isfinite(high - low) and high > low else 1.0
    return [None if pd.isna(value) else float((value - low) / span) for value in shown.astype(float).tolist()]


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def _summary(explanation: _shap.Explanation, n_sampled: int) -> dict:
    items = importance(explanation)
    method = explanation.method
    n = len(explanation.index)
    summary = {
        "Explainer": _shap.describe_explainer(explanation),
        "Output explained": ", ".join(explanation.output_names),
        "Rows explained": n if n == n_sampled else f"{n:,} of {n_sampled:,} sampled (model-agnostic explainer)",
        "Base value E[f(x)]": ", ".join(fmt(float(v), 4) for v in explanation.base_values),
        "Most influential": ", ".join(f"{item['feature']} ({fmt(item['mean_abs_shap'], 3)})" for item in items[:3]),
        "Additivity": f"max |base + sum(SHAP) - f(x)| = {fmt(explanation.additivity_max_error, 2)} "
                      f"(tolerance {fmt(explanation.additivity_tolerance, 2)})",
    }
    if method.get("aggregated_to_original_columns"):
        summary["Original columns"] = (
            f"the preprocessing makes {method['n_transformed_features']} columns; the SHAP values of the columns "
            f"made from each original column are summed, so every value is about one of the "
            f"{len(explanation.features)} original columns")
    if method.get("fallback_reason"):
        summary["Fallback"] = method["fallback_reason"]
    return summary
