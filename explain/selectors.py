"""Reads about analyses. The release checks ask here for explainability and robustness evidence."""

from governance.choices import CheckOutcome


def explainability_evidence(version) -> tuple[str, str, str]:
    return (CheckOutcome.MISSING, "No explainability report has been computed for this artifact yet.", "")


def robustness_evidence(version) -> tuple[str, str, str]:
    return (CheckOutcome.MISSING, "No robustness gate has been evaluated for this artifact yet.", "")
