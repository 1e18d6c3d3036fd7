"""Partial dependence and ICE for the top features, a 2-way partial dependence, and what the model's structure says.

* Top features: `features` if given, else the k columns whose shuffling moves the model's output most (mean
  |change| of the explained output over `ranking_rows` rows, one shuffle per column; no target needed, works for
  every flavour). Recorded under method.ranking.
* PD / ICE, computed here on the ORIGINAL DataFrame: the grid is the observed values at `grid_resolution`
  quantiles between the 1st and 99th percentile (all distinct values if fewer) for numeric columns, plus for a
  binary classifier the point where the mean probability crosses 0.5 when it lies beyond them (bisection up to
  the observed minimum / maximum), the most frequent categories for categorical ones (drawn as bars); each grid
  value replaces the column in every row (missing values
  included), PD is the mean over up to `pd_max_rows` rows and ICE curves are kept for `ice_rows` of them.
  Explained output: P(positive class) for binary (positive_class, default classes[1]), the value for
  regression, and for multiclass the probability of every class (one PD line per class; ICE curves are kept
  per class in the data but not drawn).
* 2-way PD for `pair` (default: the two top-ranked numeric columns, else the two top columns), as a heatmap.
* Structure: linear models (also behind a Pipeline): the coefficient table, with the transformed feature names
  and the original column each comes from; random forests / extra trees: the spread of the individual trees'
  predictions per row (mean, std, 5th-95th percentile across trees) and of each tree's feature importances
  summed per original column; gradient boosting (scikit-learn GB/HGB, XGBoost, LightGBM): how the prediction
  builds up over the boosting iterations (mean |change| per iteration, mean distance to the final prediction,
  iterations needed for 90% of the movement); single trees: depth, leaves and importances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError

from . import _shap
from ._common import (
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    check_known,
    common_params,
    feature_list_param,
    figure,
    fmt,
    int_param,
    is_categorical,
    json_safe,
    positive_class_param,
    predict_outputs,
    resolve_outputs,
    resolve_task,
    sort_key,
    table,
    tick_label,
)

KIND = "decomposition"
GRID_LOW, GRID_HIGH = 0.01, 0.99  # the numeric grid's quantile range
TITLE = "Partial dependence, ICE and model structure"
DEFAULT_PARAMS = {
    **COMMON_DEFAULTS,
    "k": 4,
    "features": None,
    "grid_resolution": 20,
    "ice_rows": 50,
    "pd_max_rows": 500,
    "pair": None,
    "pair_grid": 10,
    "pair_rows": 200,
    "ranking_rows": 200,
    "structure_rows": 200,
    "positive_class": None,
}
MAX_FEATURES = 10
MAX_HEATMAPS = 3
MAX_COEFFICIENTS_CHARTED = 30
MAX_STAGES_CHARTED = 500


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["k"] = int_param(params, "k", minimum=1, maximum=MAX_FEATURES)
    cleaned["features"] = None
    if params.get("features") is not None:
        cleaned["features"] = feature_list_param(params, "features", columns, maximum=MAX_FEATURES)
    cleaned["pair"] = None
    if params.get("pair") is not None:
        cleaned["pair"] = feature_list_param(params, "pair", columns, maximum=2, exact=2)
    cleaned["grid_resolution"] = int_param(params, "grid_resolution", minimum=2, maximum=100)
    cleaned["ice_rows"] = int_param(params, "ice_rows", minimum=0, maximum=200)
    cleaned["pd_max_rows"] = int_param(params, "pd_max_rows", minimum=10, maximum=5000)
    cleaned["pair_grid"] = int_param(params, "pair_grid", minimum=2, maximum=30)
    cleaned["pair_rows"] = int_param(params, "pair_rows", minimum=10, maximum=2000)
    cleaned["ranking_rows"] = int_param(params, "ranking_rows", minimum=10, maximum=5000)
    cleaned["structure_rows"] = int_param(params, "structure_rows", minimum=10, maximum=2000)
    cleaned["positive_class"] = positive_class_param(params)
    return cleaned


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    report = Progress(progress)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if len(X) < 2:
        raise AnalysisError("partial dependence needs at least two rows")
    outputs = resolve_outputs(model, X, task, params["positive_class"])
    labels = outputs.describe("value" if task == REGRESSION else "probability")
    report(2, "Ranking features")
    ranking = rank_features(model, X, outputs, params, report.span(2, 20))
    features = params["features"] or [item["feature"] for item in ranking[: params["k"]]]
    pd_rows = _sample(X, params["pd_max_rows"], params["random_state"])
    ice_positions = np.arange(min(params["ice_rows"], len(pd_rows)))
    curves = []
    for i, feature in enumerate(features):
        report(20 + 50 * i / len(features), f"Partial dependence: {feature}")
        grid = feature_grid(X[feature], params["grid_resolution"])
        crossings = decision_crossings(model, pd_rows, feature, X[feature], grid, outputs)
        if crossings:
            grid = sorted(set(grid) | set(crossings))
        predictions = grid_predictions(model, pd_rows, {feature: grid}, outputs)  # (G, n, K)
        curves.append({
            "feature": feature,
            "categorical": is_categorical(X[feature]),
            "grid": grid,
            "decision_crossings": crossings,
            "pd": predictions.mean(axis=1).T.tolist(),  # per output: G values
            "ice_rows": pd_rows.index[ice_positions].tolist(),
            "ice": [predictions[:, ice_positions, k].T.tolist() for k in range(predictions.shape[2])],
        })
    report(70, "Two-way partial dependence")
    pair = params["pair"] or _default_pair(X, [item["feature"] for item in ranking] if not params["features"]
                                           else features + [item["feature"] for item in ranking])
    two_way = None
    if pair:
        pair_rows = _sample(X, params["pair_rows"], params["random_state"])
        grid_a = feature_grid(X[pair[0]], params["pair_grid"])
        grid_b = feature_grid(X[pair[1]], params["pair_grid"])
        predictions = grid_predictions(model, pair_rows, {pair[0]: grid_a, pair[1]: grid_b}, outputs)
        surface = predictions.mean(axis=1).reshape(len(grid_a), len(grid_b), -1)
        two_way = {"features": pair, "grid": [grid_a, grid_b], "rows": len(pair_rows),
                   "pd": [surface[:, :, k].tolist() for k in range(surface.shape[2])]}
    report(85, "Reading the model's structure")
    structure = model_structure(model, X, outputs, params)
    report(95, "Building charts")
    charts = [_curve_chart(curve, labels, outputs.multiclass) for curve in curves]
    if two_way:
        charts += [_heatmap(two_way, labels, k) for k in range(min(len(labels), MAX_HEATMAPS))]
    charts += structure.pop("charts", [])
    result = {
        "kind": KIND,
        "rows_used": X.index.tolist(),
        "rows_by_part": {
            "ranking": _sample(X, params["ranking_rows"], params["random_state"]).index.tolist(),
            "partial_dependence": pd_rows.index.tolist(),
            "two_way": _sample(X, params["pair_rows"], params["random_state"]).index.tolist() if two_way else [],
            "structure": _sample(X, params["structure_rows"], params["random_state"]).index.tolist(),
        },
        "explainer": "partial dependence / ICE (computed on the original columns)",
        "method": {
            "ranking": ("features given by the caller" if params["features"] else
                        f"mean |change| of the explained output when a column is shuffled, over "
                        f"{min(params['ranking_rows'], len(X))} rows (random_state {params['random_state']})"),
            "grid": f"numeric: observed values at {params['grid_resolution']} quantiles from the 1st to the 99th "
                    "percentile (all distinct values if fewer), plus, for binary classifiers, the point where the "
                    "mean probability crosses 0.5 when it lies beyond them; categorical: the most frequent "
                    "categories",
            "pd_rows": len(pd_rows),
            "ice_rows": len(ice_positions),
            "explained_output": labels,
            "multiclass": ("one PD line per class; ICE kept per class in the data, not drawn"
                           if outputs.multiclass else None),
            "random_state": params["random_state"],
        },
        "outputs": labels,
        "ranking": ranking,
        "features": features,
        "curves": curves,
        "two_way": two_way,
        "structure": structure,
        "charts": charts,
        "tables": [table("Feature ranking (output sensitivity to shuffling)", ["feature", "mean |change|"],
                         [[item["feature"], item["sensitivity"]] for item in ranking])] + structure.get("tables", []),
    }
    result["summary"] = _summary(result, curves, labels)
    report(100, "Done")
    return json_safe(result)


# --- ranking and grids --------------------------------------------------------------------------------------


def _sample(X: pd.DataFrame, n: int, random_state: int) -> pd.DataFrame:
    if len(X) <= n:
        return X
    chosen = X.sample(n, random_state=random_state).index
    return X[X.index.isin(chosen)]


def rank_features(model, X: pd.DataFrame, outputs, params: dict, report) -> list[dict]:
    rows = _sample(X, params["ranking_rows"], params["random_state"])
    generator = np.random.default_rng(params["random_state"])
    base = predict_outputs(model, rows, outputs)
    shuffled = []
    for column in X.columns:
        permuted = rows.copy()
        permuted[column] = rows[column].to_numpy()[generator.permutation(len(rows))]
        shuffled.append(permuted)
    report(0.3, "Predicting with each column shuffled")
    predictions = predict_outputs(model, pd.concat(shuffled, ignore_index=True), outputs)
    predictions = predictions.reshape(len(X.columns), len(rows), -1)
    change = np.abs(predictions - base[None]).sum(axis=2).mean(axis=1)
    if outputs.multiclass:
        change = change / 2  # total variation distance between the probability vectors
    order = np.argsort(-change, kind="stable")
    return [{"feature": X.columns[j], "sensitivity": float(change[j])} for j in order]


def feature_grid(series: pd.Series, resolution: int) -> list:
    values = series.dropna()
    if values.empty:
        raise AnalysisError(f"column {series.name!r} has no values to build a grid from")
    if is_categorical(series):
        frequent = values.value_counts().index[:resolution].tolist()
        return sorted(frequent, key=sort_key)
    numeric = values.astype(float).to_numpy()
    grid = np.unique(numeric)
    if len(grid) > resolution:
        grid = np.unique(np.quantile(numeric, np.linspace(GRID_LOW, GRID_HIGH, resolution), method="nearest"))
    if pd.api.types.is_integer_dtype(series.dtype) or np.all(grid == np.round(grid)):
        return [int(v) if float(v).is_integer() else float(v) for v in grid]
    return grid.tolist()


def decision_crossings(model, rows: pd.DataFrame, feature: str, series: pd.Series, grid: list, outputs,
                       steps: int = 12) -> list[float]:
    """Binary classifiers: where the mean predicted probability crosses 0.5 between the grid's ends and the
    observed minimum / maximum, found by bisection; the grid gains these points so the curve shows the decision
    threshold even when it lies beyond the 1st-99th percentile."""
    if not outputs.binary or is_categorical(series) or not grid:
        return []
    values = series.dropna().astype(float)
    found = []
    for inner, outer in ((float(grid[0]), float(values.min())), (float(grid[-1]), float(values.max()))):
        if outer == inner:
            continue
        ends = grid_predictions(model, rows, {feature: [inner, outer]}, outputs).mean(axis=1)[:, 0] - 0.5
        if np.sign(ends[0]) == np.sign(ends[1]):
            continue
        low, high, low_side = inner, outer, np.sign(ends[0])
        for _ in range(steps):
            middle = (low + high) / 2
            side = np.sign(grid_predictions(model, rows, {feature: [middle]}, outputs).mean(axis=1)[0, 0] - 0.5)
            low, high = (middle, high) if side == low_side else (low, middle)
        found.append(float(f"{(low + high) / 2:.6g}"))
    return found


def grid_predictions(model, rows: pd.DataFrame, grids: dict[str, list], outputs) -> np.ndarray:
    """(n_grid_points, n_rows, n_outputs): the model's output with the columns set to every grid combination."""
    names = list(grids)
    combos = np.array(np.meshgrid(*[np.arange(len(grids[name])) for name in names], indexing="ij")).reshape(
        len(names), -1).T
    frames = []
    for combo in combos:
        frame = rows.copy()
        for name, index in zip(names, combo, strict=True):
            value = grids[name][index]
            frame[name] = pd.Series([value] * len(rows), index=rows.index, dtype=rows[name].dtype
                                    if is_categorical(rows[name]) else float)
        frames.append(frame)
    predictions = predict_outputs(model, pd.concat(frames, ignore_index=True), outputs)
    return predictions.reshape(len(combos), len(rows), -1)


