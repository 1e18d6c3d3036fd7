"""Small model files that inflate or allocate hugely are refused before they can take the server down.

The reproducer of the attack: a 195 KB skops upload whose `.npy` member inflates to 190 MB of zeros was
accepted (201), stored a 124.5 MB `class_labels` value and OOM-killed the server when its versions were
listed. Each format gets a small file that would inflate or allocate hugely; each must get a 400 naming the
limit, and leave nothing behind.
"""

import io
import json
import pickle
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
import skops.io
import xgboost
from onnx import TensorProto, helper

from governance import services
from governance.loading import LimitExceeded, load_model, scan_artifact
from governance.models import AuditEvent, ModelVersion, StoredFile
from tests.ml import iris_frame, iris_model, upload

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def artifact_dir(artifact_storage):
    return artifact_storage


@pytest.fixture
def iris_row(cast):
    return services.model_create(actor=cast["author"], name="iris", title="Iris", task="classification")


def _post(client, data: bytes, filename: str):
    return client.post("/api/v1/models/iris/versions/", {"artifact": upload(filename, data)}, format="multipart")


def _write_npy(archive: zipfile.ZipFile, name: str, shape, dtype="<f8", *, data_bytes: int | None = None):
    """An .npy member written in chunks (the test never holds the inflated array)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    remaining = np.dtype(dtype).itemsize * int(np.prod(shape)) if data_bytes is None else data_bytes
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(header.getvalue())
        zeros = bytes(MiB)
        while remaining > 0:
            member.write(zeros[:min(MiB, remaining)])
            remaining -= min(MiB, remaining)


def skops_with_classes(n_classes: int) -> bytes:
    """The attack: iris's skops file with `classes_` swapped for `n_classes` zeros, deflated."""
    from sklearn.linear_model import LogisticRegression

    frame = iris_frame()
    numeric = LogisticRegression(max_iter=300).fit(frame.drop(columns="target"), frame["target"].factorize()[0])
    source = zipfile.ZipFile(io.BytesIO(skops.io.dumps(numeric)))
    schema = json.loads(source.read("schema.json"))
    classes_member = schema["content"]["content"]["classes_"]["file"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            if info.filename == classes_member:
                _write_npy(bomb, info.filename, (n_classes,))
            else:
                bomb.writestr(info.filename, source.read(info))
    return out.getvalue()


def test_skops_upload_whose_classes_inflate_to_190_mb_is_refused_with_the_limit(api_as, cast, iris_row):
    bomb = skops_with_classes(190 * MiB // 8)
    assert len(bomb) < 400_000  # ~0.2 MB on the wire
    response = _post(api_as(cast["author"]), bomb, "bomb.skops")
    assert response.status_code == 400, response.json()
    message = response.json()["artifact"][0]
    assert "over the limit of" in message and "MODEL_MAX_COMPRESSION_RATIO" in message
    assert not ModelVersion.objects.exists() and not StoredFile.objects.exists()
    assert not AuditEvent.objects.filter(action="version.create").exists()


def test_skops_inflation_is_refused_without_inflating_it_into_memory():
    bomb = skops_with_classes(190 * MiB // 8)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded):
            scan_artifact(bomb, "sklearn")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * MiB


def test_skops_member_that_lies_about_its_size_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        _write_npy(archive, "1.npy", (10_000_000,), data_bytes=80)  # the header declares 80 MB, holds 80 bytes
        archive.writestr("schema.json", "{}")
    with pytest.raises(Exception, match="declares 80000000 bytes of data but holds 80"):
        scan_artifact(out.getvalue(), "sklearn")


def test_skops_array_with_too_many_dimensions_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        _write_npy(archive, "1.npy", (1,) * 40)
        archive.writestr("schema.json", "{}")
    with pytest.raises(LimitExceeded, match="MODEL_MAX_ARRAY_DIMS"):
        scan_artifact(out.getvalue(), "sklearn")


def test_model_with_more_classes_than_the_limit_is_refused_even_when_small(settings, api_as, cast, iris_row):
    settings.MODEL_MAX_CLASSES = 1000
    response = _post(api_as(cast["author"]), skops_with_classes(5000), "many.skops")
    assert response.status_code == 400
    assert "the number of class labels is 5,000, over the limit of 1,000 (MODEL_MAX_CLASSES)" in \
        response.json()["artifact"][0]
    assert not ModelVersion.objects.exists()


def test_long_feature_names_are_refused(settings):
    settings.MODEL_MAX_NAME_LENGTH = 50
    frame = iris_frame().copy()  # iris_frame() is shared: never rename its columns in place
    frame.columns = [c * 20 if i == 0 else c for i, c in enumerate(frame.columns)]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=300).fit(frame.drop(columns="target"), frame["target"])
    with pytest.raises(LimitExceeded, match="MODEL_MAX_NAME_LENGTH"):
        load_model(skops.io.dumps(model), "sklearn")


def test_legitimate_skops_model_still_loads():
    loaded = load_model(skops.io.dumps(iris_model()), "sklearn")
    assert loaded.classes == ["setosa", "versicolor", "virginica"]


# --- joblib and pickle ----------------------------------------------------------------------------------

def test_compressed_joblib_that_inflates_100x_its_size_is_refused(api_as, cast, iris_row):
    model = iris_model()
    model.padding_ = np.zeros(8 * MiB)  # 64 MiB of zeros: a valid model that deflates to ~70 KB
    bomb = zlib.compress(pickle.dumps(model, protocol=5), 9)
    assert len(bomb) < 200_000
    response = _post(api_as(cast["author"]), bomb, "bomb.joblib")
    assert response.status_code == 400
    assert "MODEL_MAX_COMPRESSION_RATIO" in response.json()["artifact"][0]
    assert not ModelVersion.objects.exists()


def test_joblib_array_header_declaring_a_huge_shape_is_refused():
    import joblib

    buffer = io.BytesIO()
    joblib.dump(np.zeros(70_000), buffer)
    declared = b"J" + (70_000).to_bytes(4, "little")  # BININT 70000, the array's length in its wrapper
    assert buffer.getvalue().count(declared) == 1
    data = buffer.getvalue().replace(declared, b"J" + (2**31 - 1).to_bytes(4, "little"))
    with pytest.raises(LimitExceeded, match="MODEL_MAX_ARRAY_ELEMENTS"):
        load_model(data, "joblib")


def test_pickle_asking_for_a_huge_buffer_is_refused():
    bomb = b"c__builtin__\nbytearray\n(I10000000000\ntR."  # bytearray(10**10): 10 GB from 38 bytes
    report = scan_artifact(bomb, "pickle")
    assert not report.ok and "allocates a buffer" in report.findings[0]["reason"]


# --- ONNX -------------------------------------------------------------------------------------------

def _onnx(nodes, initializers=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])], initializer=list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_onnx_constant_of_shape_folding_to_800_mb_is_refused(api_as, cast, iris_row):
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [20_000, 10_000])  # 200 M floats, 800 MB
    data = _onnx([helper.make_node("ConstantOfShape", ["shape"], ["big"]),
                  helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
                  helper.make_node("Add", ["X", "s"], ["Y"])], [shape])
    assert len(data) < 1000
    response = _post(api_as(cast["author"]), data, "bomb.onnx")
    assert response.status_code == 400
    assert "MODEL_MAX_ARRAY_ELEMENTS" in response.json()["artifact"][0]


