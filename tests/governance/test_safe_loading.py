"""Uploaded model files are untrusted: real models round-trip, malicious files are refused, nothing runs.

Every malicious payload would create a marker file if any of its code ran; each test checks that the
marker does not exist afterwards. Models are real and tiny (200 rows); nothing is mocked.
"""

import builtins
import contextlib
import functools
import io
import json
import os
import pickle
import runpy
import socket
import struct
import subprocess
import tracemalloc
import zipfile
import zlib

import joblib
import lightgbm
import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io
import xgboost
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import export_graphviz

from governance.loading import (
    FLAVOUR_EXTENSIONS,
    CorruptArtifact,
    LoadedModel,
    ScanReport,
    UnsafeArtifact,
    UnsupportedFlavour,
    detect_flavour,
    load_model,
    scan_artifact,
)
from governance.loading.restricted import restricted_joblib_loads, restricted_loads

SAFE_ERRORS = (UnsafeArtifact, CorruptArtifact, UnsupportedFlavour)
TREE_TYPES = ["sklearn.tree._tree.Tree", "numpy.dtype"]  # skops trusts neither by default


# --- data and models ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(7)
    n = 200
    df = pd.DataFrame({
        "colour": rng.choice(["red", "green", "blue"], n),
        "age": rng.normal(40, 10, n),
        "income": rng.normal(3.0, 1.0, n),
    })
    df.loc[rng.choice(n, 25, replace=False), "age"] = np.nan
    df.loc[rng.choice(n, 10, replace=False), "income"] = np.nan
    target = ((df["colour"] == "red") + df["income"].fillna(3) + rng.normal(0, 0.5, n) > 3.4).astype(int)
    return df, target


@pytest.fixture(scope="module")
def logreg(frame):
    df, target = frame
    numeric = df[["age", "income"]].fillna(0)
    return LogisticRegression().fit(numeric, np.where(target == 1, "approve", "decline")), numeric


@pytest.fixture(scope="module")
def pipeline(frame):
    df, target = frame
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), ["age", "income"]),
    ])
    model = Pipeline([("pre", pre), ("gb", GradientBoostingClassifier(n_estimators=15, random_state=0))])
    return model.fit(df, target), df


@pytest.fixture(scope="module")
def forest(frame):
    df, _ = frame
    numeric = df[["age", "income"]].fillna(0)
    model = RandomForestRegressor(n_estimators=8, max_depth=4, random_state=0)
    return model.fit(numeric, numeric["income"] * 2), numeric


@pytest.fixture(scope="module")
def models(logreg, pipeline, forest):
    return {"logreg": logreg, "pipeline": pipeline, "forest": forest}


def joblib_bytes(obj, compress=0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=compress)
    return buffer.getvalue()


SERIALISERS = {
    **{f"pickle{p}": (lambda m, p=p: pickle.dumps(m, protocol=p), "pickle") for p in range(6)},
    "joblib": (joblib_bytes, "joblib"),
    "joblib_zlib3": (lambda m: joblib_bytes(m, compress=3), "joblib"),
    "joblib_xz": (lambda m: joblib_bytes(m, compress=("xz", 3)), "joblib"),
    "skops": (skops.io.dumps, "sklearn"),
}


# --- round trips -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", SERIALISERS)
@pytest.mark.parametrize("name", ["logreg", "pipeline", "forest"])
def test_sklearn_models_round_trip_with_identical_predictions(models, name, fmt, settings):
    settings.SKOPS_TRUSTED_TYPES = TREE_TYPES
    model, X = models[name]
    dump, flavour = SERIALISERS[fmt]
    data = dump(model)

    report = scan_artifact(data, flavour)
    assert report.ok, report.findings
    loaded = load_model(data, flavour)

    assert isinstance(loaded, LoadedModel)
    assert loaded.flavour == flavour
    assert loaded.estimator is not model
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.feature_names == list(X.columns)
    if name == "forest":
        assert loaded.task == "regression"
        assert loaded.classes is None
        assert loaded.predict_proba(X) is None
    else:
        assert loaded.task == "classification"
        assert loaded.classes == model.classes_.tolist()
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    json.dumps({"classes": loaded.classes, "features": loaded.feature_names, "report": report.as_dict()})