def _default_pair(X: pd.DataFrame, ranked: list[str]) -> list[str] | None:
    seen = list(dict.fromkeys(ranked))
    numeric = [f for f in seen if not is_categorical(X[f])]
    if len(numeric) >= 2:
        return numeric[:2]
    return seen[:2] if len(seen) >= 2 else None


# --- structure ----------------------------------------------------------------------------------------------


def model_structure(model, X: pd.DataFrame, outputs, params: dict) -> dict:
    pre, final = _shap.final_estimator(model)
    if final is None:
        return {"type": "opaque", "note": f"the {model.flavour} flavour exposes no coefficients or trees; only "
                                          "the partial dependence above applies"}
    rows = _sample(X, params["structure_rows"], params["random_state"])
    columns = list(X.columns)
    try:
        names, sources = _shap.transformed_sources(pre, columns) if pre is not None else (columns, columns)
    except _shap._Unmappable as exc:
        names, sources = None, None
        mapping_note = f"transformed columns could not be mapped to original ones: {exc}"
    else:
        mapping_note = None
    Xt = _shap._dense(pre.transform(rows)) if pre is not None else rows
    name = type(final).__name__
    if _shap.is_linear(final):
        result = _coefficients(final, names or [f"x{i}" for i in range(np.shape(final.coef_)[-1])],
                               sources, outputs)
    elif hasattr(final, "estimators_") and name in ("RandomForestClassifier", "RandomForestRegressor",
                                                     "ExtraTreesClassifier", "ExtraTreesRegressor"):
        result = _forest(final, np.asarray(Xt, dtype=float), rows, sources, columns, outputs)
    elif name in ("GradientBoostingClassifier", "GradientBoostingRegressor", "HistGradientBoostingClassifier",
                  "HistGradientBoostingRegressor"):
        result = _staged(_sklearn_stages(final, Xt, outputs), rows, "probability" if outputs.task != REGRESSION
                         else "value", name)
    elif model.flavour in ("xgboost", "lightgbm"):
        result = _staged(_booster_stages(model, rows, outputs), rows, "raw margin", name)
    elif name in ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor"):
        result = _single_tree(final, sources, columns)
    else:
        result = {"type": "other", "note": f"{name}: no structural summary for this estimator"}
    result["estimator"] = name
    if mapping_note:
        result["mapping_note"] = mapping_note
    return result


