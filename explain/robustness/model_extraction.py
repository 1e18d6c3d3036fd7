"""Model extraction: how well an attacker with a query budget can copy the model, per output-hardening mode.

The sample is split in two (`holdout` share, `random_state`): the attacker's seed rows and held-out rows that the
attacker never sees. Queries are drawn from the data distribution: seed rows drawn with replacement, each present
numeric value moved by N(0, (`query_noise` × std)^2) noise and each categorical value replaced, with probability
`query_noise`, by a random category of that column (missing values stay missing). The largest budget's queries
are sent once; a smaller budget uses their first rows.

Output modes (what the API returns to the attacker):
* probabilities - the full predict_proba vector;
* labels - the predicted class only;
* rounded - probabilities rounded to 1 decimal.
Regression models: "values" (the prediction) and "rounded" (rounded to 2 significant digits); "labels" does not
apply.

The surrogate (`surrogate`) is trained on the ordinal encoding of rule_extraction (categories as sorted codes,
missing numeric values as a sentinel below the minimum), or for "logistic" on median-imputed, standardised numeric
and one-hot categorical columns. With probability outputs it learns from soft labels: every query row appears
once per class with sample weight = the returned probability (a weighted log-loss on the soft labels). Fidelity =
share of held-out rows where the surrogate predicts the model's class (R² against the model's predictions for
regression); accuracy against the true labels when the target is known. For classifiers, `balanced_fidelity`
is the mean over the model's answered classes of the share the surrogate agrees on: on imbalanced data a
surrogate that always answers the majority class already has a plain fidelity equal to that class's share, so the
scorecard judges balanced fidelity, and `baseline` gives both figures for such a constant surrogate.

Result keys: summary, charts (fidelity vs budget, one line per mode), tables, rows_used, explainer, method,
budgets, modes, points [{mode, budget, fidelity, balanced_fidelity, accuracy}], model_accuracy, best, baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError, ParamError
from explain.analyses._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    check_known,
    choice_param,
    common_params,
    figure,
    float_param,
    fmt,
    json_safe,
    resolve_task,
    rng,
    table,
)
from explain.analyses.rule_extraction import OrdinalCodec

from ._base import (
    categorical_columns,
    categories,
    column_stats,
    evaluation_target,
    number_list_param,
    predictions,
    reject_reserved,
    split_engine_params,
)

KIND = "model_extraction"
TITLE = "Model extraction (surrogate stealing) by query budget"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "budgets": [100, 500, 2000], "modes": ["probabilities", "labels", "rounded"],
                  "surrogate": "gradient_boosting", "query_noise": 0.1, "holdout": 0.3}
MODES = ("probabilities", "labels", "rounded", "values")
SURROGATES = ("gradient_boosting", "decision_tree", "logistic")
MAX_BUDGET = 100_000


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    budgets = params["budgets"]
    for budget in budgets if isinstance(budgets, list | tuple) else [budgets]:
        if isinstance(budget, int | float) and not isinstance(budget, bool) and budget <= 0:
            raise ParamError(f"budgets must be positive numbers of queries, got {budget}")
    cleaned["budgets"] = number_list_param(params, "budgets", minimum=1, maximum=MAX_BUDGET, integer=True)
    modes = params["modes"]
    modes = [modes] if isinstance(modes, str) else modes
    if not isinstance(modes, list | tuple) or not modes:
        raise ParamError(f"modes must list at least one of {', '.join(MODES)}")
    for mode in modes:
        if mode not in MODES:
            raise ParamError(f"unknown output mode {mode!r}; expected some of {', '.join(MODES)}")
    cleaned["modes"] = [mode for mode in MODES if mode in modes]
    cleaned["surrogate"] = choice_param(params, "surrogate", SURROGATES)
    cleaned["query_noise"] = float_param(params, "query_noise", minimum=0.0, maximum=5.0)
    cleaned["holdout"] = float_param(params, "holdout", minimum=0.1, maximum=0.9)
    return cleaned


def draw_queries(seed_rows: pd.DataFrame, n: int, noise: float, stats: dict, cats: dict,
                 generator: np.random.Generator) -> pd.DataFrame:
    """n rows like the seed rows: bootstrap, numeric noise, categorical resampling (see the module docstring)."""
    queries = seed_rows.iloc[generator.integers(len(seed_rows), size=n)].reset_index(drop=True)
    for column in queries.columns:
        if column in stats:
            values = pd.to_numeric(queries[column], errors="coerce").astype(float)
            queries[column] = values + generator.normal(0.0, noise * stats[column]["std"], size=n)
        elif cats.get(column):
            values = queries[column].to_numpy(dtype=object, copy=True)
            change = (generator.random(n) < noise) & ~pd.isna(values)
            values[change] = np.array(cats[column], dtype=object)[generator.integers(len(cats[column]),
                                                                                     size=int(change.sum()))]
            queries[column] = pd.Series(values, dtype=seed_rows[column].dtype)
    return queries


class Surrogate:
    """A fresh surrogate model over an encoding of the original columns."""

    def __init__(self, kind: str, task: str, reference: pd.DataFrame, random_state: int):
        self.kind, self.task, self.random_state = kind, task, random_state
        self.codec = OrdinalCodec(reference)
        self.categorical = categorical_columns(reference)

    def _encoder(self):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric = [c for c in self.codec.columns if c not in self.categorical]
        return ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), self.categorical),
        ])

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for column in self.categorical:
            out[column] = out[column].astype(object).where(out[column].notna(), "(missing)").astype(str)
        return out

    def _estimator(self):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        if self.kind == "gradient_boosting":
            return (HistGradientBoostingClassifier(max_iter=100, random_state=self.random_state)
                    if self.task == CLASSIFICATION else
                    HistGradientBoostingRegressor(max_iter=100, random_state=self.random_state))
        if self.kind == "decision_tree":
            return (DecisionTreeClassifier(min_samples_leaf=2, random_state=self.random_state)
                    if self.task == CLASSIFICATION else
                    DecisionTreeRegressor(min_samples_leaf=2, random_state=self.random_state))
        return LogisticRegression(max_iter=2000) if self.task == CLASSIFICATION else LinearRegression()

    def fit(self, X: pd.DataFrame, target: np.ndarray, weights: np.ndarray | None = None):
        from sklearn.pipeline import make_pipeline

        if self.kind == "logistic":
            self.model = make_pipeline(self._encoder(), self._estimator())
            features = self._frame(X)
            kwargs = {} if weights is None else {f"{self.model.steps[-1][0]}__sample_weight": weights}
        else:
            self.model = self._estimator()
            features = self.codec.encode(X)
            kwargs = {} if weights is None else {"sample_weight": weights}
        self.model.fit(features, target, **kwargs)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._frame(X) if self.kind == "logistic" else self.codec.encode(X))


def soft_labels(queries: pd.DataFrame, proba: np.ndarray, classes: list) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Each row once per class with a positive probability, weighted by it."""
    rows, labels, weights = [], [], []
    for j in range(proba.shape[1]):
        keep = proba[:, j] > 0
        rows.append(np.flatnonzero(keep))
        labels.append(np.full(int(keep.sum()), j))
        weights.append(proba[keep, j])
    positions = np.concatenate(rows)
    return queries.iloc[positions], np.array([str(classes[j]) for j in np.concatenate(labels)]), \
        np.concatenate(weights)


