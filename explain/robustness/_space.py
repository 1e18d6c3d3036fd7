"""The space evasion attacks move in, the ART wrappers around the loaded model, and the attacks themselves.

Attack space (recorded in every result that attacks): one coordinate per numeric column, standardised with the
reference data's mean and std (z = (x - mean) / std, so a distance of 0.1 is 0.1 standard deviations), then one
0/1 "missing" flag per numeric column that has missing values, then one integer code per categorical column
(-1 = missing). Only the z coordinates of values that are present are ever perturbed (ART's `mask`): categories
and missing values stay as they are, and every query is decoded back to a DataFrame of the original columns
before the loaded model sees it. Coordinates are clipped to the reference data's observed range.

* HopSkipJump (ART, decision-based, black-box: any classifier, any flavour) starts each row from the nearest
  reference row (numeric values only, this row's categories kept) that the model classifies differently,
  so that runs are reproducible; ART's own random draws are seeded.
* FGSM and PGD (ART, white-box) need a model ART can differentiate: a scikit-learn LogisticRegression, SVC or
  LinearSVC, alone or at the end of a Pipeline. ART computes the loss gradient with respect to the final
  estimator's input; the preprocessing's Jacobian with respect to the z coordinates comes from central finite
  differences through the fitted preprocessing (exact for scaling and one-hot encoding; a KNN imputer's
  imputed values are piecewise constant, so their derivative is zero almost everywhere).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explain.analyses._common import Codec, feature_value, fmt, table, unwrap

from ._base import categorical_columns, column_stats, load_art, numeric_columns, numpy_seed, probabilities, quiet

SPACE_NOTE = ("numeric columns standardised with the reference data's mean and std (distances are in standard "
              "deviations); categorical columns and missing values held fixed; values clipped to the reference "
              "data's observed range; integer-valued columns treated as continuous; each query decoded back to the "
              "original columns")
FD_STEP = 1e-3
REPEATS_TO_STOP = 10


class AttackSpace:
    """Original columns <-> the numeric array attacks move (see the module docstring)."""

    def __init__(self, reference: pd.DataFrame, columns: list[str] | None = None):
        columns = list(columns if columns is not None else reference.columns)
        frame = reference[columns]
        self.columns = columns
        self.numeric = numeric_columns(frame)
        self.categorical = categorical_columns(frame)
        self.stats = column_stats(frame)
        self.flagged = [c for c in self.numeric if frame[c].isna().any()]
        self.codec = Codec(frame[self.categorical]) if self.categorical else None
        self.n_numeric = len(self.numeric)
        self.width = self.n_numeric + len(self.flagged) + len(self.categorical)
        self.dtypes = frame.dtypes.to_dict()
        self.mean = np.array([self.stats[c]["mean"] for c in self.numeric])
        self.std = np.array([self.stats[c]["std"] for c in self.numeric])
        low = np.array([(self.stats[c]["min"] - self.stats[c]["mean"]) / self.stats[c]["std"] for c in self.numeric])
        high = np.array([(self.stats[c]["max"] - self.stats[c]["mean"]) / self.stats[c]["std"] for c in self.numeric])
        flat = high - low < 1e-9
        low, high = np.where(flat, low - 1, low), np.where(flat, high + 1, high)
        codes_high = [max(len(self.codec.categories[c]) - 1, 0) for c in self.categorical] if self.codec else []
        self.clip_min = np.concatenate([low, np.zeros(len(self.flagged)), -np.ones(len(self.categorical))])
        self.clip_max = np.concatenate([high, np.ones(len(self.flagged)), np.array(codes_high, dtype=float)])
        self.clip_max = np.maximum(self.clip_max, self.clip_min + 1e-6)  # no zero-width coordinate (HSJ divides)
        self.imputed_cells = 0

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(X), self.width))
        for j, column in enumerate(self.numeric):
            values = pd.to_numeric(X[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            missing = ~np.isfinite(values)
            out[:, j] = np.where(missing, 0.0, (values - self.mean[j]) / self.std[j])
            if column in self.flagged:
                out[:, self.n_numeric + self.flagged.index(column)] = missing
            else:
                self.imputed_cells += int(missing.sum())  # outside the reference's pattern: read as the mean
        if self.codec is not None:
            codes = self.codec.encode(X[self.categorical])
            out[:, self.n_numeric + len(self.flagged):] = np.where(np.isnan(codes), -1.0, codes)
        return out

    def decode(self, A: np.ndarray, index=None) -> pd.DataFrame:
        A = np.asarray(A, dtype=float).reshape(-1, self.width)
        data = {}
        for j, column in enumerate(self.numeric):
            values = A[:, j] * self.std[j] + self.mean[j]
            if column in self.flagged:
                values = np.where(A[:, self.n_numeric + self.flagged.index(column)] > 0.5, np.nan, values)
            data[column] = values
        if self.codec is not None:
            codes = A[:, self.n_numeric + len(self.flagged):].copy()
            codes[np.rint(codes) < 0] = np.nan
            decoded = self.codec.decode(codes)
            for column in self.categorical:
                data[column] = decoded[column].to_numpy()
        frame = pd.DataFrame({column: data[column] for column in self.columns},
                             index=index if index is not None else pd.RangeIndex(len(A)))
        for column in self.categorical:
            with contextlib.suppress(TypeError, ValueError):
                frame[column] = frame[column].astype(self.dtypes[column])
        return frame

    def mask(self, A: np.ndarray) -> np.ndarray:
        """1 where an attack may move the coordinate: the z of a numeric value that is present."""
        mask = np.zeros_like(A, dtype=float)
        mask[:, : self.n_numeric] = 1.0
        for k, column in enumerate(self.flagged):
            j = self.numeric.index(column)
            mask[:, j] = np.where(A[:, self.n_numeric + k] > 0.5, 0.0, 1.0)
        return mask

    def distances(self, A: np.ndarray, A_adv: np.ndarray) -> dict:
        """Per row: L2 and L-inf of the perturbation, in standard deviations (relative) and original units."""
        delta = (np.asarray(A_adv) - np.asarray(A))[:, : self.n_numeric]
        absolute = delta * self.std
        return {
            "l2_std": np.linalg.norm(delta, axis=1) if self.n_numeric else np.zeros(len(delta)),
            "linf_std": np.abs(delta).max(axis=1) if self.n_numeric else np.zeros(len(delta)),
            "l2_abs": np.linalg.norm(absolute, axis=1) if self.n_numeric else np.zeros(len(delta)),
            "linf_abs": np.abs(absolute).max(axis=1) if self.n_numeric else np.zeros(len(delta)),
        }


class AttackAborted(Exception):
    """Raised from inside an ART attack to stop it (see `Watch`)."""


class Watch:
    """Guards one row's black-box attack: stops it on a non-finite query, on the same single point queried again and
    again (ART's HopSkipJump step search halves its step forever when its current point is not adversarial)
    or past a query budget, and remembers the closest adversarial point queried so far."""

    def __init__(self, origin: np.ndarray, clean: int, n_numeric: int, norm, limit: int):
        self.origin, self.clean, self.n_numeric, self.norm, self.limit = origin, clean, n_numeric, norm, limit
        self.queries = 0
        self.last, self.repeats = None, 0
        self.best, self.best_distance = None, np.inf

    def before(self, A: np.ndarray) -> None:
        if not np.all(np.isfinite(A)):
            raise AttackAborted("a non-finite query")
        self.queries += len(A)
        if self.queries > self.limit:
            raise AttackAborted("the query budget")
        if len(A) == 1:
            self.repeats = self.repeats + 1 if self.last is not None and np.array_equal(A[0], self.last) else 0
            if self.repeats >= REPEATS_TO_STOP:
                raise AttackAborted("repeated queries of the same point (the step search stopped moving)")
            self.last = A[0].copy()

    def after(self, A: np.ndarray, index: np.ndarray) -> None:
        adversarial = np.flatnonzero(index != self.clean)
        if not len(adversarial):
            return
        delta = (A[adversarial] - self.origin)[:, : self.n_numeric]
        distance = np.abs(delta).max(axis=1) if self.norm in (np.inf, "inf") else np.linalg.norm(delta, axis=1)
        k = int(np.argmin(distance))
        if distance[k] < self.best_distance:
            self.best, self.best_distance = A[adversarial[k]].copy(), float(distance[k])


class SpaceModel:
    """The loaded model seen from the attack space: probabilities in `classes` order; counts its queries."""

    def __init__(self, model, space: AttackSpace, classes: list):
        self.model, self.space, self.classes = model, space, list(classes)
        self.queries = 0
        self.watch: Watch | None = None

    def __call__(self, A: np.ndarray) -> np.ndarray:
        A = np.asarray(A, dtype=float).reshape(-1, self.space.width)
        if self.watch is not None:
            self.watch.before(A)
        self.queries += len(A)
        proba = probabilities(self.model, self.space.decode(A), self.classes)
        if self.watch is not None:
            self.watch.after(A, np.argmax(proba, axis=1))
        return proba

    def predict_index(self, A: np.ndarray) -> np.ndarray:
        return np.argmax(self(A), axis=1)


def blackbox(space_model: SpaceModel):
    load_art()
    from art.estimators.classification import BlackBoxClassifier

    space = space_model.space
    return BlackBoxClassifier(space_model, input_shape=(space.width,), nb_classes=len(space_model.classes),
                              clip_values=(space.clip_min, space.clip_max))


# --- gradients ------------------------------------------------------------------------------------------------


def gradient_support(model) -> tuple[bool, str]:
    """(True, estimator name) if FGSM/PGD can differentiate the model, else (False, the reason)."""
    from sklearn.base import BaseEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC, LinearSVC

    if not isinstance(getattr(model, "estimator", None), BaseEstimator):
        return False, (f"FGSM/PGD need gradients, which ART computes only for scikit-learn LogisticRegression and "
                       f"SVC models; this is a {getattr(model, 'flavour', '') or 'non-scikit-learn'} model")
    _, final = unwrap(model)
    if isinstance(final, LogisticRegression | SVC | LinearSVC):
        return True, type(final).__name__
    return False, (f"FGSM/PGD need gradients, which ART computes only for LogisticRegression and SVC; the model "
                   f"ends in {type(final).__name__}: only the black-box attack applies")


@functools.cache
def _gradient_class():
    load_art()
    from art.estimators.classification import BlackBoxClassifier
    from art.estimators.estimator import LossGradientsMixin

    class ChainedGradientClassifier(LossGradientsMixin, BlackBoxClassifier):
        """A BlackBoxClassifier with a loss gradient: ART's gradient of the final estimator, chained with the
        preprocessing's finite-difference Jacobian with respect to the attack space's z coordinates."""

        def __init__(self, space_model: SpaceModel, final_art, preprocess):
            space = space_model.space
            super().__init__(space_model, input_shape=(space.width,), nb_classes=len(space_model.classes),
                             clip_values=(space.clip_min, space.clip_max))
            self._space_model, self._final, self._preprocess = space_model, final_art, preprocess

        def _transform(self, A: np.ndarray) -> np.ndarray:
            frame = self._space_model.space.decode(A)
            self._space_model.queries += len(A)
            if self._preprocess is None:
                return frame.to_numpy(dtype=float)
            out = self._preprocess.transform(frame)
            out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
            return out.astype(float)

        def loss_gradient(self, x: np.ndarray, y: np.ndarray, **kwargs) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            transformed = self._transform(x)
            outer = self._final.loss_gradient(transformed, y)
            gradient = np.zeros_like(x)
            for k in range(self._space_model.space.n_numeric):
                up, down = x.copy(), x.copy()
                up[:, k] += FD_STEP
                down[:, k] -= FD_STEP
                jacobian = (self._transform(up) - self._transform(down)) / (2 * FD_STEP)
                gradient[:, k] = np.sum(outer * jacobian, axis=1)
            return gradient

    return ChainedGradientClassifier


def gradient_classifier(model, space_model: SpaceModel):
    load_art()
    from art.estimators.classification.scikitlearn import ScikitlearnLogisticRegression, ScikitlearnSVC
    from sklearn.linear_model import LogisticRegression

    preprocess, final = unwrap(model)
    final_art = (ScikitlearnLogisticRegression(model=final) if isinstance(final, LogisticRegression)
                 else ScikitlearnSVC(model=final))
    return _gradient_class()(space_model, final_art, preprocess)


# --- attacks --------------------------------------------------------------------------------------------------


@dataclass
class AttackRun:
    """One attack on the rows A (encoded): adversarial rows, whether each changed the model's decision."""

    name: str
    eps: float | None
    clean: np.ndarray
    adversarial: np.ndarray
    clean_index: np.ndarray
    adversarial_index: np.ndarray
    queries: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> np.ndarray:
        return self.adversarial_index != self.clean_index


def one_hot(index: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(index), n))
    out[np.arange(len(index)), index] = 1.0
    return out


