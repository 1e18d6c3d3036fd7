"""Every robustness kind: the registry, parameter validation, engine inputs and outputs, strict-JSON results, on
the credit pipeline (categoricals and missing values) with its default parameters and small budgets."""

import json

import numpy as np
import pandas as pd
import pytest

from explain.analyses import AnalysisError, ParamError
from explain.robustness import ROBUSTNESS, adversarial_evasion, check_suspect, model_extraction

from .conftest import credit_hgb, credit_sample, credit_split, diabetes_ridge, diabetes_split, no_progress

KINDS = ["cross_validation", "stress_test", "vulnerability_scan", "adversarial_evasion", "adversarial_detection",
         "model_extraction", "membership_inference", "poisoning", "ensemble", "adversarial_training",
         "defensive_distillation", "fingerprint"]
CREDIT_COLUMNS = list(credit_split()[0].columns)

# Defaults everywhere, except the attack budgets, so that the whole matrix runs in well under a minute.
SMALL = {
    "adversarial_evasion": {"n_samples": 6, "hsj_max_iter": 2},
    "adversarial_detection": {"n_adversarial": 6, "hsj_max_iter": 1},
    "adversarial_training": {"n_adversarial": 60, "n_samples": 5, "hsj_max_iter": 1},
    "defensive_distillation": {"n_samples": 5, "hsj_max_iter": 1},
    "model_extraction": {"budgets": [50, 200]},
    "membership_inference": {"max_rows_per_group": 150},
    "cross_validation": {"k": 3},
    "stress_test": {"sensitivity_repeats": 1},
}
NEEDS_TRAINING = ["membership_inference", "poisoning", "adversarial_training", "defensive_distillation"]


def engine_params(kind: str, with_training: bool = True) -> dict:
    X_train, y_train, _, _ = credit_split()
    params = dict(SMALL.get(kind, {}))
    if with_training:
        params["_training"] = (X_train.iloc[:1500], y_train.iloc[:1500])
    if kind == "ensemble":
        from .conftest import credit_logistic

        params["_members"] = [("v1 logistic", credit_logistic())]
    return params


def test_registry_lists_the_twelve_kinds_with_the_analysis_interface():
    assert sorted(ROBUSTNESS) == sorted(KINDS)
    for kind, module in ROBUSTNESS.items():
        assert kind == module.KIND and module.TITLE
        assert callable(module.run) and callable(module.validate_params)
        cleaned = module.validate_params(dict(module.DEFAULT_PARAMS), n_rows=100, columns=CREDIT_COLUMNS)
        assert module.validate_params(cleaned, n_rows=100, columns=CREDIT_COLUMNS) == cleaned  # idempotent
        json.dumps(cleaned, allow_nan=False)
        with pytest.raises(ParamError, match="reserved"):
            module.validate_params({"_training": 1}, n_rows=100, columns=CREDIT_COLUMNS)
        with pytest.raises(ParamError, match="unknown parameter"):
            module.validate_params({"no_such_parameter": 1}, n_rows=100, columns=CREDIT_COLUMNS)
    for kind in NEEDS_TRAINING + ["stress_test", "cross_validation", "ensemble", "vulnerability_scan"]:
        assert getattr(ROBUSTNESS[kind], "REQUIRES_TARGET", False), kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_runs_on_the_credit_pipeline_and_returns_strict_json(kind):
    model = credit_hgb()
    X, y = credit_sample()
    calls = []
    result = ROBUSTNESS[kind].run(model, X, y, task="classification", params=engine_params(kind),
                                  progress=lambda percent, message: calls.append(percent))

    new_model = result.pop("_new_model", None)
    detector = result.pop("_detector", None)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    for key in ("summary", "charts", "tables", "rows_used", "explainer", "method"):
        assert key in result, key
    assert result["summary"] and all(isinstance(v, str | int | float) for v in result["summary"].values())
    for chart in result["charts"]:
        assert set(chart) == {"title", "figure"} and chart["figure"]["data"]
    for table in result["tables"]:
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    assert calls == sorted(set(calls)) and calls[-1] == 100
    if kind in ("adversarial_training", "defensive_distillation"):
        assert set(new_model) == {"estimator", "notes", "params"} and new_model["notes"]
        json.dumps(new_model["params"], allow_nan=False)
        predicted = new_model["estimator"].predict(X)  # the same original columns, categories and NaN included
        assert set(predicted) <= {"good", "bad"} and len(predicted) == len(X)
    else:
        assert new_model is None
    if kind == "adversarial_detection":
        frame = ROBUSTNESS[kind].detector_frame(model, X, model.classes)
        assert list(frame.columns) == detector["input_columns"]
        assert np.isfinite(detector["estimator"].score_samples(frame)).all() and detector["notes"]
    else:
        assert detector is None


@pytest.mark.parametrize("kind", NEEDS_TRAINING)
def test_kinds_that_need_the_training_data_say_so_when_it_is_missing(kind):
    X, y = credit_sample(100)
    with pytest.raises(AnalysisError, match="needs a training dataset linked to the version"):
        ROBUSTNESS[kind].run(credit_hgb(), X, y, task="classification", params=engine_params(kind, False),
                             progress=no_progress)


