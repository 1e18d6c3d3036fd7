from rest_framework import serializers

from governance.choices import Decision, Flavour, PrimaryMetric, RiskTier, Task
from governance.models import (
    MODEL_CARD_FIELDS,
    ApiToken,
    AuditEvent,
    Dataset,
    ModelCard,
    ModelVersion,
    RegisteredModel,
    Review,
    StoredFile,
)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "seq", "created_at", "actor", "action", "object_type", "object_id", "object_label",
            "changes", "ip_address", "user_agent", "channel", "prev_hash", "hash",
        ]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields


class OptionalDateTimeField(serializers.DateTimeField):
    """"" means "not given" (the default applies), never "no value at all"."""

    def to_internal_value(self, value):
        return None if value == "" else super().to_internal_value(value)


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_at = OptionalDateTimeField(
        required=False, allow_null=True,
        help_text="When omitted or null: API_TOKEN_DEFAULT_DAYS from now. At most API_TOKEN_MAX_DAYS from now.")
    username = serializers.CharField(required=False, help_text="With password, when not already authenticated.")
    password = serializers.CharField(required=False, write_only=True, style={"input_type": "password"})


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ApiTokenSerializer.Meta.fields + ["key"]
        read_only_fields = fields


# --- Registry ------------------------------------------------------------------------------------

class ModelCardSerializer(serializers.ModelSerializer):
    missing_sections = serializers.ListField(child=serializers.CharField(), read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ModelCard
        fields = [name for name, _, _ in MODEL_CARD_FIELDS] + ["missing_sections", "updated_at", "updated_by"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    latest_version = serializers.IntegerField(source="latest_number", read_only=True, allow_null=True)
    latest_status = serializers.CharField(read_only=True, allow_null=True)
    released_version = serializers.IntegerField(source="released_number", read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)
    open_incidents = serializers.IntegerField(read_only=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "name", "title", "description", "owner", "team", "risk_tier", "task", "positive_class", "primary_metric",
            "tags",
            "latest_version",
            "latest_status", "released_version", "version_count", "open_incidents", "created_at", "updated_at",
        ]
        read_only_fields = fields


class RegisteredModelDetailSerializer(RegisteredModelSerializer):
    card = ModelCardSerializer(read_only=True)

    class Meta(RegisteredModelSerializer.Meta):
        fields = RegisteredModelSerializer.Meta.fields + ["card"]
        read_only_fields = fields


class ModelCardInputSerializer(serializers.Serializer):
    intended_use = serializers.CharField(required=False, allow_blank=True)
    out_of_scope_uses = serializers.CharField(required=False, allow_blank=True)
    factors = serializers.CharField(required=False, allow_blank=True)
    metrics = serializers.CharField(required=False, allow_blank=True)
    evaluation_data = serializers.CharField(required=False, allow_blank=True)
    training_data = serializers.CharField(required=False, allow_blank=True)
    quantitative_analyses = serializers.CharField(required=False, allow_blank=True)
    ethical_considerations = serializers.CharField(required=False, allow_blank=True)
    caveats_and_recommendations = serializers.CharField(required=False, allow_blank=True)


class RegisteredModelCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Slug: lowercase letters, digits, '-', '_'.")
    title = serializers.CharField(max_length=200)
    task = serializers.ChoiceField(choices=Task.choices)
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, default=RiskTier.MEDIUM)
    positive_class = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    primary_metric = serializers.ChoiceField(choices=PrimaryMetric.choices, required=False, allow_blank=True,
                                             default="", help_text="Blank: balanced accuracy / R².")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    card = ModelCardInputSerializer(required=False)


class RegisteredModelUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(required=False, allow_blank=True, max_length=100)
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, required=False)
    task = serializers.ChoiceField(choices=Task.choices, required=False)
    positive_class = serializers.CharField(required=False, allow_blank=True, max_length=100)
    primary_metric = serializers.ChoiceField(choices=PrimaryMetric.choices, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    card = ModelCardInputSerializer(required=False)


class StoredFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = StoredFile
        fields = ["sha256", "size", "original_name", "created_at"]
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    sha256 = serializers.CharField(source="file.sha256", read_only=True)
    size = serializers.IntegerField(source="file.size", read_only=True)
    filename = serializers.CharField(source="file.original_name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "format", "filename", "sha256", "size", "target_column", "rows",
                  "columns", "created_by", "created_at"]
        read_only_fields = fields


class DatasetDetailSerializer(DatasetSerializer):
    class Meta(DatasetSerializer.Meta):
        fields = DatasetSerializer.Meta.fields + ["schema"]
        read_only_fields = fields


class DatasetCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8, with a header) or Parquet.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    target_column = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    artifact = StoredFileSerializer(read_only=True)
    sha256 = serializers.CharField(source="artifact.sha256", read_only=True)
    parent = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    evaluation_dataset = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    training_dataset = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    open_findings = serializers.IntegerField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "model", "number", "status", "flavour", "sha256", "artifact", "feature_names", "class_labels", "metrics",
            "evaluation_dataset", "training_dataset", "parent", "notes", "scan_report", "compat_status",
            "compat_result", "compat_checked_at", "open_findings", "created_by", "created_at", "updated_at",
        ]
        read_only_fields = fields


VERSION_DETAIL_ONLY = ("feature_names", "class_labels", "scan_report", "compat_result")


class ModelVersionListSerializer(ModelVersionSerializer):
    """A list row: the detail's fields without the model-derived blobs (feature names, class labels, scan
    report, compatibility result), which only the version's own endpoint serves."""

    class Meta(ModelVersionSerializer.Meta):
        fields = [f for f in ModelVersionSerializer.Meta.fields if f not in VERSION_DETAIL_ONLY]
        read_only_fields = fields


class ModelVersionCreateSerializer(serializers.Serializer):
    artifact = serializers.FileField(help_text="The model file: .skops, .onnx, XGBoost .json/.ubj, LightGBM .txt, "
                                               ".pkl/.joblib (scanned, restricted).")
    flavour = serializers.ChoiceField(choices=Flavour.choices, required=False,
                                      help_text="Detected from the file when omitted.")
    evaluation_dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False,
                                                            allow_null=True)
    training_dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False,
                                                          allow_null=True)
    parent = serializers.IntegerField(required=False, allow_null=True, help_text="Number of the parent version.")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    metrics = serializers.JSONField(required=False, help_text='A JSON object, e.g. {"accuracy": 0.91}.')


class ModelVersionUpdateSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True)
    metrics = serializers.JSONField(required=False)
    evaluation_dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False,
                                                            allow_null=True)
    training_dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False,
                                                          allow_null=True)


# --- Release governance -----------------------------------------------------------------------------

class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "round", "reviewer", "decision", "comment", "artifact_sha256", "checks", "stale",
                  "stale_reason", "created_at"]
        read_only_fields = fields


class ReviewCreateSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class AttestationSerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    key_fingerprint = serializers.CharField()
    payload = serializers.JSONField()
    signature = serializers.CharField()
