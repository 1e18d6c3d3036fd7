"""Per-flavour sniffing, scanning and loading: the three public entry points live here.

Only three exception types ever leave `detect_flavour`/`scan_artifact`/`load_model`:
UnsafeArtifact, CorruptArtifact and UnsupportedFlavour. Parser errors of the libraries become
CorruptArtifact carrying the library's own reason.
"""

from __future__ import annotations

import io
import math
import pickletools
import zipfile

from django.conf import settings

from . import adapters, boosters, integrity, limits, params, restricted
from .compression import detect_compression, inflate
from .pickle_scan import scan_pickle_bytes
from .report import CorruptArtifact, ScanReport, UnsafeArtifact, UnsupportedFlavour, finding

FLAVOUR_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "sklearn": (".skops",),
    "onnx": (".onnx",),
    "xgboost": (".json", ".ubj"),
    "lightgbm": (".txt", ".lgb"),
    "pickle": (".pkl", ".pickle"),
    "joblib": (".joblib",),
}
STANDARD_ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
_PROTOCOL0_STARTS = frozenset(b"(cI]})LFSVNXUTJKMG")
_ZIP_CHUNK = 1 << 20
_NPY_HEAD = 1 << 16  # numpy refuses .npy headers longer than 10,000 bytes


# --- detection ---------------------------------------------------------------------------------
def _extension_flavour(filename: str) -> str | None:
    lowered = (filename or "").lower()
    return next((f for f, exts in FLAVOUR_EXTENSIONS.items() if lowered.endswith(exts)), None)


def _looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80:
        return head[1] <= 5
    if not head or head[0] not in _PROTOCOL0_STARTS:
        return False
    parsed = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(head):
            parsed += 1
            if opcode.name == "STOP" or parsed >= 3:
                break
    except Exception:  # noqa: BLE001 - sniffing only: running off the end of `head` is expected
        return parsed >= 2
    return parsed >= 2


def _looks_like_onnx(head: bytes) -> bool:
    # ModelProto starts with ir_version (field 1, varint): 0x08, a small version, then a
    # length-delimited field (producer_name, graph...) or opset_import.
    following = (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72)  # fields 2-8 and 14 of ModelProto
    return len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 30 and head[2] in following


def detect_flavour(filename: str, head: bytes) -> str | None:
    """Guess the flavour from the magic bytes of `head` (the first few KiB), using the extension to
    tell pickle from joblib. None when the bytes don't match a known format."""
    by_extension = _extension_flavour(filename)
    head = bytes(head or b"")
    stripped = head.lstrip()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "sklearn"
    if head.startswith((b"tree\n", b"tree\r\n", b"version=v")):
        return "lightgbm"
    if stripped.startswith(b"{") and b"learner" in head:
        return "xgboost"
    if _looks_like_pickle(head):
        return "joblib" if by_extension == "joblib" or b"joblib.numpy_pickle" in head else "pickle"
    if detect_compression(head) and by_extension in ("joblib", "pickle", None):
        return "joblib"
    if _looks_like_onnx(head):
        return "onnx"
    return None


# --- scanning ----------------------------------------------------------------------------------
def _bytes_or_file(data, flavour: str):
    """skops reads a zip's members on demand from a seekable file: scanning and loading it from the upload's file
    spares holding the whole artifact in memory once more (bench/README.md). Every other flavour reads bytes."""
    if isinstance(data, bytes | bytearray | memoryview) or data is None:
        return bytes(data or b"")
    data.seek(0)
    if flavour == "sklearn":
        return data
    return data.read()


def scan_artifact(data, flavour: str) -> ScanReport:
    """Static scan: nothing from the file is imported, unpickled or executed. `data`: bytes, or a seekable
    binary file."""
    scanner = _SCANNERS.get(flavour)
    if scanner is None:
        raise UnsupportedFlavour(f"unknown flavour {flavour!r}; expected one of {', '.join(FLAVOUR_EXTENSIONS)}")
    data = _bytes_or_file(data, flavour)
    try:
        return scanner(data)
    except (UnsafeArtifact, CorruptArtifact, UnsupportedFlavour):
        raise
    except RecursionError:
        raise CorruptArtifact("structure nested too deeply")
    except MemoryError:
        raise CorruptArtifact("file too large to scan in memory")


def _pickle_report(data: bytes, flavour: str) -> ScanReport:
    result = scan_pickle_bytes(data, joblib=flavour == "joblib")
    scanned = {"globals": sorted(result.globals), "pickles": result.pickles}
    if flavour == "joblib":
        scanned["arrays"] = result.arrays
    return ScanReport(flavour=flavour, findings=result.findings, scanned=scanned)


