"""Tiny real models and datasets for registry tests (trained in milliseconds, cached per process)."""

import functools
import io
import pickle

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from skops import io as skops_io


@functools.cache
def iris_frame() -> pd.DataFrame:
    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["target"] = frame["target"].map(dict(enumerate(data.target_names)))
    return frame


def iris_csv(frame: pd.DataFrame | None = None) -> bytes:
    buffer = io.StringIO()
    (iris_frame() if frame is None else frame).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@functools.cache
def iris_model() -> LogisticRegression:
    frame = iris_frame()
    return LogisticRegression(max_iter=500).fit(frame.drop(columns="target"), frame["target"])


def iris_skops() -> bytes:
    return skops_io.dumps(iris_model())


def iris_pickle(protocol: int = 5) -> bytes:
    return pickle.dumps(iris_model(), protocol=protocol)


@functools.cache
def mixed_frame() -> pd.DataFrame:
    """Numeric and categorical columns with missing values and a binary imbalanced label."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "income": rng.normal(50, 15, n).round(1),
        "age": rng.integers(18, 80, n),
        "home": rng.choice(["rent", "owner", "parents"], n),
    })
    frame.loc[rng.choice(n, 20, replace=False), "income"] = np.nan
    frame.loc[rng.choice(n, 5, replace=False), "home"] = np.nan
    frame["label"] = np.where(frame["income"].fillna(50) + rng.normal(0, 5, n) < 40, "bad", "good")
    return frame


@functools.cache
def mixed_pipeline() -> Pipeline:
    frame = mixed_frame()
    # KNNImputer rather than SimpleImputer: a fitted SimpleImputer stores a numpy.dtype, which skops
    # refuses to trust by default; missing categories become their own one-hot column.
    pre = ColumnTransformer([
        ("num", KNNImputer(add_indicator=True), ["income", "age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["home"]),
    ])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])
    return model.fit(frame.drop(columns="label"), frame["label"])


class Evil:
    """A pickle payload that would create a marker file if it were ever unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
