"""Adversarial training (hardening): refit the model on its training data augmented with adversarial examples.

Needs the training data (`_training`), a refittable scikit-learn classifier, and the target. Up to `n_adversarial`
training rows that the model classifies correctly are attacked in the attack space of `_space`:
* models ART can differentiate (LogisticRegression / SVC, alone or ending a Pipeline): PGD (L-inf, `train_eps`
  standard deviations, `pgd_max_iter` steps) - every PGD row is kept (Madry et al.);
* any other classifier: a batched decision-based attack (each row moved toward the nearest differently
  classified training row, boundary located by bisection: HopSkipJump's starting phase); the first point past
  the boundary is kept when it lies within `train_eps` × `radius_factor` standard deviations (L-inf), farther
  ones would be label noise.
Each adversarial row keeps the TRUE label of its source row, is decoded to the original columns and appended to
the training data; a clone of the estimator is refitted on the result and returned as `_new_model` (the engine
registers it as a draft version).

Before/after (see `_hardening`): clean metrics of both models on the same evaluation rows - the change in accuracy
is always reported (`clean_accuracy_change` and a sentence), a drop included - and the same evasion battery
(`attacks`, `eps`, `n_samples` rows) against both.

Result keys: summary, charts, tables, rows_used, explainer, method, augmentation {attack, rows_attacked,
rows_added, ...}, clean_before, clean_after, clean_accuracy_change, clean_accuracy_sentence, robustness
[{attack, eps, success_before, success_after, ...}], _new_model (popped by the engine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explain.analyses import AnalysisError
from explain.analyses._common import (
    REGRESSION,
    Progress,
    check_known,
    common_params,
    float_param,
    int_param,
    json_safe,
    resolve_task,
)

from ._base import (
    evaluation_target,
    refittable,
    reject_reserved,
    split_engine_params,
    training_data,
    wrap,
)
from ._evasion import class_positions, make_space
from ._hardening import (
    COMPARISON_KEYS,
    HARDENING_DEFAULTS,
    compare,
    comparison_summary,
    fmt_change,
    result_parts,
    robustness_sentence,
    validate_hardening,
)
from ._space import SpaceModel, boundary_bisection, gradient_classifier, gradient_support, pgd

KIND = "adversarial_training"
TITLE = "Adversarial training (hardening: a new version)"
REGISTERS_VERSION = True  # its result becomes a new draft version of the model: ownership is needed
DEFAULT_PARAMS = {**HARDENING_DEFAULTS, "n_adversarial": 300, "train_eps": 0.3, "radius_factor": 2.0}
REQUIRES_TARGET = True


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    validate_hardening(params, cleaned)
    cleaned["n_adversarial"] = int_param(params, "n_adversarial", minimum=1, maximum=20_000)
    cleaned["train_eps"] = float_param(params, "train_eps", minimum=0.0, maximum=10.0, exclusive_minimum=True)
    cleaned["radius_factor"] = float_param(params, "radius_factor", minimum=1.0, maximum=100.0)
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("adversarial training here defends classifiers against evasion; this is a regression "
                            "model")
    refittable(model, "adversarial training")
    X_eval, target, outputs = evaluation_target(model, X, y, task, params["positive_class"],
                                                needed="adversarial training")
    classes = outputs.classes
    X_train, y_train, info = training_data(engine, X, task, classes, title="adversarial training",
                                           max_rows=params["max_training_rows"], random_state=params["random_state"])
    space = make_space(X, X_train)
    space_model = SpaceModel(model, space, classes)
    report(3, "Choosing training rows to attack")
    truth_index = class_positions(y_train, classes)
    A_train = space.encode(X_train)
    correct = np.flatnonzero(space_model.predict_index(A_train) == truth_index)
    if not len(correct):
        raise AnalysisError("the model classifies no training row correctly: nothing to harden")
    generator = np.random.default_rng(params["random_state"])
    chosen = np.sort(generator.choice(correct, size=min(params["n_adversarial"], len(correct)), replace=False))
    A = A_train[chosen]
    gradient, why = gradient_support(model)
    report(8, f"Generating adversarial examples from {len(chosen)} training rows")
    if gradient:
        run_ = pgd(gradient_classifier(model, space_model), space_model, A, params["train_eps"],
                   max_iter=params["pgd_max_iter"], random_state=params["random_state"])
        keep = np.ones(len(A), dtype=bool)
        attack = f"PGD (ART, L-inf, eps {params['train_eps']:g} std, {params['pgd_max_iter']} steps); every row kept"
    else:
        pool_rows = X_train if len(X_train) <= 1000 else X_train.sample(1000, random_state=params["random_state"])
        run_ = boundary_bisection(space_model, A, space.encode(pool_rows))
        radius = params["train_eps"] * params["radius_factor"]
        keep = run_.changed & (space.distances(A, run_.adversarial)["linf_std"] <= radius + 1e-9)
        attack = (f"decision-based boundary bisection (the model ends in a non-differentiable estimator: {why}); "
                  f"rows past the boundary within {radius:g} std (L-inf) kept")
    adversarial = space.decode(run_.adversarial[keep])
    for column in X_train.columns:  # same dtypes as the training data where possible
        if column in space.categorical:
            adversarial[column] = adversarial[column].astype(X_train[column].dtype, errors="ignore")
    labels = y_train.iloc[chosen[keep]].to_numpy()
    augmented_X = pd.concat([X_train.reset_index(drop=True), adversarial.reset_index(drop=True)], ignore_index=True)
    augmented_y = pd.Series(np.concatenate([y_train.to_numpy(), labels]), name=y_train.name).infer_objects()
    report(40, f"Refitting on {len(X_train)} + {int(keep.sum())} rows")
    estimator = refittable(model, "adversarial training")
    try:
        estimator.fit(augmented_X, augmented_y)
    except Exception as exc:  # noqa: BLE001 - the recipe fails on the augmented data
        raise AnalysisError(f"refitting on the augmented training data failed: {type(exc).__name__}: {exc}")
    new = wrap(estimator)
    report(50, "Comparing the original and the new model")
    comparison = compare(model, new, X_eval, target, outputs, space, params, primary=engine.get("_primary_metric"),
                         progress=report.span(50, 97))
    augmentation = {
        "attack": attack,
        "training_rows": int(len(X_train)),
        "rows_attacked": int(len(chosen)),
        "rows_changed_by_attack": int(run_.changed.sum()),
        "rows_added": int(keep.sum()),
        "label": "the true label of the source row",
        "queries": int(run_.queries),
        "median_linf_std": float(np.median(space.distances(A, run_.adversarial)["linf_std"][keep]))
        if keep.any() else None,
    }
    notes = (f"Adversarial training: {len(X_train)} training rows + {int(keep.sum())} adversarial rows "
             f"({attack}), each labelled with its source row's true label. "
             f"{comparison['clean_accuracy_sentence']}. "
             f"Attack success {robustness_sentence(comparison['robustness'])}.")
    result = {
        "kind": KIND,
        "rows_used": comparison["clean_rows"],
        "explainer": "ART PGD / decision-based bisection, sklearn.base.clone refitted on the augmented data",
        "method": {
            "augmentation": attack,
            "train_eps": params["train_eps"],
            "attack_space": "numeric columns in standard deviations; categories and missing values fixed",
            "evaluation": "clean metrics of both models on the same evaluation rows; the same attacks (rows, "
                          "settings, seeds) against both",
            "random_state": params["random_state"],
            "training_data": info,
            "positive_class": outputs.positive_class,
        },
        "augmentation": augmentation,
        **{key: comparison[key] for key in COMPARISON_KEYS},
        "attack_details": comparison["attack_details"],
        **result_parts(comparison),
    }
    result["summary"] = {
        **comparison_summary(comparison),
        "Clean accuracy change": fmt_change(comparison["clean_accuracy_change"]),
        "Attack success (before → after)": robustness_sentence(comparison["robustness"]),
        "Augmentation": f"{int(keep.sum())} adversarial rows added to {len(X_train)} training rows",
        "New model": "returned for registration as a new draft version",
    }
    result = json_safe(result)
    result["_new_model"] = {
        "estimator": estimator,
        "notes": notes,
        "params": json_safe({"hardening": KIND, "train_eps": params["train_eps"],
                             "n_adversarial": params["n_adversarial"],
                             "rows_added": int(keep.sum()), "augmentation": attack,
                             "random_state": params["random_state"],
                             "clean_accuracy_change": comparison["clean_accuracy_change"], "classes": classes}),
    }
    report(100, "Done")
    return result