def hop_skip_jump(space_model: SpaceModel, A: np.ndarray, pool: np.ndarray, *, norm, max_iter: int, max_eval: int,
                  init_eval: int, random_state: int, progress=None) -> AttackRun:
    """ART's HopSkipJump, one row at a time, each started from the nearest differently-classified pool row."""
    load_art()
    from art.attacks.evasion import HopSkipJump

    space = space_model.space
    start_queries = space_model.queries
    clean_index = space_model.predict_index(A)
    mask = space.mask(A)
    adversarial = A.copy()
    failed, aborted = 0, []
    limit = 100 + (max_iter + 1) * (max_eval + 100)
    with quiet():
        attack = HopSkipJump(blackbox(space_model), targeted=False, norm=norm, max_iter=max_iter,
                             max_eval=max_eval, init_eval=min(init_eval, max_eval), init_size=100,
                             batch_size=max(max_eval, 64), verbose=False)
        for i in range(len(A)):
            init = initial_adversarial(space_model, A[i], mask[i], clean_index[i], pool, norm,
                                       random_state=random_state + i)
            if init is None:
                failed += 1
            else:
                watch = Watch(A[i], int(clean_index[i]), space.n_numeric, norm, limit)
                space_model.watch = watch
                try:
                    with numpy_seed(random_state + i):
                        found = attack.generate(A[i : i + 1].astype(np.float32), x_adv_init=init[None].copy(),
                                                mask=mask[i : i + 1])[0]
                    delta = (np.asarray(found, dtype=float) - A[i])[: space.n_numeric]
                    distance = np.abs(delta).max() if norm in (np.inf, "inf") else np.linalg.norm(delta)
                    if watch.best is not None and (distance == 0 or watch.best_distance < distance):
                        found = watch.best  # a closer adversarial point HopSkipJump queried on its way
                except AttackAborted as stop:
                    aborted.append(str(stop))
                    found = watch.best if watch.best is not None else init
                finally:
                    space_model.watch = None
                adversarial[i] = finish(space, A[i : i + 1], np.asarray(found)[None])[0]
            if progress is not None:
                progress((i + 1) / len(A), f"HopSkipJump: row {i + 1} of {len(A)}")
    run = AttackRun("hop_skip_jump", None, A, adversarial, clean_index, space_model.predict_index(adversarial))
    run.queries = space_model.queries - start_queries
    if failed:
        run.notes.append(f"no starting point classified differently was found for {failed} row(s): they count as "
                         "not broken")
    if aborted:
        run.notes.append(f"HopSkipJump was stopped early on {len(aborted)} row(s) (after "
                         f"{', '.join(sorted(set(aborted)))}); the closest adversarial point it had queried is kept")
    return run


