"""LoadedModel: one interface over a loaded sklearn estimator, ONNX session, XGBoost or LightGBM booster.

`predict(X)` and `predict_proba(X)` take a DataFrame with the model's original columns; classifiers
return labels from `classes` and an (n, n_classes) probability matrix, regressors return values and
no probabilities.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"


def json_safe(values) -> list:
    return np.asarray(values).tolist()


class LoadedModel:
    flavour: str = ""
    neutralised_params: list[str] = []  # noqa: RUF012 - replaced per instance; what loading set to a safe value

    def __init__(self, estimator: Any, *, task: str | None, feature_names: list[str] | None, classes: list | None):
        self.estimator = estimator
        self.task = task
        self.feature_names = feature_names
        self.classes = classes

    def __repr__(self) -> str:
        return f"<LoadedModel {self.flavour} task={self.task} features={self.feature_names} classes={self.classes}>"

    def _columns(self, X):
        """X restricted to (and ordered by) the model's feature names, when it has them all."""
        if self.feature_names and all(name in X.columns for name in self.feature_names):
            return X[list(self.feature_names)]
        return X

    def _labels(self, proba: np.ndarray) -> np.ndarray:
        classes = np.asarray(self.classes if self.classes is not None else range(proba.shape[1]))
        if proba.shape[1] == 2:  # the boosting libraries' own rule for binary problems
            return classes[(proba[:, 1] > 0.5).astype(int)]
        return classes[np.argmax(proba, axis=1)]

    def predict(self, X) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X) -> np.ndarray | None:
        raise NotImplementedError


class SklearnModel(LoadedModel):
    def __init__(self, estimator, flavour: str):
        from sklearn.base import is_classifier, is_regressor

        self.flavour = flavour
        if is_classifier(estimator):
            task = CLASSIFICATION
        elif is_regressor(estimator):
            task = REGRESSION
        else:
            task = CLASSIFICATION if hasattr(estimator, "predict_proba") else None
        names = getattr(estimator, "feature_names_in_", None)
        classes = getattr(estimator, "classes_", None) if task == CLASSIFICATION else None
        super().__init__(estimator, task=task, feature_names=None if names is None else json_safe(names),
                         classes=None if classes is None else json_safe(classes))

    def predict(self, X):
        return np.asarray(self.estimator.predict(X))

    def predict_proba(self, X):
        if self.task != CLASSIFICATION or not hasattr(self.estimator, "predict_proba"):
            return None
        return np.asarray(self.estimator.predict_proba(X))


_ONNX_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object,
}
_PROBA_NAMES = ("probabilities", "output_probability")


class OnnxModel(LoadedModel):
    flavour = "onnx"

    def __init__(self, session, model_proto):
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        self._inputs = inputs
        self._proba_output = next((o.name for o in outputs if o.name in _PROBA_NAMES), None)
        if self._proba_output is None:
            self._proba_output = next((o.name for o in outputs if o.type.startswith("seq(map(")), None)
        self._label_output = next((o.name for o in outputs if o.name != self._proba_output), None)
        task = CLASSIFICATION if self._proba_output else (REGRESSION if len(outputs) == 1 else None)
        per_column = len(inputs) > 1 and all(len(i.shape) == 2 and i.shape[1] == 1 for i in inputs)
        classes = _onnx_classes(model_proto, outputs, self._proba_output) if task == CLASSIFICATION else None
        # Decided once from the graph: names given later by the registry must not switch a single-tensor
        # model to per-column feeding.
        self._per_column = per_column
        super().__init__(session, task=task, feature_names=[i.name for i in inputs] if per_column else None,
                         classes=classes)

    def _feed(self, X) -> dict:
        if self._per_column:
            return {
                i.name: _as_onnx_column(X[i.name], _ONNX_DTYPES.get(i.type, np.float32)) for i in self._inputs
            }
        single = self._inputs[0]
        return {single.name: X.to_numpy(dtype=_ONNX_DTYPES.get(single.type, np.float32))}

    def _run(self, X) -> dict:
        names = [o.name for o in self.estimator.get_outputs()]
        return dict(zip(names, self.estimator.run(None, self._feed(X)), strict=True))

    def predict(self, X):
        outputs = self._run(X)
        if self.task == CLASSIFICATION:
            if self._label_output is not None:
                return np.asarray(outputs[self._label_output]).ravel()
            return self._labels(self._proba(outputs))
        value = np.asarray(outputs[self.estimator.get_outputs()[0].name])
        return value.ravel() if value.ndim == 2 and value.shape[1] == 1 else value

    def predict_proba(self, X):
        if self.task != CLASSIFICATION:
            return None
        return self._proba(self._run(X))

    def _proba(self, outputs) -> np.ndarray:
        proba = outputs[self._proba_output]
        if isinstance(proba, list):  # ZipMap: one {label: probability} dict per row
            keys = self.classes if self.classes is not None else sorted(proba[0]) if proba else []
            return np.array([[row[k] for k in keys] for row in proba], dtype=np.float64).reshape(len(proba), -1)
        return np.asarray(proba)


