"""Restricted unpicklers: the allowlist enforced again at load time, whatever the scan said.

``find_class`` is the only way a pickle reaches a callable (GLOBAL, STACK_GLOBAL, INST and the
extension registry all go through it), so refusing there blocks code execution even for a file
the static scan misjudged. Overriding ``find_class`` also bypasses pickle's own Python 2 name
mapping, so we apply it ourselves, the same way the scanner does.
"""

from __future__ import annotations

import io
import pickle

from joblib.numpy_pickle import NumpyUnpickler

from . import allowlist
from .compression import inflate
from .report import CorruptArtifact, ScanReport, UnsafeArtifact, finding


def _checked_class(module: str, name: str, flavour: str):
    module, name = allowlist.canonical(module, name)
    verdict = allowlist.evaluate(module, name)
    if verdict.allowed:
        try:
            return allowlist.resolve(module, name)
        except Exception as exc:  # noqa: BLE001 - import/attribute errors of an allowed name
            raise CorruptArtifact(f"{module}.{name} cannot be imported: {exc}")
    qualified = f"{module}.{name}"
    report = ScanReport(flavour=flavour, scanned={"globals": [qualified]})
    report.findings.append(finding(verdict.severity, f"refused by the restricted unpickler: {verdict.reason}",
                                   global_name=qualified, opcode="find_class"))
    raise UnsafeArtifact(report)


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return _checked_class(module, name, "pickle")

    def persistent_load(self, pid):
        raise CorruptArtifact("persistent IDs are not supported")


class RestrictedJoblibUnpickler(NumpyUnpickler):
    """joblib's unpickler (arrays stored after their wrapper), with the same find_class.

    Object arrays are nested pickles that joblib reads with ``inner.find_class = outer.find_class``,
    so the restriction reaches them too.
    """

    def find_class(self, module, name):
        return _checked_class(module, name, "joblib")

    def persistent_load(self, pid):
        raise CorruptArtifact("persistent IDs are not supported")


def _run(unpickler):
    try:
        return unpickler.load()
    except (UnsafeArtifact, CorruptArtifact):
        raise
    except Exception as exc:  # noqa: BLE001 - anything the file makes the unpickler (or a __setstate__) raise
        raise CorruptArtifact(f"unpickling failed: {type(exc).__name__}: {exc}")


def restricted_loads(data: bytes):
    """Unpickle `data` allowing only allowlisted globals. Does not scan first: callers should."""
    return _run(RestrictedUnpickler(io.BytesIO(data)))


def restricted_joblib_loads(data: bytes, *, inflated: bool = False):
    """Load a joblib file (compressed or not) allowing only allowlisted globals. Does not scan first."""
    raw = data if inflated else inflate(data)
    return _run(RestrictedJoblibUnpickler("", io.BytesIO(raw), ensure_native_byte_order=True))