def initial_adversarial(space_model: SpaceModel, x: np.ndarray, mask: np.ndarray, clean: int, pool: np.ndarray,
                        norm, *, random_state: int) -> np.ndarray | None:
    """The closest candidate the model classifies differently: pool rows' numeric values moved into this row
    (its categories and missing values kept), then uniform draws in the clipped range."""
    space = space_model.space
    rng = np.random.default_rng(random_state)
    for candidates in (np.where(mask > 0, pool, x),
                       np.where(mask > 0, rng.uniform(space.clip_min, space.clip_max, size=(100, space.width)), x)):
        if not len(candidates):
            continue
        different = space_model.predict_index(candidates) != clean
        if different.any():
            chosen = candidates[different]
            delta = (chosen - x)[:, : space.n_numeric]
            distance = np.abs(delta).max(axis=1) if norm in (np.inf, "inf") else np.linalg.norm(delta, axis=1)
            return chosen[int(np.argmin(distance))].astype(np.float32)
    return None


def boundary_bisection(space_model: SpaceModel, A: np.ndarray, pool: np.ndarray, *, steps: int = 12) -> AttackRun:
    """A cheap batched decision-based attack (the starting phase of HopSkipJump, for all rows at once): each row's
    numeric values are moved toward the nearest pool row (L-inf, in std) that the model classifies differently,
    and the crossing is located by bisection; the adversarial row is the first point past the boundary."""
    space = space_model.space
    start = space_model.queries
    clean_index = space_model.predict_index(A)
    mask = space.mask(A)
    pool_index = space_model.predict_index(pool) if len(pool) else np.array([], dtype=int)
    low, high = A.copy(), A.copy()
    found = np.zeros(len(A), dtype=bool)
    candidates, owners = [], []
    for i in range(len(A)):
        others = np.flatnonzero(pool_index != clean_index[i])
        if not len(others):
            continue
        ends = np.where(mask[i] > 0, pool[others], A[i])
        order = np.argsort(np.abs(ends - A[i])[:, : space.n_numeric].max(axis=1), kind="stable")[:5]
        candidates.append(ends[order])
        owners += [i] * len(order)
    if candidates:
        candidates = np.concatenate(candidates)
        owners = np.array(owners)
        crossed = space_model.predict_index(candidates) != clean_index[owners]
        for k in np.flatnonzero(crossed):  # the first (closest) crossing candidate of each row
            if not found[owners[k]]:
                high[owners[k]] = candidates[k]
                found[owners[k]] = True
    for _ in range(steps):
        middle = (low + high) / 2
        same = space_model.predict_index(middle) == clean_index
        low = np.where((same & found)[:, None], middle, low)
        high = np.where((~same & found)[:, None], middle, high)
    adversarial = np.where(found[:, None], high, A)
    run = AttackRun("boundary", None, A, adversarial, clean_index, space_model.predict_index(adversarial))
    run.queries = space_model.queries - start
    if (~found).any():
        run.notes.append(f"no differently classified row to move toward for {int((~found).sum())} row(s)")
    return run


