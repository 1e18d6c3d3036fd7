"""Helpers shared by the robustness analyses: engine-supplied inputs, scoring, perturbations, refitting.

The engine adds inputs that are not JSON parameters and never stored with the job: `params["_training"]`
= (X_train, y_train) when the version has a linked training dataset, and `params["_members"]` = [(label,
LoadedModel), ...] for the ensemble. `split_engine_params` takes them out before the parameters are validated;
a user who passes a key starting with "_" gets a ParamError.
"""

from __future__ import annotations

import contextlib
import functools
import numbers

import numpy as np
import pandas as pd

from explain.analyses import AnalysisError, ParamError
from explain.analyses._common import (
    CLASSIFICATION,
    REGRESSION,
    align_target,
    float_param,
    fmt,
    int_param,
    is_categorical,
    match_label,
    resolve_outputs,
)

ENGINE_KEYS = ("_training", "_members", "_primary_metric")
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
REGRESSION_METRICS = ("r2", "mae", "rmse")
LOWER_IS_BETTER = ("mae", "rmse")
MAX_TRAINING_ROWS = 100_000
MIN_ROWS = 10


# --- engine inputs and parameters ---------------------------------------------------------------------------


def split_engine_params(params: dict) -> tuple[dict, dict]:
    """(the JSON parameters, the engine's inputs: _training / _members)."""
    if not isinstance(params, dict):
        raise ParamError(f"params must be an object, not {type(params).__name__}")
    engine = {key: params[key] for key in ENGINE_KEYS if key in params}
    return {key: value for key, value in params.items() if key not in ENGINE_KEYS}, engine


def reject_reserved(params: dict) -> None:
    if not isinstance(params, dict):
        raise ParamError(f"params must be an object, not {type(params).__name__}")
    for key in params:
        if str(key).startswith("_"):
            raise ParamError(f"parameter {key!r} is reserved: the engine supplies it (training data, ensemble members)")


def number_list_param(params: dict, name: str, *, minimum: float, maximum: float, integer: bool = False,
                      exclusive_minimum: bool = False, max_items: int = 20) -> list:
    """A non-empty list of distinct numbers, sorted; each checked like int_param / float_param."""
    value = params[name]
    if isinstance(value, bool | str) or not isinstance(value, list | tuple):
        value = [value]
    if not value:
        raise ParamError(f"{name} must list at least one value")
    if len(value) > max_items:
        raise ParamError(f"{name} may list at most {max_items} values, got {len(value)}")
    cleaned = []
    for item in value:
        single = {name: item}
        if integer:
            number = int_param(single, name, minimum=int(minimum), maximum=int(maximum))
        else:
            number = float_param(single, name, minimum=minimum, maximum=maximum, exclusive_minimum=exclusive_minimum)
        if number not in cleaned:
            cleaned.append(number)
    return sorted(cleaned)


def metric_param(params: dict, name: str = "metric") -> str | None:
    value = params.get(name)
    if value is not None and value not in CLASSIFICATION_METRICS + REGRESSION_METRICS:
        raise ParamError(f"{name} must be one of {', '.join(CLASSIFICATION_METRICS + REGRESSION_METRICS)}; "
                         f"got {value!r}")
    return value


def resolve_metric(metric: str | None, task: str) -> str:
    if metric is None:
        return "accuracy" if task == CLASSIFICATION else "r2"
    allowed = CLASSIFICATION_METRICS if task == CLASSIFICATION else REGRESSION_METRICS
    if metric not in allowed:
        raise ParamError(f"metric {metric!r} does not apply to {task}; use one of {', '.join(allowed)}")
    return metric


