"""The serious-incident report (EU AI Act Art. 73 structure): Markdown rendered, times to the second in the
deployment's time zone, the provider's name from settings."""

import datetime

import pytest
from django.utils import timezone

from incidents import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(cast):
    detected = timezone.make_aware(datetime.datetime(2026, 11, 30, 22, 15, 42), datetime.UTC)
    return services.incident_open(actor=cast["incident_manager"], title="Evasion", severity="sev2",
                                  category="evasion", detected_at=detected,
                                  description="Attackers **bypassed** the guard:\n\n| day | cases |\n|---|---|\n"
                                              "| Mon | 12 |\n\n<script>alert(1)</script>")


def test_the_html_report_renders_markdown_safely(incident, cast, client):
    client.force_login(cast["incident_manager"])
    page = client.get(f"/incidents/{incident.pk}/export/").content.decode()
    assert "<strong>bypassed</strong>" in page and "<td>12</td>" in page
    assert "<script>alert(1)</script>" not in page


def test_times_are_to_the_second_in_the_deployment_time_zone(incident, cast, client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    client.force_login(cast["incident_manager"])
    export = client.get(f"/api/v1/incidents/{incident.pk}/export/").json()
    assert export["when"]["detected_at"] == "2026-11-30T23:15:42+01:00"
    assert export["time_zone"] == "Europe/Berlin"
    page = client.get(f"/incidents/{incident.pk}/export/").content.decode()
    assert "2026-11-30T23:15:42+01:00" in page and "times in Europe/Berlin, to the second" in page


def test_the_provider_comes_from_settings_and_an_unset_one_is_flagged(incident, cast, client, settings):
    client.force_login(cast["incident_manager"])
    page = client.get(f"/incidents/{incident.pk}/export/").content.decode()
    assert "set BULWARK_ORGANISATION" in page
    settings.BULWARK_ORGANISATION = "Acme Credit GmbH"
    page = client.get(f"/incidents/{incident.pk}/export/").content.decode()
    assert "provider: Acme Credit GmbH" in page and "set BULWARK_ORGANISATION" not in page
