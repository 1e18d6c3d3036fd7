"""The SHAP engine shared by shap_global, shap_local and lime: explainer choice, output space, aggregation back to
the original columns, and the additivity check.

Explainer choice (recorded in every result):

* tree ensembles (scikit-learn forests, gradient boosting, histogram gradient boosting, single trees, XGBoost,
  LightGBM), also as the last step of a Pipeline: `shap.TreeExplainer` with `tree_path_dependent` perturbation,
  exact. (shap 0.51's interventional TreeExplainer breaks additivity on HistGradientBoosting, by up to 0.6
  log-odds on the credit model, so the path-dependent algorithm is used for every tree model.) Random forests
  and single trees are explained in probability space, boosted trees in log-odds (raw margin) space.
* linear models (coef_ / intercept_): `shap.LinearExplainer` with an Independent masker over the whole
  transformed sample (interventional): phi = coef * (x - mean(background)), in log-odds / margin / value space.
* anything else (ONNX, unknown estimators, or a fast path that raised): `shap.explainers.Permutation` on a
  function of the ORIGINAL columns (categories encoded as codes for shap's masker, decoded before predicting),
  in probability / value space, with a bounded background and `max_evals`.

Behind a Pipeline, X is transformed by `pipeline[:-1]`, the final estimator is explained on the transformed
matrix and each transformed column's SHAP value is added to the original column it comes from (found from the
transformers' `get_feature_names_out`); sums keep additivity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explain.analyses import AnalysisError, ParamError

from ._common import (
    CLASSIFICATION,
    REGRESSION,
    Codec,
    Outputs,
    Progress,
    choice_param,
    float_param,
    int_param,
    positive_class_param,
    predict_outputs,
    resolve_outputs,
    unwrap,
)

EXPLAINERS = ("auto", "tree", "linear", "permutation")
SHAP_DEFAULTS = {
    "explainer": "auto",  # auto | tree | linear | permutation
    "background_size": 50,  # permutation explainer: background rows sampled from X
    "max_evals": None,  # permutation explainer: model evaluations per row; None = 4 * (2 * n_features + 1)
    "agnostic_max_rows": 200,  # permutation explainer (global): at most this many rows explained
    "additivity_tolerance": None,  # None = 1e-3 * max(1, max |f(x)|) (tree, linear), 1e-2 * output range (permutation)
    "positive_class": None,  # binary classification: the class explained; None = classes[1]
}
EXACT_TOLERANCE = 1e-3
PERMUTATION_RELATIVE_TOLERANCE = 1e-2
CHUNK_ROWS = 10
SKLEARN_FLAVOURS = ("sklearn", "joblib", "pickle")


def validate_shap_params(params: dict, cleaned: dict, *, columns: list[str]) -> dict:
    cleaned["explainer"] = choice_param(params, "explainer", EXPLAINERS)
    cleaned["background_size"] = int_param(params, "background_size", minimum=1, maximum=1000)
    cleaned["agnostic_max_rows"] = int_param(params, "agnostic_max_rows", minimum=1, maximum=5000)
    minimum_evals = 2 * len(columns) + 1
    cleaned["max_evals"] = None
    if params.get("max_evals") is not None:
        cleaned["max_evals"] = int_param(params, "max_evals", minimum=minimum_evals, maximum=100_000)
    cleaned["additivity_tolerance"] = None
    if params.get("additivity_tolerance") is not None:
        cleaned["additivity_tolerance"] = float_param(params, "additivity_tolerance", minimum=0.0,
                                                      exclusive_minimum=True)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


@dataclass
class Explanation:
    index: list  # index labels of the explained rows
    features: list[str]  # original columns
    outputs: list  # labels of the explained outputs (one for binary/regression, one per class for multiclass)
    output_names: list[str]  # e.g. "log-odds of class 'bad'"
    values: np.ndarray  # (n, n_features, n_outputs), per original column
    base_values: np.ndarray  # (n_outputs,)
    predictions: np.ndarray  # (n, n_outputs): the model's own output in the explained space
    space: str  # probability | log-odds | margin | value | raw
    explainer: str
    method: dict
    additivity_max_error: float
    additivity_tolerance: float
    transformed_features: list[str] = field(default_factory=list)
    transformed_sources: list[str] = field(default_factory=list)
    transformed_values: np.ndarray | None = None  # (n, n_transformed, n_outputs) before aggregation


def explain(model, X: pd.DataFrame, *, task: str, params: dict, progress: Progress | None = None,
            rows: list | None = None, start: float = 0, end: float = 100) -> Explanation:
    """SHAP values for `rows` of X (default: all rows; the permutation path explains at most agnostic_max_rows
    of them), with X as background. Raises AnalysisError when additivity fails."""
    progress = progress or Progress(None)
    outputs = resolve_outputs(model, X, task, params.get("positive_class"))
    if rows is None:
        X_explain, limited = X, True
    else:
        X_explain, limited = X.loc[rows], False
    progress(start, "Choosing the SHAP explainer")
    choice = params.get("explainer", "auto")
    fallback_reason = None
    result = None
    if choice in ("auto", "tree", "linear"):
        kind, reason = _fast_kind(model)
        if choice != "auto" and kind != choice:
            reason = reason or f"the final estimator is a {kind} model"
            raise AnalysisError(f"the {choice} explainer does not apply to this model: {reason}")
        if kind is not None:
            started = time.perf_counter()
            try:
                result = _FAST[kind](model, X, X_explain, outputs, task)
            except Exception as exc:  # noqa: BLE001 - any failure of the fast path falls back to the agnostic one
                if choice != "auto":
                    raise AnalysisError(f"the {choice} explainer failed: {type(exc).__name__}: {exc}")
                fallback_reason = f"the {kind} explainer failed ({type(exc).__name__}: {exc})"
            else:
                result.method["seconds"] = round(time.perf_counter() - started, 3)
        else:
            fallback_reason = reason
    if result is None:
        if limited and len(X_explain) > params["agnostic_max_rows"]:
            chosen = X_explain.sample(params["agnostic_max_rows"], random_state=params["random_state"]).index
            X_explain = X_explain[X_explain.index.isin(chosen)]
        result = _permutation(model, X, X_explain, outputs, params, progress.span(start + 5, end - 5))
        if fallback_reason:
            result.method["fallback_reason"] = fallback_reason
    progress(end - 3, "Checking SHAP additivity")
    _check_additivity(result, params)
    progress(end, "SHAP values computed")
    return result


# --- explainer choice ---------------------------------------------------------------------------------------


def _tree_types() -> tuple:
    from sklearn import ensemble, tree

    types = [
        ensemble.RandomForestClassifier, ensemble.RandomForestRegressor, ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor, ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor,
        ensemble.HistGradientBoostingClassifier, ensemble.HistGradientBoostingRegressor,
        tree.DecisionTreeClassifier, tree.DecisionTreeRegressor, tree.ExtraTreeClassifier, tree.ExtraTreeRegressor,
    ]
    try:
        import xgboost

        types += [xgboost.Booster, xgboost.XGBModel]
    except ImportError:  # pragma: no cover - optional library
        pass
    try:
        import lightgbm

        types += [lightgbm.Booster, lightgbm.LGBMModel]
    except ImportError:  # pragma: no cover - optional library
        pass
    return tuple(types)


def probability_trees() -> tuple:
    """Tree models whose raw output is already a class probability (averaged leaf class frequencies)."""
    from sklearn import ensemble, tree

    return (ensemble.RandomForestClassifier, ensemble.ExtraTreesClassifier, tree.DecisionTreeClassifier,
            tree.ExtraTreeClassifier)


def is_linear(estimator) -> bool:
    module = type(estimator).__module__
    return (module.startswith(("sklearn.linear_model", "sklearn.svm")) and hasattr(estimator, "coef_")
            and hasattr(estimator, "intercept_") and np.ndim(estimator.coef_) <= 2)


def final_estimator(model):
    """(preprocessing, final estimator) for the flavours with a fast path, else (None, None)."""
    if model.flavour in ("xgboost", "lightgbm"):
        return None, model.estimator
    if model.flavour in SKLEARN_FLAVOURS:
        return unwrap(model)
    return None, None


def _fast_kind(model) -> tuple[str | None, str]:
    pre, final = final_estimator(model)
    if final is None:
        return None, f"no fast path for the {model.flavour or 'unknown'} flavour; using the model-agnostic explainer"
    name = type(final).__name__
    if isinstance(final, _tree_types()):
        if getattr(final, "is_categorical_", None) is not None and np.any(final.is_categorical_):
            return None, f"{name} uses native categorical splits, which TreeExplainer cannot read"
        return "tree", ""
    if is_linear(final):
        return "linear", ""
    return None, f"{name} is neither a tree ensemble nor a linear model; using the model-agnostic explainer"


# --- mapping transformed columns back to the original ones ----------------------------------------------------


class _Unmappable(Exception):
    pass


def transformed_sources(pre, columns: list[str]) -> tuple[list[str], list[str]]:
    """(output feature names, the original column each comes from) for a fitted preprocessing step."""
    sources = [columns[i] for i in _sources(pre, list(columns))]
    try:
        names = [str(name) for name in pre.get_feature_names_out(list(columns))]
    except (AttributeError, ValueError, TypeError):
        names = [f"{source} [{i}]" for i, source in enumerate(sources)]
    if len(names) != len(sources):
        raise _Unmappable(f"{len(names)} output names for {len(sources)} mapped outputs")
    return names, sources


def _sources(step, names_in: list[str]) -> list[int]:
    """For each output column of `step`, the index (into names_in) of the input column it comes from."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return list(range(len(names_in)))
    if isinstance(step, Pipeline):
        current, indices = list(names_in), list(range(len(names_in)))
        for _, sub in step.steps:
            local = _sources(sub, current)
            indices = [indices[i] for i in local]
            current = _names_out(sub, current, local)
        return indices
    if isinstance(step, ColumnTransformer):
        return _column_transformer_sources(step, names_in)
    out_names = _names_out(step, names_in, None)
    if len(names_in) == 1:
        return [0] * len(out_names)
    if list(out_names) == list(names_in):
        return list(range(len(names_in)))
    return [_match(name, names_in) for name in out_names]


