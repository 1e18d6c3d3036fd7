"""LIME beside SHAP, partial dependence / ICE and the structural summaries, checked against closed forms."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LinearRegression

from explain.analyses import decomposition, lime_local
from explain.analyses.lime_local import LimeCodec, compare
from governance.loading.adapters import SklearnModel

from .conftest import (
    credit_forest,
    credit_logistic,
    credit_small_hgb,
    credit_xy,
    no_progress,
    sklearn_frame,
    wine_logistic,
)


def run(module, model, X, y=None, task="classification", **params):
    result = module.run(model, X, y, task=task, params=params, progress=no_progress)
    json.dumps(result, allow_nan=False)
    return result


# --- LIME ---------------------------------------------------------------------------------------------------


def test_lime_records_the_local_surrogate_and_compares_with_shap_on_the_credit_pipeline():
    X, _ = credit_xy(300)
    missing_income = X.index[X["Income"].isna()][:1].tolist()
    rows = X.index[:2].tolist() + missing_income
    result = run(lime_local, credit_small_hgb(), X, rows=rows, num_samples=500, positive_class="bad")

    assert result["rows_used"] == rows
    assert "Income is missing" in result["method"]["lime_features"]
    for row in result["rows"]:
        assert np.isfinite(row["score"]) and row["score"] <= 1
        assert np.isfinite(row["intercept"]) and row["local_prediction"] is not None
        assert row["explained_output"] == "probability of class 'bad'"
        assert set(row["lime_by_column"]) == set(row["shap_by_column"]) == set(X.columns)
        comparison = row["comparison"]
        assert 0 <= comparison["top_k_overlap"] <= 1
        assert comparison["spearman_abs"] is None or -1 <= comparison["spearman_abs"] <= 1
        assert isinstance(comparison["disagreement"], bool) and comparison["sentence"]
        # LIME's weights per original column are the sums of its features' weights
        total = sum(item["weight"] for item in row["all_weights"] if item["column"] == "Income")
        assert row["lime_by_column"]["Income"] == pytest.approx(total)
    # the row with missing income is explained as it is: the model sees NaN, not the median
    explained = result["rows"][-1]
    assert explained["feature_values"]["Income"] is None
    assert explained["model_prediction"] == pytest.approx(credit_small_hgb().predict_proba(X.loc[missing_income])[0, 0])
    assert len(result["charts"]) == 3


def test_lime_codec_round_trips_categories_and_missing_values():
    X, _ = credit_xy(200)
    codec = LimeCodec(X)
    decoded = codec.decode(codec.encode(X))

    for column in X.columns:
        original, back = X[column].reset_index(drop=True), decoded[column]
        assert (original.isna() == back.isna()).all(), column
        if column in ("Home", "Marital", "Records", "Job"):
            assert (original.dropna() == back.dropna()).all(), column
        else:
            np.testing.assert_array_equal(original.dropna().to_numpy(float), back.dropna().to_numpy(float))
    model = credit_logistic()
    np.testing.assert_allclose(model.predict_proba(decoded), model.predict_proba(X))


def test_compare_flags_a_different_top_feature_and_an_opposite_sign():
    agree = compare({"a": 0.5, "b": -0.2, "c": 0.01}, {"a": 2.0, "b": -0.5, "c": 0.1})
    assert not agree["disagreement"] and agree["top_k_overlap"] == 1.0 and agree["spearman_abs"] == 1.0

    other_top = compare({"a": 0.1, "b": -0.6, "c": 0.01}, {"a": 2.0, "b": -0.5, "c": 0.1}, top_k=1)
    assert other_top["disagreement"] and other_top["top_k_overlap"] == 0.0
    assert "the top column differs: LIME b" in other_top["sentence"]

    flipped = compare({"a": -0.5, "b": 0.2, "c": 0.01}, {"a": 2.0, "b": 0.5, "c": 0.1})
    assert flipped["disagreement"] and "opposite signs on a" in flipped["sentence"]


def test_lime_regression_and_multiclass():
    X, y = sklearn_frame(load_diabetes, names=False)
    model = SklearnModel(LinearRegression().fit(X, y), "sklearn")
    result = run(lime_local, model, X, task="regression", rows=[0, 1], num_samples=1000)
    for row in result["rows"]:
        assert row["explained_output"] == "predicted value" and row["score"] <= 1
        assert row["model_prediction"] == pytest.approx(model.predict(X.loc[[row["row"]]])[0])

    X, _ = sklearn_frame(load_wine)
    result = run(lime_local, wine_logistic(), X, rows=[0, 100, 170], num_samples=500)
    predicted = wine_logistic().predict(X.loc[[0, 100, 170]])
    assert [row["explained_output"] for row in result["rows"]] == [f"probability of class {c!r}" for c in predicted]


# --- partial dependence and ICE -----------------------------------------------------------------------------


def test_partial_dependence_of_a_linear_model_has_the_coefficient_as_slope():
    X, y = sklearn_frame(load_diabetes, names=False)
    estimator = LinearRegression().fit(X, y)
    result = run(decomposition, SklearnModel(estimator, "sklearn"), X, task="regression",
                 features=["bmi", "s5"], ice_rows=10, grid_resolution=6)

    for curve in result["curves"]:
        coef = estimator.coef_[list(X.columns).index(curve["feature"])]
        grid, pd_line = np.array(curve["grid"]), np.array(curve["pd"][0])
        np.testing.assert_allclose(np.diff(pd_line) / np.diff(grid), coef, rtol=1e-6)
        ice = np.array(curve["ice"][0])  # ICE lines of a linear model are parallel to the PD line
        np.testing.assert_allclose(ice - ice[:, :1], np.tile(pd_line - pd_line[0], (len(ice), 1)), atol=1e-6)
        assert len(curve["ice_rows"]) == 10
    assert result["structure"]["type"] == "linear"


def test_partial_dependence_of_a_category_is_the_mean_prediction_with_that_category_everywhere():
    X, _ = credit_xy(150)
    model = credit_small_hgb()
    result = run(decomposition, model, X, features=["Home", "Income"], grid_resolution=5, pd_max_rows=150)

    home = result["curves"][0]
    assert home["categorical"] and "rent" in home["grid"]
    expected = model.predict_proba(X.assign(Home="rent"))[:, 1].mean()
    assert home["pd"][0][home["grid"].index("rent")] == pytest.approx(expected)
    pair = result["two_way"]["features"]  # default: the two top numeric columns, the given features first
    assert pair[0] == "Income" and pair[1] not in ("Home", "Marital", "Records", "Job", "Income")


def test_multiclass_partial_dependence_has_one_line_per_class_summing_to_one():
    X, _ = sklearn_frame(load_wine)
    result = run(decomposition, wine_logistic(), X, k=2, grid_resolution=5)

    assert result["outputs"] == ["probability of class 'class_0'", "probability of class 'class_1'",
                                 "probability of class 'class_2'"]
    for curve in result["curves"]:
        np.testing.assert_allclose(np.array(curve["pd"]).sum(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.array(result["two_way"]["pd"]).sum(axis=0), 1.0, atol=1e-9)


def test_features_are_ranked_without_labels_and_the_top_k_are_used():
    X, _ = credit_xy(200)
    result = run(decomposition, credit_small_hgb(), X, k=3, grid_resolution=4)

    ranked = [item["feature"] for item in result["ranking"]]
    assert sorted(ranked) == sorted(X.columns)
    assert result["features"] == ranked[:3]
    sensitivities = [item["sensitivity"] for item in result["ranking"]]
    assert sensitivities == sorted(sensitivities, reverse=True) and sensitivities[0] > 0


def test_coefficient_table_maps_transformed_features_to_original_columns():
    X, _ = credit_xy(100)
    model = credit_logistic()
    structure = run(decomposition, model, X, k=1, grid_resolution=3)["structure"]

    assert structure["type"] == "linear"
    by_name = {row["feature"]: row for row in structure["coefficients"]}
    estimator = model.estimator[-1]
    names = model.estimator[:-1].get_feature_names_out()
    for name, coef in zip(names, estimator.coef_[0], strict=True):
        assert by_name[name]["values"] == [pytest.approx(coef)]
    assert by_name["categorical__Home_rent"]["original_column"] == "Home"
    assert by_name["numeric__missingindicator_Income"]["original_column"] == "Income"
    assert by_name["(intercept)"]["values"] == [pytest.approx(estimator.intercept_[0])]


def test_forest_spread_is_centred_on_the_forest_prediction():
    X, _ = credit_xy(80)
    model = credit_forest()
    structure = run(decomposition, model, X, k=1, grid_resolution=3, structure_rows=80)["structure"]

    assert structure["type"] == "forest" and structure["n_trees"] == 30
    means = [row["mean"] for row in structure["per_row"]]
    np.testing.assert_allclose(means, model.predict_proba(X)[:, 1], atol=1e-9)
    assert all(row["p05"] <= row["mean"] <= row["p95"] and row["std"] >= 0 for row in structure["per_row"])
    assert sum(item["mean"] for item in structure["tree_importances"]) == pytest.approx(1.0)


def test_boosting_stages_end_at_the_final_prediction():
    X, _ = credit_xy(80)
    structure = run(decomposition, credit_small_hgb(), X, k=1, grid_resolution=3)["structure"]

    assert structure["type"] == "boosting" and structure["n_iterations"] == 40
    assert structure["mean_distance_to_final"][-1] == 0
    assert len(structure["mean_abs_change_per_iteration"]) == 39
    assert 1 <= structure["iterations_to_90pct_of_movement"] <= 40
