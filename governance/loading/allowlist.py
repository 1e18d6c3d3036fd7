"""Which globals a pickle may name. Shared by the static scanner and the restricted unpickler.

A pickle can only do harm through the callables it imports, so the whole policy is a verdict on
`module.name`. Three tiers:

* always denied (critical): modules and names that run code, touch files, processes or the network,
  or build gadget chains (getattr, functools.partial, operator.*). Not even an admin can allow them.
* allowed: a short exact list (safe builtins, numpy's own reconstruction helpers, the joblib array
  wrapper), admin additions from ``settings.PICKLE_EXTRA_ALLOWED_GLOBALS``, and, for the ML
  libraries, *classes* (and Cython ``__pyx_unpickle_*`` helpers) defined in them. Their plain
  functions are not allowed wholesale: sklearn alone has ``tree.export_graphviz`` (writes any path)
  and ``utils._testing.assert_run_python_script_without_output`` (runs source code). For numpy,
  ufuncs, scalar types and dtype classes are allowed; nothing that loads or saves files.
* everything else: not on the allowlist (high).

Names are mapped the way the unpickler maps protocol 0-2 Python 2 names (``__builtin__`` ->
``builtins``, ``commands`` -> ``subprocess``...), so a renamed module cannot slip past.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*")

DENIED_MODULES = frozenset({
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "socket", "_socket",
    "socketserver", "ssl", "select", "selectors", "runpy", "sys", "importlib", "imp", "zipimport", "pkgutil",
    "pty", "tty", "shutil", "tempfile", "pathlib", "glob", "io", "_io", "fileinput", "webbrowser", "pickle",
    "_pickle", "pickletools", "shelve", "dbm", "marshal", "types", "ctypes", "_ctypes", "code", "codeop",
    "commands", "platform", "requests", "urllib", "urllib3", "http", "httpx", "ftplib", "smtplib", "telnetlib",
    "xmlrpc", "asyncio", "multiprocessing", "concurrent", "threading", "_thread", "signal", "functools",
    "_functools", "operator", "_operator", "inspect", "pydoc", "pdb", "bdb", "timeit", "cProfile", "profile",
    "trace", "gc", "mmap", "resource", "dill", "cloudpickle", "torch", "pandas.io",
    "numpy.testing", "numpy.f2py", "numpy.distutils", "numpy.ctypeslib", "numpy.lib.npyio", "numpy.lib._npyio_impl",
    "numpy.lib.format", "numpy.lib._format_impl", "numpy.lib._datasource", "numpy.lib.utils",
    "numpy.lib._utils_impl", "numpy._pytesttester", "numpy.__config__", "numpy.compat", "numpy.ma.mrecords",
    "sklearn.utils._testing", "sklearn.utils.estimator_checks", "sklearn.utils._mocking", "sklearn.utils.parallel",
    "sklearn.utils._joblib", "sklearn.utils._show_versions", "sklearn.utils.discovery", "sklearn.datasets",
    "sklearn.externals", "sklearn._build_utils", "sklearn._config", "sklearn.tree._export", "sklearn.conftest",
    "xgboost.tracker", "xgboost.collective", "xgboost.dask", "xgboost.spark", "xgboost.testing",
    "xgboost.federated", "xgboost.rabit", "lightgbm.dask",
})
# Test helpers anywhere (numpy.testing, sklearn.utils.tests...) are denied by module part.
_DENIED_MODULE_PARTS = frozenset({"tests", "testing", "_testing", "conftest"})

DENIED_NAMES = frozenset({
    *(f"builtins.{name}" for name in (
        "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
        "vars", "input", "breakpoint", "help", "exit", "quit", "__build_class__", "type", "super",
    )),
    "joblib.numpy_pickle_compat.NDArrayWrapper",  # reads companion files named in the pickle
})
# numpy callables that read or write files, or import by name, wherever numpy re-exports them.
_DENIED_NUMPY_ATTRS = frozenset({
    "load", "loadtxt", "fromfile", "genfromtxt", "fromregex", "save", "savez", "savez_compressed", "savetxt",
    "memmap", "tofile", "DataSource", "open_memmap", "_ufunc_reconstruct", "recfromtxt", "recfromcsv",
})

ALLOWED_NAMES = frozenset({
    *(f"builtins.{name}" for name in (
        "dict", "list", "tuple", "set", "frozenset", "slice", "range", "complex", "float", "int", "bool", "str",
        "bytes", "bytearray", "object",
    )),
    "copyreg._reconstructor",  # protocol 0/1 object reconstruction (base.__new__ + __init__ of base)
    "_codecs.encode",  # protocol 0-2 spelling of a bytes literal: _codecs.encode(str, "latin1")
    "collections.OrderedDict",
    "collections.defaultdict",
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__generator_ctor",
    # Score functions are pickled as parameters (SelectKBest(score_func=f_classif)); they only compute.
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.feature_selection._univariate_selection.r_regression",
    "sklearn.feature_selection._univariate_selection.f_oneway",
    "sklearn.feature_selection._univariate_selection.chi2",
    "sklearn.feature_selection._mutual_info.mutual_info_classif",
    "sklearn.feature_selection._mutual_info.mutual_info_regression",
    # The neighbours' KD/ball trees and distance metrics pickle through newObj(cls) = cls.__new__(cls), like
    # copyreg.__newobj__: the class it gets is itself checked against this allowlist.
    "sklearn.neighbors._kd_tree.newObj",
    "sklearn.neighbors._ball_tree.newObj",
    "sklearn.metrics._dist_metrics.newObj",
})

# Packages whose classes (and Cython unpickle helpers) may be named; not their other functions.
CLASS_PACKAGES = ("sklearn", "numpy.random", "scipy.sparse", "xgboost", "lightgbm")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    severity: str | None = None
    reason: str = ""


ALLOWED = Verdict(True)


def canonical(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names exactly as pickle's unpickler does for protocols 0-2."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def resolve(module: str, name: str):
    """Import `module` and walk the dotted `name`; no dunder attributes (__globals__, __builtins__...)."""
    parts = name.split(".")
    if any(part.startswith("__") and part.endswith("__") for part in parts):
        raise AttributeError(f"{module}.{name}: dunder attributes are not followed")
    obj = importlib.import_module(module)
    for part in parts:
        obj = getattr(obj, part)
    return obj


def evaluate(module: str, name: str) -> Verdict:
    """The verdict on one (already canonical) global."""
    if not isinstance(module, str) or not isinstance(name, str) or not _DOTTED.fullmatch(module) \
            or not _DOTTED.fullmatch(name):
        return Verdict(False, "critical", "not a valid module/attribute name")
    denied = _denied(module, name)
    if denied:
        return denied
    if f"{module}.{name}" in extra_allowed():
        return ALLOWED
    return _builtin_verdict(module, name)


def extra_allowed() -> frozenset[str]:
    return frozenset(getattr(settings, "PICKLE_EXTRA_ALLOWED_GLOBALS", None) or ())


@lru_cache(maxsize=4096)
def _denied(module: str, name: str) -> Verdict | None:
    qualified = f"{module}.{name}"
    if qualified in DENIED_NAMES or any(_under(module, denied) for denied in DENIED_MODULES) \
            or _DENIED_MODULE_PARTS.intersection(module.split(".")):
        return Verdict(False, "critical", "known dangerous: can run code or reach files, processes or the network")
    if _under(module, "numpy") and _DENIED_NUMPY_ATTRS.intersection(name.split(".")):
        return Verdict(False, "critical", "numpy function that reads/writes files or imports by name")
    if _under(module, "joblib") and qualified not in ALLOWED_NAMES:
        return Verdict(False, "critical", "joblib internals (Parallel, Memory...) can call functions and touch files")
    return None


@lru_cache(maxsize=4096)
def _builtin_verdict(module: str, name: str) -> Verdict:
    if f"{module}.{name}" in ALLOWED_NAMES:
        return ALLOWED
    package = next((p for p in CLASS_PACKAGES if _under(module, p)), None)
    if package is None and not _under(module, "numpy"):
        return Verdict(False, "high", "not on the allowlist")
    if any(part.startswith("__") for part in module.split(".")):  # e.g. sklearn.__init__ would re-run it
        return Verdict(False, "high", "not on the allowlist")
    try:
        obj = resolve(module, name)
    except Exception:  # noqa: BLE001 - any import/attribute failure means "cannot vouch for it"
        return Verdict(False, "high", "cannot be resolved in the installed libraries")
    if package is None:
        return _numpy_verdict(obj)
    defined_in = getattr(obj, "__module__", None) or ""
    if not _under(defined_in, package.split(".")[0]):
        return Verdict(False, "high", f"re-exported from {defined_in or 'elsewhere'}; not on the allowlist")
    if isinstance(obj, type):
        return ALLOWED
    if callable(obj) and name.rsplit(".", 1)[-1].startswith("__pyx_unpickle_"):
        return ALLOWED
    return Verdict(False, "high", f"only classes from {package} are allowed; functions must be allowed explicitly")


def _numpy_verdict(obj) -> Verdict:
    import numpy as np

    if isinstance(obj, np.ufunc) or (isinstance(obj, type) and issubclass(obj, np.generic | np.dtype)):
        return ALLOWED
    return Verdict(False, "high", "numpy: only ufuncs, scalar and dtype types are allowed")
