from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    REVIEWER = "reviewer", "Reviewer"
    INCIDENT_MANAGER = "incident_manager", "Incident manager"
    ADMIN = "admin", "Admin"


ROLE_DESCRIPTIONS = {
    Role.VIEWER: "Reads everything: models, reports, incidents, the audit log.",
    Role.CONTRIBUTOR: "Registers models and datasets, runs analysis jobs, opens incidents.",
    Role.REVIEWER: "Approves or rejects releases.",
    Role.INCIDENT_MANAGER: "Runs incidents: triage, containment actions, post-incident reviews.",
    Role.ADMIN: "Everything, plus user and role management and policies.",
}


class Channel(models.TextChoices):
    UI = "ui", "Web UI"
    API = "api", "API"
    WORKER = "worker", "Worker"
    CLI = "cli", "Command line"
    SYSTEM = "system", "System"


class RiskTier(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Task(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"


class PrimaryMetric(models.TextChoices):
    """The metric robustness and validation analyses judge a model by; blank = chosen from the task and the data
    (balanced accuracy for classifiers, R² for regressors)."""

    AUTOMATIC = "", "Automatic (balanced accuracy / R²)"
    BALANCED_ACCURACY = "balanced_accuracy", "Balanced accuracy"
    ACCURACY = "accuracy", "Accuracy"
    F1 = "f1", "F1 (positive class)"
    ROC_AUC = "roc_auc", "ROC AUC"
    R2 = "r2", "R²"
    MAE = "mae", "Mean absolute error"
    RMSE = "rmse", "Root mean squared error"


METRICS_FOR_TASK = {
    "classification": ("balanced_accuracy", "accuracy", "f1", "roc_auc"),
    "regression": ("r2", "mae", "rmse"),
}


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RELEASED = "released", "Released"
    DEPRECATED = "deprecated", "Deprecated"
    REVOKED = "revoked", "Revoked"


# The explicit transition map: anything else is a 409 naming the current and requested state.
VERSION_TRANSITIONS: dict[str, set[str]] = {
    VersionStatus.DRAFT: {VersionStatus.IN_REVIEW},
    VersionStatus.IN_REVIEW: {VersionStatus.APPROVED, VersionStatus.REJECTED},
    VersionStatus.REJECTED: {VersionStatus.DRAFT},
    VersionStatus.APPROVED: {VersionStatus.RELEASED, VersionStatus.REVOKED, VersionStatus.IN_REVIEW},
    VersionStatus.RELEASED: {VersionStatus.DEPRECATED, VersionStatus.REVOKED},
    VersionStatus.DEPRECATED: {VersionStatus.RELEASED, VersionStatus.REVOKED},
    VersionStatus.REVOKED: set(),
}


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Check(models.TextChoices):
    COMPATIBILITY = "compatibility", "Compatibility check passed"
    SECURITY = "security", "Security scan clean (no unresolved findings)"
    EXPLAINABILITY = "explainability", "Explainability report present"
    ROBUSTNESS = "robustness", "Robustness gate passed"
    MODEL_CARD = "model_card", "Model card complete"


class CheckOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    MISSING = "missing", "Missing"


class ReleaseAction(models.TextChoices):
    RELEASE = "release", "Released"
    ROLLBACK = "rollback", "Rolled back to"
    DEPRECATE = "deprecate", "Deprecated"
    REVOKE = "revoke", "Revoked"


VERSION_STATUS_BADGE = {
    VersionStatus.DRAFT: "secondary",
    VersionStatus.IN_REVIEW: "warning",
    VersionStatus.APPROVED: "info",
    VersionStatus.REJECTED: "danger",
    VersionStatus.RELEASED: "success",
    VersionStatus.DEPRECATED: "dark",
    VersionStatus.REVOKED: "danger",
}


class Flavour(models.TextChoices):
    SKLEARN = "sklearn", "scikit-learn (skops)"
    ONNX = "onnx", "ONNX"
    XGBOOST = "xgboost", "XGBoost (JSON/UBJSON)"
    LIGHTGBM = "lightgbm", "LightGBM (text)"
    PICKLE = "pickle", "Pickle (scanned, restricted)"
    JOBLIB = "joblib", "Joblib (scanned, restricted)"


class CheckStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"


CHECK_STATUS_BADGE = {
    CheckStatus.PENDING: "secondary",
    CheckStatus.RUNNING: "info",
    CheckStatus.PASSED: "success",
    CheckStatus.FAILED: "danger",
    CheckStatus.ERROR: "warning",
}


class FindingSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class DatasetFormat(models.TextChoices):
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