def _names_out(step, names_in: list[str], local: list[int] | None) -> list[str]:
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return list(names_in)
    try:
        return [str(name) for name in step.get_feature_names_out(list(names_in))]
    except (AttributeError, ValueError, TypeError) as exc:
        if local is not None:
            return [names_in[i] for i in local]
        raise _Unmappable(f"{type(step).__name__} does not name its output columns ({exc})")


def _column_transformer_sources(ct, names_in: list[str]) -> list[int]:
    n_out = sum(s.stop - s.start for s in ct.output_indices_.values())
    result: list[int | None] = [None] * n_out
    inputs = getattr(ct, "_transformer_to_input_indices", None)
    for name, transformer, columns in ct.transformers_:
        out_slice = ct.output_indices_.get(name)
        if out_slice is None or out_slice.stop == out_slice.start:
            continue
        known = inputs is not None and name in inputs
        in_idx = list(inputs[name]) if known else _resolve_columns(columns, names_in)
        sub_names = [names_in[i] for i in in_idx]
        local = _sources(transformer, sub_names)
        if len(local) != out_slice.stop - out_slice.start:
            raise _Unmappable(f"transformer {name!r}: {len(local)} mapped outputs, expected "
                              f"{out_slice.stop - out_slice.start}")
        for offset, i in enumerate(local):
            result[out_slice.start + offset] = in_idx[i]
    if any(source is None for source in result):
        raise _Unmappable("some transformed columns come from no known input column")
    return result


