"""The demo models: trained for real, and every stored metric recomputed from the stored bytes."""

import io
import json
import pickle
import time

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import skops.io as sio
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from governance.choices import Flavour, RiskTier, Task
from governance.demo import models as demo
from governance.models import MODEL_CARD_FIELDS

EXPECTED = {
    "credit-scoring": [
        ("sklearn", "LogisticRegression"),
        ("sklearn", "HistGradientBoostingClassifier"),
        ("joblib", "HistGradientBoostingClassifier"),
    ],
    "breast-cancer": [
        ("sklearn", "GradientBoostingClassifier"),
        ("sklearn", "RandomForestClassifier"),
        ("onnx", "LogisticRegression"),
    ],
    "wine": [("sklearn", "LogisticRegression"), ("onnx", "RandomForestClassifier")],
    "diabetes": [("sklearn", "Ridge"), ("sklearn", "RandomForestRegressor"), ("pickle", "RandomForestRegressor")],
}
CREDIT_FEATURES = [
    "Seniority", "Home", "Time", "Age", "Marital", "Records", "Job",
    "Expenses", "Income", "Assets", "Debt", "Amount", "Price",
]  # fmt: skip
# What skops refuses to load unless someone trusts it: tree structures (their node arrays hold unchecked indices).
UNTRUSTED = {
    "credit-scoring-logreg-v1.skops": [],
    "credit-scoring-hgb-v2.skops": ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"],
    "breast-cancer-gb-v1.skops": ["sklearn.tree._tree.Tree"],
    "breast-cancer-rf-v2.skops": ["sklearn.tree._tree.Tree"],
    "wine-logreg-v1.skops": [],
    "diabetes-ridge-v1.skops": [],
    "diabetes-rf-v2.skops": ["sklearn.tree._tree.Tree"],
}


@pytest.fixture(scope="module")
def built():
    demo._cached_build.cache_clear()
    started = time.perf_counter()
    models = demo.build_demo_models()
    print(f"\nbuild_demo_models() took {time.perf_counter() - started:.2f} s")
    return {model.name: model for model in models}


def read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data))


def load(version):
    """Our own freshly made bytes, so the unsafe loaders are acceptable here."""
    if version.flavour == "sklearn":
        return sio.loads(version.artifact, trusted=sio.get_untrusted_types(data=version.artifact))
    if version.flavour == "joblib":
        return joblib.load(io.BytesIO(version.artifact))
    if version.flavour == "pickle":
        return pickle.loads(version.artifact)
    raise AssertionError(version.flavour)


def predict(version, X):
    """(predicted labels or values, class probabilities or None), from the artifact alone."""
    if version.flavour == "onnx":
        session = ort.InferenceSession(version.artifact, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["input"]
        labels, proba = session.run(["label", "probabilities"], {"input": X.to_numpy(dtype=np.float32)})
        return np.asarray(labels), proba
    model = load(version)
    return model.predict(X), (model.predict_proba(X) if hasattr(model, "predict_proba") else None)


def recompute(model, version):
    evaluation = read_csv(model.evaluation_csv)
    X, y = evaluation[version.feature_names], evaluation[model.target_column].to_numpy()
    y_pred, proba = predict(version, X)
    if model.task == "regression":
        return {
            "r2": r2_score(y, y_pred),
            "mae": mean_absolute_error(y, y_pred),
            "rmse": root_mean_squared_error(y, y_pred),
        }
    if model.positive_class is not None:
        column = version.class_labels.index(model.positive_class)
        f1 = f1_score(y, y_pred, pos_label=model.positive_class)
        roc_auc = roc_auc_score(y == model.positive_class, proba[:, column])
    else:
        f1 = f1_score(y, y_pred, average="macro")
        roc_auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=version.class_labels)
    return {
        "accuracy": accuracy_score(y, y_pred),
        "f1": f1,
        "roc_auc": roc_auc,
        "balanced_accuracy": balanced_accuracy_score(y, y_pred),
    }


def test_four_models_with_the_expected_versions_and_flavours(built):
    assert list(built) == list(EXPECTED)
    for name, expected in EXPECTED.items():
        model = built[name]
        assert [(v.flavour, v.params["estimator"]) for v in model.versions] == expected
        assert model.task in Task.values and model.risk_tier in RiskTier.values
        for version in model.versions:
            assert version.flavour in Flavour.values
            assert version.filename.startswith(f"{name}-") and version.notes
            json.dumps([version.params, version.metrics, version.feature_names, version.class_labels])
    assert built["credit-scoring"].risk_tier == "high"
    assert {built[name].risk_tier for name in ("breast-cancer", "wine", "diabetes")} <= {"low", "medium"}


