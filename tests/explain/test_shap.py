"""SHAP: explainer choice, additivity, closed forms for linear models, aggregation back to the original columns."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from explain.analyses import AnalysisError, _shap, shap_global, shap_local
from governance.loading.adapters import SklearnModel

from .conftest import (
    breast_cancer_onnx,
    credit_forest,
    credit_hgb,
    credit_logistic,
    credit_xy,
    diabetes_forest,
    no_progress,
    sklearn_frame,
    wine_forest_onnx,
    wine_logistic,
)

CREDIT_COLUMNS = list(credit_xy(5)[0].columns)


def explain(model, X, task="classification", **params):
    cleaned = shap_global.validate_params(params, n_rows=len(X), columns=list(X.columns))
    return _shap.explain(model, X, task=task, params=cleaned)


def run_global(model, X, task="classification", **params):
    result = shap_global.run(model, X, None, task=task, params=params, progress=no_progress)
    json.dumps(result, allow_nan=False)
    return result


def test_credit_hgb_pipeline_uses_tree_explainer_in_log_odds_and_is_additive():
    X, _ = credit_xy(300)
    model = credit_hgb()
    result = run_global(model, X)

    assert result["explainer"] == "TreeExplainer"
    assert result["output_space"] == "log-odds"
    assert result["additivity_max_error"] < 1e-6
    assert result["features"] == CREDIT_COLUMNS
    assert result["rows_used"] == X.index.tolist()
    # recompute additivity independently: base + sum(SHAP) == the pipeline's own decision function
    shap_values = np.array(result["shap_values"][0])
    margin = model.estimator.decision_function(X)
    np.testing.assert_allclose(shap_values.sum(axis=1) + result["base_values"][0], margin, atol=1e-6)


def test_random_forest_is_explained_in_probability_space_and_is_additive():
    X, _ = credit_xy(200)
    model = credit_forest()
    explanation = explain(model, X)

    assert explanation.explainer == "TreeExplainer" and explanation.space == "probability"
    assert explanation.additivity_max_error < 1e-6
    p_good = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(explanation.values[:, :, 0].sum(axis=1) + explanation.base_values[0], p_good,
                               atol=1e-6)


def test_plain_random_forest_on_breast_cancer_is_additive():
    X, y = sklearn_frame(load_breast_cancer)
    model = SklearnModel(RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y), "sklearn")
    result = run_global(model, X.iloc[:100])

    assert result["explainer"] == "TreeExplainer"
    assert result["outputs"] == ["malignant"]  # classes[1]
    assert result["additivity_max_error"] < 1e-6


def test_logistic_pipeline_uses_linear_explainer_and_is_additive():
    X, _ = credit_xy(300)
    model = credit_logistic()
    explanation = explain(model, X)

    assert explanation.explainer == "LinearExplainer" and explanation.space == "log-odds"
    assert explanation.additivity_max_error < 1e-6
    np.testing.assert_allclose(explanation.values[:, :, 0].sum(axis=1) + explanation.base_values[0],
                               model.estimator.decision_function(X), atol=1e-6)


@pytest.mark.parametrize("factory", [breast_cancer_onnx, wine_forest_onnx])
def test_onnx_models_use_the_permutation_explainer_within_tolerance(factory):
    from sklearn.datasets import load_wine

    X, _ = sklearn_frame(load_breast_cancer if factory is breast_cancer_onnx else load_wine)
    X = X.sample(80, random_state=0).sort_index()
    result = run_global(factory(), X, agnostic_max_rows=6, background_size=20)

    assert result["explainer"] == "PermutationExplainer"
    assert result["output_space"] == "probability"
    assert "no fast path for the onnx flavour" in result["method"]["fallback_reason"]
    assert len(result["rows_used"]) == 6 and set(result["rows_used"]) <= set(X.index)
    assert result["additivity_max_error"] < result["additivity_tolerance"] < 0.0101  # 1% of the output range
    # multiclass (wine): one set of SHAP values per class, summing to that class's probability
    assert len(result["shap_values"]) == (3 if factory is wine_forest_onnx else 1)


def test_linear_regression_shap_equals_coef_times_centred_value():
    X, y = sklearn_frame(load_diabetes, names=False)
    estimator = LinearRegression().fit(X, y)
    sample = X.iloc[:150]
    explanation = explain(SklearnModel(estimator, "sklearn"), sample, task="regression")

    expected = estimator.coef_ * (sample.to_numpy() - sample.to_numpy().mean(axis=0))
    np.testing.assert_allclose(explanation.values[:, :, 0], expected, atol=1e-6)
    assert explanation.space == "value"
    np.testing.assert_allclose(explanation.base_values[0], estimator.predict(sample).mean(), atol=1e-6)


def test_logistic_regression_shap_in_log_odds_equals_coef_times_centred_value():
    X, y = sklearn_frame(load_breast_cancer)
    estimator = LogisticRegression(max_iter=5000).fit(X, y)
    sample = X.iloc[:200]
    explanation = explain(SklearnModel(estimator, "sklearn"), sample)

    expected = estimator.coef_[0] * (sample.to_numpy() - sample.to_numpy().mean(axis=0))
    np.testing.assert_allclose(explanation.values[:, :, 0], expected, atol=1e-6)
    assert explanation.space == "log-odds"


def test_positive_class_override_flips_the_log_odds():
    X, _ = credit_xy(100)
    model = credit_logistic()
    good = explain(model, X)
    bad = explain(model, X, positive_class="bad")

    assert bad.outputs == ["bad"]
    np.testing.assert_allclose(bad.values, -good.values, atol=1e-12)
    assert bad.additivity_max_error < 1e-6


def test_one_hot_pipeline_shap_is_aggregated_to_the_original_columns_preserving_sums():
    X, _ = credit_xy(200)
    explanation = explain(credit_logistic(), X)

    assert explanation.features == CREDIT_COLUMNS
    assert explanation.values.shape == (200, len(CREDIT_COLUMNS), 1)
    assert len(explanation.transformed_features) > len(CREDIT_COLUMNS)  # one-hot columns and missing indicators
    sources = dict(zip(explanation.transformed_features, explanation.transformed_sources, strict=True))
    assert sources["categorical__Home_rent"] == "Home"
    assert sources["numeric__missingindicator_Income"] == "Income"
    assert sources["numeric__Income"] == "Income"
    assert set(explanation.transformed_sources) == set(CREDIT_COLUMNS)
    np.testing.assert_allclose(explanation.values.sum(axis=1), explanation.transformed_values.sum(axis=1), atol=1e-9)
    # and per column: Home's value is the sum of its one-hot columns
    home = [i for i, source in enumerate(explanation.transformed_sources) if source == "Home"]
    np.testing.assert_allclose(explanation.values[:, CREDIT_COLUMNS.index("Home"), 0],
                               explanation.transformed_values[:, home, 0].sum(axis=1), atol=1e-12)


def test_multiclass_pipeline_explains_every_class():
    from sklearn.datasets import load_wine

    X, _ = sklearn_frame(load_wine)
    result = run_global(wine_logistic(), X)

    assert result["outputs"] == ["class_0", "class_1", "class_2"]
    assert len(result["shap_values"]) == 3 and len(result["base_values"]) == 3
    assert result["additivity_max_error"] < 1e-6


def test_regression_forest_is_additive_in_value_space():
    X, _ = sklearn_frame(load_diabetes, names=False)
    result = run_global(diabetes_forest(), X.iloc[:100], task="regression")

    assert result["output_space"] == "value" and result["additivity_max_error"] < 1e-6


def test_forced_permutation_explainer_works_on_categorical_columns_with_missing_values():
    X, _ = credit_xy(60)
    assert X["Income"].isna().any() or X.isna().any().any()
    result = run_global(credit_logistic(), X, explainer="permutation", agnostic_max_rows=4, background_size=15)

    assert result["explainer"] == "PermutationExplainer"
    assert result["method"]["categorical_encoding"].startswith("categorical columns encoded")
    assert result["additivity_max_error"] < 1e-9  # the permutation explainer is additive by construction


class _ShiftedModel(SklearnModel):
    """A model whose reported probabilities are not what its estimator computes."""

    def predict_proba(self, X):
        return np.clip(super().predict_proba(X) + [[-0.02, 0.02]], 0, 1)


def test_additivity_failure_fails_loudly():
    X, _ = credit_xy(50)
    model = _ShiftedModel(credit_forest().estimator, "sklearn")

    with pytest.raises(AnalysisError, match=r"SHAP additivity check failed: max error .* > tolerance 0\.001"):
        run_global(model, X)


def test_forcing_an_explainer_that_does_not_apply_is_an_error():
    X, _ = credit_xy(20)
    with pytest.raises(AnalysisError, match="the tree explainer does not apply"):
        run_global(credit_logistic(), X, explainer="tree")


def test_beeswarm_is_downsampled_but_the_result_keeps_every_value():
    X, _ = credit_xy(400)
    result = run_global(credit_hgb(), X)

    assert np.array(result["shap_values"][0]).shape == (400, len(CREDIT_COLUMNS))
    assert len(result["feature_values"]) == 400
    beeswarm = result["charts"][1]["figure"]
    points = sum(len(trace["x"]) for trace in beeswarm["data"])
    assert points == 300 * len(CREDIT_COLUMNS)
    titles = [chart["title"] for chart in result["charts"]]
    assert titles[0] == "Mean |SHAP| per feature" and "300 of 400 rows shown" in titles[1]
    table = result["tables"][0]
    assert table["columns"] == ["feature", "mean |SHAP|", "mean SHAP"]
    assert [row[0] for row in table["rows"]] == [item["feature"] for item in result["importance"]]


def test_shap_local_waterfalls_match_the_global_values_for_the_same_rows():
    X, _ = credit_xy(200)
    rows = X.index[[3, 17]].tolist()
    local = shap_local.run(credit_hgb(), X, None, task="classification", params={"rows": rows},
                           progress=no_progress)
    json.dumps(local, allow_nan=False)
    global_ = explain(credit_hgb(), X)

    assert local["rows_used"] == rows
    for i, row in enumerate(local["rows"]):
        position = X.index.get_loc(row["row"])
        item = row["outputs"][0]
        np.testing.assert_allclose([item["shap"][f] for f in CREDIT_COLUMNS], global_.values[position, :, 0],
                                   atol=1e-9)
        assert abs(item["base_value"] + sum(item["shap"].values()) - item["prediction"]) < 1e-6
        # The waterfall's bars climb from E[f(x)] to f(x): each starts where the previous one ended.
        bars = local["charts"][i]["figure"]["data"][0]
        assert bars["type"] == "bar" and bars["orientation"] == "h"
        starts, widths = bars["base"], bars["x"]
        assert widths[0] == pytest.approx(item["base_value"], abs=1e-5) and starts[0] == 0
        for j in range(1, len(widths) - 1):
            assert starts[j] == pytest.approx(starts[j - 1] + widths[j - 1] if j > 1 else widths[0], abs=1e-5)
        assert starts[-2] + widths[-2] == pytest.approx(item["prediction"], abs=1e-5)
        assert widths[-1] == pytest.approx(item["prediction"], abs=1e-5) and starts[-1] == 0


def test_shap_local_filter_selects_matching_rows():
    X, _ = credit_xy(300)
    params = {"filter": [{"column": "Records", "op": "==", "value": "yes"},
                         {"column": "Income", "op": ">", "value": 100}], "limit": 3}
    result = shap_local.run(credit_logistic(), X, None, task="classification", params=params, progress=no_progress)

    chosen = X.loc[result["rows_used"]]
    assert len(chosen) == 3
    assert (chosen["Records"] == "yes").all() and (chosen["Income"] > 100).all()


def test_shap_local_row_missing_from_the_sample_is_a_clear_error():
    X, _ = credit_xy(50)
    absent = int(pd.Index(range(5000)).difference(X.index)[0])
    with pytest.raises(AnalysisError, match=f"row {absent} is not in the data"):
        shap_local.run(credit_logistic(), X, None, task="classification", params={"rows": [absent]},
                       progress=no_progress)


def test_warm_up_runs():
    assert shap_global.warm_up() >= 0
