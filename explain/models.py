from django.conf import settings
from django.db import models

from .choices import JobStatus


class AnalysisJob(models.Model):
    """An analysis run by a worker. The row is the source of truth; Celery is only the transport."""

    kind = models.CharField(max_length=40)
    version = models.ForeignKey("governance.ModelVersion", on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} job #{self.pk}"
