"""Post-load checks of the native tree structures inside a loaded sklearn model.

sklearn's ``Tree.__setstate__`` (and HistGradientBoosting's ``TreePredictor``) check array dtypes and
shapes but not the links between nodes, so a crafted pickle/joblib/skops file can make ``predict``
loop forever (a child pointing back at its parent) or read out of bounds (a feature index past the
input). No code from the file runs either way, but a worker would hang or crash. sklearn numbers
children after their parent, so "every child index is greater than its parent's, and every node but
the root has exactly one parent" proves the arrays form one finite tree.
"""

from __future__ import annotations

import numpy as np

from .report import CorruptArtifact

_MAX_OBJECTS = 2_000_000


def check_trees(model) -> int:
    """Walk the loaded object graph; raise CorruptArtifact on a malformed tree. Returns trees checked."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    checked = 0
    seen: set[int] = set()
    pending: list[tuple[object, int | None]] = [(model, None)]
    while pending:
        obj, n_features = pending.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None) | type):
            continue
        seen.add(id(obj))
        if len(seen) > _MAX_OBJECTS:
            raise CorruptArtifact("model object graph is too large to verify")
        if isinstance(obj, Tree):
            _check_tree(obj)
            checked += 1
            continue
        if isinstance(obj, TreePredictor):
            _check_predictor(obj, n_features)
            checked += 1
            continue
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                pending.extend((item, n_features) for item in obj.ravel())
            continue
        if isinstance(obj, dict):
            pending.extend((value, n_features) for value in obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            pending.extend((item, n_features) for item in obj)
        elif hasattr(obj, "__dict__"):
            own = getattr(obj, "n_features_in_", None)
            inherited = own if isinstance(own, int) else n_features
            pending.extend((value, inherited) for value in vars(obj).values())
    return checked


def _is_tree(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> bool:
    n = len(left)
    if n == 0 or len(right) != n:
        return False
    internal = np.flatnonzero(~leaf)
    children = np.concatenate([left[internal], right[internal]])
    if np.any(right[leaf] != left[leaf]) or np.any(children >= n) \
            or np.any(left[internal] <= internal) or np.any(right[internal] <= internal):
        return False
    parents = np.bincount(children, minlength=n) if len(children) else np.zeros(n, dtype=int)
    return parents[0] == 0 and bool(np.all(parents[1:] == 1))


def _check_tree(tree):
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    leaf = left == -1
    if not _is_tree(left, right, leaf):
        raise CorruptArtifact("a decision tree's nodes do not form a tree")
    features = np.asarray(tree.feature)[~leaf]
    if np.any(features < 0) or np.any(features >= tree.n_features):
        raise CorruptArtifact("a decision tree splits on a feature that does not exist")


def _check_predictor(predictor, n_features: int | None):
    nodes = predictor.nodes
    leaf = nodes["is_leaf"] != 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    left[leaf] = right[leaf] = -1
    if not _is_tree(left, right, leaf):
        raise CorruptArtifact("a histogram gradient boosting tree's nodes do not form a tree")
    internal = nodes[~leaf]
    features = internal["feature_idx"].astype(np.int64)
    if np.any(features < 0) or (n_features is not None and np.any(features >= n_features)):
        raise CorruptArtifact("a histogram gradient boosting tree splits on a feature that does not exist")
    categorical = internal[internal["is_categorical"] != 0]
    limit = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    if np.any(categorical["bitset_idx"] >= limit):
        raise CorruptArtifact("a histogram gradient boosting tree refers to a missing category set")
