"""Robustness numbers checked against what they must be, on problems whose answer is known."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from explain.analyses import AnalysisError
from explain.robustness import ROBUSTNESS, check_suspect
from explain.robustness.fingerprint import fingerprint_inputs
from governance.loading.adapters import SklearnModel

from .conftest import (
    credit_hgb,
    credit_logistic,
    credit_sample,
    credit_split,
    diabetes_ridge,
    diabetes_split,
    no_progress,
)


def run(kind, model, X, y, task="classification", **params):
    result = ROBUSTNESS[kind].run(model, X, y, task=task, params=params, progress=no_progress)
    extra = {key: result.pop(key) for key in ("_new_model", "_detector") if key in result}
    json.dumps(result, allow_nan=False)
    return result, extra


def frame(array, prefix="x"):
    return pd.DataFrame(array, columns=[f"{prefix}{j}" for j in range(array.shape[1])])


# --- stress test ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_level_zero_of_every_curve_reproduces_the_clean_metric_exactly(metric):
    from sklearn.metrics import f1_score, roc_auc_score

    model = credit_hgb()
    X, y = credit_sample(250)
    result, _ = run("stress_test", model, X, y, metric=metric, positive_class="bad", sensitivity_repeats=1)

    if metric == "accuracy":
        expected = accuracy_score(y, model.predict(X))
    elif metric == "f1":
        expected = f1_score(y, model.predict(X), pos_label="bad")
    else:
        expected = roc_auc_score(y == "bad", model.predict_proba(X)[:, list(model.classes).index("bad")])
    assert result["clean_score"] == expected
    for name, points in result["curves"].items():
        assert points[0]["level"] == 0
        assert points[0]["score"] == expected, name  # exactly, not approximately
        assert points[0]["drop"] == 0 and points[0]["prediction_change"] == 0
    noisy = result["curves"]["noise"][-1]
    assert noisy["level"] == 1.0 and noisy["score"] != expected and noisy["prediction_change"] > 0


def test_the_breaking_level_is_the_first_level_whose_drop_exceeds_max_drop():
    X_train, X_eval, y_train, y_eval = diabetes_split()
    result, _ = run("stress_test", diabetes_ridge(), X_eval, y_eval, task="regression", max_drop=0.05,
                    _training=(X_train, y_train))
    for name, points in result["curves"].items():
        over = [p["level"] for p in points if p["drop"] > 0.05]
        assert result["breaking_levels"][name] == (over[0] if over else None)
    assert result["curves"]["noise"][0]["score"] == pytest.approx(result["clean_score"], abs=0)


# --- evasion ----------------------------------------------------------------------------------------------------


def blobs(distance: float, n: int = 400, seed: int = 0):
    generator = np.random.default_rng(seed)
    half = n // 2
    X = np.vstack([generator.normal(-distance / 2, 1.0, size=(half, 2)), generator.normal(distance / 2, 1.0,
                                                                                          size=(half, 2))])
    y = np.array(["left"] * half + ["right"] * half)
    return frame(X), pd.Series(y)


def test_a_huge_margin_resists_small_eps_and_falls_to_large_eps():
    X, y = blobs(distance=20)  # centres 20 apart along each axis, unit spread: std per feature ≈ 10
    model = SklearnModel(LogisticRegression().fit(X, y), "sklearn")
    result, _ = run("adversarial_evasion", model, X, y, n_samples=40, eps=[0.1, 2.0], attacks=["fgsm", "pgd"])

    by = {(r["attack"], r["eps"]): r for r in result["results"]}
    for attack in ("fgsm", "pgd"):
        assert by[(attack, 0.1)]["success_rate"] <= 0.025  # ~1 std of margin per row: 0.1 std cannot cross it
        assert by[(attack, 0.1)]["robust_accuracy"] >= 0.975
        assert by[(attack, 2.0)]["success_rate"] >= 0.9  # and the attack does work when eps reaches the boundary
    assert result["clean_accuracy"] == 1.0


def test_the_black_box_attack_finds_the_boundary_of_a_linear_model():
    X, y = blobs(distance=4)
    model = SklearnModel(LogisticRegression().fit(X, y), "sklearn")
    result, _ = run("adversarial_evasion", model, X, y, n_samples=10, eps=[0.05, 5.0], attacks=["hop_skip_jump"],
                    hsj_max_iter=10)
    found = result["hop_skip_jump_unbounded"]
    assert all(r["eps"] is not None for r in result["results"])  # eps-bounded records only
    assert found["success_rate"] == 1.0  # every correctly classified row has a boundary somewhere
    # the exact L2 distance of each row to the logistic boundary, in std units, bounds what HopSkipJump can find
    logistic = model.estimator
    std = X.std(ddof=0).to_numpy()
    rows = X.loc[result["rows_used"]].to_numpy()
    exact = np.abs(rows @ logistic.coef_[0] + logistic.intercept_[0]) / np.linalg.norm(logistic.coef_[0] * std)
    assert found["median_l2_std"] >= np.median(exact) * 0.99
    assert found["median_l2_std"] <= np.median(exact) * 1.5


def test_adversarial_examples_keep_categories_and_missing_values():
    model = credit_logistic()
    X, y = credit_sample(200)
    result, _ = run("adversarial_evasion", model, X, y, n_samples=15, eps=[0.5], attacks=["pgd"], n_examples=5)
    assert result["examples"], "PGD at 0.5 std should break some rows of the logistic credit model"
    for example in result["examples"]:
        original, adversarial = example["original"], example["adversarial"]
        for column in ("Home", "Marital", "Records", "Job"):
            assert adversarial[column] == original[column]
        for column in ("Income", "Assets", "Debt"):
            assert (adversarial[column] is None) == (original[column] is None)
        assert example["prediction"][0] != example["prediction"][1]
        _, _, X_eval, _ = credit_split()
        row = pd.DataFrame([adversarial])[list(X.columns)]
        assert model.predict(row)[0] == example["prediction"][1]  # the decoded row really fools the model


# --- membership inference ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_problem():
    X, y = make_classification(n_samples=1200, n_features=6, n_informative=4, flip_y=0.3, random_state=0)
    X, y = frame(X), pd.Series(np.where(y == 1, "yes", "no"))
    return X.iloc[:600], y.iloc[:600], X.iloc[600:].reset_index(drop=True), y.iloc[600:].reset_index(drop=True)


def test_a_one_nearest_neighbour_model_leaks_membership_and_a_regularised_logistic_does_not(noisy_problem):
    X_train, y_train, X_out, y_out = noisy_problem
    memorising = SklearnModel(KNeighborsClassifier(n_neighbors=1).fit(X_train, y_train), "sklearn")
    regularised = SklearnModel(LogisticRegression(C=1e-4).fit(X_train, y_train), "sklearn")

    leaky, _ = run("membership_inference", memorising, X_out, y_out, _training=(X_train, y_train))
    tight, _ = run("membership_inference", regularised, X_out, y_out, _training=(X_train, y_train))

    assert leaky["attack"]["advantage"] > 0.25 and leaky["vulnerable"]
    assert leaky["attack"]["advantage"] == pytest.approx(2 * leaky["attack"]["accuracy"] - 1)
    assert abs(tight["attack"]["advantage"]) < 0.1 and not tight["vulnerable"]
    assert leaky["members"] == leaky["non_members"] == 500  # max_rows_per_group
    assert leaky["rule_based"]["advantage"] > 0.2  # 1-NN is always right on its training rows


# --- model extraction -------------------------------------------------------------------------------------------


def test_unlimited_queries_copy_a_depth_two_tree_almost_perfectly():
    X, y = make_classification(n_samples=800, n_features=5, n_informative=3, random_state=1)
    X, y = frame(X), pd.Series(y)
    tree = SklearnModel(DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y), "sklearn")
    result, _ = run("model_extraction", tree, X, y, budgets=[30, 5000], modes=["probabilities", "labels"])

    for mode in ("probabilities", "labels"):
        points = {p["budget"]: p for p in result["points"] if p["mode"] == mode}
        assert points[5000]["fidelity"] > 0.97, mode
    assert result["best"]["fidelity"] > 0.97


# --- poisoning --------------------------------------------------------------------------------------------------


def test_flipping_labels_hurts_and_rate_zero_refits_the_recipe():
    X_train, y_train, _, _ = credit_split()
    X, y = credit_sample(300)
    model = credit_logistic()
    result, _ = run("poisoning", model, X, y, rates=[0.1, 0.4], _training=(X_train, y_train))
    points = {p["rate"]: p for p in result["points"]}
    assert set(points) == {0.0, 0.1, 0.4}
    assert points[0.0]["score"] == pytest.approx(result["registered_score"])  # same data, same recipe
    assert points[0.1]["rows_flipped"] == round(0.1 * len(X_train))
    assert points[0.4]["score"] < points[0.0]["score"]
    assert result["drop_at_10_percent"] == pytest.approx(points[0.1]["drop"])


# --- hardening --------------------------------------------------------------------------------------------------


def test_adversarial_training_reports_the_clean_accuracy_change_on_the_same_rows():
    X_train, y_train, _, _ = credit_split()
    X, y = credit_sample(300)
    model = credit_logistic()
    result, extra = run("adversarial_training", model, X, y, n_adversarial=150, n_samples=8, attacks=["pgd"],
                        eps=[0.3], _training=(X_train, y_train))
    new = extra["_new_model"]["estimator"]

    rows = result["rows_used"]
    assert rows == X.index.tolist()
    before = accuracy_score(y.loc[rows], model.predict(X.loc[rows]))
    after = accuracy_score(y.loc[rows], new.predict(X.loc[rows]))
    assert result["clean_before"]["accuracy"] == before
    assert result["clean_after"]["accuracy"] == after
    assert result["clean_accuracy_change"] == pytest.approx(after - before)
    sentence = result["summary"]["Clean accuracy"]
    assert ("dropped" in sentence) == (after < before) and ("rose" in sentence) == (after > before)
    assert result["augmentation"]["rows_added"] == 150
    assert sentence in extra["_new_model"]["notes"]
    assert {"success_before", "success_after"} <= set(result["robustness"][0])


def test_defensive_distillation_returns_a_student_over_the_original_columns():
    X_train, y_train, _, _ = credit_split()
    X, y = credit_sample(200)
    result, extra = run("defensive_distillation", credit_hgb(), X, y, n_samples=4, hsj_max_iter=1,
                        _training=(X_train.iloc[:1200], y_train.iloc[:1200]))
    student = extra["_new_model"]["estimator"]
    agreement = np.mean(student.predict(X) == credit_hgb().predict(X))
    assert result["fidelity"] == pytest.approx(agreement) and agreement > 0.85
    assert "Clean accuracy" in result["summary"]["Clean accuracy"]
    assert result["clean_accuracy_change"] == pytest.approx(result["clean_after"]["accuracy"] -
                                                            result["clean_before"]["accuracy"])


# --- cross-validation --------------------------------------------------------------------------------------------


def test_cross_validation_flags_high_variance_on_a_tiny_noisy_sample():
    X, y = make_classification(n_samples=60, n_features=4, flip_y=0.4, random_state=3)
    X, y = frame(X), pd.Series(y)
    model = SklearnModel(DecisionTreeClassifier(random_state=0).fit(X, y), "sklearn")
    result, _ = run("cross_validation", model, X, y, k=5, high_variance_threshold=0.05)
    accuracies = [fold["metrics"]["accuracy"] for fold in result["folds"]]
    assert result["std"]["accuracy"] == pytest.approx(np.std(accuracies))
    assert result["high_variance"] and "accuracy" in result["high_variance_metrics"]
    assert sum(fold["test_rows"] for fold in result["folds"]) == 60


# --- fingerprint ------------------------------------------------------------------------------------------------


def test_a_fingerprint_recognises_the_model_and_not_an_unrelated_one():
    model = credit_hgb()
    X, y = credit_sample(300)
    result, _ = run("fingerprint", model, X, y)
    stored = json.loads(json.dumps(result))  # what the engine keeps
    rows = fingerprint_inputs(stored)
    assert len(rows) == 80 and list(rows.columns) == list(X.columns)

    itself = check_suspect(stored, model.predict(rows).tolist())
    assert itself["match_rate"] == 1.0 and itself["p_value"] < 1e-6

    X_train, y_train, _, _ = credit_split()
    shuffled = pd.Series(np.random.default_rng(0).permutation(y_train.to_numpy()), index=y_train.index)
    from governance.demo.models import credit_pipeline

    unrelated = credit_pipeline(RandomForestClassifier(n_estimators=30, random_state=0)).fit(X_train, shuffled)
    other = check_suspect(stored, {"probabilities": unrelated.predict_proba(rows).tolist()})
    assert abs(other["match_rate"] - other["chance_agreement"]) < 0.2
    assert other["p_value"] > 0.01
    assert 0 < other["chance_agreement"] < 1

    # Outputs in another vocabulary (0/1 for "good"/"bad") would match nothing: say so instead of "no evidence".
    with pytest.raises(AnalysisError, match="none of the suspect's outputs"):
        check_suspect(stored, [i % 2 for i in range(len(rows))])
