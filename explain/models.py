from django.conf import settings
from django.db import models

from .choices import JobStatus


class AnalysisJob(models.Model):
    """An analysis run by a worker. The row is the source of truth; Celery is only the transport."""

    kind = models.CharField(max_length=40, db_index=True)
    version = models.ForeignKey("governance.ModelVersion", on_delete=models.CASCADE, related_name="jobs")
    dataset = models.ForeignKey("governance.Dataset", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    queue = models.CharField(max_length=12, default="heavy")
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)  # what the job ran on, for staleness
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_traceback = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="jobs")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "kind", "status"])]

    def __str__(self):
        return f"{self.kind} job #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def title(self) -> str:
        """The kind's title, as people read it ("Stress test: ..."), not its identifier."""
        from .kinds import KINDS

        module = KINDS.get(self.kind)
        return getattr(module, "TITLE", self.kind)

    @property
    def params_json(self) -> str:
        import json

        return json.dumps(self.params, indent=2, sort_keys=True)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class JobLogLine(models.Model):
    job = models.ForeignKey(AnalysisJob, on_delete=models.CASCADE, related_name="log_lines")
    at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=10, default="info")
    message = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.at:%H:%M:%S} {self.level} {self.message[:60]}"
