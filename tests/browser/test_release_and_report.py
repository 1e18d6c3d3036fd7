"""A reviewer approves and releases in the browser; anyone reads the analyses report with its charts."""

import io

import pytest

from explain import services as jobs
from governance import services
from tests.browser.test_shell import login
from tests.conftest import make_user
from tests.ml import iris_csv, iris_skops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
CARD = {f: f"{f} text" for f in ["intended_use", "out_of_scope_uses", "factors", "metrics", "evaluation_data",
                                 "training_data", "quantitative_analyses", "ethical_considerations",
                                 "caveats_and_recommendations"]}


@pytest.fixture
def checked_version(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ATTESTATION_KEY_FILE = tmp_path / "attestation.pem"
    author = make_user("ada", ["contributor"])
    model = services.model_create(actor=author, name="iris", title="Iris species", task="classification",
                                  risk_tier="low", card=CARD)
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    version = services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    return services.version_compatibility_check(version_id=version.pk), author


def test_submit_review_release_and_verify(page, live_server, artifacts, checked_version):
    version, author = checked_version
    services.version_submit(actor=author, version=version)
    make_user("rita", ["reviewer"])
    login(page, live_server, "rita")
    assert page.get_by_test_id("review-badge").inner_text() == "1"
    page.click("nav >> text=Reviews")
    page.click("[data-testid=review-queue] >> text=Review")
    page.check("input[name=decision][value=approve]")
    page.fill("#id_comment", "Checks pass; card complete.")
    page.screenshot(path=str(artifacts / "review.png"), full_page=True)
    page.click("button:has-text('Record decision')")
    page.wait_for_url("**/models/iris/versions/1/")
    assert "Approved" in page.inner_text("h1 + .badge, .badge")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=release-panel] button:has-text('Release')")
    page.wait_for_selector("[data-testid=signature-status]")
    assert "Signature valid" in page.inner_text("[data-testid=signature-status]")
    page.screenshot(path=str(artifacts / "released.png"), full_page=True)
    page.click("nav >> text=Verify")
    assert len(page.inner_text("[data-testid=fingerprint]")) == 64
    assert page.console_errors == [], page.console_errors


def test_report_shows_charts_for_finished_analyses(page, live_server, artifacts, checked_version):
    version, author = checked_version
    for kind in ("shap_global", "permutation_importance", "decomposition", "rule_extraction"):
        job = jobs.job_enqueue(actor=author, version=version, kind=kind, params={"max_rows": 150})
        jobs.job_execute(job_id=job.pk, hostname="in-test")
    make_user("vera", ["viewer"])
    login(page, live_server, "vera")
    page.goto(f"{live_server.url}/models/iris/versions/1/report/")
    page.wait_for_selector("[data-testid=analysis-shap_global] .plotly-chart .main-svg")
    assert page.locator(".plotly-chart .main-svg").count() >= 6
    assert "not run" in page.inner_text("[data-testid=analysis-lime]")
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    assert page.console_errors == [], page.console_errors
