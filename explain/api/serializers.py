from rest_framework import serializers

from explain.models import AnalysisJob, JobLogLine
from governance.models import Dataset


class AnalysisJobSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    dataset = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = AnalysisJob
        fields = ["id", "kind", "model", "version", "dataset", "params", "status", "queue", "progress",
                  "progress_message", "cancel_requested", "attempts", "created_by", "created_at", "started_at",
                  "finished_at", "worker_hostname", "artifact_sha256", "dataset_sha256", "error_message", "rerun_of"]
        read_only_fields = fields


class AnalysisJobDetailSerializer(AnalysisJobSerializer):
    log = serializers.SerializerMethodField()

    class Meta(AnalysisJobSerializer.Meta):
        fields = AnalysisJobSerializer.Meta.fields + ["result", "log"]
        read_only_fields = fields

    def get_log(self, job) -> list[dict]:
        return [{"at": line.at, "level": line.level, "message": line.message}
                for line in JobLogLine.objects.filter(job=job).order_by("at", "id")[:500]]


class AnalysisJobCreateSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="Model name.")
    version = serializers.IntegerField(min_value=1)
    kind = serializers.CharField()
    params = serializers.JSONField(required=False, default=dict)
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False, allow_null=True,
                                                 help_text="Defaults to the version's evaluation dataset.")