def _resolve_columns(columns, names_in: list[str]) -> list[int]:
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        return list(range(len(names_in)))[columns]
    array = np.asarray(columns)
    if array.dtype == bool:
        return [int(i) for i in np.flatnonzero(array)]
    return [names_in.index(c) if isinstance(c, str) else int(c) for c in array.tolist()]


def _match(out_name: str, names_in: list[str]) -> int:
    candidates = [out_name, out_name.split("__", 1)[-1]]
    for candidate in candidates:
        if candidate in names_in:
            return names_in.index(candidate)
    for candidate in candidates:
        matches = [
            i for i, name in enumerate(names_in)
            if candidate.startswith(f"{name}_") or candidate.endswith(f"_{name}") or f"_{name}_" in candidate
        ]
        if matches:
            return max(matches, key=lambda i: len(names_in[i]))
    raise _Unmappable(f"cannot tell which input column {out_name!r} comes from")


def _aggregate(values: np.ndarray, sources: list[str], features: list[str]) -> np.ndarray:
    """(n, n_transformed, k) -> (n, n_features, k), summing the transformed columns of each original column."""
    matrix = np.zeros((len(sources), len(features)))
    for t, source in enumerate(sources):
        matrix[t, features.index(source)] = 1.0
    return np.einsum("ntk,tf->nfk", values, matrix)