def training_data(engine: dict, X: pd.DataFrame, task: str, classes, *, title: str, max_rows: int,
                  random_state: int) -> tuple[pd.DataFrame, pd.Series, dict]:
    """The engine's training data restricted to the model's columns, rows without a target dropped, sampled
    (stratified for classification) to at most `max_rows`. Raises AnalysisError when there is none."""
    supplied = engine.get("_training")
    if supplied is None:
        raise AnalysisError(f"{title} needs a training dataset linked to the version: link the dataset the model "
                            "was trained on to this version, then run the analysis again")
    try:
        X_train, y_train = supplied
    except (TypeError, ValueError):
        raise AnalysisError("the training data must be a pair (X_train, y_train)")
    if not isinstance(X_train, pd.DataFrame) or y_train is None:
        raise AnalysisError("the linked training dataset has no target column: it cannot be used for training")
    y_train = pd.Series(np.asarray(y_train), index=X_train.index, name=getattr(y_train, "name", None))
    missing = [column for column in X.columns if column not in X_train.columns]
    if missing:
        raise AnalysisError(f"the training dataset lacks feature(s) the model needs: {', '.join(missing[:10])}")
    X_train = X_train[list(X.columns)]
    known = y_train.notna().to_numpy()
    X_train, y_train = X_train[known], y_train[known]
    y_train = align_target(y_train, classes if task == CLASSIFICATION else None)
    info = {"rows_available": int(len(X_train)), "rows_used": int(len(X_train)), "sampled": False}
    if len(X_train) > max_rows:
        from sklearn.model_selection import train_test_split

        stratify = y_train.astype(str) if task == CLASSIFICATION and y_train.value_counts().min() >= 2 else None
        keep, _ = train_test_split(np.arange(len(X_train)), train_size=max_rows, random_state=random_state,
                                   stratify=stratify)
        keep = np.sort(keep)
        X_train, y_train = X_train.iloc[keep], y_train.iloc[keep]
        info.update(rows_used=int(max_rows), sampled=True)
    if len(X_train) < MIN_ROWS:
        raise AnalysisError(f"the training dataset has only {len(X_train)} rows with a target; at least "
                            f"{MIN_ROWS} are needed")
    return X_train, y_train, info


def reference_frame(engine: dict, X: pd.DataFrame) -> pd.DataFrame | None:
    """The training features when the engine supplied them (restricted to X's columns), else None."""
    supplied = engine.get("_training")
    if supplied is None:
        return None
    try:
        X_train = supplied[0]
    except (TypeError, IndexError, KeyError):
        return None
    if not isinstance(X_train, pd.DataFrame) or any(column not in X_train.columns for column in X.columns):
        return None
    return X_train[list(X.columns)]


def refittable(model, what: str):
    """An unfitted clone of the model's scikit-learn estimator, or AnalysisError."""
    from sklearn.base import BaseEstimator, clone

    estimator = getattr(model, "estimator", None)
    if not isinstance(estimator, BaseEstimator):
        raise AnalysisError(f"{what} needs a refittable scikit-learn model; this one is "
                            f"{getattr(model, 'flavour', '') or type(estimator).__name__}")
    try:
        return clone(estimator)
    except Exception as exc:  # noqa: BLE001 - an estimator whose parameters cannot be cloned
        raise AnalysisError(f"{what} needs a refittable scikit-learn model: cloning it failed ({exc})")


def wrap(estimator, flavour: str = "sklearn"):
    """A fitted scikit-learn estimator as the registry would load it."""
    from governance.loading.adapters import SklearnModel

    return SklearnModel(estimator, flavour)


# --- targets, labels and metrics ----------------------------------------------------------------------------


def evaluation_target(model, X: pd.DataFrame, y: pd.Series | None, task: str, positive_class=None,
                      *, needed: str | None = None):
    """(X rows with a target, aligned target, Outputs). With `needed` set, a missing target is an AnalysisError."""
    outputs = resolve_outputs(model, X, task, positive_class)
    if y is None:
        if needed:
            raise AnalysisError(f"{needed} needs the target column, and this dataset has none")
        return X, None, outputs
    target = align_target(y.loc[X.index], outputs.classes if task == CLASSIFICATION else None)
    X_scored = X.loc[target.index]
    if len(X_scored) < MIN_ROWS:
        raise AnalysisError(f"only {len(X_scored)} rows have a target; at least {MIN_ROWS} are needed")
    return X_scored, target, outputs


def to_labels(predicted, classes) -> np.ndarray:
    """Predictions as the model's class objects (ONNX may return ints where classes are text, and back)."""
    predicted = np.asarray(predicted).ravel()
    if classes is None:
        return predicted
    return np.array([_label(p, classes) for p in predicted], dtype=object)


def _label(value, classes):
    matched = match_label(value, classes)
    return value if matched is None else matched


