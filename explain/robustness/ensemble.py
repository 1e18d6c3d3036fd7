"""Ensemble of versions: does averaging the model with other versions help, on clean and on noisy data?

The engine passes the other versions as `params["_members"]` = [(label, LoadedModel), ...]; the analysed model
joins them as "this version" (unless the same object is already among them). Classifiers: soft vote, the mean of
the members' predict_proba aligned on class labels (a member without probabilities votes with a one-hot vector;
the result says so); every member must know the same classes. Regressors: the mean prediction. Each member and
the ensemble are scored on the clean sample and on a noisy copy (N(0, (`noise` × std)^2) on every present numeric
value, one seeded draw shared by all). Needs the target.

Result keys: summary, charts, tables, rows_used, explainer, method, metric, members [{label, clean, noisy, drop,
clean_metrics, noisy_metrics, probabilities}], ensemble {...}, best_member, ensemble_beats_best_member.
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
    float_param,
    fmt,
    json_safe,
    positive_class_param,
    resolve_task,
    rng,
    table,
)

from ._base import (
    LOWER_IS_BETTER,
    column_stats,
    compute_metrics,
    drop,
    evaluation_target,
    gaussian_noise,
    metric_param,
    reference_frame,
    reject_reserved,
    split_engine_params,
    to_labels,
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

KIND = "ensemble"
TITLE = "Ensemble of versions vs each member (clean and noisy data)"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "noise": 0.1, "metric": None, "positive_class": None}
REQUIRES_TARGET = True
THIS_VERSION = "this version"


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["noise"] = float_param(params, "noise", minimum=0.0, maximum=10.0)
    cleaned["metric"] = metric_param(params)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


def members_of(model, engine: dict) -> list[tuple[str, object]]:
    supplied = engine.get("_members")
    if not supplied:
        raise AnalysisError("the ensemble needs other versions to combine with this one: the engine passes them as "
                            "members; choose at least one other version of the model")
    members = []
    try:
        for label, member in supplied:
            members.append((str(label), member))
    except (TypeError, ValueError):
        raise AnalysisError("ensemble members must be pairs (label, loaded model)")
    if not any(member is model for _, member in members):
        members.insert(0, (THIS_VERSION, model))
    if len(members) < 2:
        raise AnalysisError("the ensemble needs at least two distinct versions")
    return members


def _member_outputs(member, X: pd.DataFrame, task: str, classes: list | None):
    """(probabilities in `classes` order or values, note)."""
    if task != CLASSIFICATION:
        return np.asarray(member.predict(X), dtype=float).reshape(len(X)), None
    member_classes = list(member.classes) if member.classes is not None else None
    proba = member.predict_proba(X)
    if proba is None:
        labels = to_labels(member.predict(X), classes)
        index = {str(c): i for i, c in enumerate(classes)}
        out = np.zeros((len(X), len(classes)))
        out[np.arange(len(X)), [index.get(str(label), 0) for label in labels]] = 1.0
        return out, "no probabilities: votes with one-hot predictions"
    proba = np.asarray(proba, dtype=float).reshape(len(X), -1)
    if member_classes is None:
        member_classes = classes[: proba.shape[1]]
    by_text = {str(c): j for j, c in enumerate(member_classes)}
    if set(by_text) != {str(c) for c in classes}:
        raise AnalysisError(f"the members do not predict the same classes: {', '.join(map(str, member_classes))} vs "
                            f"{', '.join(map(str, classes))}")
    return proba[:, [by_text[str(c)] for c in classes]], None


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    members = members_of(model, engine)
    X, target, outputs = evaluation_target(model, X, y, task, params["positive_class"], needed="the ensemble")
    choice = choose_metric(params["metric"], task, target, primary=engine.get("_primary_metric"))
    metric = choice["name"]
    classes = outputs.classes
    for label, member in members:
        names = getattr(member, "feature_names", None)
        if names and any(name not in X.columns for name in names):
            raise AnalysisError(f"member {label!r} needs columns the sample lacks: "
                                f"{', '.join(n for n in names if n not in X.columns)}")
    reference = reference_frame(engine, X)
    stats = column_stats(reference if reference is not None else X)
    noisy = gaussian_noise(X, params["noise"], stats, rng(params["random_state"]))
    truth = target.to_numpy()
    rows, notes, collected = [], [], {"clean": [], "noisy": []}
    for number, (label, member) in enumerate(members):
        report(5 + 80 * number / len(members), f"Scoring {label}")
        scores = {}
        for condition, frame in (("clean", X), ("noisy", noisy)):
            try:
                produced, note = _member_outputs(member, frame, task, classes)
            except AnalysisError:
                raise
            except Exception as exc:  # noqa: BLE001 - a member that cannot score this data
                raise AnalysisError(f"member {label!r} failed to predict: {type(exc).__name__}: {exc}")
            if note and condition == "clean":
                notes.append(f"{label}: {note}")
            collected[condition].append(produced)
            scores[condition] = _score(task, truth, produced, classes, outputs)
        rows.append({"label": label, "clean": scores["clean"][metric], "noisy": scores["noisy"][metric],
                     "drop": drop(scores["clean"][metric], scores["noisy"][metric], metric),
                     "clean_metrics": scores["clean"], "noisy_metrics": scores["noisy"]})
    report(88, "Scoring the ensemble")
    combined = {condition: np.mean(np.stack(values), axis=0) for condition, values in collected.items()}
    ensemble_scores = {condition: _score(task, truth, combined[condition], classes, outputs)
                       for condition in combined}
    baseline = constant_baseline(task, metric, truth, outputs)
    failures, per_class = [], None
    if task == CLASSIFICATION:
        voted = {condition: [classes[int(i)] for i in np.argmax(combined[condition], axis=1)]
                 for condition in combined}
        per_class = {condition: class_report(truth, voted[condition], classes) for condition in voted}
        message = constant_predictions(per_class["clean"], voted["clean"])
        if message:
            failures.append(message.replace("the model", "the ensemble", 1))
        lost = collapse(per_class["clean"], per_class["noisy"], voted["noisy"])
        if lost:
            failures.append(f"under noise, the ensemble's {lost['message']}")
    ensemble = {"label": "ensemble", "clean": ensemble_scores["clean"][metric],
                "noisy": ensemble_scores["noisy"][metric],
                "drop": drop(ensemble_scores["clean"][metric], ensemble_scores["noisy"][metric], metric),
                "clean_metrics": ensemble_scores["clean"], "noisy_metrics": ensemble_scores["noisy"]}
    better = (lambda a, b: a < b) if metric in LOWER_IS_BETTER else (lambda a, b: a > b)
    best = None
    for row in rows:
        if row["clean"] is not None and (best is None or better(row["clean"], best["clean"])):
            best = row
    beats = {condition: (ensemble[condition] is not None and best is not None and
                         all(r[condition] is None or better(ensemble[condition], r[condition]) for r in rows))
             for condition in ("clean", "noisy")}
    result = {
        "kind": KIND,
        "rows_used": X.index.tolist(),
        "explainer": "soft vote (mean predict_proba)" if task == CLASSIFICATION else "mean prediction",
        "method": {
            "combination": ("mean of the members' probabilities, aligned on class labels; class = argmax"
                            if task == CLASSIFICATION else "mean of the members' predictions"),
            "noise": f"N(0, ({params['noise']:g} std)^2) on every present numeric value, one draw for all",
            "std_from": "training data" if reference is not None else "the evaluation sample",
            "metric": metric, "random_state": params["random_state"],
            "members": [label for label, _ in members],
            "positive_class": outputs.positive_class if task == CLASSIFICATION else None,
        },
        "metric": metric,
        "members": rows,
        "ensemble": ensemble,
        "best_member": best["label"] if best else None,
        "ensemble_beats_best_member": beats,
        "notes": notes,
        "baseline": baseline,
        "per_class": per_class,
        "verdict": verdict(task=task, metric=choice, baseline=baseline, clean=ensemble["clean"], failures=failures,
                           before=per_class["clean"] if per_class else None),
        "charts": [_chart(rows + [ensemble], metric, params["noise"], baseline)],
        "tables": [table(f"{metric}: members and ensemble", ["model", "clean", f"noisy ({params['noise']:g} std)",
                                                            "drop"],
                         [[r["label"], r["clean"], r["noisy"], r["drop"]] for r in rows + [ensemble]])],
    }
    result["summary"] = {
        **summary_lines(result["verdict"]),
        "Members": ", ".join(label for label, _ in members),
        f"Ensemble {metric}": f"clean {fmt(ensemble['clean'], 4)}, noisy {fmt(ensemble['noisy'], 4)}",
        "Best member": f"{best['label']}: clean {fmt(best['clean'], 4)}, noisy {fmt(best['noisy'], 4)}" if best else "",
        "Ensemble beats every member": (f"clean: {'yes' if beats['clean'] else 'no'}, noisy: "
                                        f"{'yes' if beats['noisy'] else 'no'}"),
    }
    if notes:
        result["summary"]["Notes"] = "; ".join(notes)
    report(100, "Done")
    return json_safe(result)


def _score(task, truth, produced, classes, outputs) -> dict:
    if task != CLASSIFICATION:
        return compute_metrics(task, truth, produced, None, outputs)
    predicted = [classes[int(i)] for i in np.argmax(produced, axis=1)]
    return compute_metrics(task, truth, predicted, produced, outputs)


def _chart(rows: list[dict], metric: str, noise: float, baseline: dict) -> dict:
    labels = [r["label"] for r in rows]
    fig = go.Figure([
        go.Bar(x=labels, y=[r["clean"] for r in rows], name="clean", marker_color="#1E88E5"),
        go.Bar(x=labels, y=[r["noisy"] for r in rows], name=f"noise {noise:g} std", marker_color="#FB8C00"),
    ])
    if baseline["score"] is not None:
        fig.add_hline(y=baseline["score"], line_dash="dot", line_color="#E53935", annotation_text="constant model")
    fig.update_layout(barmode="group", yaxis_title=metric, height=380)
    return figure("Members and ensemble, clean and noisy", fig)