def test_scan_lists_the_globals_a_joblib_file_imports(pipeline):
    report = scan_artifact(joblib_bytes(pipeline[0], compress=3), "joblib")
    assert isinstance(report, ScanReport)
    assert "sklearn.ensemble._gb.GradientBoostingClassifier" in report.scanned["globals"]
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in report.scanned["globals"]
    assert report.scanned["arrays"] > 5
    assert report.as_dict()["ok"] is True


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_joblib_files_of_every_protocol_are_scanned_through_their_array_data(pipeline, protocol):
    model, X = pipeline
    buffer = io.BytesIO()
    joblib.dump(model, buffer, protocol=protocol)
    loaded = load_model(buffer.getvalue(), "joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_pickles_written_by_numpy_1_load_under_numpy_2(logreg):
    model, X = logreg
    data = pickle.dumps(model, protocol=2).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in data
    report = scan_artifact(data, "pickle")
    assert report.ok and "numpy.core.multiarray._reconstruct" in report.scanned["globals"]
    np.testing.assert_array_equal(load_model(data, "pickle").predict(X), model.predict(X))


def test_joblib_written_to_a_real_file_round_trips(pipeline, tmp_path):
    model, X = pipeline
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = load_model(path.read_bytes(), "joblib")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.fixture(scope="module")
def numeric_classifier():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] - 0.5 * X["c"] + rng.normal(0, 0.3, 200) > 0).astype(int)
    return X, y


def test_onnx_logistic_regression_matches_sklearn(numeric_classifier):
    X, y = numeric_classifier
    model = LogisticRegression().fit(X.to_numpy(dtype=np.float32), y)
    data = to_onnx(model, X.to_numpy(dtype=np.float32)[:1]).SerializeToString()

    assert scan_artifact(data, "onnx").ok
    loaded = load_model(data, "onnx")

    assert loaded.task == "classification"
    assert loaded.classes == [0, 1]
    assert loaded.feature_names is None  # one tensor input, not one input per column
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X.to_numpy(dtype=np.float32)))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X.to_numpy(dtype=np.float32)),
                               atol=1e-5)
    assert load_model(data, "onnx", feature_names=list(X.columns)).feature_names == list(X.columns)


def test_onnx_pipeline_with_one_input_per_column_matches_sklearn(frame):
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    df, target = frame
    pre = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), ["age", "income"]),
    ])
    model = Pipeline([("pre", pre), ("lr", LogisticRegression())]).fit(df, target)
    types = [("colour", StringTensorType([None, 1])), ("age", FloatTensorType([None, 1])),
             ("income", FloatTensorType([None, 1]))]
    data = to_onnx(model, initial_types=types).SerializeToString()

    loaded = load_model(data, "onnx")
    assert loaded.feature_names == ["colour", "age", "income"]
    assert loaded.classes == [0, 1]
    np.testing.assert_array_equal(loaded.predict(df), model.predict(df))
    np.testing.assert_allclose(loaded.predict_proba(df), model.predict_proba(df), atol=1e-5)


def _onnx_model(nodes, opsets, initializers=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])], initializer=list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets]).SerializeToString()


def test_onnx_custom_operator_domain_is_a_finding():
    data = _onnx_model([helper.make_node("Exfiltrate", ["X"], ["Y"], domain="com.evil")], [("", 17), ("com.evil", 1)])
    report = scan_artifact(data, "onnx")
    assert not report.ok
    assert [f["global"] for f in report.findings] == ["com.evil"]
    assert "custom" in report.findings[0]["reason"]
    with pytest.raises(UnsafeArtifact, match="com.evil"):
        load_model(data, "onnx")