def _coefficients(final, names: list[str], sources: list[str] | None, outputs) -> dict:
    coef = np.atleast_2d(np.asarray(final.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(final.intercept_, dtype=float))
    classes = list(getattr(final, "classes_", [])) if outputs.task != REGRESSION else []
    if len(classes) == 2 and coef.shape[0] == 1:
        heads = [f"log-odds of {classes[1]!r}"]
    elif classes and coef.shape[0] == len(classes):
        heads = [f"{c}" for c in classes]
    else:
        heads = ["coefficient"] if coef.shape[0] == 1 else [f"output {i}" for i in range(coef.shape[0])]
    order = np.argsort(-np.abs(coef).max(axis=0), kind="stable")
    rows = [[names[j], sources[j] if sources else None, *coef[:, j].tolist()] for j in order]
    rows.append(["(intercept)", None, *intercept.tolist()])
    charted = order[:MAX_COEFFICIENTS_CHARTED][::-1]
    fig = go.Figure()
    for k, head in enumerate(heads):
        fig.add_trace(go.Bar(x=[float(f"{coef[k, j]:.5g}") for j in charted], y=[names[j] for j in charted],
                             orientation="h", name=head))
    fig.update_layout(xaxis_title="coefficient (on the transformed scale)", barmode="group",
                      height=max(320, 22 * len(charted) * len(heads) + 120), margin={"l": 220},
                      showlegend=len(heads) > 1)
    return {
        "type": "linear",
        "note": "coefficients on the transformed columns (after the pipeline's scaling and encoding); for binary "
                f"classification they act on the log-odds of {classes[1]!r}" if len(classes) == 2 else
                "coefficients on the transformed columns (after the pipeline's scaling and encoding)",
        "coefficients": [{"feature": r[0], "original_column": r[1], "values": r[2:]} for r in rows],
        "charts": [figure("Coefficients", fig)],
        "tables": [table("Coefficients", ["transformed feature", "original column", *heads], rows)],
    }


def _forest(final, Xt: np.ndarray, rows: pd.DataFrame, sources, columns: list[str], outputs) -> dict:
    trees = final.estimators_
    if outputs.task == REGRESSION:
        per_tree = np.array([tree.predict(Xt) for tree in trees])  # (T, n)
        explained = "predicted value"
    else:
        probabilities = np.array([tree.predict_proba(Xt) for tree in trees])  # (T, n, K)
        if outputs.binary:
            column = outputs.columns[0]
            per_tree = probabilities[:, :, column]
            explained = f"P(class {outputs.positive_class!r})"
        else:
            chosen = probabilities.mean(axis=0).argmax(axis=1)
            per_tree = probabilities[:, np.arange(len(chosen)), chosen]
            explained = "probability of the forest's predicted class for the row"
    mean, std = per_tree.mean(axis=0), per_tree.std(axis=0)
    low, high = np.percentile(per_tree, 5, axis=0), np.percentile(per_tree, 95, axis=0)
    order = np.argsort(mean, kind="stable")
    fig = go.Figure(go.Scatter(
        x=list(range(len(order))), y=[float(f"{v:.4g}") for v in mean[order]], mode="markers",
        error_y={"type": "data", "symmetric": False, "array": [float(f"{v:.4g}") for v in (high - mean)[order]],
                 "arrayminus": [float(f"{v:.4g}") for v in (mean - low)[order]], "thickness": 1},
        text=[str(label) for label in rows.index[order]], hovertemplate="row %{text}: %{y}<extra></extra>",
    ))
    fig.update_layout(xaxis_title="rows, sorted by the forest's prediction",
                      yaxis_title=f"{explained}: mean and 5th-95th percentile across {len(trees)} trees", height=420)
    importances = None
    tables = []
    if sources is not None:
        per_tree_importance = np.array([tree.feature_importances_ for tree in trees])  # (T, n_transformed)
        aggregated = np.zeros((len(trees), len(columns)))
        for t, source in enumerate(sources):
            aggregated[:, columns.index(source)] += per_tree_importance[:, t]
        order_imp = np.argsort(-aggregated.mean(axis=0), kind="stable")
        importances = [{"feature": columns[j], "mean": float(aggregated[:, j].mean()),
                        "std": float(aggregated[:, j].std()), "min": float(aggregated[:, j].min()),
                        "max": float(aggregated[:, j].max())} for j in order_imp]
        tables.append(table("Impurity importance across trees (summed per original column)",
                            ["feature", "mean", "std", "min", "max"],
                            [[i["feature"], i["mean"], i["std"], i["min"], i["max"]] for i in importances]))
    spread = sorted(range(len(rows)), key=lambda i: -std[i])[:10]
    tables.append(table("Rows where the trees disagree most", ["row", "mean", "std", "5th pct", "95th pct"],
                        [[rows.index[i], mean[i], std[i], low[i], high[i]] for i in spread]))
    result = {
        "type": "forest",
        "note": f"each of the {len(trees)} trees' {explained} for {len(rows)} rows; the forest predicts their mean. "
                "A wide spread means the trees disagree about that row.",
        "explained_output": explained,
        "n_trees": len(trees),
        "per_row": [{"row": label, "mean": float(mean[i]), "std": float(std[i]), "p05": float(low[i]),
                     "p95": float(high[i])} for i, label in enumerate(rows.index.tolist())],
        "mean_std": float(std.mean()),
        "max_std": float(std.max()),
        "tree_importances": importances,
        "charts": [figure("Spread of the individual trees' predictions", fig)],
        "tables": tables,
    }
    if outputs.binary:
        votes = (per_tree > 0.5).mean(axis=0)
        result["share_rows_trees_agree_90pct"] = float(np.mean((votes >= 0.9) | (votes <= 0.1)))
    return result


def _sklearn_stages(final, Xt, outputs) -> np.ndarray:
    """(n_stages, n, 1): the explained output after each boosting iteration."""
    if outputs.task == REGRESSION:
        stages = np.array([np.asarray(p, dtype=float) for p in final.staged_predict(Xt)])
        return stages[:, :, None]
    stages = np.array([np.asarray(p, dtype=float) for p in final.staged_predict_proba(Xt)])  # (S, n, K)
    if outputs.binary:
        return stages[:, :, outputs.columns[:1]]
    chosen = stages[-1].argmax(axis=1)
    return stages[:, np.arange(stages.shape[1]), chosen][:, :, None]


def _booster_stages(model, rows: pd.DataFrame, outputs) -> np.ndarray:
    booster = model.estimator
    data = rows[model.feature_names] if model.feature_names else rows.to_numpy(dtype=float)
    if model.flavour == "xgboost":
        import xgboost

        total = booster.num_boosted_rounds()
        matrix = xgboost.DMatrix(data)

        def margin(i):
            return booster.predict(matrix, iteration_range=(0, i), output_margin=True)
    else:
        total = booster.current_iteration()

        def margin(i):
            return booster.predict(data, num_iteration=i, raw_score=True)
    checkpoints = np.unique(np.linspace(1, total, min(total, 50)).round().astype(int))
    stages = np.array([np.asarray(margin(int(i)), dtype=float).reshape(len(rows), -1) for i in checkpoints])
    if stages.shape[2] > 1:
        chosen = stages[-1].argmax(axis=1)
        stages = stages[:, np.arange(stages.shape[1]), chosen][:, :, None]
    return stages, checkpoints


def _staged(stages, rows: pd.DataFrame, space: str, name: str) -> dict:
    checkpoints = None
    if isinstance(stages, tuple):
        stages, checkpoints = stages
    stages = stages[:, :, 0]  # (S, n)
    iterations = checkpoints if checkpoints is not None else np.arange(1, len(stages) + 1)
    moves = np.abs(np.diff(stages, axis=0)).mean(axis=1)  # per iteration (or checkpoint) after the first
    distance = np.abs(stages - stages[-1][None]).mean(axis=1)
    cumulative = np.cumsum(moves)
    total = cumulative[-1] if len(cumulative) else 0.0
    to_90 = int(iterations[1:][np.argmax(cumulative >= 0.9 * total)]) if total > 0 else int(iterations[0])
    step = max(1, len(iterations) // MAX_STAGES_CHARTED)
    shown = np.arange(0, len(iterations), step)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=iterations[shown].tolist(), y=[float(f"{v:.4g}") for v in distance[shown]],
                             name="mean |prediction − final prediction|", mode="lines"))
    if len(moves):
        shown_moves = shown[shown < len(moves)]
        fig.add_trace(go.Scatter(x=iterations[1:][shown_moves].tolist(),
                                 y=[float(f"{v:.4g}") for v in moves[shown_moves]],
                                 name="mean |change| at this iteration", mode="lines", yaxis="y2"))
    fig.update_layout(xaxis_title="boosting iterations", yaxis={"title": {"text": f"distance to final ({space})"}},
                      yaxis2={"title": {"text": "change per iteration"}, "overlaying": "y", "side": "right"},
                      height=420, legend={"orientation": "h", "y": -0.25})
    return {
        "type": "boosting",
        "note": f"the {space} prediction for {len(rows)} rows after each boosting iteration: how much each "
                "iteration moves it, and how far it still is from the final prediction",
        "space": space,
        "n_iterations": int(iterations[-1]),
        "iterations": iterations.tolist() if checkpoints is not None else None,
        "mean_abs_change_per_iteration": moves.tolist(),
        "mean_distance_to_final": distance.tolist(),
        "iterations_to_90pct_of_movement": to_90,
        "charts": [figure(f"How the prediction builds up over the {name} iterations", fig)],
        "tables": [],
    }