def test_splits_are_csv_with_original_columns_and_target(built):
    credit = built["credit-scoring"]
    training, evaluation = read_csv(credit.training_csv), read_csv(credit.evaluation_csv)
    assert list(training.columns) == ["Status", *CREDIT_FEATURES]
    assert (len(training), len(evaluation)) == (3340, 1114)
    assert training["Income"].isna().any() and evaluation["Income"].isna().any()
    # stratified: both splits keep the ~28% bad rate
    for frame in (training, evaluation):
        assert frame["Status"].eq("bad").mean() == pytest.approx(0.2815, abs=0.002)
    for version in credit.versions:
        assert version.feature_names == CREDIT_FEATURES and version.class_labels == ["bad", "good"]

    for name in ("breast-cancer", "wine", "diabetes"):
        model = built[name]
        training = read_csv(model.training_csv)
        assert model.target_column == "target"
        assert list(training.columns) == [*model.versions[0].feature_names, "target"]
    assert sorted(read_csv(built["wine"].evaluation_csv)["target"].unique()) == ["class_0", "class_1", "class_2"]
    assert built["wine"].versions[1].class_labels == ["class_0", "class_1", "class_2"]
    assert built["breast-cancer"].versions[2].class_labels == ["benign", "malignant"]
    assert built["diabetes"].versions[0].class_labels == []


def test_metrics_are_plausible(built):
    credit = [v.metrics for v in built["credit-scoring"].versions]
    assert credit[1]["roc_auc"] >= 0.80
    assert credit[1]["roc_auc"] >= credit[0]["roc_auc"] - 0.02
    assert all(0.5 < m["f1"] < 0.9 for m in credit)  # F1 of "bad", the minority class
    assert all(v.metrics["accuracy"] >= 0.9 for v in built["breast-cancer"].versions)
    assert all(v.metrics["accuracy"] >= 0.85 for v in built["wine"].versions)
    assert all(v.metrics["r2"] >= 0.3 for v in built["diabetes"].versions)
    assert all(set(v.metrics) == {"r2", "mae", "rmse"} for v in built["diabetes"].versions)


def test_stored_metrics_match_those_recomputed_from_the_artifacts(built):
    for model in built.values():
        for version in model.versions:
            tolerance = 1e-4 if version.flavour == "onnx" else 1e-9
            recomputed = recompute(model, version)
            assert recomputed.keys() == version.metrics.keys()
            for key, value in recomputed.items():
                assert version.metrics[key] == pytest.approx(value, abs=tolerance), (version.filename, key)


def test_skops_artifacts_list_only_tree_types_as_untrusted(built):
    found = {
        version.filename: sio.get_untrusted_types(data=version.artifact)
        for model in built.values()
        for version in model.versions
        if version.flavour == "sklearn"
    }
    print("\nuntrusted skops types:", json.dumps(found, indent=1))
    assert found == UNTRUSTED
    # the linear ones load with skops' defaults, nothing trusted by hand
    assert sio.loads(built["credit-scoring"].versions[0].artifact).predict(
        read_csv(built["credit-scoring"].evaluation_csv)[CREDIT_FEATURES].head()
    ).shape == (5,)


def test_credit_pipeline_takes_raw_columns_with_missing_values_and_unseen_categories(built):
    rows = pd.DataFrame(
        [
            {"Seniority": 0, "Home": "houseboat", "Time": 48, "Age": 22, "Marital": None, "Records": "yes",
             "Job": None, "Expenses": 45, "Income": np.nan, "Assets": np.nan, "Debt": np.nan, "Amount": 1500,
             "Price": 1600},
            {"Seniority": 12, "Home": "owner", "Time": 36, "Age": 45, "Marital": "married", "Records": "no",
             "Job": "fixed", "Expenses": 60, "Income": 200.0, "Assets": 5000.0, "Debt": 0.0, "Amount": 900,
             "Price": 1400},
        ],  # fmt: skip
        columns=CREDIT_FEATURES,
    ).astype({"Home": object, "Marital": object, "Job": object, "Records": object})
    for version in built["credit-scoring"].versions:
        model = load(version)
        proba = model.predict_proba(rows)
        assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
        assert set(model.predict(rows)) <= {"bad", "good"}
        bad = list(model.classes_).index("bad")
        assert proba[0, bad] > proba[1, bad]  # no income declared, default records, no job: riskier
        encoded = pd.DataFrame(model[:-1].transform(rows), columns=model[:-1].get_feature_names_out())
        assert not encoded.isna().any().any()
        assert encoded.filter(like="categorical__Home_").iloc[0].eq(0).all()  # "houseboat": ignored
        assert encoded.loc[0, "numeric__missingindicator_Income"] == 1


def test_model_cards_are_filled_except_two_sections_of_the_wine_card(built):
    sections = [name for name, _, _ in MODEL_CARD_FIELDS]
    for model in built.values():
        assert list(model.card) == sections
        empty = [name for name, text in model.card.items() if not text.strip()]
        assert empty == (["quantitative_analyses", "caveats_and_recommendations"] if model.name == "wine" else [])
    credit = " ".join(built["credit-scoring"].card.values())
    for phrase in ("Annex III", "Age", "Marital", "28.2%", "Income", "adverse-action", "Records: yes"):
        assert phrase.lower() in credit.lower(), phrase


def test_build_is_deterministic(built):
    again = {model.name: model for model in demo._build_demo_models()}
    for name, model in built.items():
        other = again[name]
        assert other.training_csv == model.training_csv and other.evaluation_csv == model.evaluation_csv
        assert other.card == model.card
        assert [v.metrics for v in other.versions] == [v.metrics for v in model.versions]
        assert [v.params for v in other.versions] == [v.params for v in model.versions]


def test_build_is_cached_per_process(built):
    assert demo.build_demo_models()[0] is built["credit-scoring"]