def test_onnx_external_data_reference_is_critical():
    weights = helper.make_tensor("W", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    weights.data_location = TensorProto.EXTERNAL
    del weights.float_data[:]
    entry = weights.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    data = _onnx_model([helper.make_node("Add", ["X", "W"], ["Y"])], [("", 17)], [weights])

    report = scan_artifact(data, "onnx")
    assert report.findings[0]["severity"] == "critical"
    assert "/etc/passwd" in report.findings[0]["reason"]
    with pytest.raises(UnsafeArtifact):
        load_model(data, "onnx")


@pytest.fixture(scope="module")
def xgb_classifier(numeric_classifier):
    X, y = numeric_classifier
    return xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(X, y), X


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_booster_round_trips(xgb_classifier, fmt):
    model, X = xgb_classifier
    data = bytes(model.get_booster().save_raw(fmt))

    assert detect_flavour(f"model.{fmt}", data[:4096]) == "xgboost"
    assert scan_artifact(data, "xgboost").ok
    loaded = load_model(data, "xgboost")

    assert loaded.task == "classification"
    assert loaded.classes == [0, 1]
    assert loaded.feature_names == list(X.columns)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_xgboost_regressor_and_multiclass(numeric_classifier):
    X, y = numeric_classifier
    regressor = xgboost.XGBRegressor(n_estimators=5).fit(X, X["b"])
    loaded = load_model(bytes(regressor.get_booster().save_raw("json")), "xgboost")
    assert loaded.task == "regression"
    np.testing.assert_allclose(loaded.predict(X), regressor.predict(X), rtol=1e-6)

    three = pd.cut(X["b"], 3, labels=False)
    multi = xgboost.XGBClassifier(n_estimators=5).fit(X, three)
    loaded = load_model(bytes(multi.get_booster().save_raw("ubj")), "xgboost")
    assert loaded.classes == [0, 1, 2]
    np.testing.assert_array_equal(loaded.predict(X), multi.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), multi.predict_proba(X), rtol=1e-6)


def test_lightgbm_booster_round_trips(numeric_classifier):
    X, y = numeric_classifier
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(X, y)
    data = model.booster_.model_to_string().encode()

    assert detect_flavour("model.txt", data[:4096]) == "lightgbm"
    assert scan_artifact(data, "lightgbm").ok
    loaded = load_model(data, "lightgbm")

    assert loaded.task == "classification"
    assert loaded.classes == [0, 1]
    assert loaded.feature_names == list(X.columns)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))

    regressor = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(X, X["b"])
    loaded = load_model(regressor.booster_.model_to_string().encode(), "lightgbm")
    assert loaded.task == "regression"
    assert loaded.predict_proba(X) is None
    np.testing.assert_allclose(loaded.predict(X), regressor.predict(X))