def _single_tree(final, sources, columns: list[str]) -> dict:
    importances = None
    if sources is not None:
        aggregated = dict.fromkeys(columns, 0.0)
        for t, source in enumerate(sources):
            aggregated[source] += float(final.feature_importances_[t])
        importances = sorted(aggregated.items(), key=lambda item: -item[1])
    return {
        "type": "tree",
        "note": "a single decision tree: see rule_extraction for its rules",
        "depth": int(final.get_depth()),
        "leaves": int(final.get_n_leaves()),
        "importances": [{"feature": f, "importance": v} for f, v in importances] if importances else None,
        "tables": [table("Impurity importance (summed per original column)", ["feature", "importance"],
                         [list(item) for item in importances])] if importances else [],
    }


# --- charts and summary -------------------------------------------------------------------------------------


def _category_chart(curve: dict, labels: list[str], multiclass: bool) -> dict:
    """A categorical feature: PD as bars (there is no line between categories), ICE rows as points."""
    x = [str(v) for v in curve["grid"]]
    fig = go.Figure()
    for k, label in enumerate(labels):
        fig.add_trace(go.Bar(x=x, y=[float(f"{v:.5g}") for v in curve["pd"][k]], name=f"PD: {label}",
                             opacity=0.85))
    if not multiclass and curve["ice"] and curve["ice"][0]:
        xs = [category for line in curve["ice"][0] for category in x]
        ys = [float(f"{v:.4g}") for line in curve["ice"][0] for v in line]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=f"ICE ({len(curve['ice'][0])} rows)",
                                 marker={"color": "rgba(90,90,90,0.35)", "size": 5}))
    fig.update_layout(xaxis_title=curve["feature"], yaxis_title=labels[0] if len(labels) == 1 else "probability",
                      height=400, legend={"orientation": "h", "y": -0.25}, barmode="group")
    fig.update_xaxes(type="category")
    return figure(f"Partial dependence{'' if multiclass else ' and ICE'}: {curve['feature']} (categories)", fig)


