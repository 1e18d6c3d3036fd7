"""Fingerprint: inputs near the decision boundary and the model's answers, to recognise a copy later.

`run()` builds the fingerprint set from the sample:
* the `n_boundary` rows whose top-2 probability margin is smallest (the model hesitates there), and
* `n_perturbed` synthetic rows right next to the boundary: for a row, the nearest row (attack space of `_space`)
  the model classifies differently; the row's numeric values are moved toward that row's (categories and missing
  values kept) and the crossing is located by bisection (`bisection_steps`); the last point on each side is kept.
An independent model agrees with the owner on such inputs far less often than a copy of it does.

`check_suspect(fingerprint_result, suspect_outputs)` compares a suspect model's answers on `fingerprint_rows`
(labels, or probability rows in the fingerprint's class order) with `fingerprint_outputs`:
* match rate = share of rows where the two predicted classes are equal;
* chance agreement p0 = Σ_c p_model(c) · p_suspect(c), the agreement expected between two independent models
  with these label frequencies on the fingerprint set (1 / n_classes is also reported);
* p-value = P(X ≥ matches) for X ~ Binomial(n, p0) (scipy.stats.binomtest, one-sided): small = the agreement is
  far above chance, evidence that the suspect was derived from the model.
`fingerprint_inputs(fingerprint_result)` rebuilds the rows as a DataFrame to query the suspect with.

Result keys: summary, charts, tables, rows_used, explainer, method, classes, fingerprint_rows (original columns),
fingerprint_outputs {labels, probabilities}, sources (one per row: "sample row <index>" / "boundary"),
label_frequencies, columns.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError, ParamError
from explain.analyses._common import (
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    check_known,
    common_params,
    feature_value,
    figure,
    fmt,
    int_param,
    json_safe,
    resolve_task,
    table,
)

from ._base import evaluation_target, probabilities, reference_frame, reject_reserved, split_engine_params
from ._evasion import make_space
from ._space import SpaceModel

KIND = "fingerprint"
TITLE = "Model fingerprint (boundary inputs) for extraction incidents"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "n_boundary": 40, "n_perturbed": 40, "bisection_steps": 12}


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["n_boundary"] = int_param(params, "n_boundary", minimum=0, maximum=5000)
    cleaned["n_perturbed"] = int_param(params, "n_perturbed", minimum=0, maximum=5000)
    if cleaned["n_boundary"] + cleaned["n_perturbed"] < 10:
        raise ParamError("n_boundary + n_perturbed must be at least 10: fewer rows cannot give evidence")
    cleaned["bisection_steps"] = int_param(params, "bisection_steps", minimum=1, maximum=40)
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("the fingerprint compares predicted classes: it applies to classifiers, not to this "
                            "regression model")
    _, _, outputs = evaluation_target(model, X, None, task)
    classes = outputs.classes
    report(3, "Scoring the sample")
    space = make_space(X, reference_frame(engine, X))
    space_model = SpaceModel(model, space, classes)
    proba = probabilities(model, X, classes)
    ordered = np.sort(proba, axis=1)
    margin = ordered[:, -1] - ordered[:, -2] if proba.shape[1] > 1 else np.ones(len(X))
    order = np.argsort(margin, kind="stable")
    chosen = order[: params["n_boundary"]]
    frames = [X.iloc[chosen]]
    sources = [f"sample row {index}" for index in X.index[chosen]]
    report(20, "Locating the decision boundary")
    boundary = _boundary_points(space_model, X, order, params, report.span(20, 85))
    if boundary is not None and len(boundary):
        frames.append(space.decode(boundary))
        sources += ["boundary (bisection between two differently classified rows)"] * len(boundary)
    rows = pd.concat(frames, ignore_index=True)
    report(88, "Recording the model's answers")
    final_proba = probabilities(model, rows, classes)
    labels = [classes[int(i)] for i in np.argmax(final_proba, axis=1)]
    frequencies = {str(c): float(np.mean([str(label) == str(c) for label in labels])) for c in classes}
    result = {
        "kind": KIND,
        "rows_used": X.index[chosen].tolist(),
        "explainer": "smallest-margin rows and bisection points on the decision boundary",
        "method": {
            "boundary_rows": "the sample rows with the smallest top-2 probability margin",
            "perturbed_rows": ("bisection between a row and its nearest differently classified row, numeric values "
                               "only (categories and missing values of the first row kept); the last point on "
                               "each side of the boundary"),
            "bisection_steps": params["bisection_steps"],
            "attack_space": "numeric columns standardised with the reference data",
            "outputs": "argmax of predict_proba (one-hot predictions for models without probabilities)",
            "chance_agreement": "Σ_c p_model(c) · p_suspect(c) over the fingerprint set; also 1 / n_classes",
            "test": "one-sided binomial test of the number of matches against the chance agreement",
            "random_state": params["random_state"],
        },
        "classes": classes,
        "columns": list(X.columns),
        "fingerprint_rows": [{column: feature_value(value) for column, value in row.items()}
                             for row in rows.to_dict(orient="records")],
        "fingerprint_outputs": {"labels": labels, "probabilities": final_proba},
        "sources": sources,
        "label_frequencies": frequencies,
        "margins": np.sort(final_proba, axis=1)[:, -1] - (np.sort(final_proba, axis=1)[:, -2]
                                                          if final_proba.shape[1] > 1 else 0),
        "charts": [_chart(final_proba)],
        "tables": [table("Fingerprint rows (first 50)", [*X.columns, "model output", "source"],
                         [[*[feature_value(v) for v in rows.iloc[k]], labels[k], sources[k]]
                          for k in range(min(50, len(rows)))])],
    }
    result["summary"] = {
        "Fingerprint rows": len(rows),
        "Smallest-margin sample rows": len(chosen),
        "Boundary points": len(rows) - len(chosen),
        "Label frequencies": ", ".join(f"{c}: {p:.0%}" for c, p in frequencies.items()),
        "Use": ("download the fingerprint rows (CSV), have the suspect model predict them, then upload its "
                "predictions (a CSV with a 'prediction' column) or the suspect model itself with "
                "“Check a suspect model”"),
    }
    report(100, "Done")
    return json_safe(result)


def _boundary_points(space_model: SpaceModel, X: pd.DataFrame, order: np.ndarray, params: dict,
                     progress) -> np.ndarray | None:
    """Pairs of points straddling the boundary, found by bisection on the numeric coordinates."""
    n_points = params["n_perturbed"]
    if n_points == 0 or space_model.space.n_numeric == 0:
        return None
    space = space_model.space
    A = space.encode(X)
    predicted = space_model.predict_index(A)
    mask = space.mask(A)
    starts = order[: max(n_points, 1)]
    lows, highs = [], []
    for i in starts:
        others = np.flatnonzero(predicted != predicted[i])
        if not len(others):
            continue
        distance = np.linalg.norm((A[others] - A[i])[:, : space.n_numeric], axis=1)
        target = A[others[np.argsort(distance)[:5]]]
        end = np.where(mask[i] > 0, target, A[i])  # numeric values of the other row, categories of this one
        lows.append(np.repeat(A[i][None], len(end), axis=0))
        highs.append(end)
    if not lows:
        return None
    low, high = np.concatenate(lows), np.concatenate(highs)
    base = space_model.predict_index(low)
    crossed = space_model.predict_index(high) != base
    low, high, base = low[crossed], high[crossed], base[crossed]
    if not len(low):
        return None
    for step in range(params["bisection_steps"]):
        middle = (low + high) / 2
        same = space_model.predict_index(middle) == base
        low = np.where(same[:, None], middle, low)
        high = np.where(same[:, None], high, middle)
        progress((step + 1) / params["bisection_steps"], f"Bisection step {step + 1}")
    pairs = min(len(low), (n_points + 1) // 2)
    generator = np.random.default_rng(params["random_state"])
    picked = np.sort(generator.choice(len(low), size=pairs, replace=False))
    points = np.stack([low[picked], high[picked]], axis=1).reshape(-1, space.width)
    return points[:n_points]


def fingerprint_inputs(fingerprint_result: dict) -> pd.DataFrame:
    """The fingerprint rows as a DataFrame of the original columns, to query a suspect model with."""
    columns = fingerprint_result.get("columns") or list(fingerprint_result["fingerprint_rows"][0])
    frame = pd.DataFrame(fingerprint_result["fingerprint_rows"], columns=columns)
    for column in frame.columns:
        values = frame[column]
        if values.map(lambda v: v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))).all():
            frame[column] = pd.to_numeric(values, errors="coerce").astype(float)
        else:
            frame[column] = values.where(values.notna(), np.nan).astype(object)
    return frame


def check_suspect(fingerprint_result: dict, suspect_outputs) -> dict:
    """Match rate and one-sided binomial p-value of a suspect's outputs against the fingerprint (see the module
    docstring). `suspect_outputs`: a list of labels, a list of probability rows (fingerprint class order), or a
    dict with "labels" or "probabilities"."""
    from scipy.stats import binomtest

    reference = fingerprint_result["fingerprint_outputs"]["labels"]
    classes = fingerprint_result.get("classes") or sorted({str(v) for v in reference})
    suspect = _suspect_labels(suspect_outputs, classes)
    if len(suspect) != len(reference):
        raise AnalysisError(f"the suspect gave {len(suspect)} outputs for {len(reference)} fingerprint rows")
    n = len(reference)
    if n == 0:
        raise AnalysisError("the fingerprint has no rows")
    ours = np.array([_text(v) for v in reference])
    theirs = np.array([_text(v) for v in suspect])
    known = {_text(c) for c in classes} | set(ours)
    if not set(theirs) & known:
        shown = ", ".join(sorted(set(theirs))[:5])
        raise AnalysisError(f"none of the suspect's outputs ({shown}) is a class of this model "
                            f"({', '.join(sorted(known)[:10])}): give the outputs as the model's own labels")
    matches = int(np.sum(ours == theirs))
    labels = sorted(set(ours) | set(theirs))
    p_model = {c: float(np.mean(ours == c)) for c in labels}
    p_suspect = {c: float(np.mean(theirs == c)) for c in labels}
    chance = float(sum(p_model[c] * p_suspect[c] for c in labels))
    uniform = 1.0 / max(len(classes), 2)
    p_value = 1.0 if chance >= 1.0 else float(binomtest(matches, n, chance, alternative="greater").pvalue)
    p_uniform = float(binomtest(matches, n, uniform, alternative="greater").pvalue)
    if p_value < 0.001:
        verdict = "strong evidence that the suspect was derived from the model (p < 0.001)"
    elif p_value < 0.01:
        verdict = "evidence that the suspect was derived from the model (p < 0.01)"
    elif p_value < 0.05:
        verdict = "weak evidence (p < 0.05): collect more fingerprint queries"
    else:
        verdict = "no evidence: the agreement is compatible with chance"
    result = {
        "rows": n,
        "n": n,
        "matches": matches,
        "match_rate": matches / n,
        "chance_agreement": chance,
        "chance_definition": "Σ_c p_model(c) · p_suspect(c): label frequencies on the fingerprint set",
        "p_model": p_model,
        "p_suspect": p_suspect,
        "p_value": p_value,
        "uniform_chance": uniform,
        "p_value_uniform": p_uniform,
        "test": "one-sided exact binomial test (scipy.stats.binomtest, alternative='greater')",
        "verdict": verdict,
    }
    result["summary"] = {"Match rate": f"{matches} of {n} ({matches / n:.1%})",
                         "Chance agreement": f"{chance:.3f} (uniform {uniform:.3f})",
                         "p-value": fmt(p_value, 3), "Verdict": verdict}
    return json_safe(result)


def _text(value) -> str:
    """A label as text, 1.0 read as 1 (a CSV of integer labels may come back as floats)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(int(number)) if number.is_integer() else value
    return str(value)


def _suspect_labels(outputs, classes: list) -> list:
    if isinstance(outputs, dict):
        if "labels" in outputs:
            outputs = outputs["labels"]
        elif "probabilities" in outputs:
            outputs = outputs["probabilities"]
        else:
            raise AnalysisError("suspect outputs must hold labels or probabilities")
    values = np.asarray(outputs, dtype=object)
    if values.ndim == 2:
        proba = np.asarray(outputs, dtype=float)
        if proba.shape[1] != len(classes):
            raise AnalysisError(f"the suspect's probability rows have {proba.shape[1]} columns; the fingerprint "
                                f"has {len(classes)} classes")
        return [classes[int(i)] for i in np.argmax(proba, axis=1)]
    return list(values.ravel())


def _chart(proba: np.ndarray) -> dict:
    top = np.sort(proba, axis=1)
    margins = top[:, -1] - (top[:, -2] if proba.shape[1] > 1 else 0)
    fig = go.Figure(go.Histogram(x=[round(float(m), 4) for m in margins], nbinsx=20, marker_color="#26A69A"))
    fig.update_layout(xaxis_title="top-2 probability margin of the model on the fingerprint rows",
                      yaxis_title="rows", height=320)
    return figure("Fingerprint rows sit near the decision boundary", fig)