# --- malicious pickles ---------------------------------------------------------------------------
class Payload:
    """Pickles as `func(*args)`: what an attacker's __reduce__ returns."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "code from the pickle ran"


def _touch(marker) -> str:
    return f"touch {marker}"


def assert_refused(data: bytes, flavour: str, expected_globals, severity="critical"):
    report = scan_artifact(data, flavour)
    assert not report.ok
    hits = [f for f in report.findings if f["global"] in expected_globals]
    assert hits, report.findings
    assert hits[0]["severity"] == severity
    with pytest.raises(UnsafeArtifact) as refused:
        load_model(data, flavour)
    assert refused.value.report.findings == report.findings
    assert hits[0]["global"] in str(refused.value)
    return report


@pytest.mark.parametrize("protocol", range(6))
def test_os_system_payload_is_refused_for_every_protocol(marker, protocol):
    data = pickle.dumps(Payload(os.system, _touch(marker)), protocol=protocol)
    report = assert_refused(data, "pickle", {"os.system", "posix.system"})
    assert report.findings[0]["opcode"] in ("GLOBAL", "STACK_GLOBAL")
    assert isinstance(report.findings[0]["position"], int)
    assert "via" in str(UnsafeArtifact(report)) and "at byte" in str(UnsafeArtifact(report))


@pytest.mark.parametrize("payload, expected", [
    (lambda m: Payload(subprocess.Popen, ["touch", str(m)]), {"subprocess.Popen"}),
    (lambda m: Payload(builtins.eval, f"__import__('os').system('touch {m}')"), {"builtins.eval"}),
    (lambda m: Payload(builtins.exec, f"open('{m}', 'w')"), {"builtins.exec"}),
    (lambda m: Payload(runpy._run_code, f"open('{m}', 'w')", {}), {"runpy._run_code"}),
    (lambda m: Payload(socket.socket), {"socket.socket"}),
    (lambda m: Payload(functools.partial(os.system, f"touch {m}")), {"functools.partial"}),
    (lambda m: Payload(builtins.getattr, np.ndarray, "tofile"), {"builtins.getattr"}),
], ids=["popen", "eval", "exec", "runpy", "socket", "partial", "getattr"])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_dangerous_callables_are_refused(marker, payload, expected, protocol):
    assert_refused(pickle.dumps(payload(marker), protocol=protocol), "pickle", expected)


def test_getattr_import_gadget_is_refused_although_os_is_never_named(marker):
    data = (b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'"
            + _touch(marker).encode() + b"'\ntR.")
    report = assert_refused(data, "pickle", {"builtins.getattr", "builtins.__import__"})
    assert "os.system" not in report.scanned["globals"]


def test_hand_written_protocol_0_pickle_is_refused(marker):
    data = b"cos\nsystem\n(S'" + _touch(marker).encode() + b"'\ntR."
    report = assert_refused(data, "pickle", {"os.system"})
    assert report.findings[0]["position"] == 0
    assert report.findings[0]["opcode"] == "GLOBAL"


def test_python2_module_names_are_mapped_before_checking(marker):
    data = b"ccommands\ngetoutput\n(S'" + _touch(marker).encode() + b"'\ntR."  # commands -> subprocess
    assert_refused(data, "pickle", {"subprocess.getoutput"})


def _short(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def test_stack_global_names_fetched_from_the_memo_are_resolved(marker):
    """Names pushed early and parked in the memo; decoys right before STACK_GLOBAL fool naive scanners."""
    data = b"".join([
        b"\x80\x04",
        _short("posix"), b"q\x00", b"0",  # BINPUT 0, POP
        _short("system"), b"q\x01", b"0",
        _short("numpy"), b"0", _short("ndarray"), b"0",  # decoys
        b"h\x00", b"h\x01", b"\x93",  # BINGET 0, BINGET 1, STACK_GLOBAL
        _short(_touch(marker)), b"\x85", b"R", b".",
    ])
    report = assert_refused(data, "pickle", {"posix.system"})
    assert report.findings[0]["opcode"] == "STACK_GLOBAL"
    assert "numpy.ndarray" not in report.scanned["globals"]


def test_memoize_references_are_resolved(marker):
    data = b"".join([
        b"\x80\x04", _short("os"), b"\x94", _short("system"), b"\x94", b"0", b"0",  # MEMOIZE 0 and 1
        b"h\x00", b"h\x01", b"\x93", _short(_touch(marker)), b"\x85", b"R", b".",
    ])
    assert_refused(data, "pickle", {"os.system"})


def test_computed_global_names_are_refused(marker):
    # module name produced by a call at load time, so no scanner can know it in advance
    data = b"\x80\x04cbuiltins\nstr\n" + _short("os") + b"\x85R" + _short("system") + b"\x93" + _short("x") + b"\x85R."
    report = scan_artifact(data, "pickle")
    assert any(f["severity"] == "critical" and "computed" in f["reason"] for f in report.findings)
    with pytest.raises(UnsafeArtifact):
        load_model(data, "pickle")


def test_importing_a_dangerous_global_without_calling_it_is_refused():
    assert_refused(pickle.dumps(os.system), "pickle", {"posix.system", "os.system"})


def test_payload_nested_inside_a_fitted_model_is_found(logreg, marker):
    model = clone(logreg[0]).fit(*_xy(logreg))
    model.metadata_ = {"owner": "alice", "hook": [Payload(os.system, _touch(marker))]}
    for protocol in range(6):
        assert_refused(pickle.dumps(model, protocol=protocol), "pickle", {"posix.system"})
    for compress in (0, 3, ("gzip", 3), ("bz2", 3)):
        report = assert_refused(joblib_bytes(model, compress=compress), "joblib", {"posix.system"})
        assert "sklearn.linear_model._logistic.LogisticRegression" in report.scanned["globals"]


def _xy(logreg):
    model, X = logreg
    return X, model.predict(X)


def test_payload_inside_a_joblib_object_array_is_found(logreg, marker):
    """joblib stores object arrays as a nested pickle after the array wrapper; it is scanned too."""
    holder = {"model": logreg[0], "extra": np.array([1, Payload(os.system, _touch(marker))], dtype=object)}
    report = assert_refused(joblib_bytes(holder), "joblib", {"posix.system"})
    assert report.findings[0]["position"] > 100


def test_second_pickle_in_the_same_file_is_scanned(logreg, marker):
    data = pickle.dumps(logreg[0]) + pickle.dumps(Payload(os.system, _touch(marker)))
    report = assert_refused(data, "pickle", {"posix.system"})
    assert report.scanned["pickles"] == 2


def test_restricted_unpickler_refuses_even_without_the_scan(logreg, marker):
    evil = Payload(os.system, _touch(marker))
    for protocol in range(6):
        with pytest.raises(UnsafeArtifact, match="posix.system"):
            restricted_loads(pickle.dumps(evil, protocol=protocol))
    with pytest.raises(UnsafeArtifact, match="builtins.getattr"):
        restricted_loads(b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'x'\ntR.")
    with pytest.raises(UnsafeArtifact, match="os.system"):
        restricted_loads(b"cos\nsystem\n(S'" + _touch(marker).encode() + b"'\ntR.")
    for compress in (0, 3):
        with pytest.raises(UnsafeArtifact, match="posix.system"):
            restricted_joblib_loads(joblib_bytes({"m": logreg[0], "evil": evil}, compress=compress))
    holder = {"extra": np.array([1, evil], dtype=object)}  # nested pickle of an object array
    with pytest.raises(UnsafeArtifact, match="posix.system"):
        restricted_joblib_loads(joblib_bytes(holder))


def test_sklearn_functions_are_not_allowed_wholesale(logreg):
    # export_graphviz writes to any path it is given: a pickle must not be able to call it
    data = pickle.dumps(Payload(export_graphviz, None, "/tmp/x.dot"))  # noqa: S108 - never written
    report = scan_artifact(data, "pickle")
    assert report.findings[0]["global"] == "sklearn.tree._export.export_graphviz"
    assert report.findings[0]["severity"] == "critical"


@pytest.mark.parametrize("data, reason", [
    (pickle.dumps(Payload(bytearray, 10**12), protocol=2), "size comes from the file"),
    (pickle.dumps(Payload(np.dtype, "f8", False, False)), "shared builtin dtype"),
    (b"\x80\x02ccopyreg\n_reconstructor\ncsklearn.linear_model\nLogisticRegression\ncnumpy\nndarray\n"
     b"K\x05\x85\x87R.", "arbitrary base class"),
], ids=["huge-bytearray", "dtype-without-copy", "reconstructor-base"])
def test_allowed_callables_with_abusive_arguments_are_refused(data, reason):
    report = scan_artifact(data, "pickle")
    assert any(reason in f["reason"] for f in report.findings), report.findings


def test_numpy_dtype_with_a_field_past_its_end_is_refused():
    """numpy's __setstate__ accepts a field at offset 12 of a 16-byte record; reading it would overrun memory."""
    data = pickle.dumps(np.zeros(2, dtype=[("a", "<i8"), ("b", "<f8")]), protocol=2)
    assert scan_artifact(data, "pickle").ok
    at = data.index(b"K\x08\x86")  # offset of field "b"
    tampered = data[: at + 1] + b"\x0c" + data[at + 2:]
    report = scan_artifact(tampered, "pickle")
    assert report.findings[0]["global"] == "numpy.dtype"
    assert "constructor" in report.findings[0]["reason"]
    with pytest.raises(UnsafeArtifact):
        load_model(tampered, "pickle")


