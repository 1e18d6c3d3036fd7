"""In the browser: another contributor sees no edit controls on a model they do not own; the owner retires it;
an admin reads the admin-changes page; a viewer downloads incident evidence."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance import services
from incidents import services as incidents
from tests.browser.test_shell import login
from tests.conftest import make_user
from tests.ml import iris_csv, iris_skops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def owned_model(artifact_storage):
    owner = make_user("owner", ["contributor"])
    model = services.model_create(actor=owner, name="iris", title="Iris species", task="classification",
                                  team="plants")
    dataset = services.dataset_create(actor=owner, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    services.model_version_create(actor=owner, model=model, fileobj=io.BytesIO(iris_skops()),
                                  filename="iris.skops", evaluation_dataset=dataset)
    return model


def test_ownership_retirement_admin_changes_and_evidence(page, live_server, artifacts, owned_model):
    make_user("rival", ["contributor"])
    login(page, live_server, "rival")
    page.goto(f"{live_server.url}/models/iris/")
    assert page.locator("text=Upload version").count() == 0 and page.locator("[data-testid=retire-form]").count() == 0
    response = page.goto(f"{live_server.url}/models/iris/edit/")
    assert response.status == 403 and "Only the owner of 'iris'" in page.content()
    page.screenshot(path=str(artifacts / "ownership-403.png"), full_page=True)
    page.console_errors.clear()  # the browser logs the 403 we asked for; nothing else may error

    page.context.clear_cookies()
    login(page, live_server, "owner")
    page.goto(f"{live_server.url}/models/iris/")
    page.click("[data-testid=retire-form] button")
    page.wait_for_selector("[data-testid=retired-banner]")
    assert page.locator("text=Upload version").count() == 0
    page.screenshot(path=str(artifacts / "model-retired.png"), full_page=True)
    page.goto(f"{live_server.url}/models/")
    assert "Iris species" not in page.inner_text("main")

    admin = make_user("boss", ["admin"])
    from django.contrib.auth import get_user_model

    services.user_update(actor=admin, user=get_user_model().objects.get(username="rival"), teams=["plants"],
                         roles=["contributor", "reviewer"])
    page.context.clear_cookies()
    login(page, live_server, "boss")
    page.goto(f"{live_server.url}/admin/changes/")
    table = page.inner_text("[data-testid=admin-changes]")
    assert "user.update" in table and "reviewer" in table and "plants" in table
    page.screenshot(path=str(artifacts / "admin-changes.png"), full_page=True)

    incident = incidents.incident_open(actor=admin, title="Scraping", severity="sev2", category="extraction")
    incidents.timeline_add(actor=admin, incident=incident, body="proxy log",
                           evidence_file=SimpleUploadedFile("proxy.log", b"GET /predict 200\n" * 3))
    make_user("reader", ["viewer"])
    page.context.clear_cookies()
    login(page, live_server, "reader")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    with page.expect_download() as download:
        page.click("[data-testid=evidence-download]")
    from pathlib import Path

    assert Path(download.value.path()).read_bytes() == b"GET /predict 200\n" * 3
    assert download.value.suggested_filename == "proxy.log"
    page.screenshot(path=str(artifacts / "incident-evidence.png"), full_page=True)
    assert page.console_errors == [], page.console_errors