def probabilities(model, X: pd.DataFrame, classes: list) -> np.ndarray:
    """(n, n_classes) in `classes` order: predict_proba, or one-hot predictions for a model without it."""
    proba = model.predict_proba(X)
    if proba is not None:
        return np.asarray(proba, dtype=float).reshape(len(X), -1)
    labels = to_labels(model.predict(X), classes)
    index = {str(c): i for i, c in enumerate(classes)}
    out = np.zeros((len(X), len(classes)))
    out[np.arange(len(X)), [index.get(str(label), 0) for label in labels]] = 1.0
    return out


def predictions(model, X: pd.DataFrame, task: str, classes) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels or values, probabilities or None)."""
    if task == REGRESSION:
        return np.asarray(model.predict(X), dtype=float).reshape(len(X)), None
    proba = model.predict_proba(X)
    labels = to_labels(model.predict(X), classes)
    return labels, None if proba is None else np.asarray(proba, dtype=float).reshape(len(X), -1)


def compute_metrics(task: str, y_true, predicted, proba, outputs) -> dict:
    """classification: accuracy, balanced_accuracy, f1 and roc_auc (binary: about the positive class; multiclass:
    macro F1 and one-vs-rest macro ROC-AUC; None when the target holds a single class or there are no
    probabilities); regression: r2, mae, rmse."""
    from sklearn import metrics

    y_true = np.asarray(y_true)
    if task == REGRESSION:
        y_true, predicted = y_true.astype(float), np.asarray(predicted, dtype=float)
        return {"r2": float(metrics.r2_score(y_true, predicted)) if len(y_true) > 1 else None,
                "mae": float(metrics.mean_absolute_error(y_true, predicted)),
                "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, predicted)))}
    classes = outputs.classes
    truth = np.array([str(v) for v in y_true])
    guess = np.array([str(v) for v in np.asarray(predicted).ravel()])
    result = {"accuracy": float(metrics.accuracy_score(truth, guess)),
              "balanced_accuracy": float(metrics.balanced_accuracy_score(truth, guess))}
    if outputs.binary:
        positive = str(outputs.positive_class)
        result["f1"] = float(metrics.f1_score(truth == positive, guess == positive, zero_division=0))
    else:
        result["f1"] = float(metrics.f1_score(truth, guess, labels=[str(c) for c in classes], average="macro",
                                              zero_division=0))
    result["roc_auc"] = None
    if proba is not None and len(set(truth)) > 1:
        try:
            if outputs.binary:
                result["roc_auc"] = float(metrics.roc_auc_score(truth == str(outputs.positive_class),
                                                                np.asarray(proba)[:, outputs.columns[0]]))
            elif set(truth) == {str(c) for c in classes}:
                result["roc_auc"] = float(metrics.roc_auc_score(
                    np.array([[t == str(c) for c in classes] for t in truth]), np.asarray(proba), average="macro"))
        except ValueError:
            result["roc_auc"] = None
    return result


def model_metrics(model, X: pd.DataFrame, target, task: str, outputs) -> dict:
    predicted, proba = predictions(model, X, task, outputs.classes)
    return compute_metrics(task, target, predicted, proba, outputs)


def drop(clean: float | None, value: float | None, metric: str) -> float | None:
    """How much worse `value` is than `clean`, as a fraction of |clean| (absolute when clean is 0); positive =
    worse. For mae/rmse a rise is a drop."""
    if clean is None or value is None:
        return None
    worse = (value - clean) if metric in LOWER_IS_BETTER else (clean - value)
    return float(worse / abs(clean)) if abs(clean) > 1e-12 else float(worse)


# --- columns, statistics and perturbations ------------------------------------------------------------------


def numeric_columns(X: pd.DataFrame) -> list[str]:
    return [column for column in X.columns if not is_categorical(X[column])]


def categorical_columns(X: pd.DataFrame) -> list[str]:
    return [column for column in X.columns if is_categorical(X[column])]


def column_stats(reference: pd.DataFrame) -> dict:
    """Per numeric column: mean, std (1 when constant or unknown), min, max, median; from `reference`."""
    stats = {}
    for column in numeric_columns(reference):
        values = pd.to_numeric(reference[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if len(finite) == 0:
            stats[column] = {"mean": 0.0, "std": 1.0, "min": 0.0, "max": 0.0, "median": 0.0}
            continue
        std = float(np.std(finite))
        stats[column] = {"mean": float(np.mean(finite)), "std": std if std > 1e-12 else 1.0,
                         "min": float(np.min(finite)), "max": float(np.max(finite)),
                         "median": float(np.median(finite))}
    return stats


def categories(reference: pd.DataFrame) -> dict:
    from explain.analyses._common import sort_key

    return {column: sorted(pd.unique(reference[column].dropna()).tolist(), key=sort_key)
            for column in categorical_columns(reference)}


def as_float_frame(X: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A copy of X whose `columns` are float (noise on integer columns must not be truncated)."""
    out = X.copy()
    for column in columns:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def gaussian_noise(X: pd.DataFrame, level: float, stats: dict, rng: np.random.Generator,
                   columns: list[str] | None = None) -> pd.DataFrame:
    """X with N(0, (level * std)^2) added to every present value of the numeric `columns` (all by default).
    Level 0 returns an unchanged copy."""
    columns = [c for c in (columns if columns is not None else list(stats)) if c in stats]
    if level == 0:
        return X.copy()
    out = as_float_frame(X, columns)
    for column in columns:
        noise = rng.normal(0.0, level * stats[column]["std"], size=len(out))
        out[column] = out[column] + noise  # NaN stays NaN
    return out