def round_significant(values: np.ndarray, digits: int = 2) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.where(values == 0, 0, np.floor(np.log10(np.abs(values))))
    factor = 10.0 ** (digits - 1 - magnitude)
    return np.round(values * factor) / factor


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.model_selection import train_test_split

    report = Progress(progress)
    params, _ = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    X_all, target, outputs = evaluation_target(model, X, y, task)
    modes = [m for m in params["modes"] if (m != "labels" if task == REGRESSION else m != "values")]
    if task == REGRESSION and "probabilities" in modes:
        modes = ["values" if m == "probabilities" else m for m in modes]
        modes = list(dict.fromkeys(modes))
    if not modes:
        raise ParamError("none of the requested output modes applies to this model's task")
    if len(X_all) < 20:
        raise AnalysisError(f"model extraction needs at least 20 rows, got {len(X_all)}")
    seed_part, held_out = train_test_split(np.arange(len(X_all)), test_size=params["holdout"],
                                           random_state=params["random_state"])
    seed_rows, held = X_all.iloc[np.sort(seed_part)], X_all.iloc[np.sort(held_out)]
    classes = outputs.classes if task == CLASSIFICATION else None
    generator = rng(params["random_state"])
    report(3, f"Drawing {max(params['budgets'])} queries")
    queries = draw_queries(seed_rows, max(params["budgets"]), params["query_noise"], column_stats(seed_rows),
                           categories(seed_rows), generator)
    answers, proba = predictions(model, queries, task, classes)
    model_held, _ = predictions(model, held, task, classes)
    truth = target.loc[held.index].to_numpy() if target is not None else None
    model_accuracy = (float(np.mean([str(a) == str(b) for a, b in zip(model_held, truth, strict=True)]))
                      if truth is not None and task == CLASSIFICATION else None)
    points = []
    total = len(modes) * len(params["budgets"])
    for m_index, mode in enumerate(modes):
        for b_index, budget in enumerate(params["budgets"]):
            report(8 + 88 * (m_index * len(params["budgets"]) + b_index) / total,
                   f"Surrogate from {budget} queries ({mode})")
            q = queries.iloc[:budget]
            surrogate = Surrogate(params["surrogate"], task, X_all, params["random_state"])
            note = None
            if task == REGRESSION:
                values = answers[:budget] if mode == "values" else round_significant(answers[:budget])
                surrogate.fit(q, values)
            elif mode == "labels" or proba is None:
                labels = np.array([str(v) for v in answers[:budget]])
                note = None if mode == "labels" else "the model gives no probabilities: trained on labels"
                if len(set(labels)) < 2:
                    points.append({"mode": mode, "budget": budget, "fidelity": None, "balanced_fidelity": None,
                                   "accuracy": None,
                                   "note": "every answer was the same class: no surrogate can be trained"})
                    continue
                surrogate.fit(q, labels)
            else:
                returned = proba[:budget] if mode == "probabilities" else np.round(proba[:budget], 1)
                rows, labels, weights = soft_labels(q, returned, classes)
                if len(set(labels)) < 2:
                    points.append({"mode": mode, "budget": budget, "fidelity": None, "balanced_fidelity": None,
                                   "accuracy": None,
                                   "note": "every answer was the same class: no surrogate can be trained"})
                    continue
                surrogate.fit(rows, labels, weights)
            guessed = surrogate.predict(held)
            balanced = None
            if task == REGRESSION:
                fidelity = float(r2_score(np.asarray(model_held, dtype=float), np.asarray(guessed, dtype=float)))
                accuracy = (float(r2_score(truth.astype(float), np.asarray(guessed, dtype=float)))
                            if truth is not None else None)
            else:
                guessed = np.array([str(v) for v in guessed])
                answered = np.array([str(v) for v in model_held])
                fidelity = float(np.mean(guessed == answered))
                balanced = float(balanced_accuracy_score(answered, guessed)) if len(set(answered)) > 1 else fidelity
                accuracy = (float(np.mean(guessed == np.array([str(v) for v in truth]))) if truth is not None
                            else None)
            points.append({"mode": mode, "budget": budget, "fidelity": fidelity, "balanced_fidelity": balanced,
                           "accuracy": accuracy, "note": note})
    valid = [p for p in points if p["fidelity"] is not None]
    best = max(valid, key=lambda p: p["fidelity"]) if valid else None
    fidelity_name = "R² against the model" if task == REGRESSION else "agreement with the model"
    baseline = None
    if task == CLASSIFICATION:
        answered = pd.Series([str(v) for v in model_held])
        counts = answered.value_counts()
        baseline = {"strategy": f"a surrogate that always answers {counts.index[0]!r}, the model's most common answer",
                    "fidelity": float(counts.iloc[0] / len(answered)), "balanced_fidelity": 1.0 / len(counts)}
    result = {
        "kind": KIND,
        "rows_used": X_all.index.tolist(),
        "held_out_rows": held.index.tolist(),
        "explainer": f"surrogate {params['surrogate']} trained on the model's answers to sampled queries",
        "method": {
            "queries": (f"bootstrap of {len(seed_rows)} seed rows, numeric +N(0, ({params['query_noise']:g} std)^2), "
                        f"categories resampled with probability {params['query_noise']:g}; nested budgets"),
            "held_out": f"{len(held)} rows never used as query seeds ({params['holdout']:.0%})",
            "modes": {"probabilities": "full predict_proba", "labels": "predicted class only",
                      "rounded": "probabilities rounded to 1 decimal (regression: 2 significant digits)",
                      "values": "the predicted value"},
            "soft_labels": "each query row once per class, sample weight = returned probability",
            "surrogate": params["surrogate"],
            "encoding": ("one-hot categories, median-imputed standardised numeric columns"
                         if params["surrogate"] == "logistic" else
                         "ordinal codes (rule_extraction.OrdinalCodec), missing numeric values as a sentinel"),
            "fidelity": fidelity_name,
            "balanced_fidelity": ("mean over the model's answered classes of the surrogate's agreement (balanced "
                                  "accuracy against the model's answers)" if task == CLASSIFICATION else None),
            "accuracy": "surrogate vs the true labels (R² for regression) on the held-out rows",
            "random_state": params["random_state"],
        },
        "budgets": params["budgets"],
        "modes": modes,
        "points": points,
        "model_accuracy": model_accuracy,
        "best": best,
        "baseline": baseline,
        "charts": [_chart(points, modes, fidelity_name)],
        "tables": [table("Surrogate fidelity by budget and output mode",
                         ["output mode", "budget (queries)", "fidelity", "balanced fidelity", "surrogate accuracy",
                          "note"],
                         [[p["mode"], p["budget"], p["fidelity"], p.get("balanced_fidelity"), p["accuracy"],
                           p.get("note")] for p in points])],
    }
    summary = {"Fidelity": fidelity_name + " on held-out rows",
               "Surrogate": params["surrogate"]}
    for mode in modes:
        summary[f"Fidelity ({mode})"] = ", ".join(f"{p['budget']}: {fmt(p['fidelity'], 3)}" for p in points
                                                  if p["mode"] == mode)
    if best:
        summary["Best copy"] = (f"{fmt(best['fidelity'], 3)} with {best['budget']} queries returning {best['mode']}")
    if model_accuracy is not None:
        summary["Model accuracy (held-out)"] = round(model_accuracy, 4)
    if baseline is not None:
        summary["Constant surrogate"] = (f"fidelity {fmt(baseline['fidelity'], 3)}, balanced fidelity "
                                         f"{fmt(baseline['balanced_fidelity'], 3)} ({baseline['strategy']})")
    result["summary"] = summary
    report(100, "Done")
    return json_safe(result)


def _chart(points: list[dict], modes: list[str], fidelity_name: str) -> dict:
    fig = go.Figure()
    for mode in modes:
        chosen = [p for p in points if p["mode"] == mode]
        fig.add_trace(go.Scatter(x=[p["budget"] for p in chosen], y=[p["fidelity"] for p in chosen],
                                 mode="lines+markers", name=mode))
    fig.update_layout(xaxis_title="query budget", xaxis_type="log", yaxis_title=fidelity_name, height=380)
    return figure("Extraction fidelity vs query budget", fig)
