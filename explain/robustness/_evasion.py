"""The evasion battery shared by adversarial_evasion, adversarial_detection and the hardening kinds.

`Evasion(model, space, classes, settings, pool=..., random_state=...).run(A)` attacks the encoded rows A:
HopSkipJump once (black-box, every classifier; its adversarial rows are the closest it found, so "broken at eps"
means found within an L-inf distance of eps standard deviations) and, for models ART can differentiate, FGSM and
PGD once per eps (L-inf). `summarise` turns the runs into one record per (attack, eps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explain.analyses import ParamError
from explain.analyses._common import choice_param, int_param

from ._base import number_list_param
from ._space import (
    SPACE_NOTE,
    AttackRun,
    AttackSpace,
    SpaceModel,
    broken_within,
    fgsm,
    gradient_classifier,
    gradient_support,
    hop_skip_jump,
    outcome,
    perturbation_summary,
    pgd,
)

ATTACKS = ("hop_skip_jump", "fgsm", "pgd")
ATTACK_NAMES = {"hop_skip_jump": "HopSkipJump", "fgsm": "FGSM", "pgd": "PGD"}
EVASION_DEFAULTS = {"eps": [0.05, 0.1, 0.2, 0.5], "attacks": list(ATTACKS), "hsj_norm": "2", "hsj_max_iter": 5,
                    "hsj_max_eval": 100, "hsj_init_eval": 10, "pgd_max_iter": 10}
POOL_ROWS = 300


def validate_evasion(params: dict, cleaned: dict, *, eps_name: str = "eps") -> dict:
    value = params[eps_name]
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, int | float) and not isinstance(item, bool) and item < 0:
            raise ParamError(f"{eps_name} must not be negative (it is a perturbation size in standard deviations), "
                             f"got {item}")
    cleaned[eps_name] = number_list_param(params, eps_name, minimum=0.0, maximum=10.0, exclusive_minimum=True)
    attacks = params["attacks"]
    if isinstance(attacks, str):
        attacks = [attacks]
    if not isinstance(attacks, list | tuple) or not attacks:
        raise ParamError(f"attacks must list at least one of {', '.join(ATTACKS)}")
    for attack in attacks:
        if attack not in ATTACKS:
            raise ParamError(f"unknown attack {attack!r}; expected some of {', '.join(ATTACKS)}")
    cleaned["attacks"] = [attack for attack in ATTACKS if attack in attacks]
    cleaned["hsj_norm"] = choice_param({"hsj_norm": str(params["hsj_norm"])}, "hsj_norm", ("2", "inf"))
    cleaned["hsj_max_iter"] = int_param(params, "hsj_max_iter", minimum=0, maximum=100)
    cleaned["hsj_max_eval"] = int_param(params, "hsj_max_eval", minimum=1, maximum=10_000)
    cleaned["hsj_init_eval"] = int_param(params, "hsj_init_eval", minimum=1, maximum=10_000)
    if cleaned["hsj_init_eval"] > cleaned["hsj_max_eval"]:
        raise ParamError("hsj_init_eval must not exceed hsj_max_eval")
    cleaned["pgd_max_iter"] = int_param(params, "pgd_max_iter", minimum=1, maximum=200)
    return cleaned


class Evasion:
    """Attacks on one model in one attack space. `truth_index` (class positions) may be None."""

    def __init__(self, model, space: AttackSpace, classes: list, settings: dict, *, pool: np.ndarray,
                 random_state: int):
        self.model, self.space, self.classes, self.settings = model, space, list(classes), settings
        self.space_model = SpaceModel(model, space, classes)
        self.pool = pool
        self.random_state = random_state
        self.gradient, self.gradient_note = gradient_support(model)
        self._classifier = None

    @property
    def norm(self):
        return np.inf if self.settings["hsj_norm"] == "inf" else 2

    def classifier(self):
        if self._classifier is None:
            self._classifier = gradient_classifier(self.model, self.space_model)
        return self._classifier

    def attacks(self) -> list[str]:
        return [a for a in self.settings["attacks"] if a == "hop_skip_jump" or self.gradient]

    def run(self, A: np.ndarray, progress=None, *, eps_list: list[float] | None = None) -> list[AttackRun]:
        """HopSkipJump once, FGSM and PGD once per eps. `progress(fraction, message)`."""
        eps_list = eps_list if eps_list is not None else self.settings["eps"]
        runs: list[AttackRun] = []
        attacks = self.attacks()
        steps = (1 if "hop_skip_jump" in attacks else 0) + len(eps_list) * sum(a != "hop_skip_jump" for a in attacks)
        done = [0]

        def step_report(fraction, message):
            if progress is not None:
                progress((done[0] + fraction) / max(steps, 1), message)

        if "hop_skip_jump" in attacks:
            runs.append(hop_skip_jump(self.space_model, A, self.pool, norm=self.norm,
                                      max_iter=self.settings["hsj_max_iter"], max_eval=self.settings["hsj_max_eval"],
                                      init_eval=self.settings["hsj_init_eval"], random_state=self.random_state,
                                      progress=step_report))
            done[0] += 1
        for eps in eps_list:
            if "fgsm" in attacks:
                step_report(0, f"FGSM at eps {eps}")
                runs.append(fgsm(self.classifier(), self.space_model, A, eps))
                done[0] += 1
            if "pgd" in attacks:
                step_report(0, f"PGD at eps {eps}")
                runs.append(pgd(self.classifier(), self.space_model, A, eps, max_iter=self.settings["pgd_max_iter"],
                                random_state=self.random_state))
                done[0] += 1
        step_report(0, "Attacks done")
        return runs

    def describe(self) -> dict:
        return {
            "attack_space": SPACE_NOTE,
            "numeric_columns_attacked": self.space.numeric,
            "categorical_columns_fixed": self.space.categorical,
            "attacks": {a: ATTACK_NAMES[a] for a in self.attacks()},
            "gradient_attacks": (f"FGSM/PGD (ART, L-inf) through {self.gradient_note}: ART's loss gradient of the "
                                 "final estimator chained with a central finite-difference Jacobian of the "
                                 "preprocessing" if self.gradient else self.gradient_note),
            "hop_skip_jump": {"norm": self.settings["hsj_norm"], "max_iter": self.settings["hsj_max_iter"],
                              "max_eval": self.settings["hsj_max_eval"], "init_eval": self.settings["hsj_init_eval"],
                              "start": "the nearest reference row (numeric values) the model classifies differently",
                              "broken_at_eps": "HopSkipJump found an adversarial row within L-inf distance eps (std)"},
            "pgd": {"max_iter": self.settings["pgd_max_iter"], "eps_step": "eps / 4", "random_init": False},
            "success_rate": "share of the attacked rows the model classifies correctly (all rows when there is no "
                            "target) whose predicted class the attack changed",
            "robust_accuracy": "share of the attacked rows the model classifies correctly and the attack did not "
                               "change",
            "eps_units": "standard deviations of each numeric column (reference data), L-inf",
        }


def summarise(runs: list[AttackRun], space: AttackSpace, eps_list: list[float], truth_index,
              classes: list | None = None) -> list[dict]:
    """One record per (attack, eps): outcome (per class too, with `classes`) and perturbation medians."""
    records = []
    for run in runs:
        levels = eps_list if run.name == "hop_skip_jump" else [run.eps]
        for eps in levels:
            broken = broken_within(run, space, eps)
            record = {"attack": run.name, "eps": eps, **outcome(broken, run.clean_index, truth_index, classes),
                      **perturbation_summary(run, space, broken), "queries": run.queries}
            records.append(record)
        if run.name == "hop_skip_jump":
            broken = broken_within(run, space, None)
            records.append({"attack": run.name, "eps": None, **outcome(broken, run.clean_index, truth_index, classes),
                            **perturbation_summary(run, space, broken), "queries": run.queries})
    return records


def stratified_rows(X: pd.DataFrame, labels, n: int, random_state: int) -> pd.DataFrame:
    """At most n rows of X drawn from every class of `labels` (aligned with X): an equal share per class, what a
    small class cannot fill taken from the others; in X's order. Without labels, a plain random sample."""
    if len(X) <= n:
        return X
    if labels is None:
        return X.sample(n, random_state=random_state).sort_index()
    generator = np.random.default_rng(random_state)
    groups = {}
    for position, label in enumerate(np.asarray([str(v) for v in labels])):
        groups.setdefault(label, []).append(position)
    pools = {label: list(generator.permutation(rows)) for label, rows in sorted(groups.items())}
    chosen: list[int] = []
    while len(chosen) < n and any(pools.values()):
        open_ = [label for label, rows in pools.items() if rows]
        share = max(1, (n - len(chosen)) // len(open_))
        for label in open_:
            take = pools[label][:min(share, n - len(chosen))]
            pools[label] = pools[label][len(take):]
            chosen.extend(take)
            if len(chosen) >= n:
                break
    return X.iloc[np.sort(np.asarray(chosen[:n], dtype=int))]


def make_space(X: pd.DataFrame, reference: pd.DataFrame | None) -> AttackSpace:
    frames = [X] if reference is None else [reference[list(X.columns)], X]
    return AttackSpace(pd.concat(frames, ignore_index=True), list(X.columns))


def make_pool(space: AttackSpace, X: pd.DataFrame, random_state: int) -> np.ndarray:
    sample = X if len(X) <= POOL_ROWS else X.sample(POOL_ROWS, random_state=random_state)
    return space.encode(sample)


def class_positions(labels, classes: list) -> np.ndarray:
    index = {str(c): i for i, c in enumerate(classes)}
    return np.array([index.get(str(label), -1) for label in labels])