def test_object_array_with_fewer_items_than_its_shape_is_refused():
    """numpy would leave NULL pointers in the missing slots and crash the process when they are touched."""
    data = pickle.dumps(np.array(["a", "b", "c", "d"], dtype=object), protocol=2)
    at = data.index(b"K\x04\x85")  # shape (4,)
    tampered = data[: at + 1] + b"\x05" + data[at + 2:]
    report = scan_artifact(tampered, "pickle")
    assert [f["global"] for f in report.findings] == ["numpy._core.multiarray._reconstruct"]
    with pytest.raises(UnsafeArtifact):
        load_model(tampered, "pickle")


def test_admin_can_allow_an_extra_global_but_never_a_dangerous_one(settings, marker):
    data = pickle.dumps(Payload(json.loads, "[1]"))
    assert scan_artifact(data, "pickle").findings[0]["severity"] == "high"
    settings.PICKLE_EXTRA_ALLOWED_GLOBALS = ["json.loads", "posix.system"]
    assert scan_artifact(data, "pickle").ok
    assert restricted_loads(data) == [1]
    assert_refused(pickle.dumps(Payload(os.system, _touch(marker))), "pickle", {"posix.system"})


def test_a_plain_pickle_of_a_joblib_file_is_not_misread(logreg):
    with pytest.raises(CorruptArtifact, match="joblib flavour"):
        scan_artifact(joblib_bytes(logreg[0]), "pickle")


