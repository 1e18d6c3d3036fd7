"""Helpers shared by the analyses: parameters, progress, JSON safety, categorical encoding, model outputs."""

from __future__ import annotations

import datetime
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explain.analyses import AnalysisError, ParamError

CLASSIFICATION = "classification"
REGRESSION = "regression"
COMMON_DEFAULTS = {"max_rows": 1000, "random_state": 0}
MAX_ROWS_LIMIT = 100_000
MAX_LOCAL_ROWS = 20
FILTER_OPS = ("==", "!=", "<", "<=", ">", ">=")
MAX_FILTER_CONDITIONS = 3
MISSING_LABEL = "(missing)"


# --- JSON ---------------------------------------------------------------------------------------------------


def json_safe(value):
    """`value` with numpy/pandas types turned into plain Python, and NaN/inf into None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, np.ndarray):
        return [json_safe(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | pd.Index | pd.Series):
        return [json_safe(item) for item in value]
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime.date | datetime.datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


MAX_TICK_CHARS = 24
TICK_FORMAT = ".4~g"  # 3-4 significant digits on numeric axes and in hover labels


def tick_label(value) -> str:
    """A category label for an axis: numbers to 4 significant digits, text as it is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return f"{number:.4g}" if math.isfinite(number) else str(number)
    return str(value)


def _short(label: str) -> str:
    try:
        number = float(label)
    except (TypeError, ValueError):
        return label if len(label) <= MAX_TICK_CHARS else label[: MAX_TICK_CHARS - 1] + "…"
    return f"{number:.4g}" if math.isfinite(number) and label.strip() == label else label


def _tidy_axes(data: list[dict], layout: dict) -> None:
    """Readable axes on every chart: numeric axes tick and hover at 4 significant digits; category axes whose
    labels are long text or long numbers show them shortened, the full value staying in the data (and on hover)."""
    for trace in data:
        for letter in ("x", "y"):
            values = trace.get(letter)
            if not isinstance(values, list | tuple) or not values:
                continue
            axis_key = f"{letter}axis" + str(trace.get(f"{letter}axis", letter))[1:]
            axis = layout.setdefault(axis_key, {})
            labels = [v for v in values if isinstance(v, str)]
            if labels and len(labels) == len([v for v in values if v is not None]):
                distinct = list(dict.fromkeys(labels))
                short = [_short(label) for label in distinct]
                if short != distinct and "tickvals" not in axis and len(distinct) <= 200:
                    axis["tickvals"], axis["ticktext"] = distinct, short
            elif axis.get("type") not in ("category", "date", "multicategory"):
                axis.setdefault("tickformat", TICK_FORMAT)
                axis.setdefault("hoverformat", TICK_FORMAT)


def figure(title: str, fig) -> dict:
    """A chart entry: the Plotly figure as a JSON-safe dict, without the (large) default template, with axes
    tidied by _tidy_axes."""
    data = fig.to_plotly_json()
    layout = dict(data.get("layout", {}))
    layout.pop("template", None)
    traces = [dict(trace) for trace in data.get("data", [])]
    safe = json_safe({"data": traces, "layout": layout})
    _tidy_axes(safe["data"], safe["layout"])
    return {"title": title, "figure": safe}


def table(title: str, columns: list[str], rows: list[list]) -> dict:
    return {"title": title, "columns": list(columns), "rows": json_safe(rows)}


def fmt(value, digits: int = 4) -> str:
    """A number for a sentence: 4 significant digits, no scientific notation for ordinary magnitudes."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float | np.floating) else str(value)


# --- progress -----------------------------------------------------------------------------------------------


class Progress:
    """Forwards strictly increasing percentages (0..100) to the caller's callback; its exceptions propagate."""

    def __init__(self, callback: Callable[[int, str], None] | None):
        self._callback = callback
        self.last = -1

    def __call__(self, percent: float, message: str) -> None:
        percent = int(min(100, max(0, percent)))
        if percent <= self.last:
            return
        self.last = percent
        if self._callback is not None:
            self._callback(percent, message)

    def span(self, start: float, end: float) -> Callable[[float, str], None]:
        """A callback mapping a fraction 0..1 onto start..end."""
        return lambda fraction, message: self(start + (end - start) * fraction, message)


# --- parameters ---------------------------------------------------------------------------------------------


