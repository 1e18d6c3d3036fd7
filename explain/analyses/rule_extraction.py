"""A surrogate decision tree fitted to the MODEL's predictions, read as if-then rules, plus interpretable baselines.

* Encoding (recorded): categorical columns become ordinal codes (categories sorted, a missing category coded -1
  so that it sorts first), numeric columns stay as they are and missing values get a sentinel just below the
  column's minimum (minimum - 1), so that "missing" can be split off and every rule can say so. Rules are
  decoded back: category sets by name, thresholds in the column's units, the sentinel as "is missing".
* The sample is split into a training part and a held-out part (`test_size`, `random_state`). The surrogate
  (DecisionTreeClassifier / DecisionTreeRegressor, max_depth = `depth`, min_samples_leaf = `min_samples_leaf`)
  learns the model's predictions (labels for classification, values for regression) on the training part;
  its fidelity is its agreement with the model on the held-out part (accuracy, or R² for regression).
* One rule per leaf, with support (share of the training part in the leaf; they sum to 100%), confidence (share
  of the leaf's training rows where the model predicts the rule's class; for regression the std of the model's
  predictions in the leaf) and the held-out rows' fidelity in that leaf.
* With a target: interpretable baselines trained on the TRUE labels of the training part (a tree of the same
  depth on the encoded data, and a logistic / linear regression on median-imputed, missing-indicator,
  standardised numeric and one-hot categorical columns), scored on the held-out part next to the model's own
  held-out score. Without a target: rules and fidelity only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError

from ._common import (
    CLASSIFICATION,
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    align_target,
    check_known,
    common_params,
    figure,
    float_param,
    fmt,
    int_param,
    is_categorical,
    json_safe,
    match_label,
    resolve_task,
    sort_key,
    table,
)

KIND = "rule_extraction"
TITLE = "Rule extraction (surrogate tree) and interpretable baselines"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "depth": 3, "test_size": 0.3, "min_samples_leaf": 1}
MISSING_CODE = -1
MIN_ROWS = 10


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["depth"] = int_param(params, "depth", minimum=1, maximum=8)
    cleaned["test_size"] = float_param(params, "test_size", minimum=0.05, maximum=0.8)
    cleaned["min_samples_leaf"] = int_param(params, "min_samples_leaf", minimum=1, maximum=10_000)
    return cleaned


class OrdinalCodec:
    """Original columns -> a numeric matrix a tree can split, with what is needed to read the splits back."""

    def __init__(self, X: pd.DataFrame):
        self.columns = list(X.columns)
        self.categories: dict[str, list] = {}
        self.sentinels: dict[str, float] = {}
        self.minimums: dict[str, float] = {}
        self.has_missing: dict[str, bool] = {}
        for column in self.columns:
            series = X[column]
            self.has_missing[column] = bool(series.isna().any())
            if is_categorical(series):
                self.categories[column] = sorted(pd.unique(series.dropna()).tolist(), key=sort_key)
            else:
                numeric = pd.to_numeric(series, errors="coerce").astype(float)
                minimum = float(numeric.min()) if numeric.notna().any() else 0.0
                self.minimums[column] = minimum
                if numeric.isna().any():
                    self.sentinels[column] = float(np.floor(minimum) - 1)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)))
        for j, column in enumerate(self.columns):
            if column in self.categories:
                lookup = {value: code for code, value in enumerate(self.categories[column])}
                out[:, j] = [MISSING_CODE if pd.isna(v) else lookup.get(v, MISSING_CODE) for v in X[column].tolist()]
            else:
                numeric = pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                out[:, j] = np.where(np.isnan(numeric), self.sentinels.get(column, self.minimums[column] - 1),
                                     numeric)
        return out

    def describe(self) -> dict:
        return {
            "categorical": {c: {str(code): v for code, v in enumerate(values)} | {str(MISSING_CODE): "(missing)"}
                            for c, values in self.categories.items()},
            "missing_sentinels": self.sentinels,
            "note": "categories as ordinal codes (sorted; missing = -1); numeric missing values replaced by the "
                    "sentinel (the column's minimum - 1) so that the tree can split them off",
        }

    def every_code(self, column: str) -> set:
        """The codes a categorical column can take: its categories, and "missing" if the data has missing values."""
        codes = set(range(len(self.categories[column])))
        return codes | {MISSING_CODE} if self.has_missing[column] else codes

    def condition(self, column: str, low: float, high: float) -> str | None:
        """Readable condition for low < value <= high on a numeric column (the sentinel read as "missing")."""
        if low == -np.inf and high == np.inf:
            return None
        sentinel = self.sentinels.get(column)
        minimum = self.minimums[column]
        if sentinel is None:
            return _interval(column, low, high)
        includes_missing = low < sentinel <= high
        if high < minimum:
            return f"{column} is missing" if includes_missing else f"{column} is impossible"
        real = _interval(column, low if low >= minimum else -np.inf, high)
        if includes_missing:
            return f"({real} or {column} is missing)" if real else None
        return f"{real} (not missing)" if real else f"{column} is not missing"


def _interval(column: str, low: float, high: float) -> str | None:
    if low == -np.inf and high == np.inf:
        return None
    if low == -np.inf:
        return f"{column} <= {_number(high)}"
    if high == np.inf:
        return f"{column} > {_number(low)}"
    return f"{_number(low)} < {column} <= {_number(high)}"


def _number(value: float) -> str:
    return f"{value:.6g}"


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    report = Progress(progress)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if len(X) < MIN_ROWS:
        raise AnalysisError(f"rule extraction needs at least {MIN_ROWS} rows, got {len(X)}")
    report(2, "Predicting with the model")
    predicted = np.asarray(model.predict(X))
    if task == REGRESSION:
        predicted = predicted.astype(float).reshape(len(X))
    else:
        classes = list(model.classes) if model.classes is not None else sorted(pd.unique(predicted), key=sort_key)
        predicted = np.array([match_label(p, classes) if match_label(p, classes) is not None else p
                              for p in predicted.ravel()], dtype=object)
    codec = OrdinalCodec(X)
    encoded = codec.encode(X)
    positions = np.arange(len(X))
    train, test = train_test_split(positions, test_size=params["test_size"], random_state=params["random_state"])
    train, test = np.sort(train), np.sort(test)
    report(20, "Fitting the surrogate tree")
    tree_class = DecisionTreeRegressor if task == REGRESSION else DecisionTreeClassifier
    surrogate = tree_class(max_depth=params["depth"], min_samples_leaf=params["min_samples_leaf"],
                           random_state=params["random_state"])
    surrogate.fit(encoded[train], _fit_target(predicted[train], task))
    fidelity_test = _agreement(surrogate.predict(encoded[test]), predicted[test], task)
    fidelity_train = _agreement(surrogate.predict(encoded[train]), predicted[train], task)
    report(40, "Reading the rules")
    rules = extract_rules(surrogate, codec, encoded, predicted, train, test, task)
    report(60, "Training interpretable baselines")
    baselines = None
    if y is not None:
        baselines = _baselines(model, X, y, encoded, train, test, task, params)
    report(95, "Building charts")
    metric = "R²" if task == REGRESSION else "accuracy"
    result = {
        "kind": KIND,
        "rows_used": X.index.tolist(),
        "train_rows": X.index[train].tolist(),
        "held_out_rows": X.index[test].tolist(),
        "explainer": f"surrogate {tree_class.__name__}(max_depth={params['depth']})",
        "method": {
            "surrogate": tree_class.__name__,
            "max_depth": params["depth"],
            "min_samples_leaf": params["min_samples_leaf"],
            "target": "the model's predictions (not the true labels)",
            "fidelity": f"{metric} of the surrogate against the model on the held-out rows",
            "test_size": params["test_size"],
            "random_state": params["random_state"],
            "encoding": codec.describe(),
        },
        "fidelity": fidelity_test,
        "fidelity_train": fidelity_train,
        "fidelity_metric": metric,
        "rules": rules,
        "baselines": baselines,
        "charts": _charts(rules, fidelity_test, baselines, metric, task),
        "tables": [table("Rules (one per leaf)", ["rule", "prediction", "support", "confidence / std",
                                                  "held-out rows", "held-out fidelity"],
                         [[r["text"], r["prediction"], r["support"], r.get("confidence", r.get("std")),
                           r["held_out_rows"], r["held_out_fidelity"]] for r in rules])],
    }
    if baselines:
        result["tables"].append(table("Held-out performance on the true labels", ["model", *baselines["metrics"]],
                                      [[name, *[scores.get(m) for m in baselines["metrics"]]]
                                       for name, scores in baselines["scores"].items()]))
    result["summary"] = _summary(result, task)
    report(100, "Done")
    return json_safe(result)


def _fit_target(values: np.ndarray, task: str) -> np.ndarray:
    return values.astype(float) if task == REGRESSION else np.array([str(v) for v in values])


def _agreement(surrogate_predictions, model_predictions, task: str) -> float | None:
    from sklearn.metrics import r2_score

    if len(model_predictions) == 0:
        return None
    if task == REGRESSION:
        if np.ptp(model_predictions) == 0:
            return 1.0 if np.allclose(surrogate_predictions, model_predictions) else 0.0
        return float(r2_score(model_predictions.astype(float), surrogate_predictions))
    return float(np.mean(np.asarray(surrogate_predictions) == np.array([str(v) for v in model_predictions])))


def extract_rules(surrogate, codec: OrdinalCodec, encoded, predicted, train, test, task: str) -> list[dict]:
    tree = surrogate.tree_
    leaf_train = surrogate.apply(encoded[train])
    leaf_test = surrogate.apply(encoded[test]) if len(test) else np.array([], dtype=int)
    total = tree.n_node_samples[0]
    rules = []

    def walk(node: int, bounds: dict, allowed: dict):
        if tree.children_left[node] == tree.children_right[node]:  # a leaf
            rules.append(_rule(node, bounds, allowed))
            return
        j, threshold = int(tree.feature[node]), float(tree.threshold[node])
        column = codec.columns[j]
        if column in codec.categories:
            codes = allowed.get(column, codec.every_code(column))
            left = {c for c in codes if c <= threshold}
            walk(tree.children_left[node], bounds, {**allowed, column: left})
            walk(tree.children_right[node], bounds, {**allowed, column: codes - left})
        else:
            low, high = bounds.get(column, (-np.inf, np.inf))
            walk(tree.children_left[node], {**bounds, column: (low, min(high, threshold))}, allowed)
            walk(tree.children_right[node], {**bounds, column: (max(low, threshold), high)}, allowed)

    def _rule(node: int, bounds: dict, allowed: dict) -> dict:
        conditions = []
        for column in codec.columns:
            if column in codec.categories and column in allowed:
                text = codec_condition(codec, column, allowed[column])
            elif column in bounds:
                text = codec.condition(column, *bounds[column])
            else:
                text = None
            if text:
                conditions.append(text)
        in_train = leaf_train == node
        in_test = leaf_test == node
        support = float(tree.n_node_samples[node] / total)
        rule = {"leaf": node, "conditions": conditions, "support": support, "train_rows": int(in_train.sum()),
                "held_out_rows": int(in_test.sum())}
        if task == REGRESSION:
            values = predicted[train][in_train].astype(float)
            rule["prediction"] = float(tree.value[node].ravel()[0])
            rule["std"] = float(values.std()) if len(values) else None
            held = predicted[test][in_test].astype(float)
            rule["held_out_fidelity"] = float(np.mean(np.abs(held - rule["prediction"]))) if len(held) else None
            then = f"prediction = {fmt(rule['prediction'], 4)} (support {support:.1%}, std {fmt(rule['std'], 3)})"
        else:
            labels = np.array([str(v) for v in predicted[train][in_train]])
            label = str(surrogate.classes_[int(np.argmax(tree.value[node].ravel()))])
            rule["prediction"] = label
            rule["confidence"] = float(np.mean(labels == label)) if len(labels) else None
            held = np.array([str(v) for v in predicted[test][in_test]])
            rule["held_out_fidelity"] = float(np.mean(held == label)) if len(held) else None
            then = f"{label} (support {support:.1%}, confidence {rule['confidence']:.0%})"
        rule["text"] = ("IF " + " AND ".join(conditions) + " THEN " if conditions else "ALWAYS ") + then
        return rule

    walk(0, {}, {})
    rules.sort(key=lambda r: -r["support"])
    return rules


def codec_condition(codec: OrdinalCodec, column: str, allowed: set) -> str | None:
    values = codec.categories[column]
    every = codec.every_code(column)
    if allowed == every:
        return None

    def name(code):
        return "missing" if code == MISSING_CODE else str(values[code])

    chosen = sorted(allowed)
    excluded = sorted(every - allowed)
    if not chosen:
        return f"{column} is impossible"
    if len(chosen) == 1:
        return f"{column} is missing" if chosen[0] == MISSING_CODE else f"{column} == {name(chosen[0])}"
    if len(excluded) == 1:
        return f"{column} is not missing" if excluded[0] == MISSING_CODE else f"{column} != {name(excluded[0])}"
    if len(excluded) < len(chosen):
        return f"{column} not in {{{', '.join(name(c) for c in excluded)}}}"
    return f"{column} in {{{', '.join(name(c) for c in chosen)}}}"


def _baselines(model, X, y, encoded, train, test, task: str, params: dict) -> dict | None:
    from sklearn import metrics
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    classes = list(model.classes) if task == CLASSIFICATION and model.classes is not None else None
    target = y.loc[X.index]
    known = target.notna().to_numpy()
    if task == CLASSIFICATION:
        aligned = align_target(target[known], classes) if classes else target[known]
        values = np.empty(len(X), dtype=object)
        values[known] = np.array([str(v) for v in aligned])
    else:
        values = np.full(len(X), np.nan)
        values[known] = target[known].astype(float)
    train, test = train[known[train]], test[known[test]]
    if len(train) < 5 or len(test) < 2:
        return {"note": "too few rows with a target for the baselines", "scores": {}, "metrics": []}
    if task == CLASSIFICATION and len(set(values[train])) < 2:
        return {"note": "the training part has a single class: no baseline can be trained", "scores": {},
                "metrics": []}
    numeric = [c for c in X.columns if not is_categorical(X[c])]
    categorical = [c for c in X.columns if is_categorical(X[c])]
    frame = X.copy()
    for column in categorical:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "(missing)").astype(str)
    preprocess = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])
    if task == CLASSIFICATION:
        tree = DecisionTreeClassifier(max_depth=params["depth"], random_state=params["random_state"])
        linear = make_pipeline(preprocess, LogisticRegression(max_iter=2000))
        names = {"tree": f"decision tree (depth {params['depth']}) on the true labels",
                 "linear": "logistic regression on the true labels"}
        metric_names = ["accuracy", "balanced_accuracy"]
    else:
        tree = DecisionTreeRegressor(max_depth=params["depth"], random_state=params["random_state"])
        linear = make_pipeline(preprocess, LinearRegression())
        names = {"tree": f"regression tree (depth {params['depth']}) on the true values",
                 "linear": "linear regression on the true values"}
        metric_names = ["r2", "mean_absolute_error"]
    fit_target = values[train] if task == CLASSIFICATION else values[train].astype(float)
    tree.fit(encoded[train], fit_target)
    linear.fit(frame.iloc[train], fit_target)
    truth = values[test]
    model_predictions = np.asarray(model.predict(X.iloc[test]))
    if task == CLASSIFICATION:
        model_predictions = np.array([str(match_label(p, classes) if classes else p) for p in model_predictions])

    def scores(predicted) -> dict:
        if task == CLASSIFICATION:
            predicted = np.array([str(p) for p in predicted])
            return {"accuracy": float(metrics.accuracy_score(truth, predicted)),
                    "balanced_accuracy": float(metrics.balanced_accuracy_score(truth, predicted))}
        truth_float = truth.astype(float)
        return {"r2": float(metrics.r2_score(truth_float, predicted.astype(float))),
                "mean_absolute_error": float(metrics.mean_absolute_error(truth_float, predicted.astype(float)))}

    return {
        "metrics": metric_names,
        "held_out_rows": len(test),
        "scores": {
            "the model": scores(model_predictions),
            names["tree"]: scores(tree.predict(encoded[test])),
            names["linear"]: scores(linear.predict(frame.iloc[test])),
        },
        "linear_preprocessing": "numeric: median imputation with missing indicators, standardised; categorical: "
                                "one-hot (missing as its own category)",
        "note": "the model was trained elsewhere: if the held-out rows were part of its training data, its score "
                "here is optimistic",
    }


def _charts(rules: list[dict], fidelity, baselines, metric: str, task: str) -> list[dict]:
    charts = []
    shown = list(reversed(rules[:20]))
    fig = go.Figure(go.Bar(
        x=[round(100 * r["support"], 2) for r in shown], y=[f"leaf {r['leaf']}: {r['prediction']}"
                                                           if task != REGRESSION else
                                                           f"leaf {r['leaf']}: {fmt(r['prediction'], 4)}"
                                                           for r in shown],
        orientation="h", text=[r["text"] for r in shown], textposition="none", hovertemplate="%{text}<extra></extra>",
        marker={"color": [r.get("confidence") or 0.5 for r in shown] if task != REGRESSION else "#26A69A",
                "colorscale": "Blues", "cmin": 0, "cmax": 1} if task != REGRESSION else {"color": "#26A69A"},
    ))
    fig.update_layout(xaxis_title="support (% of the training part)", height=max(300, 30 * len(shown) + 120),
                      margin={"l": 160})
    charts.append(figure(f"Surrogate rules (held-out fidelity {fmt(fidelity, 3)})", fig))
    if baselines and baselines.get("scores"):
        key = baselines["metrics"][0]
        names = list(baselines["scores"])
        fig = go.Figure(go.Bar(x=names, y=[baselines["scores"][n][key] for n in names],
                               marker={"color": ["#455A64", "#7E57C2", "#26A69A"][: len(names)]}))
        fig.update_layout(yaxis_title=f"held-out {key}", height=380)
        charts.append(figure("Interpretability vs accuracy: the model and interpretable baselines", fig))
    return charts


def _summary(result: dict, task: str) -> dict:
    rules = result["rules"]
    summary = {
        "Surrogate": result["explainer"],
        "Fidelity (held-out)": f"{result['fidelity_metric']} {fmt(result['fidelity'], 3)} on "
                               f"{len(result['held_out_rows'])} rows "
                               f"(training part {fmt(result['fidelity_train'], 3)})",
        "Rules": len(rules),
        "Largest rule": rules[0]["text"] if rules else "",
    }
    baselines = result["baselines"]
    if baselines is None:
        summary["Baselines"] = "not computed: the dataset has no target, so only the rules and their fidelity"
    elif baselines.get("scores"):
        key = baselines["metrics"][0]
        summary["Held-out " + key] = ", ".join(f"{name}: {fmt(scores[key], 3)}"
                                               for name, scores in baselines["scores"].items())
    else:
        summary["Baselines"] = baselines["note"]
    return summary