def _tampered_tree(forest, edit):
    """A copy of the forest whose first tree's node array was edited, as a crafted file would be."""
    model = pickle.loads(pickle.dumps(forest[0]))  # noqa: S301 - our own model, for tampering
    tree = model.estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    state["nodes"] = nodes
    tampered = type(tree)(tree.n_features, np.atleast_1d(tree.n_classes), tree.n_outputs)
    tampered.__setstate__(state)
    model.estimators_[0].tree_ = tampered
    return model


def _cycle(nodes):
    internal = np.flatnonzero(nodes["left_child"] != -1)
    nodes["left_child"][internal[1]] = internal[0]  # a child pointing back up: predict would never end


def _bad_feature(nodes):
    nodes["feature"][0] = 99


@pytest.mark.parametrize("edit, message", [(_cycle, "do not form a tree"), (_bad_feature, "feature")])
@pytest.mark.parametrize("fmt", ["pickle5", "joblib", "skops"])
def test_tampered_tree_structure_is_corrupt_not_a_hang(forest, edit, message, fmt, settings):
    settings.SKOPS_TRUSTED_TYPES = TREE_TYPES
    dump, flavour = SERIALISERS[fmt]
    data = dump(_tampered_tree(forest, edit))
    assert scan_artifact(data, flavour).ok  # well-formed file, allowed types: only the loaded structure is wrong
    with pytest.raises(CorruptArtifact, match=message):
        load_model(data, flavour)


def test_hist_gradient_boosting_round_trips_and_tampered_nodes_are_corrupt(numeric_classifier):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = numeric_classifier
    model = HistGradientBoostingClassifier(max_iter=5, max_depth=3).fit(X, y)
    loaded = load_model(joblib_bytes(model), "joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

    nodes = model._predictors[1][0].nodes
    internal = np.flatnonzero(nodes["is_leaf"] == 0)
    nodes["right"][internal[-1]] = internal[0]  # a cycle back to the root
    with pytest.raises(CorruptArtifact, match="do not form a tree"):
        load_model(joblib_bytes(model), "joblib")


# --- skops ---------------------------------------------------------------------------------------
class Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) * 2


def as_source(data: bytes, kind: str, tmp_path):
    """skops artifacts are scanned and loaded from bytes (workers) or from the uploaded file (uploads)."""
    if kind == "bytes":
        return data
    if kind == "memory file":
        return io.BytesIO(data)
    path = tmp_path / "upload.skops"
    path.write_bytes(data)
    return open(path, "rb")  # noqa: SIM115 - closed with tmp_path


