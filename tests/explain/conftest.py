"""Real, small models for the analysis tests: trained once per session, wrapped as the registry loads them."""

import functools

import numpy as np
import pandas as pd
import pytest
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from governance.demo.models import CREDIT_CSV, CREDIT_TARGET, credit_pipeline
from governance.loading import load_model
from governance.loading.adapters import SklearnModel

# The demo v2 hyperparameters: the flagship model, as registered.
CREDIT_HGB = {"learning_rate": 0.03, "max_iter": 300, "max_leaf_nodes": 8, "min_samples_leaf": 50,
              "l2_regularization": 1.0, "early_stopping": False, "random_state": 42}


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One OpenMP/BLAS thread, as in the workers: on a busy 2-core machine, OpenMP pools spin and crawl."""
    with threadpool_limits(limits=1):
        yield


@functools.cache
def credit_frame() -> pd.DataFrame:
    return pd.read_csv(CREDIT_CSV)


def credit_xy(n: int | None = None, random_state: int = 0):
    frame = credit_frame()
    if n is not None:
        frame = frame.sample(n, random_state=random_state).sort_index()
    return frame.drop(columns=CREDIT_TARGET), frame[CREDIT_TARGET]


@functools.cache
def credit_hgb() -> SklearnModel:
    X, y = credit_xy()
    return SklearnModel(credit_pipeline(HistGradientBoostingClassifier(**CREDIT_HGB)).fit(X, y), "sklearn")


@functools.cache
def credit_small_hgb() -> SklearnModel:
    X, y = credit_xy()
    params = {**CREDIT_HGB, "max_iter": 40}
    return SklearnModel(credit_pipeline(HistGradientBoostingClassifier(**params)).fit(X, y), "sklearn")


@functools.cache
def credit_logistic() -> SklearnModel:
    X, y = credit_xy()
    return SklearnModel(credit_pipeline(LogisticRegression(max_iter=1000)).fit(X, y), "sklearn")


@functools.cache
def credit_forest() -> SklearnModel:
    X, y = credit_xy()
    forest = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0)
    return SklearnModel(credit_pipeline(forest).fit(X, y), "sklearn")


def sklearn_frame(loader, *, names: bool = True):
    bunch = loader(as_frame=True)
    y = pd.Series(np.asarray(bunch.target_names)[bunch.target], name="target") if names else bunch.target
    return bunch.data, y


@functools.cache
def wine_logistic() -> SklearnModel:
    X, y = sklearn_frame(load_wine)
    return SklearnModel(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y), "sklearn")


@functools.cache
def diabetes_forest() -> SklearnModel:
    X, y = sklearn_frame(load_diabetes, names=False)
    return SklearnModel(RandomForestRegressor(n_estimators=30, min_samples_leaf=5, random_state=0).fit(X, y),
                        "sklearn")


@functools.cache
def diabetes_ridge() -> SklearnModel:
    X, y = sklearn_frame(load_diabetes, names=False)
    return SklearnModel(Ridge(alpha=0.1).fit(X, y), "sklearn")


def onnx_model(estimator, X: pd.DataFrame):
    """`estimator` (fitted on float32 X) as ONNX, loaded through the registry's safe loader."""
    onx = to_onnx(estimator, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
                  target_opset={"": 17, "ai.onnx.ml": 3}, options={id(estimator): {"zipmap": False}})
    return load_model(onx.SerializeToString(), "onnx")


@functools.cache
def breast_cancer_onnx():
    X, y = sklearn_frame(load_breast_cancer)
    model = LogisticRegression(max_iter=5000).fit(X.to_numpy(np.float32), y)
    return onnx_model(model, X)


@functools.cache
def wine_forest_onnx():
    X, y = sklearn_frame(load_wine)
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(X.to_numpy(np.float32), y)
    return onnx_model(model, X)


@functools.cache
def breast_cancer_xgboost():
    import xgboost

    X, y = sklearn_frame(load_breast_cancer, names=False)
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3}, xgboost.DMatrix(X, label=y),
                            num_boost_round=15)
    return load_model(bytes(booster.save_raw("json")), "xgboost")


@functools.cache
def wine_lightgbm():
    import lightgbm

    X, y = sklearn_frame(load_wine, names=False)
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "num_leaves": 4},
                             lightgbm.Dataset(X, label=y), num_boost_round=10)
    return load_model(booster.model_to_string().encode(), "lightgbm")


def no_progress(percent, message):
    return None


# (name, model factory, X/y factory, task): the flavours and tasks every analysis must handle.
CASES = {
    "credit-hgb": (credit_small_hgb, lambda: credit_xy(120), "classification"),
    "wine-logistic": (wine_logistic, lambda: sklearn_frame(load_wine), "classification"),
    "diabetes-forest": (diabetes_forest, lambda: sklearn_frame(load_diabetes, names=False), "regression"),
    "breast-cancer-onnx": (breast_cancer_onnx, lambda: sklearn_frame(load_breast_cancer), "classification"),
    "wine-forest-onnx": (wine_forest_onnx, lambda: sklearn_frame(load_wine), "classification"),
    "breast-cancer-xgboost": (breast_cancer_xgboost, lambda: _underscored(load_breast_cancer), "classification"),
    "wine-lightgbm": (wine_lightgbm, lambda: sklearn_frame(load_wine, names=False), "classification"),
}


def _underscored(loader):
    X, y = sklearn_frame(loader, names=False)
    return X.rename(columns=lambda c: c.replace(" ", "_")), y


def case(name: str, n: int | None = 60):
    model_factory, data_factory, task = CASES[name]
    X, y = data_factory()
    if n is not None and len(X) > n:
        X = X.sample(n, random_state=1).sort_index()
        y = y.loc[X.index]
    return model_factory(), X, y, task
