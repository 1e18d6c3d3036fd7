from django.conf import settings
from django.db import models
from django.utils import timezone

from .choices import (
    ActionItemStatus,
    Category,
    DetectionSource,
    HarmDomain,
    HarmLevel,
    IncidentStatus,
    Phase,
    Resolution,
    Severity,
    TechnicalFailure,
    TimelineKind,
)

USER = settings.AUTH_USER_MODEL


class Incident(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, db_index=True)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.OTHER, db_index=True)
    status = models.CharField(
        max_length=12, choices=IncidentStatus.choices, default=IncidentStatus.REPORTED, db_index=True
    )
    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    affected_models = models.ManyToManyField("governance.RegisteredModel", blank=True, related_name="incidents")
    affected_versions = models.ManyToManyField("governance.ModelVersion", blank=True, related_name="incidents")
    detected_at = models.DateTimeField(default=timezone.now)
    detection_source = models.CharField(max_length=20, choices=DetectionSource.choices,
                                        default=DetectionSource.MONITORING)
    external_references = models.TextField(blank=True, help_text="Tickets, CVEs, AIID reports — one per line.")
    commander = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scribe = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    liaison = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    experts = models.ManyToManyField(USER, blank=True, related_name="+")
    harm_level = models.CharField(max_length=12, choices=HarmLevel.choices, default=HarmLevel.ISSUE)
    harm_domain = models.CharField(max_length=20, choices=HarmDomain.choices, blank=True)
    technical_failure = models.CharField(max_length=24, choices=TechnicalFailure.choices, blank=True)
    affected_parties = models.TextField(blank=True, help_text="Affected persons or services.")
    triaged_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    eradicated_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True, default="")
    resolution_reason = models.TextField(blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.title}"


class TimelineEntry(models.Model):
    """What happened, in order: automatic entries for every change, and people's notes and evidence."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=12, choices=TimelineKind.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)
    link_url = models.CharField(max_length=500, blank=True)
    link_label = models.CharField(max_length=200, blank=True)
    evidence = models.ForeignKey("governance.StoredFile", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    job = models.ForeignKey("explain.AnalysisJob", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.incident_id} at {self.at:%Y-%m-%d %H:%M}"


class ContainmentAction(models.Model):
    class Kind(models.TextChoices):
        REVOKE = "revoke", "Revoke a version"
        ROLLBACK = "rollback", "Roll the model back"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    model = models.ForeignKey("governance.RegisteredModel", on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey("governance.ModelVersion", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    actor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.version}) for incident #{self.incident_id}"


class PlaybookStep(models.Model):
    """The response plan per category: an ordered checklist per phase (editable by admins)."""

    category = models.CharField(max_length=20, choices=Category.choices, db_index=True)
    phase = models.CharField(max_length=10, choices=Phase.choices)
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=500)
    owner_role = models.CharField(max_length=30, blank=True)
    link = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["category", "phase", "order", "id"]

    def __str__(self):
        return f"{self.category}/{self.phase}: {self.text[:40]}"


class PlaybookTask(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=500)
    owner_role = models.CharField(max_length=30, blank=True)
    link = models.CharField(max_length=500, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["order", "id"]  # the playbook's own order: identify, contain, eradicate, recover

    def __str__(self):
        return self.text


class PostIncidentReview(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="review")
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True, help_text="Customer and business impact.")
    timeline_summary = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    detection = models.TextField(blank=True, help_text="How it was detected and how long that took.")
    went_well = models.TextField(blank=True)
    went_poorly = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"review of incident #{self.incident_id}"


REVIEW_FIELDS = ["summary", "impact", "timeline_summary", "root_cause", "contributing_factors", "detection",
                 "went_well", "went_poorly", "lessons_learned"]


class ActionItem(models.Model):
    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="action_items")
    description = models.CharField(max_length=500)
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="action_items")
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    version = models.ForeignKey("governance.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self):
        return self.description


class Notification(models.Model):
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True, help_text="Where the notification leads, when not an incident.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.message
