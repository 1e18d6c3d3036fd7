from django.db import models


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1"
    SEV2 = "sev2", "SEV2"
    SEV3 = "sev3", "SEV3"
    SEV4 = "sev4", "SEV4"


SEVERITY_DEFINITIONS = {
    Severity.SEV1: "Critical: harm is happening or imminent to people or the business; a released model is "
                   "compromised or unsafe. All hands, immediately.",
    Severity.SEV2: "Major: significant degradation, a credible attack or data exposure; containment within hours.",
    Severity.SEV3: "Minor: limited impact or a near miss; handled in working hours.",
    Severity.SEV4: "Low: an issue to track and learn from; no user impact.",
}

SEVERITY_BADGE = {
    Severity.SEV1: "danger",
    Severity.SEV2: "warning",
    Severity.SEV3: "info",
    Severity.SEV4: "secondary",
}


class Category(models.TextChoices):
    EVASION = "evasion", "Evasion / adversarial input"
    POISONING = "poisoning", "Data poisoning"
    EXTRACTION = "extraction", "Model extraction / stealing"
    TAMPERING = "tampering", "Model tampering / hijacking"
    PRIVACY = "privacy", "Data breach / privacy"
    DRIFT = "drift", "Drift / performance degradation"
    HARMFUL_OUTPUT = "harmful_output", "Harmful or unfair output"
    AVAILABILITY = "availability", "Availability"
    OTHER = "other", "Other"


class IncidentStatus(models.TextChoices):
    REPORTED = "reported", "Reported"
    TRIAGED = "triaged", "Triaged"
    CONTAINED = "contained", "Contained"
    ERADICATED = "eradicated", "Eradicated"
    RECOVERED = "recovered", "Recovered"
    CLOSED = "closed", "Closed"


OPEN_INCIDENT_STATUSES = tuple(s for s in IncidentStatus if s != IncidentStatus.CLOSED)


class Resolution(models.TextChoices):
    """How a closed incident ended: worked through, or found to be a false alarm (no review needed)."""

    NONE = "", "—"
    RESOLVED = "resolved", "Resolved"
    FALSE_POSITIVE = "false_positive", "False positive"


# Forward through the life cycle: the step the incident page offers as its primary action.
NEXT_STEP = {
    IncidentStatus.REPORTED: IncidentStatus.TRIAGED,
    IncidentStatus.TRIAGED: IncidentStatus.CONTAINED,
    IncidentStatus.CONTAINED: IncidentStatus.ERADICATED,
    IncidentStatus.ERADICATED: IncidentStatus.RECOVERED,
    IncidentStatus.RECOVERED: IncidentStatus.CLOSED,
}
# Severities whose incident closes only after a signed-off post-incident review.
REVIEW_REQUIRED = (Severity.SEV1, Severity.SEV2)
# A false alarm is closed before anything was contained.
FALSE_POSITIVE_FROM = (IncidentStatus.REPORTED, IncidentStatus.TRIAGED)

# NIST SP 800-61: the life cycle, with explicit allowed moves (and reopening a closed incident).
INCIDENT_TRANSITIONS: dict[str, set[str]] = {
    IncidentStatus.REPORTED: {IncidentStatus.TRIAGED, IncidentStatus.CLOSED},
    IncidentStatus.TRIAGED: {IncidentStatus.CONTAINED, IncidentStatus.CLOSED},
    IncidentStatus.CONTAINED: {IncidentStatus.ERADICATED, IncidentStatus.TRIAGED},
    IncidentStatus.ERADICATED: {IncidentStatus.RECOVERED, IncidentStatus.CONTAINED},
    IncidentStatus.RECOVERED: {IncidentStatus.CLOSED, IncidentStatus.ERADICATED},
    IncidentStatus.CLOSED: {IncidentStatus.TRIAGED},  # reopen, with a reason
}

# SP 800-61 Rev. 3 maps the life cycle onto the CSF 2.0 functions.
NIST_PHASES = {
    IncidentStatus.REPORTED: ("Detection & analysis", "Detect (DE)"),
    IncidentStatus.TRIAGED: ("Detection & analysis", "Detect (DE) → Respond (RS)"),
    IncidentStatus.CONTAINED: ("Containment", "Respond (RS.MI)"),
    IncidentStatus.ERADICATED: ("Eradication", "Respond (RS.MI)"),
    IncidentStatus.RECOVERED: ("Recovery", "Recover (RC)"),
    IncidentStatus.CLOSED: ("Post-incident activity", "Identify (ID.IM): improvement"),
}

PHASE_TIMESTAMP = {
    IncidentStatus.TRIAGED: "triaged_at",
    IncidentStatus.CONTAINED: "contained_at",
    IncidentStatus.ERADICATED: "eradicated_at",
    IncidentStatus.RECOVERED: "recovered_at",
    IncidentStatus.CLOSED: "closed_at",
}


class DetectionSource(models.TextChoices):
    MONITORING = "monitoring", "Monitoring / alerting"
    USER_REPORT = "user_report", "User or customer report"
    AUDIT = "audit", "Audit"
    RED_TEAM = "red_team", "Red team / pentest"
    ANALYSIS = "analysis", "Bulwark analysis"
    THIRD_PARTY = "third_party", "Third party / researcher"
    OTHER = "other", "Other"


class HarmLevel(models.TextChoices):
    """AI Incident Database (CSET taxonomy): how far the harm went."""

    EVENT = "event", "AI incident (harm occurred)"
    NEAR_MISS = "near_miss", "Near miss (harm narrowly avoided)"
    ISSUE = "issue", "AI issue (potential harm)"


class HarmDomain(models.TextChoices):
    PHYSICAL = "physical", "Physical health or safety"
    FINANCIAL = "financial", "Financial loss"
    CIVIL_RIGHTS = "civil_rights", "Civil rights / discrimination"
    PRIVACY = "privacy", "Privacy"
    PSYCHOLOGICAL = "psychological", "Psychological"
    REPUTATIONAL = "reputational", "Reputational"
    OPERATIONAL = "operational", "Operational / service"
    OTHER = "other", "Other"


class TechnicalFailure(models.TextChoices):
    """AI Incident Database (GMF taxonomy): known technical failure."""

    ROBUSTNESS = "robustness", "Robustness failure"
    DISTRIBUTIONAL_BIAS = "distributional_bias", "Distributional bias"
    OVERFITTING = "overfitting", "Overfitting"
    UNDERFITTING = "underfitting", "Underfitting"
    DATA_POISONING = "data_poisoning", "Data poisoning"
    ADVERSARIAL = "adversarial", "Adversarial data"
    DISTRIBUTION_SHIFT = "distribution_shift", "Distribution shift / drift"
    MODEL_THEFT = "model_theft", "Model theft / extraction"
    SPECIFICATION = "specification", "Misspecified objective"
    UNKNOWN = "unknown", "Unknown"


class TimelineKind(models.TextChoices):
    STATUS = "status", "Status"
    SEVERITY = "severity", "Severity"
    ASSIGNMENT = "assignment", "Assignment"
    ACTION = "action", "Containment action"
    NOTE = "note", "Note"
    EVIDENCE = "evidence", "Evidence"
    JOB = "job", "Analysis"
    TASK = "task", "Playbook task"
    REVIEW = "review", "Post-incident review"
    CREATED = "created", "Opened"


class Phase(models.TextChoices):
    IDENTIFY = "identify", "Identify"
    CONTAIN = "contain", "Contain"
    ERADICATE = "eradicate", "Eradicate"
    RECOVER = "recover", "Recover"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"
