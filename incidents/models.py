from django.conf import settings
from django.db import models

from .choices import IncidentStatus, Severity


class Incident(models.Model):
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=8, choices=Severity.choices, db_index=True)
    status = models.CharField(
        max_length=12, choices=IncidentStatus.choices, default=IncidentStatus.REPORTED, db_index=True
    )
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    affected_models = models.ManyToManyField("governance.RegisteredModel", blank=True, related_name="incidents")
    affected_versions = models.ManyToManyField("governance.ModelVersion", blank=True, related_name="incidents")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.title}"
