"""Parameters of trusted classes: a trusted Pipeline must not be able to write where the file says.

The attack: `Pipeline(memory="/some/path")` passed the scan, and a cross-validation job then wrote joblib
cache files into that attacker-chosen path. Every parameter that names a path, a callable or a module is now
neutralised (memory) or refused, on every load, whatever the flavour.
"""

import pickle

import numpy as np
import pytest
import skops.io
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from governance.loading import UnsafeArtifact, load_model
from tests.ml import iris_frame


def _fit(pipeline):
    frame = iris_frame()
    return pipeline.fit(frame.drop(columns="target"), frame["target"])


def _dump(model, flavour):
    return skops.io.dumps(model) if flavour == "sklearn" else pickle.dumps(model)


@pytest.mark.parametrize("flavour", ["sklearn", "pickle"])
def test_pipeline_memory_is_neutralised_so_a_refit_writes_nothing_there(tmp_path, flavour):
    target = tmp_path / "attacker-chosen"
    model = _fit(Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))]))
    model.memory = str(target)  # set after fitting: the upload itself carries no cache yet
    loaded = load_model(_dump(model, flavour), flavour)
    assert loaded.estimator.memory is None
    assert loaded.neutralised_params == [f"memory: was {str(target)!r}"]
    _fit(clone(loaded.estimator))  # what cross-validation, poisoning and hardening jobs do
    assert not target.exists()


def test_nested_memory_is_neutralised_too():
    inner = Pipeline([("scale", StandardScaler())], memory="/tmp/inner-cache")  # noqa: S108
    outer = _fit(Pipeline([("prep", inner), ("clf", LogisticRegression(max_iter=300))]))
    loaded = load_model(pickle.dumps(outer), "pickle")
    assert loaded.estimator.named_steps["prep"].memory is None


def test_text_vectorizer_reading_files_named_in_its_input_is_refused():
    model = make_pipeline(CountVectorizer(input="filename"), MultinomialNB())
    with pytest.raises(UnsafeArtifact, match="open the files named in its input"):
        load_model(pickle.dumps(_fitted_text(model)), "pickle")


def _fitted_text(model):
    model.set_params(countvectorizer__input="content").fit(["spam spam", "ham"], [1, 0])
    return model.set_params(countvectorizer__input="filename")


@pytest.mark.parametrize("value", ["/etc/passwd", "~/.ssh/id_rsa", "../../secrets", "file:///etc/shadow",
                                   "C:\\Windows\\win.ini"])
def test_a_string_parameter_naming_a_path_is_refused(value):
    model = _fit(make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)))
    model.steps[1][1].solver = value  # any string parameter
    with pytest.raises(UnsafeArtifact, match="names a file-system path"):
        load_model(pickle.dumps(model), "pickle")


def test_a_callable_parameter_that_is_not_pure_arithmetic_is_refused():
    model = _fit(make_pipeline(FunctionTransformer(func=np.log1p), LogisticRegression(max_iter=300)))
    model.steps[0][1].func = StandardScaler  # an allowlisted class, called on every predict
    with pytest.raises(UnsafeArtifact, match="holds the callable"):
        load_model(pickle.dumps(model), "pickle")


def test_ordinary_parameters_still_load():
    frame = iris_frame()
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=300))
    model.fit(frame.drop(columns="target"), frame["target"])
    assert load_model(skops.io.dumps(model), "sklearn").neutralised_params == []
    encoder = OneHotEncoder(dtype=np.float64, handle_unknown="ignore")
    categorical = make_pipeline(encoder, LogisticRegression(max_iter=300)).fit([["a"], ["b"]], [0, 1])
    assert load_model(pickle.dumps(categorical), "pickle").estimator is not None
