"""On-call staff open an incident, triage it and contain it by revoking the released version."""


import pytest

from governance import services
from tests.browser.test_shell import login
from tests.conftest import make_user
from tests.ml import iris_skops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture(autouse=True)
def playbooks():
    """The playbooks come from a data migration, which an earlier transactional test's flush removes."""
    import importlib

    from django.apps import apps

    from incidents.models import PlaybookStep

    if not PlaybookStep.objects.exists():
        importlib.import_module("incidents.migrations.0004_seed_playbooks").seed(apps, None)


@pytest.fixture
def released(submitted):
    version, _, reviewer = submitted
    services.review_create(actor=reviewer, version=version, decision="approve")
    return services.version_release(actor=reviewer, version=version)


def test_open_triage_and_contain_an_incident(page, live_server, artifacts, released):
    make_user("ines", ["incident_manager"])
    login(page, live_server, "ines")
    page.click("nav >> text=Incidents")
    page.click("text=Open an incident")
    page.fill("#id_title", "Adversarial inputs against iris")
    page.check("input[name=severity][value=sev2]")
    page.select_option("#id_category", "evasion")
    page.select_option("#id_affected_models", label="iris")
    page.click("button:has-text('Open incident')")
    page.wait_for_selector("[data-testid=playbook]")
    assert "adversarial" in page.inner_text("[data-testid=playbook]").lower()
    page.click("button:has-text('→ Triaged')")
    page.wait_for_selector("[data-testid=timeline] >> text=Moved to triaged")
    page.select_option("#containment select[name=kind]", "revoke")
    page.select_option("#containment select[name=version]", index=1)
    page.fill("#containment input[name=reason]", "Evasion in production")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#containment button:has-text('Carry out')")
    page.wait_for_selector("[data-testid=timeline] >> text=Revoked iris v1")
    page.screenshot(path=str(artifacts / "incident.png"), full_page=True)
    released.refresh_from_db()
    assert released.status == "revoked"
    page.click("nav >> text=Incidents")
    page.click("text=Metrics")
    page.wait_for_selector(".plotly-chart .main-svg")
    page.screenshot(path=str(artifacts / "incident-metrics.png"), full_page=True)
    assert page.console_errors == [], page.console_errors


def test_a_stolen_copy_is_recognised_from_the_incident_page(page, live_server, artifacts, released, tmp_path):
    from explain import services as jobs
    from incidents.services import incident_open

    manager = make_user("ines", ["incident_manager"])
    job = jobs.job_enqueue(actor=manager, version=released, kind="fingerprint")
    jobs.job_execute(job_id=job.pk, hostname="test")
    incident = incident_open(actor=manager, title="A look-alike iris API", severity="sev2", category="extraction",
                             affected_models=[released.model], affected_versions=[released])
    suspect = tmp_path / "lookalike.skops"
    suspect.write_bytes(iris_skops())
    login(page, live_server, "ines")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.set_input_files("#fingerprint input[name=suspect]", str(suspect))
    page.click("#fingerprint button:has-text('Check')")
    entry = page.wait_for_selector("[data-testid=timeline] >> text=Fingerprint check of lookalike.skops")
    assert "outputs match" in entry.inner_text()
    page.screenshot(path=str(artifacts / "incident-fingerprint.png"), full_page=True)
    assert page.console_errors == [], page.console_errors
