"""Permutation importance and rule extraction: numbers checked against what they must be."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from explain.analyses import permutation_importance, rule_extraction
from governance.loading.adapters import SklearnModel

from .conftest import credit_small_hgb, credit_xy, no_progress, sklearn_frame, wine_forest_onnx

INFORMATIVE = ["mean radius", "mean texture", "worst smoothness"]  # each carries signal the others lack


def run(module, model, X, y, task="classification", **params):
    result = module.run(model, X, y, task=task, params=params, progress=no_progress)
    json.dumps(result, allow_nan=False)
    return result


@pytest.fixture(scope="module")
def forest_with_noise():
    X, y = sklearn_frame(load_breast_cancer)
    X = X[INFORMATIVE].copy()
    X["noise"] = np.random.default_rng(0).normal(size=len(X))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(X_train, y_train)
    return SklearnModel(forest, "sklearn"), X_test, y_test


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "balanced_accuracy", "f1"])
def test_a_pure_noise_feature_ranks_last(forest_with_noise, metric):
    model, X, y = forest_with_noise
    result = run(permutation_importance, model, X, y, metric=metric, n_repeats=5)

    assert result["importances"][-1]["feature"] == "noise"
    assert "noise" in result["noise_level"]
    assert result["importances"][0]["mean"] > 0.01
    assert result["metric"] == metric and 0.5 < result["baseline_score"] <= 1
    assert all(len(item["values"]) == 5 for item in result["importances"])
    means = [item["mean"] for item in result["importances"]]
    assert means == sorted(means, reverse=True)
    bar = result["charts"][0]["figure"]["data"][0]
    assert bar["error_x"]["array"] and bar["y"][0] == "noise"  # largest at the top of the horizontal bar


def test_importance_is_the_drop_in_the_score_when_a_column_is_shuffled(forest_with_noise):
    from sklearn.metrics import roc_auc_score

    model, X, y = forest_with_noise
    result = run(permutation_importance, model, X, y, n_repeats=1, random_state=3)
    baseline = roc_auc_score(y == "malignant", model.predict_proba(X)[:, 1])

    assert result["baseline_score"] == pytest.approx(baseline)
    for item in result["importances"]:
        assert -0.2 < item["mean"] < baseline - 0.4  # a drop, bounded by the AUC of a random ranking


def test_permutation_importance_on_categorical_columns_with_missing_values():
    X, y = credit_xy(300)
    result = run(permutation_importance, credit_small_hgb(), X, y, n_repeats=2, positive_class="bad")

    assert result["metric"] == "roc_auc" and result["method"]["metric_about"] == "P(class 'bad')"
    assert {item["feature"] for item in result["importances"]} == set(X.columns)


def test_regression_and_multiclass_metrics():
    X, y = sklearn_frame(load_diabetes, names=False)
    from .conftest import diabetes_forest

    result = run(permutation_importance, diabetes_forest(), X.iloc[:150], y.iloc[:150], task="regression",
                 metric="neg_mean_absolute_error", n_repeats=2)
    assert result["metric"] == "neg_mean_absolute_error" and result["baseline_score"] < 0
    from sklearn.datasets import load_wine

    X, y = sklearn_frame(load_wine)
    result = run(permutation_importance, wine_forest_onnx(), X, y, metric="roc_auc", n_repeats=2)
    assert result["metric"] == "roc_auc_ovr"


# --- rule extraction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_surrogate_of_a_depth_3_tree_has_fidelity_1_and_supports_sum_to_100_percent(seed):
    """Whole-number features, so that the surrogate's thresholds (midpoints between the training part's values)
    separate the held-out rows exactly as the model's do; see the next test for continuous features."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.integers(0, 10, size=(1500, 4)), columns=["a", "b", "c", "d"])
    rule = ((X["a"] > 4) & (X["b"] < 7)) | (X["c"] > 7)
    y = pd.Series(np.where(rng.random(1500) < 0.15, rng.integers(0, 2, 1500), rule), name="y").map({0: "no",
                                                                                                     1: "yes"})
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    result = run(rule_extraction, SklearnModel(tree, "sklearn"), X, y, depth=3, random_state=seed)

    assert result["fidelity"] == 1.0 and result["fidelity_train"] == 1.0
    assert len(result["held_out_rows"]) == 450
    assert sum(rule["support"] for rule in result["rules"]) == pytest.approx(1.0)
    assert all(rule["text"].startswith("IF ") and " THEN " in rule["text"] for rule in result["rules"])
    assert all(rule["held_out_fidelity"] in (None, 1.0) for rule in result["rules"])


def test_surrogate_of_a_depth_3_tree_on_continuous_features_is_close_but_greedy():
    X, y = sklearn_frame(load_breast_cancer)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    result = run(rule_extraction, SklearnModel(tree, "sklearn"), X, y, depth=3)

    # greedy splits learnt from 70% of the rows need not find the model's own partition
    assert 0.9 < result["fidelity"] <= 1.0 and result["fidelity_train"] > 0.98
    assert sum(rule["support"] for rule in result["rules"]) == pytest.approx(1.0)


