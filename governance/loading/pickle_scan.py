"""Static scan of pickle and joblib streams: an abstract pickle machine that never imports from the file.

Every opcode of protocols 0-5 is replayed on a symbolic stack with a real memo, the way
``pickle._Unpickler`` would run it, but values are only tracked as far as needed:

* STACK_GLOBAL takes its module and name from the stack, so names pushed earlier and fetched back
  through the memo (BINPUT/BINGET/MEMOIZE) are resolved exactly; names computed at load time are
  a critical finding in themselves.
* REDUCE/INST/OBJ/NEWOBJ targets must be named, allowed globals, and a few allowed callables get
  their arguments checked (``bytes(10**12)``, ``copyreg._reconstructor`` with a foreign base,
  ``numpy.dtype(..., copy=False)`` which would let the pickle rewrite numpy's own float64...).
* joblib writes each numpy array as a ``NumpyArrayWrapper`` whose BUILD is followed by raw array
  bytes (or, for object arrays, a nested pickle). The machine reads shape and dtype from the
  wrapper's state exactly as ``NumpyArrayWrapper.read_array`` will, skips the padding and the data,
  and scans nested pickles. If the layout cannot be determined statically, the scan fails closed.
* After STOP the rest of the file is scanned as further pickles; anything unparseable is corrupt.
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import math
import pickletools
import struct
from dataclasses import dataclass, field
from typing import Any

from . import allowlist, limits
from .report import CorruptArtifact, finding

WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
MAX_FINDINGS = 100
_LITERAL_MAX = 4096  # longer str/bytes literals are tracked by kind only
_LITERAL = (str, bytes, int, float, complex, bool, type(None))
_RECONSTRUCTOR_BASES = frozenset(
    f"builtins.{name}" for name in ("object", "dict", "list", "set", "frozenset", "tuple", "int", "float", "str",
                                   "bytes", "complex")
)
_BUILTIN_CALLS = frozenset(
    f"builtins.{name}" for name in ("bytes", "bytearray", "list", "tuple", "set", "frozenset", "dict", "str", "int",
                                   "float", "complex", "bool", "range", "slice", "object")
)
_NUMPY_RECONSTRUCT = frozenset({"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"})


class _Stop(Exception):
    """Scanning cannot (or need not) continue; the findings say why."""


class _Unknown(Exception):
    """A value the machine did not track was needed."""


@dataclass(eq=False)
class _Opaque:
    kind: str


@dataclass(eq=False)
class _Global:
    module: str
    name: str
    allowed: bool

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class _Obj:
    how: str
    func: Any
    args: Any
    cls: _Global | None = None  # the class of the instance, when known
    attrs: dict = field(default_factory=dict)
    state: Any = None


@dataclass(eq=False)
class _Dict:
    pairs: list = field(default_factory=list)


@dataclass(eq=False)
class _Set:
    items: list = field(default_factory=list)


@dataclass
class ScanResult:
    findings: list[dict]
    globals: set[str]
    pickles: int
    arrays: int


def scan_pickle_bytes(data: bytes, *, joblib: bool = False) -> ScanResult:
    """Scan a (decompressed) pickle or joblib stream; raises CorruptArtifact if it does not parse."""
    scanner = _Scanner(data, joblib=joblib)
    with contextlib.suppress(_Stop):
        scanner.run()
    return ScanResult(scanner.findings, scanner.globals, scanner.pickles, scanner.arrays)


class _Scanner:
    def __init__(self, data: bytes, *, joblib: bool):
        self.data = data
        self.stream = io.BytesIO(data)
        self.joblib = joblib
        self.findings: list[dict] = []
        self.globals: set[str] = set()
        self.pickles = 0
        self.arrays = 0

    def run(self):
        if not self.data:
            raise CorruptArtifact("empty file")
        while self.stream.tell() < len(self.data):
            _Machine(self, joblib=self.joblib).run()
            self.pickles += 1

    def flag(self, severity: str, reason: str, *, global_name=None, opcode=None, position=None):
        self.findings.append(finding(severity, reason, global_name=global_name, opcode=opcode, position=position))
        if len(self.findings) >= MAX_FINDINGS:
            self.findings.append(finding("high", f"more than {MAX_FINDINGS} findings; scan stopped"))
            raise _Stop

    def stop(self, severity: str, reason: str, **where):
        self.flag(severity, reason + "; the rest of the file was not scanned", **where)
        raise _Stop


class _Machine:
    """One pickle stream, from its first opcode to STOP."""

    def __init__(self, scanner: _Scanner, *, joblib: bool):
        self.scanner = scanner
        self.joblib = joblib
        self.stack: list = []
        self.metastack: list[list] = []
        self.memo: dict[int, Any] = {}
        self.frame_end: int | None = None
        self.pos = 0
        self.end = 0
        self.op = ""

    # --- driving -----------------------------------------------------------------------------
    def run(self):
        stream = self.scanner.stream
        start = stream.tell()
        ops = pickletools.genops(stream)
        while True:
            try:
                opcode, arg, pos = next(ops)
            except StopIteration:
                return
            except (ValueError, struct.error, UnicodeError, OverflowError, EOFError) as exc:
                raise CorruptArtifact(f"malformed pickle (stream starting at byte {start}): {exc}")
            self.op, self.pos, self.end = opcode.name, pos, stream.tell()
            handler = getattr(self, f"op_{opcode.name}", None)
            try:
                if handler is None:
                    self.generic(opcode, arg)
                else:
                    handler(arg)
            except (IndexError, KeyError) as exc:
                raise CorruptArtifact(f"malformed pickle: {opcode.name} at byte {pos} ({exc!r})")
            if opcode.name == "STOP":
                return

    def flag(self, severity: str, reason: str, global_name: str | None = None):
        self.scanner.flag(severity, reason, global_name=global_name, opcode=self.op, position=self.pos)

    # --- stack helpers (mirroring pickle._Unpickler) -------------------------------------------
    def push(self, value):
        self.stack.append(value)

    def pop(self):
        if not self.stack:
            raise IndexError("stack underflow")
        return self.stack.pop()

    def top(self):
        if not self.stack:
            raise IndexError("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.metastack:
            raise IndexError("no MARK on the stack")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def literal(self, value):
        if isinstance(value, (str, bytes, bytearray)) and len(value) > _LITERAL_MAX:
            return _Opaque(type(value).__name__)
        return bytes(value) if isinstance(value, bytearray) else value

    # --- globals -----------------------------------------------------------------------------
    def global_(self, module, name) -> _Global:
        if not isinstance(module, str) or not isinstance(name, str):
            self.flag("critical", "global name is computed while loading, so it cannot be checked before loading")
            return _Global("?", "?", allowed=False)
        module, name = allowlist.canonical(module, name)
        verdict = allowlist.evaluate(module, name)
        qualified = f"{module}.{name}"
        self.scanner.globals.add(qualified)
        if not verdict.allowed:
            self.flag(verdict.severity, verdict.reason, qualified)
        return _Global(module, name, allowed=verdict.allowed)

    def raw_pair(self) -> tuple[str, str]:
        """GLOBAL/INST names exactly as the unpickler reads them (raw lines, no escape processing)."""
        raw = self.scanner.data[self.pos + 1:self.end]
        parts = raw.split(b"\n")
        if len(parts) != 3 or parts[2]:
            raise CorruptArtifact(f"malformed {self.op} at byte {self.pos}")
        try:
            return parts[0].decode("utf-8"), parts[1].decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArtifact(f"{self.op} at byte {self.pos} names a module that is not UTF-8")

    def op_GLOBAL(self, arg):
        self.push(self.global_(*self.raw_pair()))

    def op_STACK_GLOBAL(self, arg):
        name = self.pop()
        module = self.pop()
        self.push(self.global_(module, name))

    def op_INST(self, arg):
        cls = self.global_(*self.raw_pair())
        self.push(self.call(cls, tuple(self.pop_mark())))

    def _ext(self, code):
        key = copyreg._inverted_registry.get(code)
        if key is None:
            self.flag("high", f"extension code {code} is not registered; loading would fail")
            self.push(_Opaque("extension"))
        else:
            self.push(self.global_(*key))

    op_EXT1 = op_EXT2 = op_EXT4 = _ext

    # --- calls -------------------------------------------------------------------------------
    def call(self, func, args) -> _Obj:
        obj = _Obj(self.op, func, args)
        if not isinstance(func, _Global):
            self.flag("high", "calls an object built inside the pickle instead of a named global")
            return obj
        obj.cls = func
        if func.qualified == "copyreg._reconstructor" and isinstance(args, tuple) and args:
            obj.cls = args[0] if isinstance(args[0], _Global) else None
        if func.allowed:
            self.check_arguments(func, args)
        return obj

    def check_arguments(self, func: _Global, args):
        qualified = func.qualified
        calling = self.op in ("REDUCE", "INST", "OBJ")
        if not isinstance(args, tuple):
            self.flag("high", "call arguments are not a tuple", qualified)
            return
        if qualified in _BUILTIN_CALLS:
            if not all(self.is_data(a) for a in args):
                self.flag("high", "builtin called on a value computed while loading", qualified)
            elif qualified in ("builtins.bytes", "builtins.bytearray") and args and type(args[0]) is int:
                self.flag("high", "allocates a buffer whose size comes from the file", qualified)
        elif qualified == "numpy.ndarray":
            self.flag("high", "allocates an array whose size comes from the file", qualified)
        elif qualified in _NUMPY_RECONSTRUCT:
            if len(args) != 3 or args[1] != (0,):
                self.flag("high", "array reconstruction with a non-empty initial shape", qualified)
        elif qualified == "numpy.dtype":
            if not args or not isinstance(args[0], str) or (len(args) > 2 and args[2] is not True):
                self.flag("high", "dtype not copied: the pickle could modify numpy's shared builtin dtype", qualified)
        elif qualified == "copyreg._reconstructor":
            base = args[1] if len(args) == 3 else None
            if not (isinstance(base, _Global) and base.qualified in _RECONSTRUCTOR_BASES):
                self.flag("high", "copyreg._reconstructor would call __init__ of an arbitrary base class", qualified)
        elif qualified == "_codecs.encode":
            if len(args) != 2 or not self.is_data(args[0]) or args[1] not in ("latin1", "latin-1"):
                self.flag("high", "_codecs.encode is only expected as encode(str, 'latin1')", qualified)
        elif calling and (qualified.startswith(("xgboost.", "lightgbm."))):
            self.flag("high", "constructs a booster/dataset from arguments in the file (may read local files)",
                      qualified)

    @staticmethod
    def is_data(value) -> bool:
        if isinstance(value, _LITERAL + (tuple, list, _Dict, _Set)):
            return True
        if isinstance(value, _Opaque):
            return value.kind in ("str", "bytes", "bytearray")
        return isinstance(value, _Obj) and isinstance(value.func, _Global) and value.func.qualified == "_codecs.encode"

    def op_REDUCE(self, arg):
        args = self.pop()
        func = self.pop()
        self.push(self.call(func, args))

    def op_OBJ(self, arg):
        items = self.pop_mark()
        if not items:
            raise IndexError("OBJ without a class")
        self.push(self.call(items[0], tuple(items[1:])))

    def op_NEWOBJ(self, arg):
        args = self.pop()
        cls = self.pop()
        self.push(self.call(cls, args))

    def op_NEWOBJ_EX(self, arg):
        self.pop()  # kwargs go to cls.__new__ only
        args = self.pop()
        cls = self.pop()
        self.push(self.call(cls, args))

    # --- BUILD and joblib arrays ---------------------------------------------------------------
    def op_BUILD(self, arg):
        state = self.pop()
        inst = self.top()
        if isinstance(inst, _Global):
            self.flag("high", "BUILD applied to a global (would call its __setstate__)", inst.qualified)
            return
        if not isinstance(inst, _Obj):
            return
        inst.state = state
        for part in (state if isinstance(state, tuple) and len(state) == 2 else (state,)):
            if isinstance(part, _Dict):
                inst.attrs.update((k, v) for k, v in part.pairs if isinstance(k, str))
        if isinstance(inst.func, _Global) and inst.func.qualified == "numpy.dtype" and inst.func.allowed:
            try:
                _materialize_dtype(inst)
            except _Unknown:
                self.flag("high", "numpy dtype state that numpy's own constructor would not produce "
                          "(could corrupt memory)", "numpy.dtype")
        if isinstance(inst.func, _Global) and inst.func.qualified in _NUMPY_RECONSTRUCT and inst.func.allowed \
                and not _valid_array_state(state):
            self.flag("high", "array state numpy would not check (object array whose item list does not match "
                      "its shape leaves dangling pointers)", inst.func.qualified)
        if inst.cls is not None and inst.cls.qualified == WRAPPER:
            if not self.joblib:
                raise CorruptArtifact("this file stores numpy arrays the joblib way; load it with the joblib flavour")
            self.read_joblib_array(inst)

    def read_joblib_array(self, wrapper: _Obj):
        if wrapper.how not in ("NEWOBJ", "NEWOBJ_EX") and not (
            wrapper.how == "REDUCE" and wrapper.func.qualified == "copyreg._reconstructor"
        ):
            self.scanner.stop("high", "NumpyArrayWrapper is constructed in a way joblib never writes",
                              global_name=WRAPPER, opcode=self.op, position=self.pos)
        if self.frame_end is not None and self.end < self.frame_end:
            self.scanner.stop("high", "array data inside a pickle frame (the loader would read it elsewhere)",
                              global_name=WRAPPER, opcode=self.op, position=self.pos)
        try:
            shape = wrapper.attrs["shape"]
            if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
                raise _Unknown
            dtype = _materialize_dtype(wrapper.attrs["dtype"])
            alignment = wrapper.attrs.get("numpy_array_alignment_bytes")
        except (_Unknown, KeyError):
            self.scanner.stop("high", "cannot determine the array layout without running code",
                              global_name=WRAPPER, opcode=self.op, position=self.pos)
        limits.check_array(shape, dtype.itemsize, f"the joblib array at byte {self.pos}")
        self.scanner.arrays += 1
        self.stack[-1] = _Opaque("ndarray")
        stream = self.scanner.stream
        if dtype.hasobject:  # a nested pickle, read by a plain Unpickler sharing our find_class
            _Machine(self.scanner, joblib=False).run()
            return
        size = math.prod(shape) * dtype.itemsize
        if alignment is not None:
            padding = stream.read(1)
            if not padding:
                raise CorruptArtifact(f"array data missing after byte {self.end}")
            size += padding[0]
        if stream.tell() + size > len(self.scanner.data):
            raise CorruptArtifact(f"array at byte {self.pos} runs past the end of the file")
        stream.seek(size, io.SEEK_CUR)

    # --- everything else mirrors pickle._Unpickler's stack effects -------------------------------
    def op_PROTO(self, arg):
        if not 0 <= arg <= 5:
            raise CorruptArtifact(f"unsupported pickle protocol {arg}")

    def op_FRAME(self, arg):
        self.frame_end = self.end + arg

    def op_STOP(self, arg):
        self.pop()

    def op_MARK(self, arg):
        self.metastack.append(self.stack)
        self.stack = []

    def op_POP(self, arg):
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_POP_MARK(self, arg):
        self.pop_mark()

    def op_DUP(self, arg):
        self.push(self.top())

    def _persistent(self, arg):
        if self.op == "BINPERSID":
            self.pop()
        self.flag("medium", "persistent ID (reference to an object outside the file); loading would fail")
        self.push(_Opaque("persistent"))

    op_PERSID = op_BINPERSID = _persistent

    def _get(self, arg):
        self.push(self.memo[arg])

    op_GET = op_BINGET = op_LONG_BINGET = _get

    def _put(self, arg):
        if arg < 0:
            raise IndexError("negative memo index")
        self.memo[arg] = self.top()

    op_PUT = op_BINPUT = op_LONG_BINPUT = _put

    def op_MEMOIZE(self, arg):
        self.memo[len(self.memo)] = self.top()

    def op_EMPTY_LIST(self, arg):
        self.push([])

    def op_LIST(self, arg):
        self.push(self.pop_mark())

    def op_EMPTY_TUPLE(self, arg):
        self.push(())

    def op_TUPLE(self, arg):
        self.push(tuple(self.pop_mark()))

    def op_TUPLE1(self, arg):
        self.push((self.pop(),))

    def op_TUPLE2(self, arg):
        second = self.pop()
        self.push((self.pop(), second))

    def op_TUPLE3(self, arg):
        third = self.pop()
        second = self.pop()
        self.push((self.pop(), second, third))

    def op_EMPTY_DICT(self, arg):
        self.push(_Dict())

    def op_DICT(self, arg):
        items = self.pop_mark()
        self.push(_Dict(list(zip(items[::2], items[1::2], strict=False))))

    def op_EMPTY_SET(self, arg):
        self.push(_Set())

    def op_FROZENSET(self, arg):
        self.push(_Set(self.pop_mark()))

    def _mutated(self, target):
        if isinstance(target, _Global):
            self.flag("high", "modifies a global object", target.qualified)

    def op_APPEND(self, arg):
        value = self.pop()
        target = self.top()
        self._mutated(target)
        if isinstance(target, list):
            target.append(value)

    def op_APPENDS(self, arg):
        items = self.pop_mark()
        target = self.top()
        self._mutated(target)
        if isinstance(target, list):
            target.extend(items)

    def op_SETITEM(self, arg):
        value = self.pop()
        key = self.pop()
        target = self.top()
        self._mutated(target)
        if isinstance(target, _Dict):
            target.pairs.append((key, value))

    def op_SETITEMS(self, arg):
        items = self.pop_mark()
        target = self.top()
        self._mutated(target)
        if isinstance(target, _Dict):
            target.pairs.extend(zip(items[::2], items[1::2], strict=False))

    def op_ADDITEMS(self, arg):
        items = self.pop_mark()
        target = self.top()
        self._mutated(target)
        if isinstance(target, _Set):
            target.items.extend(items)

    def op_NEXT_BUFFER(self, arg):
        self.flag("medium", "out-of-band buffer; loading would fail")
        self.push(_Opaque("buffer"))

    def op_READONLY_BUFFER(self, arg):
        self.top()

    def op_NONE(self, arg):
        self.push(None)

    def op_NEWTRUE(self, arg):
        self.push(True)

    def op_NEWFALSE(self, arg):
        self.push(False)

    def generic(self, opcode, arg):
        """Opcodes that push the literal genops decoded: ints, floats, strings, bytes."""
        if opcode.stack_before or len(opcode.stack_after) != 1 or arg is None:
            raise CorruptArtifact(f"opcode {opcode.name} is not understood by the scanner")
        self.push(self.literal(arg))


def _valid_array_state(state) -> bool:
    """ndarray.__setstate__ arguments: (version,) shape, dtype, is_fortran, data. numpy checks the size of
    byte data itself but fills object arrays from a list without checking its length."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        return False
    shape, dtype_value, raw = state[-4], state[-3], state[-1]
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        return False
    try:
        dtype = _materialize_dtype(dtype_value)
    except _Unknown:
        return False
    if dtype.hasobject:
        return isinstance(raw, list) and len(raw) == math.prod(shape)
    return True