def fgsm(classifier, space_model: SpaceModel, A: np.ndarray, eps: float) -> AttackRun:
    load_art()
    from art.attacks.evasion import FastGradientMethod

    clean_index = space_model.predict_index(A)
    start = space_model.queries
    with quiet():
        attack = FastGradientMethod(classifier, norm=np.inf, eps=eps, eps_step=eps, targeted=False,
                                    num_random_init=0, batch_size=max(len(A), 1), minimal=False)
        adversarial = attack.generate(A.astype(np.float32),
                                      y=one_hot(clean_index, len(space_model.classes)), mask=space_model.space.mask(A))
    adversarial = finish(space_model.space, A, adversarial)
    run = AttackRun("fgsm", eps, A, adversarial.astype(float), clean_index, space_model.predict_index(adversarial))
    run.queries = space_model.queries - start
    return run


def pgd(classifier, space_model: SpaceModel, A: np.ndarray, eps: float, *, max_iter: int,
        random_state: int) -> AttackRun:
    load_art()
    from art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_numpy import (
        ProjectedGradientDescentNumpy,
    )

    clean_index = space_model.predict_index(A)
    start = space_model.queries
    with quiet(), numpy_seed(random_state):
        attack = ProjectedGradientDescentNumpy(classifier, norm=np.inf, eps=eps, eps_step=eps / 4, max_iter=max_iter,
                                               targeted=False, num_random_init=0, batch_size=max(len(A), 1),
                                               verbose=False)
        adversarial = attack.generate(A.astype(np.float32),
                                      y=one_hot(clean_index, len(space_model.classes)), mask=space_model.space.mask(A))
    adversarial = finish(space_model.space, A, adversarial)
    run = AttackRun("pgd", eps, A, adversarial.astype(float), clean_index, space_model.predict_index(adversarial))
    run.queries = space_model.queries - start
    return run


