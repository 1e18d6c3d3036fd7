"""skops and the pickle allowlist agree on scikit-learn's own estimators and their parts: a standard model is
accepted whichever of the two formats it was saved in (MLPClassifier's AdamOptimizer was refused in skops)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from skops import io as skops_io

from governance import loading

X = pd.DataFrame({"a": np.linspace(0, 1, 60), "b": np.tile([0.0, 1.0, 2.0], 20), "c": np.tile(["x", "y"], 30)})
y = np.where(X["a"] + 0.3 * X["b"] > 0.8, "yes", "no")
NUMERIC = X[["a", "b"]]

FAMILIES = {
    "logistic": lambda: LogisticRegression(max_iter=200),
    "sgd": lambda: SGDClassifier(random_state=0),
    "tree": lambda: DecisionTreeClassifier(max_depth=3),
    "random_forest": lambda: RandomForestClassifier(n_estimators=5, random_state=0),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=5, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=5),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=5),
    "knn": lambda: KNeighborsClassifier(),
    "svc": lambda: SVC(probability=True, random_state=0),
    "naive_bayes": lambda: GaussianNB(),
    "lda": lambda: LinearDiscriminantAnalysis(),
    "mlp_adam": lambda: MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0),
    "mlp_sgd": lambda: MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", max_iter=50, random_state=0),
    "scaled_pipeline": lambda: make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
}


def fitted(name):
    return FAMILIES[name]().fit(NUMERIC, y)


def assert_accepted(data: bytes, flavour: str):
    report = loading.scan_artifact(data, flavour)
    assert report.ok, report.findings
    model = loading.load_model(data, flavour)
    assert len(model.predict(NUMERIC)) == len(NUMERIC)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_loads_from_skops_and_from_pickle(name):
    estimator = fitted(name)
    assert_accepted(pickle.dumps(estimator), "pickle")
    assert_accepted(skops_io.dumps(estimator), "sklearn")


def test_a_column_transformer_with_categories_loads_from_both():
    estimator = make_pipeline(ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])]),
                              LogisticRegression()).fit(X, y)
    for data, flavour in ((pickle.dumps(estimator), "pickle"), (skops_io.dumps(estimator), "sklearn")):
        assert loading.scan_artifact(data, flavour).ok
        assert len(loading.load_model(data, flavour).predict(X)) == len(X)


def test_regressors_too():
    for estimator in (Ridge(), MLPRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0)):
        estimator.fit(NUMERIC, X["a"])
        assert loading.scan_artifact(skops_io.dumps(estimator), "sklearn").ok


def test_a_type_outside_the_allowlist_is_still_refused_in_skops():
    from fractions import Fraction

    estimator = LogisticRegression().fit(NUMERIC, y)
    estimator.extra = Fraction(1, 3)  # neither skops nor the pickle allowlist vouch for fractions.Fraction
    report = loading.scan_artifact(skops_io.dumps(estimator), "sklearn")
    assert not report.ok
    assert any(f.get("global") == "fractions.Fraction" for f in report.as_dict()["findings"])