def _curve_chart(curve: dict, labels: list[str], multiclass: bool) -> dict:
    if curve["categorical"]:
        return _category_chart(curve, labels, multiclass)
    x = curve["grid"]
    fig = go.Figure()
    if not multiclass and curve["ice"] and curve["ice"][0]:
        xs, ys = [], []
        for line in curve["ice"][0]:
            xs += list(x) + [None]
            ys += [float(f"{v:.4g}") for v in line] + [None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(120,120,120,0.25)", "width": 1},
                                 name=f"ICE ({len(curve['ice'][0])} rows)", hoverinfo="skip"))
    for k, label in enumerate(labels):
        fig.add_trace(go.Scatter(x=x, y=[float(f"{v:.5g}") for v in curve["pd"][k]], mode="lines+markers",
                                 name=f"PD: {label}", line={"width": 3}))
    for crossing in curve.get("decision_crossings") or []:
        fig.add_vline(x=crossing, line_dash="dot", line_color="#E53935",
                      annotation_text=f"p = 0.5 at {crossing:.4g}")
    fig.update_layout(xaxis_title=curve["feature"], yaxis_title=labels[0] if len(labels) == 1 else "probability",
                      height=400, legend={"orientation": "h", "y": -0.25})
    return figure(f"Partial dependence{'' if multiclass else ' and ICE'}: {curve['feature']}", fig)


