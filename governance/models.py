from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import (
    Channel,
    CheckStatus,
    DatasetFormat,
    Decision,
    FindingSeverity,
    Flavour,
    PrimaryMetric,
    ReleaseAction,
    RiskTier,
    Task,
    VersionStatus,
)

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")


class AuditChainHead(models.Model):
    """The single row that serialises appends: writers lock it, read the tail, move it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_singleton")]

    def __str__(self):
        return f"audit chain head at seq {self.seq}"


class AuditEvent(models.Model):
    """One write in the system. Each event's hash covers its content and the previous hash."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_label = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.SYSTEM)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class StoredFile(models.Model):
    """An encrypted blob in artifact storage. Its plaintext never changes; key rotation writes a new blob."""

    path = models.CharField(max_length=500, unique=True)
    key_id = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.original_name} ({self.sha256[:12]})"


class Dataset(models.Model):
    """An uploaded evaluation or training table. Immutable once uploaded."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    file = models.OneToOneField(StoredFile, on_delete=models.PROTECT, related_name="dataset")
    format = models.CharField(max_length=10, choices=DatasetFormat.choices)
    target_column = models.CharField(max_length=200, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    schema = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    @property
    def sha256(self) -> str:
        return self.file.sha256

    @property
    def feature_columns(self) -> list[str]:
        return [c["name"] for c in self.schema if c["name"] != self.target_column]


class Team(models.Model):
    """An owning team: its members may change the models whose `team` names it. Admins set membership."""

    name = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class RegisteredModel(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_models")
    team = models.CharField(max_length=100, blank=True)
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, default=RiskTier.MEDIUM)
    task = models.CharField(max_length=20, choices=Task.choices)
    positive_class = models.CharField(
        max_length=100, blank=True, help_text="For binary classifiers: the class the model exists to detect."
    )
    primary_metric = models.CharField(
        max_length=20, choices=PrimaryMetric.choices, blank=True, default="",
        help_text="What robustness and validation analyses judge the model by; blank = balanced accuracy for "
                  "classifiers, R² for regressors. Plain accuracy is replaced when the rarest class is under 20%.",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A retired model is read-only and hidden by default: what a model with release history becomes instead
    # of being deleted.
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


MODEL_CARD_FIELDS = [
    ("intended_use", "Intended use", "Primary intended uses and users."),
    ("out_of_scope_uses", "Out-of-scope uses", "Uses the model was not built or evaluated for."),
    ("factors", "Factors", "Groups, instrumentation and environments that affect performance."),
    ("metrics", "Metrics", "Performance measures, decision thresholds, variation approaches."),
    ("evaluation_data", "Evaluation data", "Datasets, motivation, preprocessing."),
    ("training_data", "Training data", "What the model learned from (or as much as can be shared)."),
    ("quantitative_analyses", "Quantitative analyses", "Unitary and intersectional results."),
    ("ethical_considerations", "Ethical considerations", "Sensitive data, risks, harms, mitigations."),
    ("caveats_and_recommendations", "Caveats and recommendations", "Known limits; advice for users."),
]


class ModelCard(models.Model):
    """Mitchell et al., "Model Cards for Model Reporting" (2019). Markdown, rendered sanitised."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="card")
    intended_use = models.TextField(blank=True)
    out_of_scope_uses = models.TextField(blank=True)
    factors = models.TextField(blank=True)
    metrics = models.TextField(blank=True)
    evaluation_data = models.TextField(blank=True)
    training_data = models.TextField(blank=True)
    quantitative_analyses = models.TextField(blank=True)
    ethical_considerations = models.TextField(blank=True)
    caveats_and_recommendations = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self):
        return f"card of {self.model.name}"

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name, _, _ in MODEL_CARD_FIELDS}

    @property
    def missing_sections(self) -> list[str]:
        return [label for name, label, _ in MODEL_CARD_FIELDS if not getattr(self, name).strip()]

    @property
    def is_complete(self) -> bool:
        return not self.missing_sections


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT,
                              db_index=True)
    flavour = models.CharField(max_length=10, choices=Flavour.choices)
    artifact = models.OneToOneField(StoredFile, on_delete=models.PROTECT, related_name="version")
    feature_names = models.JSONField(default=list, blank=True)
    class_labels = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="trained_versions"
    )
    evaluation_dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="evaluated_versions"
    )
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # What made this version from its parent, when not an upload: e.g. "adversarial training" (a hardening job).
    derived_by = models.CharField(max_length=60, blank=True)
    notes = models.TextField(blank=True)
    card_snapshot = models.JSONField(default=dict, blank=True)  # the model card as it stood at registration
    scan_report = models.JSONField(default=dict, blank=True)
    compat_status = models.CharField(max_length=10, choices=CheckStatus.choices, default=CheckStatus.PENDING)
    compat_result = models.JSONField(default=dict, blank=True)
    compat_checked_at = models.DateTimeField(null=True, blank=True)
    review_round = models.PositiveIntegerField(default=0)  # increases with every submission
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)  # why it was revoked, rejected or sent back to review
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="unique_version_number_per_model"),
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(status="released"),
                name="one_released_version_per_model",
            ),
        ]

    def __str__(self):
        return f"{self.model.name} v{self.number}"

    @property
    def sha256(self) -> str:
        return self.artifact.sha256