def _as_onnx_column(column, dtype) -> np.ndarray:
    if dtype is object:
        return np.array([str(v) for v in column], dtype=object).reshape(-1, 1)
    return column.to_numpy(dtype=dtype).reshape(-1, 1)


def _onnx_classes(model_proto, outputs, proba_output) -> list | None:
    from onnx import helper

    wanted = ("classlabels_int64s", "classlabels_strings", "classlabels_ints")
    for op_type in ("ZipMap", None):
        for node in model_proto.graph.node:
            if op_type and node.op_type != op_type:
                continue
            if not op_type and not node.op_type.endswith("Classifier"):
                continue
            for attr in node.attribute:
                if attr.name in wanted:
                    values = helper.get_attribute_value(attr)
                    return [v.decode() if isinstance(v, bytes) else int(v) for v in values]
    shape = next((o.shape for o in outputs if o.name == proba_output), None)
    if shape and len(shape) == 2 and isinstance(shape[1], int):
        return list(range(shape[1]))
    return None


class XGBoostModel(LoadedModel):
    flavour = "xgboost"

    def __init__(self, booster):
        learner = json.loads(booster.save_config())["learner"]
        self.objective = learner["objective"]["name"]
        n_classes = int(learner["learner_model_param"].get("num_class", "0") or 0)
        classification = self.objective.startswith(("binary:", "multi:"))
        classes = list(range(max(n_classes, 2))) if classification else None
        super().__init__(booster, task=CLASSIFICATION if classification else REGRESSION,
                         feature_names=list(booster.feature_names) if booster.feature_names else None,
                         classes=classes)

    def _matrix(self, X):
        import xgboost

        if self.feature_names:
            return xgboost.DMatrix(self._columns(X), enable_categorical=True)
        return xgboost.DMatrix(X.to_numpy())

    def predict(self, X):
        if self.task != CLASSIFICATION:
            return np.asarray(self.estimator.predict(self._matrix(X)))
        if self.objective in ("binary:hinge", "multi:softmax"):
            return np.asarray(self.estimator.predict(self._matrix(X))).astype(int)
        return self._labels(self.predict_proba(X))

    def predict_proba(self, X):
        if self.task != CLASSIFICATION:
            return None
        matrix = self._matrix(X)
        if self.objective == "binary:hinge":
            return None
        if self.objective in ("multi:softmax", "binary:logitraw"):
            margin = np.asarray(self.estimator.predict(matrix, output_margin=True))
            return _softmax(margin) if margin.ndim == 2 else _binary(1 / (1 + np.exp(-margin)))
        proba = np.asarray(self.estimator.predict(matrix))
        return _binary(proba) if proba.ndim == 1 else proba


class LightGBMModel(LoadedModel):
    flavour = "lightgbm"

    def __init__(self, booster, header: dict):
        objective = header.get("objective", "").split(" ")[0]
        classification = objective in ("binary", "multiclass", "multiclassova", "cross_entropy")
        n_classes = int(header.get("num_class", "1"))
        super().__init__(booster, task=CLASSIFICATION if classification else REGRESSION,
                         feature_names=list(booster.feature_name()),
                         classes=list(range(max(n_classes, 2))) if classification else None)

    def predict(self, X):
        if self.task != CLASSIFICATION:
            return np.asarray(self.estimator.predict(self._columns(X)))
        return self._labels(self.predict_proba(X))

    def predict_proba(self, X):
        if self.task != CLASSIFICATION:
            return None
        proba = np.asarray(self.estimator.predict(self._columns(X)))
        return _binary(proba) if proba.ndim == 1 else proba


def _binary(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - p, p])


def _softmax(margin: np.ndarray) -> np.ndarray:
    shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
