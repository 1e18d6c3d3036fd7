"""Evasion attacks (ART): how small a change to a row's numeric values flips the model's decision.

`n_samples` rows of the sample, drawn from every class (an equal share per true class, or per predicted class
without a target; `random_state`), are attacked in the attack space
of `_space` (numeric columns in standard deviations of the reference data - the training data when the engine
supplies it, else the sample; categories and missing values fixed). HopSkipJump (black-box, `hsj_*` budget)
runs on every classifier; FGSM and PGD (L-inf, one run per `eps`) only on models ART can differentiate
(LogisticRegression / SVC / LinearSVC, alone or ending a Pipeline), otherwise the result says why they were
skipped. Per attack and eps: success rate, robust accuracy, median perturbation (L2 and L-inf, in standard
deviations and in original units), and a table of adversarial rows next to their originals, decoded.
Success is reported per class as well (a model can resist on the majority class and fold on the rare one). A
model that predicts one class for every row has no decision to attack: that is a failure in `verdict`, not a 0 %
success rate to be proud of. Classification only.

Result keys: summary, charts, tables, rows_used, explainer, method, clean_accuracy, results (one record per
attack and eps: success_rate, robust_accuracy, rows_broken, rows_counted, median_{l2,linf}_{std,abs}, queries),
hop_skip_jump_unbounded (the same record for whatever HopSkipJump found, at any distance; None without
HopSkipJump), examples, notes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError
from explain.analyses._common import (
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    check_known,
    common_params,
    figure,
    fmt,
    int_param,
    json_safe,
    resolve_task,
    table,
)

from ._base import (
    compute_metrics,
    evaluation_target,
    predictions,
    reference_frame,
    reject_reserved,
    split_engine_params,
)
from ._evasion import (
    ATTACK_NAMES,
    EVASION_DEFAULTS,
    Evasion,
    class_positions,
    make_pool,
    make_space,
    stratified_rows,
    summarise,
    validate_evasion,
)
from ._space import broken_within, examples_table
from ._verdict import choose_metric, class_report, constant_baseline, constant_predictions, verdict

KIND = "adversarial_evasion"
TITLE = "Adversarial evasion attacks (HopSkipJump, FGSM, PGD)"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "n_samples": 20, **EVASION_DEFAULTS, "n_examples": 5}


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["n_samples"] = int_param(params, "n_samples", minimum=1, maximum=500)
    validate_evasion(params, cleaned)
    cleaned["n_examples"] = int_param(params, "n_examples", minimum=0, maximum=20)
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("evasion attacks apply to classifiers; this is a regression model")
    report(2, "Preparing the attack space")
    X_known, target, outputs = evaluation_target(model, X, y, task)
    classes = outputs.classes
    reference = reference_frame(engine, X)
    space = make_space(X, reference)
    predicted, proba = predictions(model, X_known, task, classes)
    strata = target.loc[X_known.index].to_numpy() if target is not None else predicted
    chosen = stratified_rows(X_known, strata, params["n_samples"], params["random_state"])
    A = space.encode(chosen)
    truth_index = class_positions(target.loc[chosen.index], classes) if target is not None else None
    failures, before, choice, baseline, clean_score = [], None, None, None, None
    if target is not None:
        truth = target.loc[X_known.index].to_numpy()
        choice = choose_metric(None, task, truth, primary=engine.get("_primary_metric"))
        baseline = constant_baseline(task, choice["name"], truth, outputs)
        clean_score = compute_metrics(task, truth, predicted, proba, outputs)[choice["name"]]
        before = class_report(truth, predicted, classes)
        message = constant_predictions(before, predicted)
        if message:
            failures.append(message)
    evasion = Evasion(model, space, classes, params, pool=make_pool(space, X, params["random_state"]),
                      random_state=params["random_state"])
    report(5, f"Attacking {len(chosen)} rows")
    runs = evasion.run(A, report.span(5, 92))
    records = summarise(runs, space, params["eps"], truth_index, classes)
    clean_index = evasion.space_model.predict_index(A)
    clean_accuracy = float(np.mean(clean_index == truth_index)) if truth_index is not None else None
    report(94, "Building tables and charts")
    rows = chosen.index.tolist()
    examples_source = _strongest(runs, space, params["eps"])
    examples, details = examples_table(examples_source[0], space, examples_source[1], chosen, classes,
                                       limit=params["n_examples"],
                                       title=f"Adversarial rows next to their originals "
                                             f"({ATTACK_NAMES[examples_source[0].name]})")
    notes = [note for run_ in runs for note in run_.notes]
    if not evasion.gradient and any(a != "hop_skip_jump" for a in params["attacks"]):
        notes.append(evasion.gradient_note)
    result = {
        "kind": KIND,
        "rows_used": rows,
        "explainer": "ART " + ", ".join(ATTACK_NAMES[a] for a in evasion.attacks()),
        "method": {**evasion.describe(), "rows_attacked": len(rows), "random_state": params["random_state"],
                   "reference": "training data" if reference is not None else "the evaluation sample",
                   "eps": params["eps"]},
        "clean_accuracy": clean_accuracy,
        "results": [r for r in records if r["eps"] is not None],
        "hop_skip_jump_unbounded": next((r for r in records if r["eps"] is None), None),
        "examples": details,
        "notes": notes,
        "rows_per_class": _rows_per_class(pd.Series(strata, index=X_known.index).loc[chosen.index], classes),
        "charts": _charts(records, runs, space),
        "tables": [_results_table(records), _class_table(records), examples],
    }
    if choice is not None:
        result["verdict"] = verdict(task=task, metric=choice, baseline=baseline, clean=clean_score,
                                    failures=failures, before=before)
    else:
        result["verdict"] = {"task": task, "metric": None, "baseline": None, "clean_score": None, "margin": None,
                             "per_class_before": None, "failures": failures, "passed": not failures}
    result["summary"] = _summary(result, records, notes)
    report(100, "Done")
    return json_safe(result)


def _strongest(runs, space, eps_list):
    """The run that shows examples: PGD at the largest eps if it broke anything, else HopSkipJump."""
    candidates = [r for r in runs if r.name == "pgd"] + [r for r in runs if r.name == "fgsm"]
    candidates.sort(key=lambda r: -(r.eps or 0))
    for run_ in candidates:
        broken = broken_within(run_, space, None)
        if broken.any():
            return run_, broken
    hsj = next((r for r in runs if r.name == "hop_skip_jump"), runs[0])
    return hsj, broken_within(hsj, space, None)


def _results_table(records: list[dict]) -> dict:
    columns = ["attack", "eps (std)", "success rate", "robust accuracy", "rows broken", "rows counted",
               "median L-inf (std)", "median L2 (std)", "median L-inf (units)", "median L2 (units)", "queries"]
    rows = [[ATTACK_NAMES[r["attack"]], r["eps"] if r["eps"] is not None else "any", r["success_rate"],
             r["robust_accuracy"], r["rows_broken"], r["rows_counted"], r["median_linf_std"], r["median_l2_std"],
             r["median_linf_abs"], r["median_l2_abs"], r["queries"]] for r in records]
    return table("Attack success by perturbation size", columns, rows)


def _rows_per_class(labels: pd.Series, classes: list) -> dict:
    counts = labels.astype(str).value_counts()
    return {str(c): int(counts.get(str(c), 0)) for c in classes}


def _class_table(records: list[dict]) -> dict:
    rows = [[ATTACK_NAMES[r["attack"]], r["eps"] if r["eps"] is not None else "any", c["class"], c["rows_attacked"],
             c["rows_counted"], c["rows_broken"], c["success_rate"]]
            for r in records for c in r.get("per_class", [])]
    return table("Attack success per class (rows of each true class the model got right)",
                 ["attack", "eps (std)", "class", "rows attacked", "rows counted", "rows broken", "success rate"],
                 rows)


def _charts(records: list[dict], runs, space) -> list[dict]:
    fig = go.Figure()
    for attack in ATTACK_NAMES:
        points = [r for r in records if r["attack"] == attack and r["eps"] is not None]
        if points:
            fig.add_trace(go.Scatter(x=[p["eps"] for p in points],
                                     y=[None if p["success_rate"] is None else round(100 * p["success_rate"], 2)
                                        for p in points], mode="lines+markers", name=ATTACK_NAMES[attack]))
    fig.update_layout(xaxis_title="eps: largest change per numeric column (standard deviations, L-inf)",
                      yaxis_title="attack success rate (%)", yaxis_range=[0, 100], height=380)
    charts = [figure("Attack success rate by perturbation size", fig)]
    hsj = next((r for r in runs if r.name == "hop_skip_jump"), None)
    if hsj is not None and hsj.changed.any():
        distances = space.distances(hsj.clean, hsj.adversarial)["linf_std"][hsj.changed]
        fig = go.Figure(go.Histogram(x=[round(float(d), 4) for d in distances], nbinsx=20, marker_color="#7E57C2"))
        fig.update_layout(xaxis_title="smallest change found by HopSkipJump (L-inf, standard deviations)",
                          yaxis_title="rows", height=340)
        charts.append(figure("How far each row is from a different decision (HopSkipJump)", fig))
    return charts


def _summary(result: dict, records: list[dict], notes: list[str]) -> dict:
    summary = {"Rows attacked": (f"{len(result['rows_used'])} ("
                                 + ", ".join(f"{c!r}: {n}" for c, n in result["rows_per_class"].items()) + ")")}
    if result["verdict"]["failures"]:
        summary["Failures"] = "; ".join(result["verdict"]["failures"])
    if result["clean_accuracy"] is not None:
        summary["Clean accuracy (attacked rows)"] = round(result["clean_accuracy"], 4)
    for attack in ATTACK_NAMES:
        points = [r for r in records if r["attack"] == attack and r["eps"] is not None]
        if points:
            summary[f"{ATTACK_NAMES[attack]} success"] = ", ".join(
                f"eps {p['eps']:g}: {fmt(None if p['success_rate'] is None else 100 * p['success_rate'], 3)}%"
                for p in points)
    hsj = next((r for r in records if r["attack"] == "hop_skip_jump" and r["eps"] is None), None)
    if hsj is not None:
        summary["HopSkipJump median change"] = (f"L-inf {fmt(hsj['median_linf_std'], 3)} std, L2 "
                                                f"{fmt(hsj['median_l2_std'], 3)} std over {hsj['rows_broken']} rows")
    if notes:
        summary["Notes"] = "; ".join(notes)
    return summary