def _heatmap(two_way: dict, labels: list[str], k: int) -> dict:
    a, b = two_way["features"]
    grid_a, grid_b = two_way["grid"]
    fig = go.Figure(go.Heatmap(z=[[float(f"{v:.5g}") for v in row] for row in two_way["pd"][k]],
                               x=[tick_label(v) for v in grid_b], y=[tick_label(v) for v in grid_a],
                               colorscale="Viridis",
                               colorbar={"title": {"text": labels[k]}}))
    fig.update_layout(xaxis_title=b, yaxis_title=a, height=450)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return figure(f"Two-way partial dependence: {a} × {b}" + (f" ({labels[k]})" if len(labels) > 1 else ""), fig)


def _summary(result: dict, curves: list[dict], labels: list[str]) -> dict:
    summary = {
        "Explained output": ", ".join(labels),
        "Features": ", ".join(result["features"]),
        "Chosen by": result["method"]["ranking"],
    }
    for curve in curves:
        ranges = [max(pd_line) - min(pd_line) for pd_line in curve["pd"]]
        k = int(np.argmax(ranges))
        low = curve["grid"][int(np.argmin(curve["pd"][k]))]
        high = curve["grid"][int(np.argmax(curve["pd"][k]))]
        summary[f"PD {curve['feature']}"] = (f"{labels[k]} moves by {fmt(ranges[k], 3)} across the grid, lowest at "
                                             f"{fmt(low)} and highest at {fmt(high)}")
    structure = result["structure"]
    if structure["type"] == "forest":
        summary["Trees"] = (f"{structure['n_trees']} trees; mean std of their predictions per row "
                            f"{fmt(structure['mean_std'], 3)}, largest {fmt(structure['max_std'], 3)}")
    elif structure["type"] == "boosting":
        summary["Boosting"] = (f"{structure['n_iterations']} iterations; 90% of the prediction movement happens in "
                               f"the first {structure['iterations_to_90pct_of_movement']}")
    elif structure["type"] == "linear":
        top = structure["coefficients"][0]
        summary["Largest coefficient"] = f"{top['feature']} ({top['original_column']}): {fmt(top['values'][0], 3)}"
    else:
        summary["Structure"] = structure.get("note", "")
    return summary

