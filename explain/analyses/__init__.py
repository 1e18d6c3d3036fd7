"""Explainability analyses: pure functions over a loaded model and a sample of data. No Django models, no database.

Every analysis module exposes the same small interface:

    KIND, TITLE, DEFAULT_PARAMS
    validate_params(params, *, n_rows, columns) -> dict           # cleaned params, or ParamError
    run(model, X, y, *, task, params, progress) -> dict            # JSON-serialisable result

`X` holds the model's feature columns (original columns: strings and NaN allowed) with the dataset's own index,
already sampled by the caller (`max_rows`); `y` is the target or None. `progress(percent, message)` is called
with increasing percentages and may raise to cancel; the exception propagates. Every result carries
`summary` (a flat {label: short value or sentence} dict), `charts` (Plotly figure dicts), `tables`, `rows_used`,
`explainer`, `method` and the detailed data. Optional module flags read by the job runner: `SAMPLE_ROWS = False`
(the local analyses get the whole dataset, so requested rows are present) and `REQUIRES_TARGET = True`.
`warm_up()` compiles shap's numba code once per worker process.
"""


class AnalysisError(Exception):
    """An analysis cannot produce a trustworthy result; the message is meant for the person who asked for it."""


class ParamError(AnalysisError):
    """The parameters of an analysis are invalid; the message names the parameter and what is wrong."""


from . import (  # noqa: E402 - the modules import the errors above
    decomposition,
    lime_local,
    permutation_importance,
    rule_extraction,
    shap_global,
    shap_local,
)

ANALYSES = {
    module.KIND: module
    for module in (shap_global, shap_local, lime_local, permutation_importance, decomposition, rule_extraction)
}

warm_up = shap_global.warm_up

__all__ = ["ANALYSES", "AnalysisError", "ParamError", "warm_up"]