@pytest.mark.parametrize("kind", ["bytes", "memory file", "disk file"])
def test_skops_untrusted_type_is_a_finding_until_an_admin_trusts_it(logreg, settings, kind, tmp_path):
    _, X = logreg
    model = Pipeline([("double", Doubler()), ("lr", LogisticRegression())]).fit(X, _xy(logreg)[1])
    data = as_source(skops.io.dumps(model), kind, tmp_path)
    type_name = f"{__name__}.Doubler"

    settings.SKOPS_TRUSTED_TYPES = []
    report = scan_artifact(data, "sklearn")
    assert report.scanned["types"] == [type_name]
    assert report.findings[0]["global"] == type_name
    assert "SKOPS_TRUSTED_TYPES" in report.findings[0]["reason"]
    with pytest.raises(UnsafeArtifact, match="Doubler"):
        load_model(data, "sklearn")

    settings.SKOPS_TRUSTED_TYPES = [type_name]
    assert scan_artifact(data, "sklearn").ok
    loaded = load_model(data, "sklearn")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_skops_tree_internals_need_trust(forest, settings):
    settings.SKOPS_TRUSTED_TYPES = []
    report = scan_artifact(skops.io.dumps(forest[0]), "sklearn")
    assert "sklearn.tree._tree.Tree" in [f["global"] for f in report.findings]


# --- corrupt input and resource limits ------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_files(logreg, numeric_classifier):
    X, y = numeric_classifier
    model = logreg[0]
    return {
        "sklearn": skops.io.dumps(model),
        "onnx": to_onnx(LogisticRegression().fit(X.to_numpy(np.float32), y), X.to_numpy(np.float32)[:1])
        .SerializeToString(),
        "xgboost": bytes(xgboost.XGBClassifier(n_estimators=2).fit(X, y).get_booster().save_raw("json")),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y).booster_.model_to_string().encode(),
        "pickle": pickle.dumps(model),
        "joblib": joblib_bytes(model, compress=3),
    }


@pytest.mark.parametrize("data, flavour, message", [
    (b"", "pickle", "empty"),
    (b"", "sklearn", "zip"),
    (b"", "onnx", "empty"),
    (b"\x80\x04\x95\x10\x00", "pickle", "malformed pickle"),
    (b"PK\x03\x04garbage", "sklearn", "not a valid skops"),
    (b"this is a text file, honest\n", "onnx", "ONNX"),
    (b"\x78\x9cnot really zlib", "joblib", "zlib"),
])
def test_corrupt_inputs_give_readable_errors(data, flavour, message):
    with pytest.raises(CorruptArtifact, match=message):
        scan_artifact(data, flavour)
    with pytest.raises(CorruptArtifact, match=message):
        load_model(data, flavour)


