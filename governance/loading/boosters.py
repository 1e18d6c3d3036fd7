"""Structural validation of XGBoost and LightGBM model files before their native parsers see them.

Both libraries' C++ loaders crash the process (segfault or abort) on truncated or bit-flipped files:
LightGBM locates trees by the byte sizes in its header and reads its parameters section without
bounds checks, and XGBoost's UBJSON reader trusts lengths in the file. So we parse the files in
Python, check that every tree really is a tree over known features, and hand the libraries only a
canonical form we built ourselves: XGBoost always gets JSON (UBJSON is decoded here), LightGBM gets
its text format re-assembled from the validated parts with freshly computed tree sizes.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from . import limits
from .report import CorruptArtifact, UnsupportedFlavour

_MAX_DEPTH = 64


# --- UBJSON ------------------------------------------------------------------------------------
_UBJ_NUMBERS = {
    b"i": (">i1", 1), b"U": (">u1", 1), b"I": (">i2", 2), b"l": (">i4", 4), b"L": (">i8", 8),
    b"d": (">f4", 4), b"D": (">f8", 8),
}


class _Ubj:
    """A strict decoder for the UBJSON subset XGBoost writes (big-endian, optimised containers)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CorruptArtifact(f"UBJSON truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def marker(self) -> bytes:
        marker = self.take(1)
        while marker == b"N":  # no-op
            marker = self.take(1)
        return marker

    def length(self) -> int:
        marker = self.marker()
        if marker not in (b"i", b"U", b"I", b"l", b"L"):
            raise CorruptArtifact(f"UBJSON length has type {marker!r} at byte {self.pos}")
        value = int(self.scalar(marker))
        if value < 0 or value > len(self.data):
            raise CorruptArtifact(f"UBJSON length {value} at byte {self.pos} is impossible")
        return value

    def scalar(self, marker: bytes):
        if marker in _UBJ_NUMBERS:
            fmt, size = _UBJ_NUMBERS[marker]
            return np.frombuffer(self.take(size), dtype=fmt)[0].item()
        if marker == b"Z":
            return None
        if marker == b"T":
            return True
        if marker == b"F":
            return False
        if marker == b"C":
            return self.take(1).decode("latin-1")
        if marker in (b"S", b"H"):
            text = self.take(self.length())
            try:
                return text.decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptArtifact(f"UBJSON string at byte {self.pos} is not UTF-8")
        raise CorruptArtifact(f"unknown UBJSON marker {marker!r} at byte {self.pos - 1}")

    def value(self, marker: bytes | None = None, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise CorruptArtifact("UBJSON nested too deeply")
        marker = marker or self.marker()
        if marker == b"[":
            return self.container(depth, is_object=False)
        if marker == b"{":
            return self.container(depth, is_object=True)
        return self.scalar(marker)

    def container(self, depth: int, *, is_object: bool):
        end = b"}" if is_object else b"]"
        item_type = count = None
        if self.data[self.pos:self.pos + 1] == b"$":
            self.pos += 1
            item_type = self.take(1)
        if self.data[self.pos:self.pos + 1] == b"#":
            self.pos += 1
            count = self.length()
        elif item_type is not None:
            raise CorruptArtifact("UBJSON typed container without a count")
        if not is_object and item_type in _UBJ_NUMBERS and count is not None:
            fmt, size = _UBJ_NUMBERS[item_type]
            return np.frombuffer(self.take(count * size), dtype=fmt).tolist()
        items = {} if is_object else []
        index = 0
        while True:
            if count is not None and index == count:
                return items
            if count is None:
                marker = self.marker()
                if marker == end:
                    return items
            else:
                marker = None
            if is_object:
                key = self.scalar(b"S") if marker is None else self._key(marker)
                items[key] = self.value(item_type, depth + 1)
            else:
                items.append(self.value(item_type or marker, depth + 1))
            index += 1

    def _key(self, marker: bytes) -> str:
        # object keys are strings written without their 'S' marker: the marker byte is the length type
        self.pos -= 1
        return self.scalar(b"S")


def decode_ubjson(data: bytes):
    decoder = _Ubj(data)
    value = decoder.value()
    if decoder.pos != len(data):
        raise CorruptArtifact(f"unexpected data after the UBJSON document at byte {decoder.pos}")
    return value


# --- XGBoost -----------------------------------------------------------------------------------
def xgboost_document(data: bytes) -> tuple[dict, str]:
    """The model as a validated JSON document, and the format it came in ('json' or 'ubjson')."""
    if data.lstrip()[:1] == b"{" and data.lstrip()[1:2] in (b'"', b"\n", b" ", b"\r", b"\t", b"}"):
        try:
            document, fmt = json.loads(data), "json"
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptArtifact(f"not a valid XGBoost JSON model: {exc}")
    elif data[:1] == b"{":
        document, fmt = decode_ubjson(data), "ubjson"
    else:
        raise CorruptArtifact("not an XGBoost model (expected a JSON or UBJSON object)")
    try:
        _check_xgboost(document)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise CorruptArtifact(f"not a well-formed XGBoost model: {type(exc).__name__}: {exc}")
    return document, fmt


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _check_xgboost(document: dict):
    learner = document["learner"]
    params = learner["learner_model_param"]
    n_features = _int(params["num_feature"])
    n_groups = max(_int(params.get("num_class", 0)), 1)
    if _int(params.get("num_target", 1)) != 1:
        raise UnsupportedFlavour("multi-target XGBoost models are not supported")
    if n_features < 0:
        raise ValueError("num_feature out of range")
    limits.check_count("the number of features (num_feature)", n_features, "features")
    limits.check_count("the number of classes (num_class)", n_groups, "classes")
    names = learner.get("feature_names") or []
    if names and (len(names) != n_features or not all(isinstance(n, str) for n in names)):
        raise ValueError("feature_names do not match num_feature")
    if not isinstance(learner["objective"]["name"], str):
        raise ValueError("objective name is not a string")
    booster = learner["gradient_booster"]
    name = booster["name"]
    if name == "dart":
        booster = booster["gbtree"]
        name = booster["name"]
    if name == "gblinear":
        weights = booster["model"]["weights"]
        if len(weights) != (n_features + 1) * n_groups or not all(isinstance(w, int | float) for w in weights):
            raise ValueError("gblinear weights do not match the features and classes")
        return
    if name != "gbtree":
        raise ValueError(f"unknown booster {name!r}")
    model = booster["model"]
    trees = model["trees"]
    if _int(model["gbtree_model_param"]["num_trees"]) != len(trees) or len(model["tree_info"]) != len(trees):
        raise ValueError("tree count does not match the model parameters")
    if not all(0 <= _int(group) < n_groups for group in model["tree_info"]):
        raise ValueError("tree assigned to a class that does not exist")
    for index, tree in enumerate(trees):
        if _int(tree["id"]) != index:
            raise ValueError(f"tree {index} is stored with id {tree['id']}")
        _check_xgboost_tree(tree, n_features)


def _check_xgboost_tree(tree: dict, n_features: int):
    param = tree["tree_param"]
    n = _int(param["num_nodes"])
    if _int(param.get("size_leaf_vector", 1)) > 1:
        raise UnsupportedFlavour("vector-leaf XGBoost trees are not supported")
    for key in ("left_children", "right_children", "parents", "split_indices", "split_conditions", "default_left",
                "base_weights"):
        if len(tree[key]) != n:
            raise ValueError(f"tree {tree.get('id')}: {key} has {len(tree[key])} entries for {n} nodes")
    split_type = tree.get("split_type") or [0] * n
    left, right = tree["left_children"], tree["right_children"]
    seen = _walk_tree(n, lambda i: (left[i], right[i]) if left[i] != -1 else None, leaf_test=lambda c: c == -1)
    if len(seen) + _int(param.get("num_deleted", 0)) != n:
        raise ValueError(f"tree {tree.get('id')}: nodes are not a single tree")
    segments, sizes = tree.get("categories_segments", []), tree.get("categories_sizes", [])
    if len(segments) != len(sizes) or len(tree.get("categories_nodes", [])) != len(sizes):
        raise ValueError("categorical split tables disagree")
    if any(_int(s) < 0 or _int(z) < 0 or _int(s) + _int(z) > len(tree.get("categories", []))
           for s, z in zip(segments, sizes, strict=True)):
        raise ValueError("categorical split points outside the category table")
    parents = tree["parents"]
    if _int(parents[0]) not in (2147483647, -1):
        raise ValueError("the root has a parent")
    for node in seen:
        if left[node] == -1:
            if right[node] != -1:
                raise ValueError("a leaf has one child")
            continue
        if _int(parents[left[node]]) != node or _int(parents[right[node]]) != node:
            raise ValueError(f"tree {tree.get('id')}: parent links disagree with child links")
        if not 0 <= _int(tree["split_indices"][node]) < n_features:
            raise ValueError(f"tree {tree.get('id')}: split on feature {tree['split_indices'][node]} of {n_features}")
        if _int(split_type[node]) not in (0, 1):
            raise ValueError("unknown split type")
        if not isinstance(tree["split_conditions"][node], int | float):
            raise ValueError("split condition is not a number")


def _walk_tree(n: int, children, *, leaf_test) -> set[int]:
    """Nodes reachable from the root, refusing cycles, shared nodes and out-of-range references."""
    seen: set[int] = set()
    pending = [0] if n > 0 else []
    while pending:
        node = pending.pop()
        if node in seen:
            raise ValueError("a node is reached twice (cycle or shared child)")
        seen.add(node)
        kids = children(node)
        for child in kids or ():
            if leaf_test(child):
                continue
            if type(child) is not int or not 0 < child < n:
                raise ValueError(f"child index {child!r} out of range")
            pending.append(child)
    return seen


def canonical_xgboost(data: bytes) -> tuple[bytes, dict, str]:
    """JSON bytes for Booster.load_model, the document, and the original format."""
    document, fmt = xgboost_document(data)
    return json.dumps(document, allow_nan=True).encode(), document, fmt


# --- LightGBM ----------------------------------------------------------------------------------
_HEADER_INT_KEYS = ("num_class", "num_tree_per_iteration", "label_index", "max_feature_idx")
_PARAMETER_LINE = re.compile(r"\[([A-Za-z0-9_]+): ([^\[\]\n]*)\]")
_OBJECTIVES = frozenset({
    "regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape", "gamma", "tweedie", "binary",
    "multiclass", "multiclassova", "cross_entropy", "cross_entropy_lambda", "lambdarank", "rank_xendcg", "custom",
})


def _numbers(text: str, count: int, kind=float, *, what: str) -> list:
    values = text.split(" ") if text else []
    if len(values) != count:
        raise CorruptArtifact(f"LightGBM {what}: {len(values)} values, expected {count}")
    try:
        parsed = [kind(v) for v in values]
    except ValueError:
        raise CorruptArtifact(f"LightGBM {what}: not all values are numbers")
    if kind is float and not all(math.isfinite(v) or math.isinf(v) for v in parsed):
        raise CorruptArtifact(f"LightGBM {what}: NaN is not allowed")
    return parsed


def canonical_lightgbm(data: bytes) -> tuple[str, dict]:
    """Validated LightGBM model text rebuilt from its parts, and the header fields."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptArtifact(f"not a LightGBM text model: {exc}")
    text = text.replace("\r\n", "\n")
    if not text.startswith("tree\n"):
        raise CorruptArtifact("not a LightGBM text model: it must start with 'tree'")
    if "\nend of trees\n" not in text:
        raise CorruptArtifact("LightGBM model is truncated: no 'end of trees'")
    body, tail = text.split("\nend of trees\n", 1)
    header_text, _, trees_text = body.partition("\n\n")
    header, flags = {}, []
    for line in header_text.split("\n")[1:]:
        key, sep, value = line.partition("=")
        if sep:
            header[key] = value
        elif re.fullmatch(r"[a-z_]+", line):
            flags.append(line)
        else:
            raise CorruptArtifact(f"LightGBM header line {line[:40]!r} is malformed")
    try:
        numbers = {key: int(header[key]) for key in _HEADER_INT_KEYS}
    except (KeyError, ValueError) as exc:
        raise CorruptArtifact(f"LightGBM header lacks a valid {exc}")
    if not re.fullmatch(r"v[2-4]", header.get("version", "")):
        raise CorruptArtifact("LightGBM model version must be v2, v3 or v4")
    n_features = numbers["max_feature_idx"] + 1
    limits.check_count("the number of features (max_feature_idx + 1)", n_features, "features")
    limits.check_count("the number of classes (num_class)", numbers["num_class"], "classes")
    if not 1 <= n_features <= 10_000_000 or not 1 <= numbers["num_class"] <= 100_000 \
            or not 1 <= numbers["num_tree_per_iteration"] <= 100_000 or numbers["label_index"] < 0:
        raise CorruptArtifact("LightGBM header values out of range")
    objective = header.get("objective", "").split(" ")
    if objective[0] not in _OBJECTIVES or not all(re.fullmatch(r"[a-z_]+:[-0-9.e]+", p) for p in objective[1:]):
        raise CorruptArtifact(f"LightGBM objective {header.get('objective', '')[:40]!r} is not recognised")
    if len(header.get("feature_names", "").split(" ")) != n_features or \
            len(header.get("feature_infos", "").split(" ")) != n_features:
        raise CorruptArtifact("LightGBM feature names/infos do not match max_feature_idx")

    blocks = [b for b in re.split(r"\n(?=Tree=)", "\n" + trees_text.strip("\n")) if b.strip()]
    trees = [_lightgbm_tree(block.strip("\n"), index, n_features) for index, block in enumerate(blocks)]
    if not trees or len(trees) % numbers["num_tree_per_iteration"]:
        raise CorruptArtifact("LightGBM tree count is not a multiple of trees per iteration")

    header["tree_sizes"] = " ".join(str(len(t.encode())) for t in trees)
    lines = ["tree", *(f"{k}={v}" for k, v in header.items()), *flags]
    parts = ["\n".join(lines) + "\n\n", *trees, "end of trees\n", _lightgbm_tail(tail)]
    return "".join(parts), header


def _lightgbm_tree(block: str, index: int, n_features: int) -> str:
    lines = block.split("\n")
    if lines[0] != f"Tree={index}":
        raise CorruptArtifact(f"LightGBM tree {index} is missing or out of order")
    fields = {}
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+", key):
            raise CorruptArtifact(f"LightGBM tree {index}: malformed line {line[:40]!r}")
        fields[key] = value
    what = f"tree {index}"
    try:
        n = int(fields["num_leaves"])
        n_cat = int(fields.get("num_cat", "0"))
    except (KeyError, ValueError):
        raise CorruptArtifact(f"LightGBM {what}: num_leaves/num_cat missing")
    if not 1 <= n <= 10_000_000 or n_cat < 0:
        raise CorruptArtifact(f"LightGBM {what}: num_leaves/num_cat out of range")
    _numbers(fields.get("leaf_value", ""), n, what=f"{what} leaf_value")
    float(fields.get("shrinkage", "1"))
    if fields.get("is_linear", "0") not in ("0", "1"):
        raise CorruptArtifact(f"LightGBM {what}: is_linear must be 0 or 1")
    if fields.get("is_linear") == "1":
        raise UnsupportedFlavour("LightGBM linear trees are not supported")
    if n > 1:
        features = _numbers(fields.get("split_feature", ""), n - 1, int, what=f"{what} split_feature")
        if not all(0 <= f < n_features for f in features):
            raise CorruptArtifact(f"LightGBM {what}: split on a feature that does not exist")
        decision = _numbers(fields.get("decision_type", ""), n - 1, int, what=f"{what} decision_type")
        thresholds = _numbers(fields.get("threshold", ""), n - 1, what=f"{what} threshold")
        left = _numbers(fields.get("left_child", ""), n - 1, int, what=f"{what} left_child")
        right = _numbers(fields.get("right_child", ""), n - 1, int, what=f"{what} right_child")
        for key in ("split_gain", "internal_value", "internal_weight", "internal_count"):
            if key in fields:
                _numbers(fields[key], n - 1, what=f"{what} {key}")
        for key in ("leaf_weight", "leaf_count"):
            if key in fields:
                _numbers(fields[key], n, what=f"{what} {key}")
        if not all(0 <= d <= 15 for d in decision):
            raise CorruptArtifact(f"LightGBM {what}: unknown decision type")
        _check_lightgbm_structure(left, right, n, what)
        if n_cat:
            bounds = _numbers(fields.get("cat_boundaries", ""), n_cat + 1, int, what=f"{what} cat_boundaries")
            if bounds[0] != 0 or any(b > a for a, b in zip(bounds[1:], bounds, strict=False)):
                raise CorruptArtifact(f"LightGBM {what}: cat_boundaries are not increasing from 0")
            _numbers(fields.get("cat_threshold", ""), bounds[-1], int, what=f"{what} cat_threshold")
        for d, t in zip(decision, thresholds, strict=True):
            if d & 1 and not (t == int(t) and 0 <= t < n_cat):
                raise CorruptArtifact(f"LightGBM {what}: categorical split points outside the category table")
    elif n_cat:
        raise CorruptArtifact(f"LightGBM {what}: a single leaf cannot have categorical splits")
    return block + "\n\n\n"


def _check_lightgbm_structure(left: list[int], right: list[int], n: int, what: str):
    leaves: set[int] = set()

    def children(node):
        for child in (left[node], right[node]):
            if child < 0:
                leaf = ~child
                if leaf >= n or leaf in leaves:
                    raise CorruptArtifact(f"LightGBM {what}: leaf {leaf} is out of range or reached twice")
                leaves.add(leaf)
        return left[node], right[node]

    try:
        seen = _walk_tree(n - 1, children, leaf_test=lambda c: c < 0)
    except ValueError as exc:
        raise CorruptArtifact(f"LightGBM {what}: {exc}")
    if len(seen) != n - 1 or len(leaves) != n:
        raise CorruptArtifact(f"LightGBM {what}: nodes are not a single tree")


def _lightgbm_tail(tail: str) -> str:
    """The parameters and pandas_categorical sections, kept only if well-formed."""
    parts = []
    if "\nparameters:\n" in "\n" + tail:
        section = ("\n" + tail).split("\nparameters:\n", 1)[1]
        if "\nend of parameters" not in "\n" + section:
            raise CorruptArtifact("LightGBM parameters section is truncated")
        params = ("\n" + section).split("\nend of parameters", 1)[0].strip("\n").split("\n")
        if not all(_PARAMETER_LINE.fullmatch(line) for line in params if line):
            raise CorruptArtifact("LightGBM parameters section is malformed")
        parts.append("\nparameters:\n" + "\n".join(line for line in params if line) + "\nend of parameters\n")
    marker = "pandas_categorical:"
    if marker in tail:
        raw = tail.rsplit(marker, 1)[1].strip()
        try:
            categories = json.loads(raw)
        except ValueError:
            raise CorruptArtifact("LightGBM pandas_categorical is not valid JSON")
        if categories is not None and not isinstance(categories, list):
            raise CorruptArtifact("LightGBM pandas_categorical must be a list")
        parts.append(f"\n{marker}{json.dumps(categories)}\n")
    return "".join(parts)


def lightgbm_objective(header: dict) -> str:
    return header.get("objective", "").split(" ")[0]