def test_each_rule_describes_exactly_the_rows_in_its_leaf():
    """Evaluate every rule's conditions on the data ourselves: each row satisfies exactly one rule, and the rows
    that satisfy a rule are the training rows the surrogate put in that leaf."""
    X, y = credit_xy(400)
    result = run(rule_extraction, credit_small_hgb(), X, y, depth=3)
    train = X.loc[result["train_rows"]]

    masks = [_rule_mask(train, rule["conditions"]) for rule in result["rules"]]
    assert (np.sum(masks, axis=0) == 1).all()
    for rule, mask in zip(result["rules"], masks, strict=True):
        assert mask.sum() == rule["train_rows"]
        assert rule["support"] == pytest.approx(mask.mean())


def _rule_mask(frame: pd.DataFrame, conditions: list[str]) -> np.ndarray:
    """A small reader for the rule syntax, independent of the code that wrote it."""
    mask = np.ones(len(frame), dtype=bool)
    for condition in conditions:
        if condition.startswith("("):
            condition = condition[1:-1]
        parts = [p.strip() for p in condition.split(" or ")]
        part_mask = np.zeros(len(frame), dtype=bool)
        for part in parts:
            part = part.removesuffix(" (not missing)")
            if m := re.fullmatch(r"(\w+) is missing", part):
                part_mask |= frame[m[1]].isna().to_numpy()
            elif m := re.fullmatch(r"(\w+) is not missing", part):
                part_mask |= frame[m[1]].notna().to_numpy()
            elif m := re.fullmatch(r"([\d.e+-]+) < (\w+) <= ([\d.e+-]+)", part):
                values = frame[m[2]]
                part_mask |= ((values > float(m[1])) & (values <= float(m[3]))).fillna(False).to_numpy()
            elif m := re.fullmatch(r"(\w+) (<=|>) ([\d.e+-]+)", part):
                values = frame[m[1]]
                hit = values <= float(m[3]) if m[2] == "<=" else values > float(m[3])
                part_mask |= hit.fillna(False).to_numpy()
            elif m := re.fullmatch(r"(\w+) (==|!=) (\w+)", part):
                hit = frame[m[1]].astype(object) == m[3]
                part_mask |= (hit if m[2] == "==" else ~hit).to_numpy()
            elif m := re.fullmatch(r"(\w+) (not in|in) \{(.*)\}", part):
                values = {v.strip() for v in m[3].split(",")}
                column = frame[m[1]].astype(object)
                hit = column.isin(values - {"missing"}) | (column.isna() if "missing" in values else False)
                part_mask |= (hit if m[2] == "in" else ~hit).to_numpy()
            else:
                raise AssertionError(f"unreadable condition {part!r}")
        mask &= part_mask
    return mask


def test_missing_values_and_categories_are_decoded_in_the_rules():
    X, y = credit_xy(600)
    result = run(rule_extraction, credit_small_hgb(), X, y, depth=4)
    text = " ".join(rule["text"] for rule in result["rules"])

    assert re.search(r"(Records|Job|Home|Marital) (==|!=|in|not in) ", text)
    assert "Income" in text and ("missing" in text)
    assert result["method"]["encoding"]["missing_sentinels"]["Income"] < X["Income"].min()


def test_baselines_on_true_labels_sit_next_to_the_model():
    X, y = credit_xy(600)
    result = run(rule_extraction, credit_small_hgb(), X, y, depth=3)
    scores = result["baselines"]["scores"]

    assert list(scores) == ["the model", "decision tree (depth 3) on the true labels",
                            "logistic regression on the true labels"]
    for values in scores.values():
        assert 0.5 < values["accuracy"] <= 1 and 0 < values["balanced_accuracy"] <= 1
    held_out = X.loc[result["held_out_rows"]]
    model_accuracy = np.mean(credit_small_hgb().predict(held_out) == y.loc[held_out.index].to_numpy())
    assert scores["the model"]["accuracy"] == pytest.approx(model_accuracy)


def test_without_a_target_only_rules_and_fidelity():
    X, _ = credit_xy(200)
    result = run(rule_extraction, credit_small_hgb(), X, None, depth=2)

    assert result["baselines"] is None
    assert "no target" in result["summary"]["Baselines"]
    assert 0 <= result["fidelity"] <= 1


def test_regression_surrogate_is_scored_by_r2():
    X, y = sklearn_frame(load_diabetes, names=False)
    tree = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    result = run(rule_extraction, SklearnModel(tree, "sklearn"), X, y, task="regression", depth=3)

    assert result["fidelity_metric"] == "R²"
    assert result["fidelity"] > 0.95  # the same tree family, thresholds learnt on a subset
    assert sum(rule["support"] for rule in result["rules"]) == pytest.approx(1.0)
    assert "r2" in result["baselines"]["metrics"]