def _scan_pickle(data: bytes) -> ScanReport:
    return _pickle_report(data, "pickle")


def _scan_joblib(data: bytes) -> ScanReport:
    return _pickle_report(inflate(data), "joblib")


def _skops_trusted() -> set[str]:
    return set(getattr(settings, "SKOPS_TRUSTED_TYPES", None) or ())


def _zip_source(data):
    if isinstance(data, bytes):
        return io.BytesIO(data)
    data.seek(0)
    return data


def _stored_size(source) -> int:
    position = source.tell()
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(position)
    return size


def _check_zip(data):
    """Refuse zip bombs before skops inflates anything. Every member is read through once, counting what it
    really inflates to (zipfile stops at the declared size and checks the CRC, so a member cannot lie its way
    past), against the file's inflation allowance; each .npy member's header is checked against the array
    limits and against the bytes the member holds, before skops allocates the array."""
    source = _zip_source(data)
    allowed, setting = limits.allowed_inflation(_stored_size(source))
    total = 0
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            if declared > allowed:
                raise limits.LimitExceeded("what the zip members declare they inflate to (bytes)", declared,
                                           allowed, setting)
            for info in infos:
                head, size = b"", 0
                with archive.open(info) as member:
                    while chunk := member.read(min(_ZIP_CHUNK, allowed - total + 1)):
                        if len(head) < _NPY_HEAD:
                            head += chunk[:_NPY_HEAD - len(head)]
                        size += len(chunk)
                        total += len(chunk)
                        if total > allowed:
                            raise limits.LimitExceeded("what the zip members inflate to (bytes, at least)", total,
                                                       allowed, setting)
                if info.filename.endswith(".npy"):
                    _check_npy(head, size, info.filename)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise CorruptArtifact(f"not a valid skops (zip) file: {exc}")


def _check_npy(head: bytes, size: int, name: str) -> None:
    import numpy as np

    stream = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _fortran, dtype = read_header(stream)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise CorruptArtifact(f"array member {name!r} has a malformed .npy header: {exc}")
    limits.check_array(shape, dtype.itemsize, f"array {name!r}")
    if dtype.hasobject:
        return  # skops refuses object arrays stored as .npy (allow_pickle=False)
    expected = math.prod(shape) * dtype.itemsize
    held = size - stream.tell()
    if held != expected:
        raise CorruptArtifact(f"array member {name!r} declares {expected} bytes of data but holds {held}")


def _skops_untrusted(data) -> list[str]:
    import skops.io

    _check_zip(data)
    try:
        if isinstance(data, bytes):
            return sorted(skops.io.get_untrusted_types(data=data))
        return sorted(skops.io.get_untrusted_types(file=_zip_source(data)))  # ZipFile takes a file object too
    except Exception as exc:  # noqa: BLE001 - skops raises many types on a malformed archive
        raise CorruptArtifact(f"not a valid skops file: {type(exc).__name__}: {exc}")


# Tree internals stay the admin's call (SKOPS_TRUSTED_TYPES, trusted by default): their node arrays are what a
# crafted file would attack, so "none" there must keep them out whatever the allowlist says.
SKOPS_ADMIN_ONLY = frozenset({"sklearn.tree._tree.Tree",
                              "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"})


def _allowlisted_class(qualified: str) -> bool:
    """A type skops does not vouch for that the pickle allowlist trusts: a class of scikit-learn (or another
    allowed package) itself, like MLPClassifier's AdamOptimizer. The two loaders must agree on such parts."""
    from .allowlist import evaluate

    if qualified in SKOPS_ADMIN_ONLY:
        return False
    module, _, name = qualified.rpartition(".")
    return bool(module) and evaluate(module, name).allowed


def _trusted_for_load(report: ScanReport) -> list[str]:
    return sorted({*report.scanned["trusted_by_admin"], *report.scanned.get("trusted_by_allowlist", [])})


def _scan_skops(data) -> ScanReport:
    untrusted = _skops_untrusted(data)
    trusted = _skops_trusted()
    by_allowlist = sorted(name for name in untrusted if name not in trusted and _allowlisted_class(name))
    report = ScanReport(flavour="sklearn", scanned={"types": untrusted,
                                                    "trusted_by_admin": sorted(set(untrusted) & trusted),
                                                    "trusted_by_allowlist": by_allowlist})
    for name in untrusted:
        if name not in trusted and name not in by_allowlist:
            report.findings.append(finding(
                "high", "type not trusted by skops; an admin may trust it via SKOPS_TRUSTED_TYPES", global_name=name,
            ))
    return report


