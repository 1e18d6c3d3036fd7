"""Charts people can read: 4 significant digits, long labels shortened (full value kept for hover),
categorical partial dependence as bars, and a numeric grid that reaches the decision threshold."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.linear_model import LogisticRegression

from explain.analyses import decomposition
from explain.analyses._common import figure
from governance.loading.adapters import SklearnModel


def test_numeric_axes_tick_and_hover_at_four_significant_digits():
    chart = figure("t", go.Figure(go.Scatter(x=[0.123456789, 1.5], y=[10.98765, 2.0])))["figure"]
    assert chart["layout"]["xaxis"]["tickformat"] == ".4~g"
    assert chart["layout"]["yaxis"]["hoverformat"] == ".4~g"


def test_category_labels_are_rounded_and_long_ones_shortened_with_the_full_value_kept():
    long_name = "monthly_income_after_tax_in_euros_2024"
    chart = figure("t", go.Figure(go.Bar(x=["0.123456789", "2.5", long_name], y=[1, 2, 3])))["figure"]
    axis = chart["layout"]["xaxis"]
    assert axis["ticktext"] == ["0.1235", "2.5", long_name[:23] + "…"]
    assert axis["tickvals"] == ["0.123456789", "2.5", long_name]
    assert chart["data"][0]["x"][2] == long_name  # what the hover shows


def _run(model, X, **params):
    return decomposition.run(model, X, None, task="classification",
                             params={"k": len(X.columns), "pair": None, "ranking_rows": 50, **params},
                             progress=lambda *a: None)


def test_partial_dependence_of_a_category_is_a_bar_chart():
    g = np.random.default_rng(0)
    X = pd.DataFrame({"home": g.choice(["rent", "owner", "parents"], 300), "x": g.normal(size=300)})
    y = np.where((X["home"] == "rent") & (X["x"] > 0), "yes", "no")
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), ["home"]), remainder="passthrough"),
                         LogisticRegression()).fit(X, y)
    result = _run(SklearnModel(pipe, "sklearn"), X, features=["home", "x"])
    home = next(c for c in result["charts"] if c["title"].startswith("Partial dependence and ICE: home"))
    assert home["figure"]["data"][0]["type"] == "bar"
    assert all(trace.get("mode") != "lines" for trace in home["figure"]["data"])


def test_the_numeric_grid_covers_the_1st_to_99th_percentile_and_the_decision_threshold():
    g = np.random.default_rng(1)
    X = pd.DataFrame({"x": g.normal(size=4000)})
    y = np.where(X["x"] > 2.6, "yes", "no")  # 0.5 % positives: the threshold lies beyond the 99th percentile
    model = SklearnModel(LogisticRegression(C=100, max_iter=1000).fit(X, y), "sklearn")
    result = _run(model, X, features=["x"], grid_resolution=20, pd_max_rows=200)
    curve = result["curves"][0] if "curves" in result else result["partial_dependence"][0]
    low, high = np.quantile(X["x"], [0.01, 0.99])
    assert min(curve["grid"]) <= low + 0.05 and max(curve["grid"]) >= high - 0.05
    assert len(curve["decision_crossings"]) == 1 and abs(curve["decision_crossings"][0] - 2.6) < 0.25
    assert curve["decision_crossings"][0] in curve["grid"] and curve["decision_crossings"][0] > high