def _dense(matrix) -> np.ndarray:
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    if isinstance(matrix, pd.DataFrame):
        matrix = matrix.to_numpy()
    return np.asarray(matrix, dtype=float)


# --- fast paths ---------------------------------------------------------------------------------------------


def _prepared(model, X_background: pd.DataFrame, X_explain: pd.DataFrame):
    pre, final = final_estimator(model)
    features = list(X_explain.columns)
    if pre is None:
        if model.flavour in ("xgboost", "lightgbm") and not model.feature_names:
            return final, None, X_explain.to_numpy(dtype=float), features, features
        return final, None, X_explain, features, features
    names, sources = transformed_sources(pre, features)
    Xt = _dense(pre.transform(X_explain))
    background = _dense(pre.transform(X_background)) if X_background is not None else None
    if Xt.shape[1] != len(names):
        raise _Unmappable(f"the preprocessing gives {Xt.shape[1]} columns but names {len(names)}")
    return final, background, Xt, names, sources


def _as_outputs(values, expected, predictions, outputs: Outputs):
    """Normalise explainer shapes to (n, m, k) / (k,) / (n, k) and keep the explained outputs."""
    values = np.stack(values, axis=-1) if isinstance(values, list) else np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    expected = np.atleast_1d(np.asarray(expected, dtype=float)).reshape(-1)
    predictions = np.asarray(predictions, dtype=float).reshape(values.shape[0], -1)
    k = values.shape[2]
    if outputs.task == CLASSIFICATION and outputs.binary:
        if k == 1:  # one margin, for classes[1]
            if outputs.columns[0] == 0:
                values, expected, predictions = -values, -expected, -predictions
            return values, expected, predictions
        column = outputs.columns[0]
        return values[:, :, [column]], expected[[column]], predictions[:, [column]]
    if outputs.task == CLASSIFICATION and k != len(outputs.labels):
        raise AnalysisError(f"the explainer gave {k} outputs for {len(outputs.labels)} classes")
    return values, expected, predictions


def _raw_margin(final, Xt) -> np.ndarray:
    module = type(final).__module__
    if module.startswith("xgboost"):
        import xgboost

        if isinstance(final, xgboost.Booster):
            return np.asarray(final.predict(xgboost.DMatrix(Xt), output_margin=True))
        return np.asarray(final.predict(Xt, output_margin=True))
    if module.startswith("lightgbm"):
        return np.asarray(final.predict(Xt, raw_score=True))
    return np.asarray(final.decision_function(Xt))