def finish(space: AttackSpace, A: np.ndarray, adversarial: np.ndarray) -> np.ndarray:
    """Fixed coordinates exactly as they were (ART works in float32), moved ones inside the clipped range."""
    adversarial = np.clip(np.asarray(adversarial, dtype=float), space.clip_min, space.clip_max)
    return np.where(space.mask(A) > 0, adversarial, A)


# --- outcomes -------------------------------------------------------------------------------------------------


def broken_within(run: AttackRun, space: AttackSpace, eps: float | None) -> np.ndarray:
    """Rows whose decision the attack changed, with an L-inf perturbation of at most eps (in std) if given."""
    broken = run.changed.copy()
    if eps is not None:
        broken &= space.distances(run.clean, run.adversarial)["linf_std"] <= eps + 1e-6
    return broken


def outcome(broken: np.ndarray, clean_index: np.ndarray, truth_index: np.ndarray | None,
            classes: list | None = None) -> dict:
    """success_rate: share of the rows the model got right (all rows without a target) whose decision the attack
    changed; robust_accuracy: share of all attacked rows the model gets right and the attack did not change.
    With `classes`, `per_class` gives the same per true class (per predicted class without a target)."""
    if truth_index is None:
        reference = np.ones(len(broken), dtype=bool)
        robust = None
    else:
        reference = clean_index == truth_index
        robust = float(np.mean(reference & ~broken)) if len(broken) else None
    result = {
        "rows_attacked": int(len(broken)),
        "rows_counted": int(reference.sum()),
        "rows_broken": int((broken & reference).sum()),
        "success_rate": float(np.mean(broken[reference])) if reference.any() else None,
        "clean_accuracy": float(np.mean(reference)) if truth_index is not None and len(broken) else None,
        "robust_accuracy": robust,
    }
    if classes is not None:
        group = truth_index if truth_index is not None else clean_index
        per_class = []
        for position, label in enumerate(classes):
            rows = group == position
            counted = rows & reference
            per_class.append({"class": str(label), "rows_attacked": int(rows.sum()), "rows_counted": int(counted.sum()),
                              "rows_broken": int((broken & counted).sum()),
                              "success_rate": float(np.mean(broken[counted])) if counted.any() else None})
        result["per_class"] = per_class
    return result


