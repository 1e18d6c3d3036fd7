"""Real, small models and data for the robustness tests: trained once per session, wrapped as the registry loads
them. The credit pipeline is the flagship's recipe (categoricals and missing values), with fewer boosting rounds."""

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from governance.demo.models import CREDIT_CSV, CREDIT_TARGET, credit_pipeline
from governance.loading.adapters import SklearnModel

HGB = {"learning_rate": 0.1, "max_iter": 40, "max_leaf_nodes": 8, "min_samples_leaf": 50, "l2_regularization": 1.0,
       "early_stopping": False, "random_state": 42}


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One OpenMP/BLAS thread, as in the workers."""
    with threadpool_limits(limits=1):
        yield


def no_progress(percent, message):
    return None


@functools.cache
def credit_split():
    """(X_train, y_train, X_eval, y_eval): the demo's stratified 75/25 split of the credit data."""
    frame = pd.read_csv(CREDIT_CSV)
    train, evaluation = train_test_split(frame, test_size=0.25, random_state=42, stratify=frame[CREDIT_TARGET])
    return (train.drop(columns=CREDIT_TARGET), train[CREDIT_TARGET], evaluation.drop(columns=CREDIT_TARGET),
            evaluation[CREDIT_TARGET])


def credit_sample(n: int = 300):
    _, _, X, y = credit_split()
    X = X.sample(n, random_state=1).sort_index()
    return X, y.loc[X.index]


@functools.cache
def credit_hgb() -> SklearnModel:
    X, y, _, _ = credit_split()
    return SklearnModel(credit_pipeline(HistGradientBoostingClassifier(**HGB)).fit(X, y), "sklearn")


@functools.cache
def credit_logistic() -> SklearnModel:
    X, y, _, _ = credit_split()
    return SklearnModel(credit_pipeline(LogisticRegression(max_iter=1000)).fit(X, y), "sklearn")


@functools.cache
def wine_split():
    bunch = load_wine(as_frame=True)
    y = pd.Series(np.asarray(bunch.target_names)[bunch.target], name="target")
    return train_test_split(bunch.data, y, test_size=0.3, random_state=0, stratify=y)


@functools.cache
def wine_logistic() -> SklearnModel:
    X_train, _, y_train, _ = wine_split()
    return SklearnModel(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train),
                        "sklearn")


@functools.cache
def diabetes_split():
    bunch = load_diabetes(as_frame=True)
    return train_test_split(bunch.data, bunch.target, test_size=0.3, random_state=0)


@functools.cache
def diabetes_ridge() -> SklearnModel:
    X_train, _, y_train, _ = diabetes_split()
    return SklearnModel(Ridge(alpha=0.1).fit(X_train, y_train), "sklearn")