def can_take_missing(model, X: pd.DataFrame, task: str) -> tuple[bool, str]:
    """Whether the model gives finite outputs for rows whose every value is missing (tried on two rows)."""
    probe = X.iloc[:2].mask(pd.DataFrame(True, index=X.index[:2], columns=X.columns))
    try:
        output = model.predict(probe) if task == REGRESSION else model.predict_proba(probe)
        if output is None:
            model.predict(probe)
        elif not np.all(np.isfinite(np.asarray(output, dtype=float))):
            return False, "its outputs are not finite when values are missing"
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot take missing values
        return False, f"it raised {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return True, ""


def impute(X: pd.DataFrame, stats: dict, modes: dict) -> pd.DataFrame:
    """Median (numeric) / most frequent (categorical) imputation with the reference statistics."""
    out = X.copy()
    for column in out.columns:
        if column in stats:
            out[column] = out[column].fillna(stats[column]["median"])
        elif column in modes and modes[column] is not None:
            out[column] = out[column].fillna(modes[column])
    return out


def modes(reference: pd.DataFrame) -> dict:
    result = {}
    for column in categorical_columns(reference):
        counts = reference[column].value_counts()
        result[column] = counts.index[0] if len(counts) else None
    return result


# --- misc -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def numpy_seed(seed: int):
    """Seed numpy's global generator (ART draws from it) and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed % (2**32))
    try:
        yield
    finally:
        np.random.set_state(state)


@functools.cache
def load_art() -> None:
    """Import ART once, without its warnings about the deep-learning frameworks this project does not install and
    without its INFO line about its data folder."""
    import logging
    import warnings

    art_logger = logging.getLogger("art")
    level = art_logger.level
    art_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import art.attacks.evasion  # noqa: F401
            import art.attacks.inference.membership_inference  # noqa: F401
            import art.estimators.classification  # noqa: F401
    finally:
        art_logger.setLevel(level)


@contextlib.contextmanager
def quiet():
    """Silence ART's and scikit-learn's warnings and log lines about its optional frameworks and convergence."""
    import logging
    import warnings

    art_logger = logging.getLogger("art")
    level = art_logger.level
    art_logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            art_logger.setLevel(level)


def sentence_change(name: str, before: float | None, after: float | None, *, points: bool = True) -> str:
    """"accuracy dropped by 1.2 points (0.812 → 0.800)" / "rose" / "unchanged"."""
    if before is None or after is None:
        return f"{name}: not available"
    change = after - before
    amount = f"{abs(change) * 100:.2f} points" if points else fmt(abs(change), 3)
    if abs(change) < 1e-12:
        return f"{name} unchanged ({fmt(before, 4)})"
    verb = "dropped" if change < 0 else "rose"
    return f"{name} {verb} by {amount} ({fmt(before, 4)} → {fmt(after, 4)})"


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
