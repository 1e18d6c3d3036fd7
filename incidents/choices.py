from django.db import models


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1"
    SEV2 = "sev2", "SEV2"
    SEV3 = "sev3", "SEV3"
    SEV4 = "sev4", "SEV4"


SEVERITY_BADGE = {
    Severity.SEV1: "danger",
    Severity.SEV2: "warning",
    Severity.SEV3: "info",
    Severity.SEV4: "secondary",
}


class IncidentStatus(models.TextChoices):
    REPORTED = "reported", "Reported"
    TRIAGED = "triaged", "Triaged"
    CONTAINED = "contained", "Contained"
    ERADICATED = "eradicated", "Eradicated"
    RECOVERED = "recovered", "Recovered"
    CLOSED = "closed", "Closed"


OPEN_INCIDENT_STATUSES = tuple(s for s in IncidentStatus if s != IncidentStatus.CLOSED)