def _onnx_tensors(model):
    """Every TensorProto in the model: initializers, attributes, subgraphs and functions."""
    def graph_tensors(graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        yield from node_tensors(graph.node)

    def node_tensors(nodes):
        for node in nodes:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                if attr.HasField("g"):
                    yield from graph_tensors(attr.g)
                for sub in attr.graphs:
                    yield from graph_tensors(sub)

    yield from graph_tensors(model.graph)
    for function in model.functions:
        yield from node_tensors(function.node)


def _onnx_nodes(model):
    def walk(nodes):
        for node in nodes:
            yield node
            for attr in node.attribute:
                if attr.HasField("g"):
                    yield from walk(attr.g.node)
                for sub in attr.graphs:
                    yield from walk(sub.node)

    yield from walk(model.graph.node)
    for function in model.functions:
        yield from walk(function.node)


# Operators whose output size is set by a constant input: onnxruntime folds them when the session is built, so a
# 100-byte node can allocate gigabytes before any request. Value: the input index holding the shape or repeats.
_ONNX_SIZE_INPUTS = {"ConstantOfShape": 0, "Expand": 1, "Tile": 1}


def _check_onnx_sizes(model) -> None:
    from onnx import helper, numpy_helper

    constants = {}
    for tensor in _onnx_tensors(model):
        try:
            itemsize = helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        except (KeyError, TypeError, ValueError):
            itemsize = 1
        limits.check_array(tensor.dims, itemsize, f"ONNX tensor {tensor.name!r}")
    for tensor in model.graph.initializer:
        constants[tensor.name] = tensor
    for node in _onnx_nodes(model):
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    constants[node.output[0]] = attr.t
    for node in _onnx_nodes(model):
        where = f"the output of ONNX node {node.name or node.op_type!r} ({node.op_type})"
        index = _ONNX_SIZE_INPUTS.get(node.op_type)
        if index is not None and len(node.input) > index and node.input[index] in constants:
            shape = numpy_helper.to_array(constants[node.input[index]]).ravel()
            if any(n < 0 for n in shape):
                raise CorruptArtifact(f"{where} has a negative size")
            limits.check_array(shape, 1, where)
        elif node.op_type == "Range" and len(node.input) == 3 and all(i in constants for i in node.input):
            start, stop, step = (numpy_helper.to_array(constants[i]).item() for i in node.input)
            if step == 0:
                raise CorruptArtifact(f"{where} has a zero step")
            limits.check_array((max(math.ceil((stop - start) / step), 0),), 1, where)


def _parse_onnx(data: bytes):
    import onnx

    if not data:
        raise CorruptArtifact("empty file")
    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and friends
        raise CorruptArtifact(f"not a valid ONNX model: {exc}")


def _scan_onnx(data: bytes) -> ScanReport:
    import onnx

    model = _parse_onnx(data)
    report = ScanReport(flavour="onnx")
    for tensor in _onnx_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            report.findings.append(finding(
                "critical", f"tensor {tensor.name!r} reads external data from {location!r} (a local file path)",
                global_name=tensor.name,
            ))
    _check_onnx_sizes(model)
    domains = {node.domain for node in _onnx_nodes(model)} | {o.domain for o in model.opset_import}
    custom = sorted(domains - STANDARD_ONNX_DOMAINS)
    for domain in custom:
        report.findings.append(finding(
            "high", f"operators from custom domain {domain!r} need a custom-op library, which is never loaded",
            global_name=domain,
        ))
    report.scanned = {
        "ir_version": model.ir_version, "producer": model.producer_name,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import}, "custom_domains": custom,
    }
    if not any(f["severity"] == "critical" for f in report.findings):  # the checker would open external files
        try:
            onnx.checker.check_model(model)
        except Exception as exc:  # noqa: BLE001 - ValidationError and protobuf errors
            raise CorruptArtifact(f"ONNX model is invalid: {exc}")
    if not model.graph.node:
        raise CorruptArtifact("ONNX model has an empty graph")
    return report


def _scan_xgboost(data: bytes) -> ScanReport:
    _, document, fmt = boosters.canonical_xgboost(data)
    return ScanReport(flavour="xgboost", scanned={
        "format": fmt, "version": document.get("version"), "objective": document["learner"]["objective"]["name"],
    })


def _scan_lightgbm(data: bytes) -> ScanReport:
    _, header = boosters.canonical_lightgbm(data)
    return ScanReport(flavour="lightgbm", scanned={
        "format": "text", "version": header["version"], "objective": boosters.lightgbm_objective(header),
    })