def test_onnx_tensor_declaring_huge_dims_is_refused():
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100_000, 100_000])  # 40 GB, no data
    data = _onnx([helper.make_node("Add", ["X", "w"], ["Y"])], [big])
    with pytest.raises(LimitExceeded, match="MODEL_MAX_ARRAY_ELEMENTS"):
        scan_artifact(data, "onnx")


def test_onnx_range_of_a_billion_is_refused():
    consts = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in
              (("start", 0), ("stop", 1_000_000_000), ("step", 1))]
    data = _onnx([helper.make_node("Range", ["start", "stop", "step"], ["r"]),
                  helper.make_node("Identity", ["X"], ["Y"])], consts)
    with pytest.raises(LimitExceeded, match="MODEL_MAX_ARRAY_ELEMENTS"):
        scan_artifact(data, "onnx")


# --- XGBoost and LightGBM -----------------------------------------------------------------------------

def _xgb_document() -> dict:
    X = iris_frame().drop(columns="target")
    y = (iris_frame()["target"] == "setosa").astype(int)
    return json.loads(bytes(xgboost.XGBClassifier(n_estimators=2).fit(X, y).get_booster().save_raw("json")))


def test_xgboost_file_declaring_five_million_classes_is_refused(api_as, cast, iris_row):
    document = _xgb_document()
    document["learner"]["learner_model_param"]["num_class"] = "5000000"
    data = json.dumps(document).encode()
    response = _post(api_as(cast["author"]), data, "bomb.json")
    assert response.status_code == 400
    assert "num_class" in response.json()["artifact"][0] and "MODEL_MAX_CLASSES" in response.json()["artifact"][0]
    assert not ModelVersion.objects.exists()


def test_xgboost_file_declaring_too_many_features_is_refused(settings):
    settings.MODEL_MAX_FEATURES = 3
    with pytest.raises(LimitExceeded, match="MODEL_MAX_FEATURES"):
        scan_artifact(json.dumps(_xgb_document()).encode(), "xgboost")


def test_lightgbm_file_declaring_too_many_classes_is_refused(settings):
    import lightgbm

    X = iris_frame().drop(columns="target")
    text = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, iris_frame()["target"]).booster_
    text = text.model_to_string()
    settings.MODEL_MAX_CLASSES = 2
    with pytest.raises(LimitExceeded, match="num_class.*MODEL_MAX_CLASSES"):
        scan_artifact(text.encode(), "lightgbm")


# --- what the API serves ------------------------------------------------------------------------------

def test_version_list_rows_carry_no_model_derived_blobs(api_as, cast, iris_row):
    client = api_as(cast["author"])
    assert _post(client, skops.io.dumps(iris_model()), "iris.skops").status_code == 201
    row = client.get("/api/v1/models/iris/versions/").json()["results"][0]
    assert not {"feature_names", "class_labels", "scan_report", "compat_result"} & set(row)
    detail = client.get("/api/v1/models/iris/versions/1/").json()
    assert detail["class_labels"] == ["setosa", "versicolor", "virginica"] and detail["scan_report"]["ok"]
