"""Every analysis kind: the registry, parameter validation, progress and cancellation, JSON-safe results, on every
task and flavour (binary with categories and NaN, multiclass, regression, ONNX)."""

import json

import pytest

from explain.analyses import (
    ANALYSES,
    AnalysisError,
    ParamError,
    decomposition,
    lime_local,
    permutation_importance,
    rule_extraction,
    shap_global,
    shap_local,
)

from .conftest import CASES, case, credit_xy, no_progress

CREDIT_COLUMNS = list(credit_xy(5)[0].columns)


def quick_params(kind: str, X) -> dict:
    """Small but real settings, so that the whole matrix runs in seconds."""
    first_rows = X.index[:2].tolist()
    return {
        "shap_global": {"agnostic_max_rows": 4, "background_size": 15},
        "shap_local": {"rows": first_rows, "background_size": 15},
        "lime": {"rows": first_rows, "num_samples": 300},
        "permutation_importance": {"n_repeats": 2},
        "decomposition": {"k": 2, "grid_resolution": 4, "ice_rows": 5, "pd_max_rows": 30, "pair_grid": 3,
                          "pair_rows": 20, "ranking_rows": 30, "structure_rows": 30},
        "rule_extraction": {"depth": 2},
    }[kind]


def test_registry_lists_the_six_kinds_with_their_interface():
    assert list(ANALYSES) == ["shap_global", "shap_local", "lime", "permutation_importance", "decomposition",
                              "rule_extraction"]
    for kind, module in ANALYSES.items():
        assert kind == module.KIND and module.TITLE
        assert callable(module.run) and callable(module.validate_params)
        cleaned = module.validate_params(dict(module.DEFAULT_PARAMS), n_rows=100, columns=CREDIT_COLUMNS)
        # validation is idempotent: the job runner stores cleaned params and run() validates them again
        assert module.validate_params(cleaned, n_rows=100, columns=CREDIT_COLUMNS) == cleaned
    assert permutation_importance.REQUIRES_TARGET is True
    assert shap_local.SAMPLE_ROWS is False and lime_local.SAMPLE_ROWS is False


@pytest.mark.parametrize("kind", list(ANALYSES))
@pytest.mark.parametrize("name", list(CASES))
def test_every_kind_runs_on_every_case_and_returns_strict_json(kind, name):
    model, X, y, task = case(name)
    calls = []
    result = ANALYSES[kind].run(model, X, y, task=task, params=quick_params(kind, X),
                                progress=lambda percent, message: calls.append(percent))

    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result  # nothing that JSON would silently change
    for key in ("summary", "charts", "tables", "rows_used", "explainer", "method"):
        assert key in result, key
    assert isinstance(result["summary"], dict) and result["summary"]
    assert all(isinstance(value, str | int | float) for value in result["summary"].values())
    for chart in result["charts"]:
        assert set(chart) == {"title", "figure"} and chart["figure"]["data"]
        assert "template" not in chart["figure"]["layout"]
    for table in result["tables"]:
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    assert set(result["rows_used"]) <= set(X.index)
    assert calls == sorted(set(calls)) and calls[-1] == 100 and len(calls) >= 3


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("kind", list(ANALYSES))
def test_an_exception_raised_by_progress_cancels_the_analysis(kind):
    model, X, y, task = case("credit-hgb")
    seen = []

    def progress(percent, message):
        seen.append(percent)
        if len(seen) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        ANALYSES[kind].run(model, X, y, task=task, params=quick_params(kind, X), progress=progress)
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("module", "params", "message"),
    [
        (shap_local, {"rows": [5000]}, "row 5000 is out of range: the dataset has 1114 rows"),
        (lime_local, {"rows": [3, 1114]}, "row 1114 is out of range: the dataset has 1114 rows"),
        (lime_local, {"rows": [-1]}, "row -1 is out of range"),
        (shap_local, {"rows": ["7"]}, "rows must be whole row numbers"),
        (shap_local, {"rows": list(range(21))}, "at most 20 rows"),
        (shap_local, {"rows": [1], "filter": {"column": "Age", "op": ">", "value": 30}}, "either rows or filter"),
        (shap_local, {"filter": {"column": "Salary", "op": ">", "value": 3}}, "unknown feature 'Salary' in filter"),
        (shap_local, {"filter": {"column": "Age", "op": "~=", "value": 3}}, "filter op must be one of"),
        (shap_local, {"filter": [{"column": "Age", "op": ">", "value": 1}] * 4}, "at most 3 conditions"),
        (decomposition, {"features": ["Income", "Salary"]}, "unknown feature 'Salary' in features"),
        (decomposition, {"pair": ["Income"]}, "pair must name exactly 2 features"),
        (decomposition, {"k": 0}, "k must be at least 1"),
        (permutation_importance, {"n_repeats": -3}, "n_repeats must be at least 1, got -3"),
        (permutation_importance, {"n_repeats": 2.5}, "n_repeats must be a whole number"),
        (permutation_importance, {"metric": "auc"}, "metric must be one of"),
        (rule_extraction, {"depth": 0}, "depth must be at least 1, got 0"),
        (rule_extraction, {"depth": True}, "depth must be a whole number"),
        (rule_extraction, {"test_size": 0.99}, "test_size must be at most 0.8"),
        (shap_global, {"explainer": "kernel"}, "explainer must be one of"),
        (shap_global, {"max_evals": 10}, "max_evals must be at least 27"),
        (shap_global, {"additivity_tolerance": -1}, "additivity_tolerance must be greater than 0"),
        (shap_global, {"background_sise": 10}, "unknown parameter 'background_sise'"),
        (lime_local, {"num_samples": 10}, "num_samples must be at least 100"),
    ],
)
def test_invalid_params_are_refused_with_a_clear_message(module, params, message):
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        module.validate_params(params, n_rows=1114, columns=CREDIT_COLUMNS)


def test_valid_params_are_cleaned():
    cleaned = shap_local.validate_params({"rows": [4, 4, 9]}, n_rows=1114, columns=CREDIT_COLUMNS)
    assert cleaned["rows"] == [4, 9] and cleaned["limit"] == 5 and cleaned["random_state"] == 0
    cleaned = decomposition.validate_params({"features": ["Income"], "k": 2.0}, n_rows=10, columns=CREDIT_COLUMNS)
    assert cleaned["k"] == 2 and cleaned["features"] == ["Income"]


def test_metric_that_does_not_fit_the_task_is_a_param_error():
    model, X, y, task = case("diabetes-forest")
    with pytest.raises(ParamError, match="metric 'accuracy' does not apply to regression"):
        permutation_importance.run(model, X, y, task=task, params={"metric": "accuracy"}, progress=no_progress)


def test_permutation_importance_without_a_target_says_so():
    model, X, _, task = case("credit-hgb")
    with pytest.raises(AnalysisError, match="needs the target column"):
        permutation_importance.run(model, X, None, task=task, params={}, progress=no_progress)


def test_unknown_positive_class_is_a_param_error():
    model, X, y, task = case("credit-hgb")
    with pytest.raises(ParamError, match="positive_class 'maybe' is not one of the model's classes: bad, good"):
        shap_global.run(model, X, y, task=task, params={"positive_class": "maybe"}, progress=no_progress)
