"""Defensive distillation (hardening): a student trained on the model's temperature-softened probabilities.

Needs the training data (`_training`), a scikit-learn classifier with probabilities (the teacher), and the
target. The teacher's probabilities on the training rows are softened, P_T = softmax(log P / T) (T =
`temperature`), and the student learns them as soft labels: each training row appears once per class with
sample weight P_T(class | row), which makes the fit minimise the cross-entropy to the soft labels. Student
(`student`): "same" - an unfitted clone of the teacher's final estimator (hyperparameters kept), "hist_gradient_
boosting" - a HistGradientBoostingClassifier, "auto" - "same" when that estimator's fit takes sample weights,
else gradient boosting. When the teacher is a Pipeline, a clone of its preprocessing is fitted on the training
rows once (not on the duplicated rows, which would change a KNN imputer's neighbours) and placed in front of the
student, so the new model takes the same original columns. There is no temperature to remove at prediction time
in a scikit-learn model, so the student is deployed as trained: it is a smoothed copy of the teacher.

Expect little: distillation mostly changes the scale of the probabilities, while decision-based attacks
(HopSkipJump) and sign-of-gradient attacks (FGSM / PGD) depend on the decision boundary, which the student copies;
and its defence against gradient attacks on neural networks was broken (Carlini & Wagner, 2016). The result
measures the before/after effect instead of assuming one (see `_hardening`), and reports the student's agreement
with the teacher.

Result keys: summary, charts, tables, rows_used, explainer, method, student, temperature, fidelity, clean_before,
clean_after, clean_accuracy_change, clean_accuracy_sentence, robustness, _new_model (popped by the engine).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from explain.analyses import AnalysisError
from explain.analyses._common import (
    REGRESSION,
    Progress,
    check_known,
    choice_param,
    common_params,
    float_param,
    json_safe,
    resolve_task,
    unwrap,
)

from ._base import (
    evaluation_target,
    probabilities,
    refittable,
    reject_reserved,
    split_engine_params,
    to_labels,
    training_data,
    wrap,
)
from ._evasion import make_space
from ._hardening import (
    COMPARISON_KEYS,
    HARDENING_DEFAULTS,
    compare,
    comparison_summary,
    fmt_change,
    result_parts,
    robustness_sentence,
    soften,
    validate_hardening,
)

KIND = "defensive_distillation"
TITLE = "Defensive distillation (hardening: a new version)"
REGISTERS_VERSION = True  # its result becomes a new draft version of the model: ownership is needed
DEFAULT_PARAMS = {**HARDENING_DEFAULTS, "temperature": 5.0, "student": "auto"}
REQUIRES_TARGET = True
MIN_WEIGHT = 1e-6


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    validate_hardening(params, cleaned)
    cleaned["temperature"] = float_param(params, "temperature", minimum=1.0, maximum=100.0)
    cleaned["student"] = choice_param(params, "student", ("auto", "same", "hist_gradient_boosting"))
    return cleaned


def _takes_weights(estimator) -> bool:
    try:
        return "sample_weight" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False


def student_estimator(model, choice: str, random_state: int):
    """(unfitted student final estimator, its description)."""
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier

    _, final = unwrap(model)
    if choice in ("auto", "same"):
        candidate = clone(final)
        if _takes_weights(candidate):
            return candidate, f"a clone of the teacher's final estimator ({type(final).__name__}, same hyperparameters)"
        if choice == "same":
            raise AnalysisError(f"the teacher's final estimator ({type(final).__name__}) cannot take sample weights, "
                                "so it cannot learn soft labels; use student 'hist_gradient_boosting'")
    return (HistGradientBoostingClassifier(max_iter=200, random_state=random_state),
            "HistGradientBoostingClassifier(max_iter=200)")


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("defensive distillation softens class probabilities: it applies to classifiers, not to "
                            "this regression model")
    refittable(model, "defensive distillation")
    if model.predict_proba(X.iloc[:1]) is None:
        raise AnalysisError("defensive distillation needs the teacher's class probabilities; this model gives none")
    X_eval, target, outputs = evaluation_target(model, X, y, task, params["positive_class"],
                                                needed="defensive distillation")
    classes = outputs.classes
    X_train, y_train, info = training_data(engine, X, task, classes, title="defensive distillation",
                                           max_rows=params["max_training_rows"], random_state=params["random_state"])
    report(3, "Softening the teacher's probabilities")
    teacher = probabilities(model, X_train, classes)
    soft = soften(teacher, params["temperature"])
    preprocess, _ = unwrap(model)
    student, description = student_estimator(model, params["student"], params["random_state"])
    report(10, "Fitting the student")
    try:
        if preprocess is not None:
            fitted_pre = clone(preprocess).fit(X_train, y_train)
            features = fitted_pre.transform(X_train)
            features = features.toarray() if hasattr(features, "toarray") else np.asarray(features)
        else:
            features = X_train
        rows, labels, weights = [], [], []
        for j, label in enumerate(classes):
            keep = soft[:, j] > MIN_WEIGHT
            rows.append(np.flatnonzero(keep))
            labels += [label] * int(keep.sum())
            weights.append(soft[keep, j])
        positions = np.concatenate(rows)
        duplicated = features.iloc[positions] if isinstance(features, pd.DataFrame) else features[positions]
        labels = pd.Series(labels).infer_objects().to_numpy()
        student.fit(duplicated, labels, sample_weight=np.concatenate(weights))
    except AnalysisError:
        raise
    except Exception as exc:  # noqa: BLE001 - the student cannot be trained on these soft labels
        raise AnalysisError(f"training the student failed: {type(exc).__name__}: {exc}")
    if preprocess is not None:  # unwrap gives the preprocessing as a Pipeline of the teacher's first steps
        estimator = Pipeline(list(fitted_pre.steps) + [(model.estimator.steps[-1][0], student)])
    else:
        estimator = student
    new = wrap(estimator)
    agreement = float(np.mean([str(a) == str(b) for a, b in zip(
        to_labels(new.predict(X_eval), classes), to_labels(model.predict(X_eval), classes), strict=True)]))
    report(30, "Comparing the teacher and the student")
    space = make_space(X, X_train)
    comparison = compare(model, new, X_eval, target, outputs, space, params, primary=engine.get("_primary_metric"),
                         progress=report.span(30, 97))
    notes = (f"Defensive distillation at temperature {params['temperature']:g}: student {description} trained on the "
             f"teacher's softened probabilities over {len(X_train)} training rows (soft labels as sample weights)"
             f"{', behind a refitted clone of its preprocessing' if preprocess is not None else ''}. "
             f"{comparison['clean_accuracy_sentence']}. Agreement with the teacher {agreement:.1%}. "
             f"Attack success {robustness_sentence(comparison['robustness'])}.")
    result = {
        "kind": KIND,
        "rows_used": comparison["clean_rows"],
        "explainer": f"student {description} on soft labels at temperature {params['temperature']:g}",
        "method": {
            "soft_labels": "P_T = softmax(log P / T) of the teacher on the training rows; each row once per class "
                           "with sample weight P_T (rows with a weight below 1e-6 dropped)",
            "student": description,
            "preprocessing": ("a clone of the teacher's preprocessing fitted on the training rows" if preprocess
                              is not None else "none (the teacher is a bare estimator)"),
            "deployment": "as trained (no temperature at prediction time in a scikit-learn model)",
            "caveat": "distillation mainly rescales probabilities; decision-based and sign-gradient attacks see the "
                      "decision boundary, which the student copies - measured below, not assumed",
            "evaluation": "clean metrics of both models on the same evaluation rows; the same attacks against both",
            "random_state": params["random_state"],
            "training_data": info,
            "positive_class": outputs.positive_class,
        },
        "student": description,
        "temperature": params["temperature"],
        "fidelity": agreement,
        **{key: comparison[key] for key in COMPARISON_KEYS},
        "attack_details": comparison["attack_details"],
        **result_parts(comparison),
    }
    result["summary"] = {
        "Student": description,
        "Temperature": params["temperature"],
        **comparison_summary(comparison),
        "Clean accuracy change": fmt_change(comparison["clean_accuracy_change"]),
        "Agreement with the teacher": f"{agreement:.1%}",
        "Attack success (before → after)": robustness_sentence(comparison["robustness"]),
        "New model": "returned for registration as a new draft version",
    }
    result = json_safe(result)
    result["_new_model"] = {
        "estimator": estimator,
        "notes": notes,
        "params": json_safe({"hardening": KIND, "temperature": params["temperature"], "student": description,
                             "random_state": params["random_state"], "fidelity_to_teacher": agreement,
                             "clean_accuracy_change": comparison["clean_accuracy_change"]}),
    }
    report(100, "Done")
    return result
