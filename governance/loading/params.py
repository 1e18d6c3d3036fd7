"""Parameters of trusted classes: a trusted estimator can still be told to touch the file system or call out.

The scanners decide which *classes* may be built; this module decides what their *parameters* may hold,
once the object is loaded and before anything uses it (uploads, workers, refits, which clone these params):

- neutralised — `memory` (Pipeline, FeatureAgglomeration, AgglomerativeClustering...): a path or a
  joblib.Memory where fitting writes cache files. Forced to None on every load; a refit then caches nothing.
- refused — `input="file"|"filename"` on text vectorizers (transform would open the paths it is given);
  any string value that is a file-system path (`/…`, `~…`, `./…`, `../…`, `file:…`, `C:\\…`); any value that
  is a module; any callable that is neither a nested estimator, a numpy type (`dtype=np.float64`), a numpy
  ufunc (`func=np.log1p`), nor one of the score functions the pickle allowlist names (`score_func=f_classif`).
"""

from __future__ import annotations

import re
import types

from .allowlist import ALLOWED_NAMES
from .report import UnsafeArtifact, finding

NEUTRALISED = {"memory": None}
_PATH = re.compile(r"^(/|~|\.{1,2}[/\\]|file:|[A-Za-z]:[\\/])")
_FILE_INPUTS = {"file", "filename"}


def _qualified(value) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"


def _allowed_callable(value) -> bool:
    import numpy as np

    if isinstance(value, type) and issubclass(value, np.generic | np.dtype):
        return True
    if isinstance(value, np.ufunc):  # np.log1p in a FunctionTransformer: pure arithmetic
        return True
    if value in (float, int, bool, str, complex, object):
        return True
    return _qualified(value) in ALLOWED_NAMES


def _problem(key: str, value) -> str | None:
    name = key.rsplit("__", 1)[-1]
    if isinstance(value, types.ModuleType):
        return f"parameter {key!r} holds the module {value.__name__!r}"
    if isinstance(value, str):
        if name == "input" and value in _FILE_INPUTS:
            return f"parameter {key!r}={value!r} makes the model open the files named in its input"
        if _PATH.match(value):
            return f"parameter {key!r}={value!r} names a file-system path"
        return None
    estimator = hasattr(value, "get_params") and not isinstance(value, type)  # nested estimators are walked
    if callable(value) and not estimator and not _allowed_callable(value):
        return f"parameter {key!r} holds the callable {_qualified(value)!r}, which would run on predict or fit"
    return None


def enforce(estimator, flavour: str) -> list[str]:
    """Neutralise what can be (returned as a list of 'key: was'), refuse the rest (UnsafeArtifact)."""
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return []
    params = get_params(deep=True)
    neutralised = []
    for key, value in params.items():
        name = key.rsplit("__", 1)[-1]
        if name in NEUTRALISED and value is not NEUTRALISED[name]:
            estimator.set_params(**{key: NEUTRALISED[name]})
            neutralised.append(f"{key}: was {str(value)[:200]!r}")
    params = get_params(deep=True)
    findings = [finding("high", reason, global_name=key) for key, value in params.items()
                if (reason := _problem(key, value))]
    if findings:
        from .report import ScanReport

        raise UnsafeArtifact(ScanReport(flavour=flavour, findings=findings))
    return neutralised