class SecurityFinding(models.Model):
    """Something wrong with a version's artifact: a failed integrity check or a risky scan result."""

    class Kind(models.TextChoices):
        INTEGRITY = "integrity", "Integrity (hash mismatch)"
        SCAN = "scan", "Static scan"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=FindingSeverity.choices)
    title = models.CharField(max_length=255)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class ApprovalPolicy(models.Model):
    """How many approvals and which checks a release needs: one per risk tier, optionally per model."""

    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, null=True, blank=True, unique=True)
    model = models.OneToOneField(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="policy_override"
    )
    required_approvals = models.PositiveSmallIntegerField(default=1)
    admin_approval_required = models.BooleanField(default=False)
    required_checks = models.JSONField(default=list, blank=True)
    robustness_thresholds = models.JSONField(default=dict, blank=True)
    # Off: a version whose required checks fail cannot be submitted. On: it can, and reviewers see the failures.
    submit_with_failing_checks = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(risk_tier__isnull=False, model__isnull=True)
                           | models.Q(risk_tier__isnull=True, model__isnull=False)),
                name="policy_for_tier_xor_model",
            ),
            models.CheckConstraint(condition=models.Q(required_approvals__gte=1), name="policy_needs_an_approval"),
        ]

    def __str__(self):
        return f"policy for {self.model.name}" if self.model_id else f"policy for {self.risk_tier} risk"


class Review(models.Model):
    """One reviewer's decision on one submission of a version, with what they reviewed."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="reviews")
    round = models.PositiveIntegerField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    artifact_sha256 = models.CharField(max_length=64)
    checks = models.JSONField(default=dict, blank=True)  # check -> outcome, as the reviewer saw them
    reviewer_was_admin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    stale = models.BooleanField(default=False)
    stale_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "round", "reviewer"], name="one_review_per_reviewer_per_round"),
        ]

    def __str__(self):
        return f"{self.get_decision_display()} of {self.version} by {self.reviewer}"


class Attestation(models.Model):
    """The signed statement made when a version is released."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="attestations")
    payload = models.JSONField()
    signature = models.CharField(max_length=128)  # base64 Ed25519 signature over the canonical payload
    key_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"attestation of {self.version} at {self.created_at:%Y-%m-%d %H:%M}"


class ReleaseEvent(models.Model):
    """The release history of a model: releases, rollbacks, deprecations, revocations."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="release_events")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="release_events")
    action = models.CharField(max_length=10, choices=ReleaseAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    reason = models.TextField(blank=True)
    attestation = models.ForeignKey(Attestation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_action_display()} {self.version}"


class OutboxMessage(models.Model):
    """A task to hand to the broker, written in the same transaction as the rows it concerns (the transactional
    outbox): sent after commit, and re-sent by the periodic sweep while the broker is unreachable."""

    task = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    queue = models.CharField(max_length=20)
    options = models.JSONField(default=dict, blank=True)  # send_task options: time limits
    task_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # a sender is handing it over right now
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["sent_at", "id"], name="outbox_pending")]

    def __str__(self):
        return f"{self.task}{self.args} ({'sent' if self.sent_at else 'pending'})"
