"""Stress test: how the model's main metric degrades under noise, missing values and out-of-range values.

Every curve starts from the clean sample (level 0 is the sample itself, unchanged, so it reproduces the clean
metric exactly) and perturbs a copy, with one seeded generator per curve:

* noise: N(0, (level * std)^2) added to every present value of every numeric column (std of the reference data:
  the training data when the engine supplies it, else the sample); categorical columns untouched.
* missing: each cell of every column set missing with probability `rate`. The model's own handling of missing
  values is used when it gives finite outputs for an all-missing row; otherwise the perturbed cells are imputed
  (median / most frequent category of the reference data) and the result says so.
* out_of_range: `out_of_range_rate` of the present numeric cells are moved beyond the reference range, to
  max + factor * (max - min) or min - factor * (max - min) (side drawn at random).
* sensitivity, one column at a time: numeric columns get N(0, (sensitivity_noise * std)^2) noise, categorical
  columns a random other category (missing ones a random category); the metric drop and the share of changed
  predictions, averaged over `sensitivity_repeats` draws.

Drop = (clean - perturbed) / |clean| (for mae and rmse a rise is a drop). skill_lost = (clean - perturbed) /
(clean - constant-model score): the share of the model's margin over always predicting the majority class (the
mean for regression) that the perturbation takes away. The breaking level of a curve is its first level whose
skill_lost exceeds `max_drop`, or where the model collapses (a class it recalled on the clean sample is recalled
no more); the reference line sits where `max_drop` of that margin is gone, so it never lies below a constant
model. The metric is chosen by `_verdict.choose_metric`. Needs the target.

Result keys: summary, charts (one per curve, sensitivity bars), tables, rows_used, explainer, method, metric,
clean_metrics, clean_score, curves {noise, missing, out_of_range: [{level, score, drop, skill_lost, per_class,
collapse, ...}]}, breaking_levels, collapses (the first per curve, named), sensitivity [{feature, type, score, drop,
prediction_change}],
missing_handling, verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import ParamError
from explain.analyses._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    Progress,
    check_known,
    common_params,
    figure,
    float_param,
    fmt,
    int_param,
    json_safe,
    positive_class_param,
    resolve_task,
    rng,
    table,
)

from ._base import (
    LOWER_IS_BETTER,
    as_float_frame,
    can_take_missing,
    categories,
    column_stats,
    compute_metrics,
    drop,
    evaluation_target,
    gaussian_noise,
    impute,
    metric_param,
    model_metrics,
    modes,
    number_list_param,
    reference_frame,
    reject_reserved,
    split_engine_params,
    to_labels,
)
from ._verdict import (
    choose_metric,
    class_report,
    collapse,
    constant_baseline,
    constant_predictions,
    skill_lost,
    summary_lines,
    threshold_line,
    verdict,
)

KIND = "stress_test"
TITLE = "Stress test: noise, missing values, out-of-range values, per-feature sensitivity"
DEFAULT_PARAMS = {
    **COMMON_DEFAULTS,
    "metric": None,
    "positive_class": None,
    "noise_levels": [0, 0.05, 0.1, 0.2, 0.5, 1.0],
    "missing_rates": [0, 0.05, 0.1, 0.2, 0.4],
    "out_of_range_factors": [0, 0.1, 0.5, 1.0, 2.0],
    "out_of_range_rate": 0.1,
    "max_drop": 0.05,
    "sensitivity_noise": 1.0,
    "sensitivity_repeats": 3,
}
REQUIRES_TARGET = True
CURVES = {"noise": "Gaussian noise (× std)", "missing": "missing values (share of cells)",
          "out_of_range": "out-of-range values (beyond the range by × range)"}


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["metric"] = metric_param(params)
    cleaned["positive_class"] = positive_class_param(params)
    cleaned["noise_levels"] = _with_zero(number_list_param(params, "noise_levels", minimum=0.0, maximum=100.0))
    cleaned["missing_rates"] = _with_zero(number_list_param(params, "missing_rates", minimum=0.0, maximum=0.95))
    cleaned["out_of_range_factors"] = _with_zero(number_list_param(params, "out_of_range_factors", minimum=0.0,
                                                                   maximum=100.0))
    cleaned["out_of_range_rate"] = float_param(params, "out_of_range_rate", minimum=0.0, maximum=1.0,
                                               exclusive_minimum=True)
    cleaned["max_drop"] = float_param(params, "max_drop", minimum=0.0, maximum=1.0, exclusive_minimum=True)
    cleaned["sensitivity_noise"] = float_param(params, "sensitivity_noise", minimum=0.0, maximum=100.0,
                                               exclusive_minimum=True)
    cleaned["sensitivity_repeats"] = int_param(params, "sensitivity_repeats", minimum=1, maximum=20)
    return cleaned


def _with_zero(levels: list) -> list:
    return levels if 0 in levels else [0.0, *levels]


# --- perturbations ----------------------------------------------------------------------------------------------


def with_missing(X: pd.DataFrame, rate: float, generator: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """X with each cell missing with probability `rate`, and the mask of the cells made missing."""
    if rate == 0:
        return X.copy(), np.zeros(X.shape, dtype=bool)
    chosen = generator.random(X.shape) < rate
    return X.mask(pd.DataFrame(chosen, index=X.index, columns=X.columns)), chosen


def out_of_range(X: pd.DataFrame, factor: float, rate: float, stats: dict, generator: np.random.Generator):
    if factor == 0:
        return X.copy()
    out = as_float_frame(X, list(stats))
    for column, s in stats.items():
        values = out[column].to_numpy(dtype=float, copy=True)
        width = (s["max"] - s["min"]) or s["std"]
        chosen = (generator.random(len(values)) < rate) & np.isfinite(values)
        above = generator.random(len(values)) < 0.5
        values[chosen & above] = s["max"] + factor * width
        values[chosen & ~above] = s["min"] - factor * width
        out[column] = values
    return out


def other_category(X: pd.DataFrame, column: str, values: list, generator: np.random.Generator) -> pd.DataFrame:
    out = X.copy()
    current = out[column].tolist()
    replaced = []
    for value in current:
        options = [v for v in values if pd.isna(value) or v != value] or values
        replaced.append(options[int(generator.integers(len(options)))] if options else value)
    out[column] = pd.Series(replaced, index=out.index, dtype=X[column].dtype)
    return out


class Scorer:
    """The main metric of the model on perturbed copies of X, imputing first when the model cannot take NaN."""

    def __init__(self, model, X, target, task, outputs, metric, stats, modes_, impute_missing: bool):
        self.model, self.X, self.target, self.task, self.outputs = model, X, target, task, outputs
        self.metric, self.stats, self.modes, self.impute_missing = metric, stats, modes_, impute_missing
        self.clean_predictions = np.asarray(model.predict(X)).ravel()
        self.last_labels = None

    def __call__(self, frame: pd.DataFrame) -> tuple[float | None, float]:
        if self.impute_missing:
            frame = impute(frame, self.stats, self.modes)
        predicted = np.asarray(self.model.predict(frame)).ravel()  # probabilities only when the metric needs them
        proba = self.model.predict_proba(frame) if self.metric == "roc_auc" else None
        labels = predicted.astype(float) if self.task != CLASSIFICATION else to_labels(predicted, self.outputs.classes)
        self.last_labels = labels
        score = compute_metrics(self.task, self.target, labels, proba, self.outputs)[self.metric]
        if self.task != CLASSIFICATION:
            return score, float(np.mean(np.abs(predicted.astype(float) - self.clean_predictions.astype(float))))
        changed = float(np.mean([str(a) != str(b) for a, b in zip(predicted, self.clean_predictions, strict=True)]))
        return score, changed


def feature_sensitivity(scorer: Scorer, X: pd.DataFrame, clean: float, stats: dict, cats: dict, *, noise: float,
                        repeats: int, random_state: int, progress=None) -> list[dict]:
    """Per column: the metric after perturbing that column alone, its drop, the share of changed predictions."""
    results = []
    for position, column in enumerate(X.columns):
        generator = rng(random_state + 7919 * (position + 1))
        scores, changes = [], []
        for _ in range(repeats):
            if column in stats:
                frame = gaussian_noise(X, noise, stats, generator, columns=[column])
            elif cats.get(column):
                frame = other_category(X, column, cats[column], generator)
            else:
                frame = X.copy()
            score, changed = scorer(frame)
            scores.append(score)
            changes.append(changed)
        valid = [s for s in scores if s is not None]
        score = float(np.mean(valid)) if valid else None
        results.append({"feature": column, "type": "numeric" if column in stats else "categorical",
                        "perturbation": (f"+N(0, ({noise:g} std)^2)" if column in stats
                                         else "random other category"),
                        "score": score, "drop": drop(clean, score, scorer.metric),
                        "prediction_change": float(np.mean(changes))})
        if progress is not None:
            progress((position + 1) / len(X.columns), f"Sensitivity of {column}")
    results.sort(key=lambda item: -(item["drop"] if item["drop"] is not None else -np.inf))
    return results


def build_scorer(model, X, target, task, outputs, metric, reference) -> tuple[Scorer, dict, dict, str]:
    stats = column_stats(reference)
    takes_missing, reason = can_take_missing(model, X, task)
    handling = ("the model's own handling of missing values" if takes_missing else
                f"median / most-frequent imputation with the reference data's statistics, because the model "
                f"cannot take missing values ({reason})")
    return Scorer(model, X, target, task, outputs, metric, stats, modes(reference), not takes_missing), stats, \
        categories(reference), handling


# --- run ------------------------------------------------------------------------------------------------------


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    X, target, outputs = evaluation_target(model, X, y, task, params["positive_class"], needed="the stress test")
    choice = choose_metric(params["metric"], task, target, primary=engine.get("_primary_metric"))
    metric = choice["name"]
    reference = reference_frame(engine, X)
    reference_name = "training data" if reference is not None else "the evaluation sample"
    reference = reference if reference is not None else X
    report(2, "Scoring the clean sample")
    scorer, stats, cats, handling = build_scorer(model, X, target, task, outputs, metric, reference)
    clean_metrics = model_metrics(model, X, target, task, outputs)
    clean = clean_metrics[metric]
    if clean is None:
        raise ParamError(f"{metric} cannot be computed on this sample (a single class in the target?); choose "
                         "another metric")
    baseline = constant_baseline(task, metric, target.to_numpy(), outputs)
    classification = task == CLASSIFICATION
    before = class_report(target, to_labels(scorer.clean_predictions, outputs.classes), outputs.classes) \
        if classification else None
    seed = params["random_state"]
    curves = {"noise": [], "missing": [], "out_of_range": []}
    plan = ([("noise", level) for level in params["noise_levels"]]
            + [("missing", rate) for rate in params["missing_rates"]]
            + [("out_of_range", factor) for factor in params["out_of_range_factors"]])
    generators = {name: rng(seed + offset) for offset, name in enumerate(curves, start=1)}
    for step, (name, level) in enumerate(plan):
        report(5 + 60 * step / len(plan), f"{CURVES[name]}: level {level:g}")
        generator = generators[name]
        extra = {}
        if name == "noise":
            frame = gaussian_noise(X, level, stats, generator)
        elif name == "missing":
            frame, chosen = with_missing(X, level, generator)
            extra["cells_made_missing"] = int(chosen.sum())
        else:
            frame = out_of_range(X, level, params["out_of_range_rate"], stats, generator)
        score, changed = scorer(frame)  # level 0 too: the unchanged sample, through the same path
        point = {"level": level, "score": score, "drop": drop(clean, score, metric),
                 "skill_lost": skill_lost(clean, score, baseline["score"], metric), "prediction_change": changed,
                 **extra}
        if classification:
            point["per_class"] = class_report(target, scorer.last_labels, outputs.classes)
            point["collapse"] = collapse(before, point["per_class"], scorer.last_labels)
        curves[name].append(point)
    breaking = {name: next((p["level"] for p in points if _breaks(p, params["max_drop"])), None)
                for name, points in curves.items()}
    # A model that is constant already fails; a collapse is named at the level where it happens (a breaking
    # level, and the scorecard's failure when it happens at the gate's noise level): the curves run on to
    # extreme levels on purpose, so a collapse at 40 % missing cells is a finding, not a failed gate.
    failures = [message for message in [constant_predictions(before, scorer.clean_predictions)] if message] \
        if classification else []
    collapses = []
    for name, points in curves.items():
        first = next((p for p in points if p.get("collapse")), None)
        if first is not None:
            collapses.append(f"under {CURVES[name]} at level {first['level']:g}: {first['collapse']['message']}")
    report(66, "Per-feature sensitivity")
    sensitivity = feature_sensitivity(scorer, X, clean, stats, cats, noise=params["sensitivity_noise"],
                                      repeats=params["sensitivity_repeats"], random_state=seed,
                                      progress=report.span(66, 97))
    result = {
        "kind": KIND,
        "rows_used": X.index.tolist(),
        "explainer": "perturbed copies of the sample scored with the model",
        "method": {
            "metric": metric,
            "metric_direction": "lower is better" if metric in LOWER_IS_BETTER else "higher is better",
            "metric_reason": choice["reason"],
            "drop": "(clean - perturbed) / |clean| (for mae/rmse: (perturbed - clean) / |clean|)",
            "skill_lost": "(clean - perturbed) / (clean - constant-model score): the share of the margin over a "
                          "constant model lost",
            "breaking_level": "first level whose skill_lost exceeds max_drop, or where the model collapses",
            "max_drop": params["max_drop"],
            "reference": reference_name,
            "noise": "N(0, (level × std)^2) on every present numeric value; categorical columns untouched",
            "missing": "each cell of every column missing with probability = level",
            "out_of_range": (f"{params['out_of_range_rate']:.0%} of present numeric cells set to max + level × range "
                             "or min - level × range (side at random)"),
            "sensitivity": (f"one column at a time: numeric +N(0, ({params['sensitivity_noise']:g} std)^2), "
                            f"categorical: random other category; mean of {params['sensitivity_repeats']} draws"),
            "missing_handling": handling,
            "level_0": "the sample itself, unchanged",
            "prediction_change": ("share of rows whose predicted class changed" if task == CLASSIFICATION
                                  else "mean absolute change of the prediction"),
            "random_state": seed,
            "positive_class": outputs.positive_class if task == CLASSIFICATION else None,
        },
        "metric": metric,
        "clean_metrics": clean_metrics,
        "clean_score": clean,
        "curves": curves,
        "breaking_levels": breaking,
        "sensitivity": sensitivity,
        "missing_handling": handling,
        "baseline": baseline,
        "collapses": collapses,
        "verdict": verdict(task=task, metric=choice, baseline=baseline, clean=clean, failures=failures,
                           before=before),
        "charts": _charts(curves, sensitivity, metric, clean, params["max_drop"], baseline),
        "tables": _tables(curves, sensitivity, metric, before),
    }
    result["summary"] = _summary(result, params["max_drop"])
    report(100, "Done")
    return json_safe(result)


def _breaks(point: dict, max_drop: float) -> bool:
    return bool(point.get("collapse")) or (point["skill_lost"] is not None and point["skill_lost"] > max_drop)


def _charts(curves: dict, sensitivity: list[dict], metric: str, clean: float, max_drop: float,
            baseline: dict) -> list[dict]:
    charts = []
    line = threshold_line(clean, baseline["score"], metric, max_drop)
    for name, points in curves.items():
        fig = go.Figure(go.Scatter(x=[p["level"] for p in points], y=[p["score"] for p in points],
                                   mode="lines+markers", name=metric))
        fig.add_hline(y=line, line_dash="dash", line_color="#FB8C00",
                      annotation_text=f"{max_drop:.0%} of the margin over a constant model lost")
        if baseline["score"] is not None:
            fig.add_hline(y=baseline["score"], line_dash="dot", line_color="#E53935",
                          annotation_text="constant model", annotation_position="bottom right")
        fig.update_layout(xaxis_title=CURVES[name], yaxis_title=metric, height=340)
        charts.append(figure(f"{metric} under {CURVES[name]}", fig))
    items = list(reversed(sensitivity))
    fig = go.Figure(go.Bar(x=[round(100 * (item["drop"] or 0), 3) for item in items],
                           y=[item["feature"] for item in items], orientation="h",
                           marker={"color": ["#E53935" if (item["drop"] or 0) > max_drop else "#1E88E5"
                                             for item in items]}))
    fig.update_layout(xaxis_title=f"drop in {metric} when the column alone is perturbed (%)",
                      height=max(300, 26 * len(items) + 120), margin={"l": 160})
    charts.append(figure("Per-feature sensitivity", fig))
    return charts


def _tables(curves: dict, sensitivity: list[dict], metric: str, before: list[dict] | None) -> list[dict]:
    rows = [[CURVES[name], p["level"], p["score"], p["drop"], p["skill_lost"], p["prediction_change"]]
            for name, points in curves.items() for p in points]
    extra = []
    if before is not None:
        extra.append(table(
            "Per-class recall and precision, clean and at each level",
            ["perturbation", "level", "class", "rows", "predicted", "recall", "precision", "failure"],
            [[CURVES[name], p["level"], c["class"], c["support"], c["predicted"], c["recall"], c["precision"],
              "collapse" if p.get("collapse") and c["class"] in p["collapse"]["lost_classes"] else ""]
             for name, points in curves.items() for p in points for c in p["per_class"]]))
    return [
        table("Degradation curves", ["perturbation", "level", metric, "drop", "margin over a constant model lost",
                                     "prediction change"], rows),
        *extra,
        table("Per-feature sensitivity", ["feature", "type", "perturbation", metric, "drop", "prediction change"],
              [[s["feature"], s["type"], s["perturbation"], s["score"], s["drop"], s["prediction_change"]]
               for s in sensitivity]),
    ]


def _summary(result: dict, max_drop: float) -> dict:
    summary = {**summary_lines(result["verdict"]), "Clean score": round(result["clean_score"], 4),
               "Rows": len(result["rows_used"])}
    for name, level in result["breaking_levels"].items():
        summary[f"Breaks under {CURVES[name]}"] = (
            f"at level {level:g} (more than {max_drop:.0%} of the margin over a constant model lost, or collapse)"
            if level is not None else f"never within the levels tried (≤ {max_drop:.0%} of the margin lost)")
    if result["collapses"]:
        summary["Collapses"] = "; ".join(result["collapses"])
    top = [s for s in result["sensitivity"] if s["drop"] is not None][:3]
    if top:
        summary["Most sensitive features"] = ", ".join(f"{s['feature']} ({fmt(100 * s['drop'], 3)}%)" for s in top)
    summary["Missing values"] = result["missing_handling"]
    return summary
