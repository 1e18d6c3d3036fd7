"""Robustness and security analyses: the same interface as explain.analyses (see its docstring), merged into its
registry by the engine.

Inputs the engine adds to `params` (never stored with the job, never user parameters: a key starting with "_" is
refused by validate_params): `_training` = (X_train, y_train) when the version has a linked training dataset
(needed by membership_inference, poisoning, adversarial_training, defensive_distillation; used as the reference for
feature statistics and by cross_validation when present), `_members` = [(label, LoadedModel), ...] for ensemble.
Outputs the engine pops from the result before storing it: `_new_model` = {"estimator", "notes", "params"} (the
hardening kinds: a fitted scikit-learn estimator over the same original columns, to register as a new draft
version) and `_detector` = {"estimator", "notes", ...} (adversarial_detection). `fingerprint.check_suspect`
compares a suspect model's outputs with a fingerprint result.
"""

from . import (
    adversarial_detection,
    adversarial_evasion,
    adversarial_training,
    cross_validation,
    defensive_distillation,
    ensemble,
    fingerprint,
    membership_inference,
    model_extraction,
    poisoning,
    stress_test,
    vulnerability_scan,
)

ROBUSTNESS = {
    module.KIND: module
    for module in (
        cross_validation,
        stress_test,
        vulnerability_scan,
        adversarial_evasion,
        adversarial_detection,
        model_extraction,
        membership_inference,
        poisoning,
        ensemble,
        adversarial_training,
        defensive_distillation,
        fingerprint,
    )
}

check_suspect = fingerprint.check_suspect

__all__ = ["ROBUSTNESS", "check_suspect"]