def test_truncated_files_are_corrupt(valid_files):
    for flavour in ("sklearn", "pickle", "joblib", "lightgbm", "xgboost"):
        data = valid_files[flavour]
        with pytest.raises(CorruptArtifact):
            load_model(data[: len(data) // 2], flavour)


def _garbage(valid_files):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 600, dtype=np.uint8).tobytes()
    yield from (b"", b"\x00", noise, b"PK\x03\x04" + noise, b"\x80\x05" + noise, b"\x80\x02]q\x00(K\x01", b"{",
                b'{"learner": 1}', b"{L\x00learner" + noise, b"tree\nversion=v4\nend of trees\n",
                b"tree\n" + noise, b"\x78\x9c" + noise, b"\x1f\x8b" + noise, b"BZh9" + noise,
                b"\x08\x07\x12" + noise, b"cos\nsystem", b"(" * 10_000 + b".", b"]" + b"\x94h\x00" * 500 + b".")
    for data in valid_files.values():
        yield data[: len(data) // 3]
        yield data[:-7]
        yield data[:40] + noise


def test_no_other_exception_escapes_for_garbage_in_any_flavour(valid_files):
    for flavour in FLAVOUR_EXTENSIONS:
        for data in _garbage(valid_files):
            for call in (scan_artifact, load_model):
                with contextlib.suppress(SAFE_ERRORS):
                    call(data, flavour)


def test_unknown_flavour_is_unsupported():
    with pytest.raises(UnsupportedFlavour):
        scan_artifact(b"data", "tensorflow")
    with pytest.raises(UnsupportedFlavour):
        load_model(b"data", "tensorflow")


def test_decompression_bomb_stops_at_the_cap_without_inflating_it(settings):
    settings.MAX_DECOMPRESSED_BYTES = 1024 * 1024
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)  # 64 MiB from ~64 KiB
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(CorruptArtifact, match="over the limit of .*MAX_DECOMPRESSED_MB"):
            scan_artifact(bomb, "joblib")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    with pytest.raises(CorruptArtifact, match="over the limit of .*MAX_DECOMPRESSED_MB"):
        load_model(joblib_bytes(np.zeros(500_000), compress=3), "joblib")


@pytest.mark.parametrize("kind", ["bytes", "memory file", "disk file"])
def test_zip_bomb_is_refused_before_skops_reads_it(settings, kind, tmp_path):
    settings.MAX_DECOMPRESSED_BYTES = 1024 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", b" " * (4 * 1024 * 1024))
    with pytest.raises(CorruptArtifact, match="over the limit of .*MAX_DECOMPRESSED_MB"):
        scan_artifact(as_source(buffer.getvalue(), kind, tmp_path), "sklearn")
    with pytest.raises(CorruptArtifact, match="over the limit of .*MAX_DECOMPRESSED_MB"):
        load_model(as_source(buffer.getvalue(), kind, tmp_path), "sklearn")


def test_array_claiming_more_data_than_the_file_holds_is_corrupt(logreg):
    data = bytearray(joblib_bytes(logreg[0]))
    coef = data.index(b"coef_")  # shape (1, 2) float64 -> (1, 200): 1600 bytes the file does not have
    k = data.index(b"K\x01K\x02\x86", coef)
    data[k + 3] = 200
    with pytest.raises(CorruptArtifact, match="past the end"):
        scan_artifact(bytes(data), "joblib")
    data[k + 3] = 2
    assert scan_artifact(bytes(data), "joblib").ok


# --- detection -----------------------------------------------------------------------------------
def test_detect_flavour_recognises_every_real_format(valid_files, xgb_classifier, logreg):
    expected = {"sklearn": "model.skops", "onnx": "model.onnx", "xgboost": "model.json", "lightgbm": "model.txt",
                "pickle": "model.pkl", "joblib": "model.joblib"}
    for flavour, filename in expected.items():
        assert detect_flavour(filename, valid_files[flavour][:4096]) == flavour
        assert detect_flavour("upload.bin", valid_files[flavour][:4096]) == flavour
    ubj = bytes(xgb_classifier[0].get_booster().save_raw("ubj"))
    assert detect_flavour("model.ubj", ubj[:4096]) == "xgboost"
    assert detect_flavour("model.pkl", pickle.dumps(logreg[0], protocol=0)[:4096]) == "pickle"
    assert detect_flavour("model.joblib", joblib_bytes(logreg[0])[:4096]) == "joblib"
    assert detect_flavour("model.pkl", joblib_bytes(logreg[0])[:4096]) == "joblib"  # joblib.dump(m, "m.pkl")
    for compress in (3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        assert detect_flavour("model.joblib", joblib_bytes(logreg[0], compress=compress)[:64]) == "joblib"


@pytest.mark.parametrize("head", [b"", b"hello world", b"xylophone", b"\x00\x01\x02\x03", b"%PDF-1.7\n", b"GIF89a",
                                  struct.pack("<Q", 123456789)])
def test_detect_flavour_returns_none_for_unknown_bytes(head):
    assert detect_flavour("model.bin", head) is None


def test_onnx_checker_runs_on_structurally_wrong_graphs():
    bad = _onnx_model([helper.make_node("Add", ["X", "missing"], ["Y"])], [("", 17)])
    assert isinstance(onnx.load_model_from_string(bad), onnx.ModelProto)
    with pytest.raises(CorruptArtifact, match="invalid"):
        scan_artifact(bad, "onnx")
