"""Adversarial-example detector: fitted on clean data, scored on clean vs adversarial rows, returned as an artifact.

Detector input (built by `detector_frame`): the numeric original columns as they are (missing values allowed)
plus the model's predict_proba columns named "proba[<class>]" (the last class's column is left out: the
probabilities sum to 1). The detector is a scikit-learn Pipeline: numeric columns standardised then KNN-imputed
(5 neighbours), probability columns passed through, then either a Mahalanobis-distance detector (EllipticEnvelope:
robust covariance, its score_samples = - squared Mahalanobis distance) or an IsolationForest (200 trees).
Anomaly score = - pipeline.score_samples(frame); a row is flagged when its score exceeds the threshold, the
(1 - `fpr_target`) quantile of the scores on the clean fitting rows.

Data: the detector is fitted on clean training rows when the engine supplies them (`_training`), else on a random
half of the sample; the clean held-out rows are the sample (or its other half). Adversarial rows come from the
evasion battery of `_evasion` on `n_adversarial` held-out rows (HopSkipJump on every classifier, PGD / FGSM at
`eps` on models ART can differentiate): every attacked row whose decision changed. Reported: detection rate on
the adversarial rows, false-positive rate on the clean held-out rows, ROC curve and AUC (clean held-out vs
adversarial), per detector; the best detector by AUC (or the one asked for) is returned as `_detector` for the
engine to store. Classification only.

Result keys: summary, charts, tables, rows_used, explainer, method, detectors {name: {auc, detection_rate,
false_positive_rate, threshold}}, chosen, adversarial_rows, clean_rows, input_columns, _detector (popped by the
engine).
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
    choice_param,
    common_params,
    figure,
    float_param,
    fmt,
    int_param,
    json_safe,
    resolve_task,
    table,
)

from ._base import evaluation_target, numeric_columns, probabilities, reject_reserved, split_engine_params
from ._evasion import ATTACK_NAMES, Evasion, make_pool, make_space, validate_evasion
from ._space import broken_within

KIND = "adversarial_detection"
TITLE = "Adversarial-example detector (Mahalanobis / IsolationForest)"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "detector": "both", "n_adversarial": 20, "fpr_target": 0.05, "eps": [0.5],
                  "attacks": ["hop_skip_jump", "pgd"], "hsj_norm": "2", "hsj_max_iter": 5, "hsj_max_eval": 100,
                  "hsj_init_eval": 10, "pgd_max_iter": 10}
DETECTORS = ("mahalanobis", "isolation_forest")


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["detector"] = choice_param(params, "detector", ("both", *DETECTORS))
    cleaned["n_adversarial"] = int_param(params, "n_adversarial", minimum=2, maximum=500)
    cleaned["fpr_target"] = float_param(params, "fpr_target", minimum=0.001, maximum=0.5)
    validate_evasion(params, cleaned)
    return cleaned


def detector_frame(model, X: pd.DataFrame, classes: list) -> pd.DataFrame:
    """What the detector reads: the numeric original columns and P(class) for all classes but the last."""
    numeric = numeric_columns(X)
    frame = X[numeric].apply(pd.to_numeric, errors="coerce").astype(float).reset_index(drop=True)
    proba = probabilities(model, X, classes)
    for j, label in enumerate(classes[:-1]):
        frame[f"proba[{label}]"] = proba[:, j]
    return frame


def build_detector(kind: str, numeric: list[str], outputs: list[str], fpr_target: float, random_state: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.covariance import EllipticEnvelope
    from sklearn.ensemble import IsolationForest
    from sklearn.impute import KNNImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    parts = []
    if numeric:
        parts.append(("numeric", Pipeline([("scale", StandardScaler()), ("impute", KNNImputer(n_neighbors=5))]),
                      numeric))
    if outputs:
        parts.append(("outputs", "passthrough", outputs))
    features = ColumnTransformer(parts)
    if kind == "mahalanobis":
        detector = EllipticEnvelope(contamination=fpr_target, random_state=random_state)
    else:
        detector = IsolationForest(n_estimators=200, random_state=random_state)
    return Pipeline([("features", features), ("detector", detector)])


def _fit(kind, frame, numeric, outputs, fpr_target, random_state):
    import warnings

    pipeline = build_detector(kind, numeric, outputs, fpr_target, random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pipeline.fit(frame)
        except (ValueError, np.linalg.LinAlgError):
            if kind != "mahalanobis":
                raise
            pipeline.set_params(detector__support_fraction=1.0)  # the plain covariance when MCD cannot invert
            pipeline.fit(frame)
    return pipeline


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.metrics import roc_auc_score, roc_curve

    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("the detector looks for adversarial examples against a classifier; this is a "
                            "regression model")
    _, _, outputs = evaluation_target(model, X, None, task)
    classes = outputs.classes
    training = engine.get("_training")
    reference = training[0][list(X.columns)] if training is not None else None
    generator = np.random.default_rng(params["random_state"])
    if reference is not None:
        fit_rows = reference if len(reference) <= 5000 else reference.sample(5000, random_state=params["random_state"])
        clean = X
        fitted_on = f"{len(fit_rows)} clean training rows"
    else:
        if len(X) < 20:
            raise AnalysisError(f"the detector needs at least 20 rows without training data, got {len(X)}")
        half = generator.permutation(len(X)) < len(X) // 2
        fit_rows, clean = X[half], X[~half]
        fitted_on = f"{len(fit_rows)} clean rows, a random half of the sample"
    report(3, "Attacking held-out rows")
    space = make_space(X, reference)
    attacked = clean if len(clean) <= params["n_adversarial"] else \
        clean.sample(params["n_adversarial"], random_state=params["random_state"]).sort_index()
    evasion = Evasion(model, space, classes, params, pool=make_pool(space, X, params["random_state"]),
                      random_state=params["random_state"])
    runs = evasion.run(space.encode(attacked), report.span(3, 70))
    adversarial_parts, sources = [], []
    for run_ in runs:
        broken = broken_within(run_, space, None)
        if broken.any():
            adversarial_parts.append(space.decode(run_.adversarial[broken]))
            sources += [f"{ATTACK_NAMES[run_.name]}{'' if run_.eps is None else f' eps {run_.eps:g}'}"] * \
                int(broken.sum())
    if not adversarial_parts:
        raise AnalysisError("no attack changed any decision within its budget: there are no adversarial rows to "
                            "detect; raise eps or the attack budget")
    adversarial = pd.concat(adversarial_parts, ignore_index=True)
    report(72, "Fitting the detectors")
    fit_frame = detector_frame(model, fit_rows, classes)
    clean_frame = detector_frame(model, clean, classes)
    adversarial_frame = detector_frame(model, adversarial.astype({c: X[c].dtype for c in space.categorical},
                                                                 errors="ignore"), classes)
    numeric = numeric_columns(X)
    proba_columns = [c for c in fit_frame.columns if c.startswith("proba[")]
    kinds = DETECTORS if params["detector"] == "both" else (params["detector"],)
    detectors, fitted, curves = {}, {}, {}
    truth = np.concatenate([np.zeros(len(clean_frame)), np.ones(len(adversarial_frame))])
    for kind in kinds:
        pipeline = _fit(kind, fit_frame, numeric, proba_columns, params["fpr_target"], params["random_state"])
        fit_scores = -pipeline.score_samples(fit_frame)
        threshold = float(np.quantile(fit_scores, 1 - params["fpr_target"]))
        clean_scores = -pipeline.score_samples(clean_frame)
        adversarial_scores = -pipeline.score_samples(adversarial_frame)
        scores = np.concatenate([clean_scores, adversarial_scores])
        fpr, tpr, _ = roc_curve(truth, scores)
        detectors[kind] = {
            "auc": float(roc_auc_score(truth, scores)),
            "detection_rate": float(np.mean(adversarial_scores > threshold)),
            "false_positive_rate": float(np.mean(clean_scores > threshold)),
            "false_positive_rate_fitting_rows": float(np.mean(fit_scores > threshold)),
            "threshold": threshold,
        }
        fitted[kind] = pipeline
        curves[kind] = (fpr, tpr)
    chosen = max(detectors, key=lambda k: detectors[k]["auc"])
    report(95, "Building the result")
    result = {
        "kind": KIND,
        "rows_used": clean.index.tolist(),
        "explainer": ", ".join({"mahalanobis": "Mahalanobis distance (EllipticEnvelope)",
                                "isolation_forest": "IsolationForest"}[k] for k in kinds),
        "method": {
            "input": "numeric original columns + P(class) for every class but the last",
            "pipeline": "numeric: StandardScaler then KNNImputer(5); probabilities passed through; then the detector",
            "anomaly_score": "- pipeline.score_samples(frame); flagged above the threshold",
            "threshold": f"the {1 - params['fpr_target']:.0%} quantile of the scores on the fitting rows",
            "fitted_on": fitted_on,
            "clean_held_out": f"{len(clean)} rows",
            "adversarial": (f"{len(adversarial)} rows: attacked rows whose decision changed "
                            f"({', '.join(evasion.attacks())})"),
            "attack_settings": evasion.describe(),
            "random_state": params["random_state"],
        },
        "detectors": detectors,
        "chosen": chosen,
        "adversarial_rows": int(len(adversarial)),
        "adversarial_sources": {s: sources.count(s) for s in dict.fromkeys(sources)},
        "clean_rows": int(len(clean)),
        "input_columns": list(fit_frame.columns),
        "charts": [_chart(curves, detectors)],
        "tables": [table("Detectors on clean held-out vs adversarial rows",
                         ["detector", "ROC-AUC", "detection rate", "false-positive rate", "threshold"],
                         [[k, d["auc"], d["detection_rate"], d["false_positive_rate"], d["threshold"]]
                          for k, d in detectors.items()])],
    }
    best = detectors[chosen]
    result["summary"] = {
        "Chosen detector": chosen,
        "ROC-AUC": round(best["auc"], 4),
        "Detection rate": f"{best['detection_rate']:.1%} of {len(adversarial)} adversarial rows",
        "False-positive rate": f"{best['false_positive_rate']:.1%} of {len(clean)} clean rows "
                               f"(target {params['fpr_target']:.0%})",
        "Fitted on": fitted_on,
        "Others": ", ".join(f"{k}: AUC {fmt(d['auc'], 3)}" for k, d in detectors.items() if k != chosen) or "none",
    }
    result = json_safe(result)
    result["_detector"] = {
        "estimator": fitted[chosen],
        "notes": (f"{chosen} detector of adversarial inputs for this version. Input: a DataFrame with the numeric "
                  f"columns {', '.join(numeric)} and the model's probabilities "
                  f"{', '.join(proba_columns)}; anomaly score = -score_samples(frame), flag when above "
                  f"{best['threshold']:.6g} (target false-positive rate {params['fpr_target']:.0%}). Held-out ROC-AUC "
                  f"{best['auc']:.3f}, detection rate {best['detection_rate']:.1%}, false-positive rate "
                  f"{best['false_positive_rate']:.1%}."),
        "threshold": best["threshold"],
        "input_columns": list(fit_frame.columns),
        "kind": chosen,
    }
    report(100, "Done")
    return result


def _chart(curves: dict, detectors: dict) -> dict:
    fig = go.Figure()
    for kind, (fpr, tpr) in curves.items():
        fig.add_trace(go.Scatter(x=[round(float(v), 5) for v in fpr], y=[round(float(v), 5) for v in tpr],
                                 mode="lines", name=f"{kind} (AUC {detectors[kind]['auc']:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#9E9E9E"},
                             name="chance"))
    fig.update_layout(xaxis_title="false-positive rate (clean rows flagged)",
                      yaxis_title="detection rate (adversarial rows flagged)", height=380)
    return figure("Detector ROC: clean held-out vs adversarial rows", fig)