@pytest.mark.parametrize("eps", [-0.1, [0.1, -0.5], 0])
def test_a_negative_or_zero_eps_is_a_parameter_error(eps):
    with pytest.raises(ParamError, match="eps"):
        adversarial_evasion.validate_params({"eps": eps}, n_rows=100, columns=CREDIT_COLUMNS)
    X, y = credit_sample(50)
    with pytest.raises(ParamError, match="eps"):
        adversarial_evasion.run(credit_hgb(), X, y, task="classification", params={"eps": eps}, progress=no_progress)


@pytest.mark.parametrize("budgets", [0, [0, 100], [-5], [100, -1]])
def test_a_zero_or_negative_budget_is_a_parameter_error(budgets):
    with pytest.raises(ParamError, match="budget"):
        model_extraction.validate_params({"budgets": budgets}, n_rows=100, columns=CREDIT_COLUMNS)


def test_other_bad_inputs_fail_with_clear_errors():
    X, y = credit_sample(60)
    columns = CREDIT_COLUMNS
    with pytest.raises(ParamError, match="train_eps"):
        ROBUSTNESS["adversarial_training"].validate_params({"train_eps": -1}, n_rows=10, columns=columns)
    with pytest.raises(ParamError, match="k must be at least 2"):
        ROBUSTNESS["cross_validation"].validate_params({"k": 1}, n_rows=10, columns=columns)
    with pytest.raises(ParamError, match="rates"):
        ROBUSTNESS["poisoning"].validate_params({"rates": [0.1, 0.9]}, n_rows=10, columns=columns)
    with pytest.raises(ParamError, match="temperature"):
        ROBUSTNESS["defensive_distillation"].validate_params({"temperature": 0.5}, n_rows=10, columns=columns)
    with pytest.raises(AnalysisError, match="other versions"):
        ROBUSTNESS["ensemble"].run(credit_hgb(), X, y, task="classification", params={}, progress=no_progress)
    with pytest.raises(AnalysisError, match="target"):
        ROBUSTNESS["stress_test"].run(credit_hgb(), X, None, task="classification", params={},
                                      progress=no_progress)

    class Opaque:  # an ONNX session, a booster...: nothing sklearn can clone
        estimator = object()
        flavour = "onnx"
        classes = credit_hgb().classes
        task = "classification"
        feature_names = None

        def predict(self, frame):
            return credit_hgb().predict(frame)

        def predict_proba(self, frame):
            return credit_hgb().predict_proba(frame)

    with pytest.raises(AnalysisError, match="cross-validation needs a refittable scikit-learn model"):
        ROBUSTNESS["cross_validation"].run(Opaque(), X, y, task="classification", params={}, progress=no_progress)
    result = ROBUSTNESS["stress_test"].run(Opaque(), X, y, task="classification",
                                           params={"sensitivity_repeats": 1}, progress=no_progress)
    assert result["clean_score"] > 0.6  # black-box kinds need no refit
    with pytest.raises(AnalysisError, match="suspect gave 3 outputs"):
        check_suspect({"fingerprint_outputs": {"labels": ["good"] * 10}, "classes": ["bad", "good"]}, ["good"] * 3)


@pytest.mark.parametrize("kind", ["adversarial_evasion", "membership_inference", "adversarial_training",
                                  "defensive_distillation", "fingerprint", "adversarial_detection"])
def test_classification_only_kinds_refuse_a_regressor(kind):
    X_train, X_eval, y_train, y_eval = diabetes_split()
    params = {"_training": (X_train, y_train)}
    with pytest.raises(AnalysisError, match="regression"):
        ROBUSTNESS[kind].run(diabetes_ridge(), X_eval, y_eval, task="regression", params=params,
                             progress=no_progress)


@pytest.mark.parametrize("kind", ["cross_validation", "stress_test", "vulnerability_scan", "model_extraction",
                                  "poisoning", "ensemble"])
def test_kinds_that_apply_to_regression_run_on_a_regressor(kind):
    X_train, X_eval, y_train, y_eval = diabetes_split()
    params = {"_training": (X_train, y_train), **SMALL.get(kind, {})}
    if kind == "ensemble":
        from sklearn.ensemble import RandomForestRegressor

        from governance.loading.adapters import SklearnModel

        forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(X_train, y_train)
        params["_members"] = [("forest", SklearnModel(forest, "sklearn"))]
    result = ROBUSTNESS[kind].run(diabetes_ridge(), X_eval, y_eval, task="regression", params=params,
                                  progress=no_progress)
    json.dumps(result, allow_nan=False)
    assert result["summary"]
    if kind == "stress_test":  # Ridge cannot take NaN: the missing-value curve imputes, and says so
        assert "imputation" in result["missing_handling"]
        assert result["curves"]["missing"][1]["score"] is not None


def test_the_engine_inputs_never_reach_the_stored_result():
    X, y = credit_sample(80)
    params = engine_params("poisoning")
    result = ROBUSTNESS["poisoning"].run(credit_hgb(), X, y, task="classification", params=params,
                                         progress=no_progress)
    text = json.dumps(result, allow_nan=False)
    assert "_training" not in text and isinstance(params["_training"][0], pd.DataFrame)


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("kind", KINDS)
def test_an_exception_raised_by_progress_cancels_the_analysis(kind):
    X, y = credit_sample(100)
    calls = []

    def progress(percent, message):
        calls.append(percent)
        if len(calls) == 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        ROBUSTNESS[kind].run(credit_hgb(), X, y, task="classification", params=engine_params(kind),
                             progress=progress)
    assert len(calls) == 2