def _materialize_dtype(value, depth: int = 0):
    """The numpy dtype a `numpy.dtype(...)` call plus BUILD would produce, from literals only."""
    import numpy as np

    if depth > 8 or not (
        isinstance(value, _Obj) and value.how == "REDUCE" and isinstance(value.func, _Global)
        and value.func.qualified == "numpy.dtype" and value.func.allowed
    ):
        raise _Unknown
    args = value.args
    if not (isinstance(args, tuple) and 1 <= len(args) <= 3 and isinstance(args[0], str)):
        raise _Unknown
    align = args[1] if len(args) > 1 else False
    if not isinstance(align, bool):
        raise _Unknown
    state = _materialize(value.state, depth)
    try:
        dtype = np.dtype(args[0], align=align, copy=True)
        if state is not None:
            dtype.__setstate__(state)
        # __setstate__ trusts offsets, sizes and flags; numpy's constructor checks them. A dtype the
        # constructor cannot reproduce exactly could make numpy read or free memory it does not own.
        consistent = _rebuild(dtype).__reduce__() == dtype.__reduce__()
    except Exception:  # noqa: BLE001 - numpy rejected it, so the loader would too
        raise _Unknown
    if not consistent:
        raise _Unknown
    return dtype


def _rebuild(dtype):
    """The same dtype built through numpy's validating constructor."""
    import numpy as np

    if dtype.names is not None:
        fields = [dtype.fields[name] for name in dtype.names]
        spec = {"names": list(dtype.names), "formats": [_rebuild(f[0]) for f in fields],
                "offsets": [f[1] for f in fields], "itemsize": dtype.itemsize}
        titles = [f[2] if len(f) > 2 else None for f in fields]
        if any(title is not None for title in titles):
            spec["titles"] = titles
        return np.dtype(spec, align=dtype.isalignedstruct)
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return np.dtype((_rebuild(base), shape))
    return np.dtype(dtype.str)


def _materialize(value, depth: int):
    if isinstance(value, _LITERAL):
        return value
    if isinstance(value, tuple):
        return tuple(_materialize(v, depth) for v in value)
    if isinstance(value, list):
        return [_materialize(v, depth) for v in value]
    if isinstance(value, _Dict):
        return {_materialize(k, depth): _materialize(v, depth) for k, v in value.pairs}
    if isinstance(value, _Obj):
        return _materialize_dtype(value, depth + 1)
    raise _Unknown