def perturbation_summary(run: AttackRun, space: AttackSpace, broken: np.ndarray) -> dict:
    """Medians over the broken rows of the four perturbation sizes."""
    distances = space.distances(run.clean, run.adversarial)
    if not broken.any():
        return {key: None for key in ("median_l2_std", "median_linf_std", "median_l2_abs", "median_linf_abs")}
    return {f"median_{key}": float(np.median(values[broken])) for key, values in distances.items()}


def examples_table(run: AttackRun, space: AttackSpace, broken: np.ndarray, frame: pd.DataFrame, classes: list, *,
                   limit: int, title: str) -> tuple[dict, list[dict]]:
    """Up to `limit` broken rows of `frame` (the attacked rows, in order), original then adversarial, in original
    columns (the most perturbed columns when there are more than 15)."""
    chosen = np.flatnonzero(broken)[:limit]
    rows = frame.index.tolist()
    original = frame.iloc[chosen]
    adversarial = space.decode(run.adversarial[chosen])
    delta = np.abs(run.adversarial[chosen] - run.clean[chosen])[:, : space.n_numeric]
    columns = list(space.columns)
    if len(columns) > 15:
        order = np.argsort(-delta.max(axis=0)) if len(chosen) else np.arange(space.n_numeric)
        moved = [space.numeric[j] for j in order[:15]]
        columns = [c for c in space.columns if c in moved]
    table_rows, details = [], []
    for k, position in enumerate(chosen):
        before = classes[int(run.clean_index[position])]
        after = classes[int(run.adversarial_index[position])]
        table_rows.append([rows[position], "original", *[feature_value(original.iloc[k][c]) for c in columns], before])
        table_rows.append([rows[position], "adversarial", *[_rounded(adversarial.iloc[k][c]) for c in columns], after])
        details.append({
            "row": rows[position],
            "original": {c: feature_value(original.iloc[k][c]) for c in space.columns},
            "adversarial": {c: _rounded(adversarial.iloc[k][c]) for c in space.columns},
            "changed": {c: [feature_value(original.iloc[k][c]), _rounded(adversarial.iloc[k][c])]
                        for j, c in enumerate(space.numeric) if delta[k, j] > 1e-9},
            "prediction": [before, after],
        })
    return table(title, ["row", "version", *columns, "prediction"], table_rows), details


def _rounded(value):
    value = feature_value(value)
    return float(fmt(value, 6)) if isinstance(value, float) else value