def _tree(model, X_background, X_explain, outputs: Outputs, task: str) -> Explanation:
    import shap

    final, _background, Xt, names, sources = _prepared(model, None, X_explain)
    explainer = shap.TreeExplainer(final, feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(Xt, check_additivity=False)
    booster = model.flavour in ("xgboost", "lightgbm")
    if task == REGRESSION:
        space = "raw" if booster else "value"
        predictions = _raw_margin(final, Xt) if booster else model.predict(X_explain)
    elif isinstance(final, probability_trees()):
        space, predictions = "probability", model.predict_proba(X_explain)
    else:
        space, predictions = "log-odds", _raw_margin(final, Xt)
    values, expected, predictions = _as_outputs(values, explainer.expected_value, predictions, outputs)
    method = {
        "explainer": "TreeExplainer",
        "estimator": type(final).__name__,
        "feature_perturbation": "tree_path_dependent",
        "background": "none needed: the trees' training cover (path-dependent algorithm)",
        "output_space": space,
    }
    return _finish(model, X_explain, outputs, values, expected, predictions, space, "TreeExplainer", method,
                   names, sources)


def _linear(model, X_background, X_explain, outputs: Outputs, task: str) -> Explanation:
    import shap

    final, background, Xt, names, sources = _prepared(model, X_background, X_explain)
    if background is None:
        background = np.asarray(X_background[names], dtype=float)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.LinearExplainer(final, masker)
    values = explainer.shap_values(np.asarray(Xt, dtype=float))
    if task == REGRESSION:
        space, predictions = "value", model.predict(X_explain)
    else:
        logistic = type(final).__name__ in ("LogisticRegression", "LogisticRegressionCV") or (
            getattr(final, "loss", None) == "log_loss")
        space, predictions = ("log-odds" if logistic else "margin"), final.decision_function(Xt)
    values, expected, predictions = _as_outputs(values, explainer.expected_value, predictions, outputs)
    method = {
        "explainer": "LinearExplainer",
        "estimator": type(final).__name__,
        "feature_perturbation": "interventional",
        "background": f"the whole transformed sample ({len(background)} rows)",
        "background_size": len(background),
        "output_space": space,
    }
    return _finish(model, X_explain, outputs, values, expected, predictions, space, "LinearExplainer", method,
                   names, sources)


_FAST = {"tree": _tree, "linear": _linear}


def _finish(model, X_explain, outputs, values, expected, predictions, space, explainer, method, names, sources):
    features = list(X_explain.columns)
    aggregated = _aggregate(values, sources, features)
    method.update({
        "aggregated_to_original_columns": list(names) != features,
        "n_transformed_features": len(names),
    })
    return Explanation(
        index=X_explain.index.tolist(), features=features, outputs=list(outputs.labels),
        output_names=outputs.describe(space), values=aggregated, base_values=expected, predictions=predictions,
        space=space, explainer=explainer, method=method, additivity_max_error=float("nan"),
        additivity_tolerance=float("nan"), transformed_features=list(names), transformed_sources=list(sources),
        transformed_values=values,
    )


# --- model-agnostic path ------------------------------------------------------------------------------------


def _permutation(model, X: pd.DataFrame, X_explain: pd.DataFrame, outputs: Outputs, params: dict,
                 report) -> Explanation:
    import shap

    started = time.perf_counter()
    codec = Codec(X)
    n_features = len(codec.columns)
    background = X.sample(min(params["background_size"], len(X)), random_state=params["random_state"])
    max_evals = params.get("max_evals") or 4 * (2 * n_features + 1)
    if max_evals < 2 * n_features + 1:
        raise ParamError(f"max_evals must be at least 2 * n_features + 1 = {2 * n_features + 1}")
    single = len(outputs.labels) == 1

    def f(array):
        out = predict_outputs(model, codec.decode(array), outputs)
        return out[:, 0] if single else out

    masker = shap.maskers.Independent(codec.encode(background), max_samples=len(background))
    explainer = shap.explainers.Permutation(f, masker, seed=params["random_state"])
    encoded = codec.encode(X_explain)
    values, bases = [], []
    for start in range(0, len(encoded), CHUNK_ROWS):
        report(start / max(len(encoded), 1), f"Permutation SHAP: row {start + 1} of {len(encoded)}")
        chunk = explainer(encoded[start:start + CHUNK_ROWS], max_evals=max_evals, silent=True)
        values.append(np.asarray(chunk.values, dtype=float))
        bases.append(np.asarray(chunk.base_values, dtype=float))
    values = np.concatenate(values)
    base = np.concatenate(bases).reshape(len(encoded), -1)
    if values.ndim == 2:
        values = values[:, :, None]
    predictions = predict_outputs(model, X_explain, outputs)
    method = {
        "explainer": "PermutationExplainer",
        "estimator": type(model.estimator).__name__,
        "output_space": "value" if outputs.task == REGRESSION else "probability",
        "background": f"{len(background)} rows sampled from the data (random_state {params['random_state']})",
        "background_size": len(background),
        "background_rows": background.index.tolist(),
        "max_evals": max_evals,
        "permutations": max_evals // (2 * n_features + 1),
        "categorical_encoding": "categorical columns encoded as integer codes for shap's masker and decoded "
                                "back to their values before each model call" if codec.categorical else "none",
        "aggregated_to_original_columns": False,
        "seconds": round(time.perf_counter() - started, 3),
    }
    space = method["output_space"]
    return Explanation(
        index=X_explain.index.tolist(), features=list(codec.columns), outputs=list(outputs.labels),
        output_names=outputs.describe(space), values=values, base_values=base.mean(axis=0), predictions=predictions,
        space=space, explainer="PermutationExplainer", method=method, additivity_max_error=float("nan"),
        additivity_tolerance=float("nan"), transformed_features=list(codec.columns),
        transformed_sources=list(codec.columns), transformed_values=values,
    )


def _check_additivity(result: Explanation, params: dict) -> None:
    reconstructed = result.values.sum(axis=1) + result.base_values[None, :]
    error = float(np.max(np.abs(reconstructed - result.predictions))) if result.values.size else 0.0
    tolerance = params.get("additivity_tolerance")
    if tolerance is None:
        if result.explainer == "PermutationExplainer":
            spread = float(np.ptp(np.concatenate([result.predictions.ravel(), result.base_values.ravel()])))
            tolerance = PERMUTATION_RELATIVE_TOLERANCE * (spread if spread > 0 else 1.0)
        else:  # absolute for outputs of order 1 (probabilities, log-odds); relative for large regression values
            tolerance = EXACT_TOLERANCE * max(1.0, float(np.max(np.abs(result.predictions))))
    result.additivity_max_error = error
    result.additivity_tolerance = float(tolerance)
    if not np.isfinite(error) or error > tolerance:
        raise AnalysisError(f"SHAP additivity check failed: max error {error:.3g} > tolerance {tolerance:.3g} "
                            f"({result.explainer}, {result.space} space)")


def describe_explainer(explanation: Explanation) -> str:
    method = explanation.method
    details = [method.get("feature_perturbation") or f"{method.get('max_evals')} evaluations per row",
               f"{explanation.space} space"]
    if method.get("background_size"):
        details.append(f"background {method['background_size']} rows")
    return f"{explanation.explainer} on {method.get('estimator')} ({', '.join(details)})"


def warm_up() -> float:
    """Run a tiny Permutation explanation so numba compiles shap's helpers now (~6 s once per process)."""
    import shap

    started = time.perf_counter()
    data = np.random.default_rng(0).normal(size=(8, 3))
    masker = shap.maskers.Independent(data, max_samples=8)
    shap.explainers.Permutation(lambda a: a @ np.array([1.0, 2.0, 3.0]), masker, seed=0)(
        data[:2], max_evals=7, silent=True)
    return time.perf_counter() - started