def check_known(params: dict, defaults: dict) -> dict:
    if not isinstance(params, dict):
        raise ParamError(f"params must be an object, not {type(params).__name__}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ParamError(f"unknown parameter {unknown[0]!r}; expected one of: {', '.join(sorted(defaults))}")
    return {**defaults, **{key: value for key, value in params.items() if value is not None}}


def int_param(params: dict, name: str, *, minimum: int, maximum: int | None = None) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParamError(f"{name} must be a whole number, not {value!r}")
    value = int(value)
    if value < minimum:
        raise ParamError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParamError(f"{name} must be at most {maximum}, got {value}")
    return value


def float_param(params: dict, name: str, *, minimum: float, maximum: float | None = None,
                exclusive_minimum: bool = False) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParamError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParamError(f"{name} must be a finite number, got {value}")
    if value < minimum or (exclusive_minimum and value == minimum):
        raise ParamError(f"{name} must be {'greater than' if exclusive_minimum else 'at least'} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParamError(f"{name} must be at most {maximum}, got {value}")
    return value


def choice_param(params: dict, name: str, choices: tuple) -> str:
    value = params[name]
    if value not in choices:
        raise ParamError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def feature_list_param(params: dict, name: str, columns: list[str], *, maximum: int, exact: int | None = None) -> list:
    value = params[name]
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ParamError(f"{name} must be a list of feature names, not {value!r}")
    names = list(value)
    for feature in names:
        if feature not in columns:
            raise ParamError(f"unknown feature {feature!r} in {name}; the model's features are: {', '.join(columns)}")
    if len(set(names)) != len(names):
        raise ParamError(f"{name} lists a feature twice")
    if exact is not None and len(names) != exact:
        raise ParamError(f"{name} must name exactly {exact} features, got {len(names)}")
    if not names:
        raise ParamError(f"{name} must name at least one feature")
    if len(names) > maximum:
        raise ParamError(f"{name} may name at most {maximum} features, got {len(names)}")
    return names


def positive_class_param(params: dict) -> object:
    value = params.get("positive_class")
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | numbers.Integral)):
        raise ParamError(f"positive_class must be a class label (text or whole number), not {value!r}")
    return value


def common_params(params: dict, cleaned: dict) -> dict:
    cleaned["max_rows"] = int_param(params, "max_rows", minimum=1, maximum=MAX_ROWS_LIMIT)
    cleaned["random_state"] = int_param(params, "random_state", minimum=0, maximum=2**32 - 1)
    return cleaned


