"""Safe loading of uploaded model files, which are untrusted input: nothing in them is ever executed.

    flavour = detect_flavour(filename, head)      # from magic bytes (+ extension for pickle vs joblib)
    report = scan_artifact(data, flavour)         # static: ScanReport(ok, findings, scanned)
    model = load_model(data, flavour)             # scans again, raises UnsafeArtifact, else LoadedModel

Flavours: sklearn (skops), onnx, xgboost (JSON/UBJSON), lightgbm (text), and pickle/joblib, which
are scanned opcode by opcode and then unpickled with the same allowlist enforced in find_class.
Only UnsafeArtifact, CorruptArtifact and UnsupportedFlavour ever escape these functions.
"""

from .adapters import LoadedModel
from .flavours import FLAVOUR_EXTENSIONS, detect_flavour, load_model, scan_artifact
from .limits import LimitExceeded, check_names
from .report import CorruptArtifact, ScanReport, UnsafeArtifact, UnsupportedFlavour

__all__ = [
    "FLAVOUR_EXTENSIONS",
    "CorruptArtifact",
    "LimitExceeded",
    "LoadedModel",
    "ScanReport",
    "UnsafeArtifact",
    "UnsupportedFlavour",
    "check_names",
    "detect_flavour",
    "load_model",
    "scan_artifact",
]
