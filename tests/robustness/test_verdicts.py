"""Verdicts on imbalanced data: the metric is chosen from the task and the data, drops are measured against a
constant model, per-class recall is reported and a collapse is named as a failure whatever the headline says."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from explain.robustness._verdict import choose_metric, class_report, collapse, constant_baseline, skill_lost
from explain.scorecard import DEFAULT_THRESHOLDS, RULES
from governance.loading.adapters import SklearnModel

from .test_correctness import run


def rare_positive_problem(n: int, seed: int, share: float = 0.03):
    """Three numeric features; 'yes' for the top `share` of a linear score: a separable 3 %-positive problem."""
    generator = np.random.default_rng(seed)
    X = pd.DataFrame({"a": generator.normal(size=n), "b": generator.normal(size=n), "c": generator.normal(size=n)})
    score = 2.2 * X["a"] + 1.5 * X["b"]
    y = pd.Series(np.where(score > np.quantile(score, 1 - share), "yes", "no"), name="default")
    return X, y


@pytest.fixture(scope="module")
def rare():
    X_train, y_train = rare_positive_problem(3000, 1)
    X_eval, y_eval = rare_positive_problem(600, 2)
    model = SklearnModel(LogisticRegression(max_iter=1000).fit(X_train, y_train), "sklearn")
    constant = SklearnModel(DummyClassifier(strategy="most_frequent").fit(X_train, y_train), "sklearn")
    return {"train": (X_train, y_train), "X": X_eval, "y": y_eval, "model": model, "constant": constant}


# --- the metric and the baseline --------------------------------------------------------------------------------


def test_classifiers_default_to_balanced_accuracy_and_say_why():
    y = pd.Series(["no"] * 97 + ["yes"] * 3)
    choice = choose_metric(None, "classification", y)
    assert choice["name"] == "balanced_accuracy" and choice["source"] == "default"
    assert "'yes'" in choice["reason"] and "3.0%" in choice["reason"] and "0.970" in choice["reason"]


def test_a_declared_accuracy_is_replaced_on_imbalanced_data_and_kept_on_balanced_data():
    rare = pd.Series(["no"] * 90 + ["yes"] * 10)
    even = pd.Series(["no"] * 50 + ["yes"] * 50)
    assert choose_metric(None, "classification", rare, primary="accuracy")["name"] == "balanced_accuracy"
    assert choose_metric(None, "classification", even, primary="accuracy")["name"] == "accuracy"
    assert choose_metric(None, "classification", rare, primary="f1") == {
        **choose_metric(None, "classification", rare, primary="f1"), "name": "f1", "source": "model"}


def test_a_requested_accuracy_is_honoured_with_a_warning():
    choice = choose_metric("accuracy", "classification", pd.Series(["no"] * 97 + ["yes"] * 3))
    assert choice["name"] == "accuracy" and "misleads" in choice["warning"]


def test_the_constant_baseline_is_what_always_predicting_the_majority_scores(rare):
    from explain.analyses._common import resolve_outputs

    outputs = resolve_outputs(rare["model"], rare["X"].iloc[:1], "classification")
    assert constant_baseline("classification", "balanced_accuracy", rare["y"], outputs)["score"] == 0.5
    assert constant_baseline("classification", "accuracy", rare["y"], outputs)["score"] == pytest.approx(0.97)
    assert constant_baseline("classification", "roc_auc", rare["y"], outputs)["score"] == pytest.approx(0.5)
    assert constant_baseline("classification", "f1", rare["y"], outputs)["score"] == 0.0


def test_skill_lost_is_measured_from_the_clean_score_down_to_the_constant_model():
    assert skill_lost(0.9, 0.9, 0.5, "balanced_accuracy") == 0
    assert skill_lost(0.9, 0.5, 0.5, "balanced_accuracy") == pytest.approx(1.0)
    assert skill_lost(0.9, 0.7, 0.5, "balanced_accuracy") == pytest.approx(0.5)
    assert skill_lost(10.0, 15.0, 20.0, "mae") == pytest.approx(0.5)
    assert skill_lost(0.5, 0.4, 0.5, "balanced_accuracy") is None  # no margin to lose


def test_a_collapse_names_the_class_no_longer_recalled():
    truth = ["no"] * 8 + ["yes"] * 2
    before = class_report(truth, ["no"] * 8 + ["yes", "no"], ["no", "yes"])
    after = class_report(truth, ["no"] * 10, ["no", "yes"])
    found = collapse(before, after, ["no"] * 10)
    assert found["lost_classes"] == ["yes"]
    assert "predicts 'no' for 100.0% of rows" in found["message"]
    assert collapse(before, before, ["no"] * 8 + ["yes", "no"]) is None


# --- the kinds on a 3 %-positive problem ------------------------------------------------------------------------


def test_label_flips_that_drive_recall_to_zero_are_a_large_drop_and_a_named_failure(rare):
    result, _ = run("poisoning", rare["model"], rare["X"], rare["y"], rates=[0.1], _training=rare["train"])
    at_ten = next(p for p in result["points"] if p["rate"] == 0.1)
    recall = {c["class"]: c["recall"] for c in at_ten["per_class"]}
    assert recall["yes"] == 0  # the refit never predicts the rare class any more
    assert result["metric"] == "balanced_accuracy"
    assert result["drop_at_10_percent"] > 0.3
    assert at_ten["collapse"]["lost_classes"] == ["yes"]
    assert not result["verdict"]["passed"]
    assert "predicts 'no' for 100.0% of rows" in result["summary"]["Failures"]


def test_plain_accuracy_hides_the_same_collapse_but_the_verdict_still_fails(rare):
    result, _ = run("poisoning", rare["model"], rare["X"], rare["y"], rates=[0.1], metric="accuracy",
                    _training=rare["train"])
    assert result["drop_at_10_percent"] < 0.05  # what the issue saw: "0.72 % drop"
    assert result["verdict"]["metric"]["warning"]
    assert not result["verdict"]["passed"] and "collapse" in result["verdict"]["failures"][0]


def test_the_stress_test_line_never_sits_below_a_constant_model(rare):
    result, _ = run("stress_test", rare["model"], rare["X"], rare["y"], sensitivity_repeats=1)
    baseline = result["baseline"]["score"]
    assert result["metric"] == "balanced_accuracy" and baseline == 0.5
    for chart in result["charts"][:3]:
        lines = [shape["y0"] for shape in chart["figure"]["layout"]["shapes"]]
        assert min(lines) == pytest.approx(baseline) and all(line >= baseline for line in lines)
    for points in result["curves"].values():
        assert {c["class"] for c in points[0]["per_class"]} == {"no", "yes"}


def test_evasion_attacks_rows_of_every_class_and_reports_success_per_class(rare):
    result, _ = run("adversarial_evasion", rare["model"], rare["X"], rare["y"], n_samples=20,
                    attacks=["hop_skip_jump"], hsj_max_iter=2, hsj_max_eval=30)
    assert result["rows_per_class"]["yes"] >= 8  # a plain sample of 20 would hold 0 or 1 of the 18 positives
    assert {c["class"] for c in result["results"][0]["per_class"]} == {"no", "yes"}


def test_extraction_judges_balanced_fidelity_which_a_constant_surrogate_cannot_fake(rare):
    result, _ = run("model_extraction", rare["model"], rare["X"], rare["y"], budgets=[500], modes=["labels"])
    assert result["baseline"]["balanced_fidelity"] == 0.5
    assert result["baseline"]["fidelity"] > 0.9  # what plain agreement would credit a constant surrogate with
    assert result["points"][0]["balanced_fidelity"] <= result["points"][0]["fidelity"] + 1e-9


# --- a constant model never passes ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, params", [
    ("cross_validation", {}),
    ("stress_test", {"sensitivity_repeats": 1}),
    ("adversarial_evasion", {"n_samples": 10, "attacks": ["hop_skip_jump"], "hsj_max_iter": 1,
                             "hsj_max_eval": 20}),
])
def test_a_constant_model_fails_every_gated_rule(rare, kind, params):
    result, _ = run(kind, rare["constant"], rare["X"], rare["y"], _training=rare["train"], **params)
    ok, detail = RULES[kind][0](result, DEFAULT_THRESHOLDS)
    assert ok is False, detail
    assert "constant model" in detail


def test_a_result_without_a_verdict_is_not_counted_as_passed():
    ok, detail = RULES["stress_test"][0]({"curves": {"noise": [{"level": 0.1, "score": 0.97}]},
                                          "clean_score": 0.97}, DEFAULT_THRESHOLDS)
    assert ok is None and "run it again" in detail


def test_a_collapse_at_an_extreme_level_is_named_but_the_gate_judges_its_own_level(rare):
    result, _ = run("stress_test", rare["model"], rare["X"], rare["y"], noise_levels=[0.1], missing_rates=[0.4, 0.95],
                    sensitivity_repeats=1)
    missing = {p["level"]: p for p in result["curves"]["missing"]}
    noise = {p["level"]: p for p in result["curves"]["noise"]}
    assert missing[0.95]["collapse"] and not noise[0.1]["collapse"]  # 95 % of cells imputed: the rare class is lost
    assert any("missing values" in text and "0.95" in text for text in result["collapses"])
    assert "Collapses" in result["summary"]
    assert result["verdict"]["passed"]  # the model itself is not constant: no failure of the result as a whole
    ok, detail = RULES["stress_test"][0](result, DEFAULT_THRESHOLDS)
    assert ok is not None and "0.1σ" in detail