_SCANNERS = {
    "sklearn": _scan_skops,
    "onnx": _scan_onnx,
    "xgboost": _scan_xgboost,
    "lightgbm": _scan_lightgbm,
    "pickle": _scan_pickle,
    "joblib": _scan_joblib,
}


# --- loading -----------------------------------------------------------------------------------
def load_model(data, flavour: str, *, feature_names: list[str] | None = None) -> adapters.LoadedModel:
    """Scan, refuse anything unsafe, then load with the flavour's own safe loader. `data`: bytes, or a seekable
    binary file.

    `feature_names` fills in names the file does not carry (e.g. a model trained on a bare array).
    """
    if flavour not in _SCANNERS:
        raise UnsupportedFlavour(f"unknown flavour {flavour!r}; expected one of {', '.join(FLAVOUR_EXTENSIONS)}")
    data = _bytes_or_file(data, flavour)
    try:
        model = _LOADERS[flavour](data)
    except (UnsafeArtifact, CorruptArtifact, UnsupportedFlavour):
        raise
    except RecursionError:
        raise CorruptArtifact("structure nested too deeply")
    except MemoryError:
        raise CorruptArtifact("model too large to load in memory")
    except Exception as exc:  # noqa: BLE001 - inspecting a successfully loaded but odd object failed
        raise CorruptArtifact(f"loaded object is not a usable {flavour} model: {type(exc).__name__}: {exc}")
    if model.feature_names is None and feature_names:
        model.feature_names = list(feature_names)
    limits.check_metadata(model)
    return model


def _require_safe(report: ScanReport):
    if not report.ok:
        raise UnsafeArtifact(report)


def _load_pickle(data: bytes) -> adapters.LoadedModel:
    _require_safe(_pickle_report(data, "pickle"))
    return _sklearn_like(restricted.restricted_loads(data), "pickle")


def _load_joblib(data: bytes) -> adapters.LoadedModel:
    raw = inflate(data)
    _require_safe(_pickle_report(raw, "joblib"))
    return _sklearn_like(restricted.restricted_joblib_loads(raw, inflated=True), "joblib")


def _sklearn_like(obj, flavour: str) -> adapters.LoadedModel:
    if not hasattr(obj, "predict"):
        raise CorruptArtifact(f"the {flavour} file holds a {type(obj).__name__}, not a model with predict()")
    integrity.check_trees(obj)
    neutralised = params.enforce(obj, flavour)
    model = adapters.SklearnModel(obj, flavour)
    model.neutralised_params = neutralised
    return model


def _load_skops(data) -> adapters.LoadedModel:
    import skops.io

    report = _scan_skops(data)
    _require_safe(report)
    try:
        if isinstance(data, bytes):
            estimator = skops.io.loads(data, trusted=_trusted_for_load(report))
        else:
            estimator = skops.io.load(_zip_source(data), trusted=_trusted_for_load(report))
    except Exception as exc:  # noqa: BLE001 - skops/sklearn errors on a malformed but well-zipped file
        raise CorruptArtifact(f"skops could not load the model: {type(exc).__name__}: {exc}")
    return _sklearn_like(estimator, "sklearn")


def _load_onnx(data: bytes) -> adapters.LoadedModel:
    import onnxruntime

    _require_safe(_scan_onnx(data))
    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph/...
        raise CorruptArtifact(f"onnxruntime could not load the model: {exc}")
    return adapters.OnnxModel(session, _parse_onnx(data))


def _load_xgboost(data: bytes) -> adapters.LoadedModel:
    import xgboost

    canonical, _, _ = boosters.canonical_xgboost(data)  # XGBoost only ever parses JSON we validated
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(canonical))
    except xgboost.core.XGBoostError as exc:
        raise CorruptArtifact(f"XGBoost could not load the model: {str(exc).splitlines()[0]}")
    return adapters.XGBoostModel(booster)


def _load_lightgbm(data: bytes) -> adapters.LoadedModel:
    import lightgbm

    canonical, header = boosters.canonical_lightgbm(data)  # rebuilt from validated parts
    try:
        booster = lightgbm.Booster(model_str=canonical)
    except lightgbm.basic.LightGBMError as exc:
        raise CorruptArtifact(f"LightGBM could not load the model: {exc}")
    return adapters.LightGBMModel(booster, header)


_LOADERS = {
    "sklearn": _load_skops,
    "onnx": _load_onnx,
    "xgboost": _load_xgboost,
    "lightgbm": _load_lightgbm,
    "pickle": _load_pickle,
    "joblib": _load_joblib,
}