def rows_param(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    """Clean `rows` / `filter` / `limit` for the local analyses (at most one of rows and filter). Row numbers are
    checked against `n_rows` (the dataset's size) unless it is None."""
    rows, conditions = params.get("rows"), params.get("filter")
    limit = int_param(params, "limit", minimum=1, maximum=MAX_LOCAL_ROWS)
    if rows is not None and conditions is not None:
        raise ParamError("give either rows or filter, not both")
    cleaned = {"rows": None, "filter": None, "limit": limit}
    if rows is not None:
        if isinstance(rows, bool | str) or not isinstance(rows, list | tuple):
            rows = [rows]
        if not rows:
            raise ParamError("rows must list at least one row")
        if len(rows) > MAX_LOCAL_ROWS:
            raise ParamError(f"at most {MAX_LOCAL_ROWS} rows can be explained at once, got {len(rows)}")
        clean_rows = []
        for row in rows:
            if isinstance(row, bool) or not isinstance(row, numbers.Integral):
                raise ParamError(f"rows must be whole row numbers, not {row!r}")
            if int(row) < 0 or (n_rows is not None and int(row) >= n_rows):
                raise ParamError(f"row {row} is out of range: the dataset has {n_rows} rows" if n_rows is not None
                                 else f"row {row} is out of range: rows are numbered from 0")
            if int(row) not in clean_rows:
                clean_rows.append(int(row))
        cleaned["rows"] = clean_rows
    if conditions is not None:
        if isinstance(conditions, dict):
            conditions = [conditions]
        if not isinstance(conditions, list | tuple) or not conditions:
            raise ParamError("filter must be a condition {column, op, value} or a list of them")
        if len(conditions) > MAX_FILTER_CONDITIONS:
            raise ParamError(f"filter may have at most {MAX_FILTER_CONDITIONS} conditions, got {len(conditions)}")
        clean_conditions = []
        for condition in conditions:
            if not isinstance(condition, dict) or set(condition) != {"column", "op", "value"}:
                raise ParamError("each filter condition must be an object with exactly: column, op, value")
            if condition["column"] not in columns:
                raise ParamError(f"unknown feature {condition['column']!r} in filter; the model's features are: "
                                 f"{', '.join(columns)}")
            if condition["op"] not in FILTER_OPS:
                raise ParamError(f"filter op must be one of {' '.join(FILTER_OPS)}, got {condition['op']!r}")
            value = condition["value"]
            if value is not None and not isinstance(value, str | bool | numbers.Real):
                raise ParamError(f"filter value must be text, a number or null, not {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ParamError("filter value must be finite")
            if value is None and condition["op"] not in ("==", "!="):
                raise ParamError("a null filter value can only be compared with == or != (missing / not missing)")
            clean_conditions.append(dict(condition))
        cleaned["filter"] = clean_conditions
    return cleaned


def select_rows(X: pd.DataFrame, params: dict) -> list:
    """The index labels of the rows a local analysis explains: `rows`, the filter's first `limit` matches, or
    (neither given) the first `limit` rows of X. Rows are dataset row numbers, matched against X's index."""
    if params.get("rows"):
        missing = [row for row in params["rows"] if row not in X.index]
        if missing:
            raise AnalysisError(f"row {missing[0]} is not in the data given to the analysis ({len(X)} rows sampled); "
                                "include the requested rows in the sample")
        return list(params["rows"])
    if params.get("filter"):
        mask = pd.Series(True, index=X.index)
        for condition in params["filter"]:
            mask &= _condition_mask(X[condition["column"]], condition["op"], condition["value"])
        selected = X.index[mask.to_numpy()].tolist()
        if not selected:
            raise AnalysisError("no row matches the filter")
        return selected[: params["limit"]]
    return X.index[: params["limit"]].tolist()


def local_frame(X: pd.DataFrame, rows: list, params: dict) -> pd.DataFrame:
    """The explained rows plus at most max_rows others (sampled with random_state) as background, in X's order."""
    if len(X) <= params["max_rows"]:
        return X
    sampled = X.sample(params["max_rows"], random_state=params["random_state"]).index
    return X[X.index.isin(sampled) | X.index.isin(rows)]


def _condition_mask(column: pd.Series, op: str, value) -> pd.Series:
    if value is None:
        return column.isna() if op == "==" else column.notna()
    numeric = pd.api.types.is_numeric_dtype(column.dtype)
    if numeric and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ParamError(f"filter on {column.name!r}: the column is numeric, {value!r} is not a number")
    if not numeric and op not in ("==", "!="):
        raise ParamError(f"filter on {column.name!r}: the column is categorical; use == or !=")
    if not numeric:
        column, value = column.astype(object).map(lambda v: v if pd.isna(v) else str(v)), str(value)
    comparisons = {
        "==": column.__eq__, "!=": column.__ne__, "<": column.__lt__,
        "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__,
    }
    return comparisons[op](value).fillna(False).astype(bool)


# --- columns and categorical encoding -----------------------------------------------------------------------


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series.dtype)


def feature_value(value):
    """A feature value for the result: numbers and text as they are, missing as None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return json_safe(value)


def sort_key(value) -> tuple:
    return (0, value, "") if isinstance(value, numbers.Real) and not isinstance(value, bool) else (1, 0, str(value))


class Codec:
    """Numeric encoding of a frame's original columns, and back: categories become integer codes (sorted by
    value), missing stays NaN. Numeric columns pass through as float."""

    def __init__(self, X: pd.DataFrame):
        self.columns = list(X.columns)
        self.categorical = [column for column in self.columns if is_categorical(X[column])]
        self.categories = {
            column: sorted(pd.unique(X[column].dropna()).tolist(), key=sort_key) for column in self.categorical
        }
        self.dtypes = X.dtypes.to_dict()

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)), dtype=float)
        for j, column in enumerate(self.columns):
            if column in self.categories:
                lookup = {value: code for code, value in enumerate(self.categories[column])}
                codes = X[column].map(lambda v, lookup=lookup: lookup.get(v, np.nan) if not pd.isna(v) else np.nan)
                out[:, j] = codes.to_numpy(dtype=float)
            else:
                out[:, j] = X[column].to_numpy(dtype=float, na_value=np.nan)
        return out

    def decode(self, array: np.ndarray) -> pd.DataFrame:
        data = {}
        for j, column in enumerate(self.columns):
            values = np.asarray(array[:, j], dtype=float)
            if column in self.categories:
                lookup = np.asarray(self.categories[column] + [np.nan], dtype=object)
                codes = np.where(np.isnan(values), len(lookup) - 1, np.clip(np.rint(values), 0, len(lookup) - 2))
                data[column] = lookup[codes.astype(int)]
            else:
                data[column] = values
        frame = pd.DataFrame(data, columns=self.columns)
        for column in self.categorical:
            if pd.api.types.is_string_dtype(self.dtypes[column]) or isinstance(self.dtypes[column], pd.StringDtype):
                frame[column] = frame[column].astype(self.dtypes[column])
        return frame


# --- model outputs ------------------------------------------------------------------------------------------


@dataclass
class Outputs:
    """What an analysis explains: P(positive class) for binary, P(each class) for multiclass, the value for
    regression. `labels` name the explained outputs; `columns` index them in predict_proba's columns."""

    task: str
    classes: list | None
    labels: list
    columns: list[int] | None
    positive_class: object = None

    @property
    def binary(self) -> bool:
        return self.task == CLASSIFICATION and self.classes is not None and len(self.classes) == 2

    @property
    def multiclass(self) -> bool:
        return self.task == CLASSIFICATION and not self.binary

    def describe(self, space: str = "probability") -> list[str]:
        if self.task == REGRESSION:
            return ["predicted value" if space == "value" else f"prediction ({space})"]
        return [f"{space} of class {label!r}" for label in self.labels]


def resolve_task(model, task: str) -> str:
    task = task or model.task
    if task not in (CLASSIFICATION, REGRESSION):
        raise AnalysisError(f"unknown task {task!r}: expected classification or regression")
    return task


def resolve_outputs(model, X: pd.DataFrame, task: str, positive_class=None) -> Outputs:
    if task == REGRESSION:
        return Outputs(task, None, ["prediction"], None)
    classes = list(model.classes) if model.classes is not None else None
    if classes is None:
        proba = model.predict_proba(X.iloc[:1])
        if proba is None:
            raise AnalysisError("the model gives no class probabilities, which this analysis needs")
        classes = list(range(np.asarray(proba).shape[1]))
    if len(classes) == 2:
        if positive_class is None:
            positive = classes[1]
        else:
            positive = match_label(positive_class, classes)
            if positive is None:
                raise ParamError(f"positive_class {positive_class!r} is not one of the model's classes: "
                                 f"{', '.join(map(str, classes))}")
        return Outputs(task, classes, [positive], [classes.index(positive)], positive)
    return Outputs(task, classes, classes, list(range(len(classes))))


def match_label(label, classes: list):
    if label in classes:
        return classes[classes.index(label)]
    by_text = {str(c): c for c in classes}
    return by_text.get(str(label))


def predict_outputs(model, X: pd.DataFrame, outputs: Outputs) -> np.ndarray:
    """(n, n_outputs) array in probability (classification) or value (regression) space."""
    if outputs.task == REGRESSION:
        return np.asarray(model.predict(X), dtype=float).reshape(len(X), -1)[:, :1]
    proba = model.predict_proba(X)
    if proba is None:
        raise AnalysisError("the model gives no class probabilities, which this analysis needs")
    return np.asarray(proba, dtype=float)[:, outputs.columns]


def align_target(y: pd.Series, classes: list | None) -> pd.Series:
    """y with missing labels dropped; for classification, labels mapped onto the model's class objects."""
    y = y.dropna()
    if classes is None:
        return y.astype(float)
    mapped = y.map(lambda label: match_label(label, classes))
    unknown = y[mapped.isna()]
    if len(unknown):
        raise AnalysisError(f"the target holds {unknown.iloc[0]!r}, which is not one of the model's classes: "
                            f"{', '.join(map(str, classes))}")
    return mapped.infer_objects()  # ints stay ints: sklearn's metrics refuse object arrays of numbers


def unwrap(model):
    """(preprocessing, final estimator) for scikit-learn models; preprocessing is None without a Pipeline."""
    from sklearn.pipeline import Pipeline

    estimator = model.estimator
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator[-1]
    if isinstance(estimator, Pipeline):
        return None, estimator[-1]
    return None, estimator


def rng(random_state: int) -> np.random.Generator:
    return np.random.default_rng(random_state)
