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
def checked_version(artifact_storage):
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
    for kind in ("shap_global", "shap_local", "permutation_importance", "decomposition", "rule_extraction"):
        job = jobs.job_enqueue(actor=author, version=version, kind=kind, params={"max_rows": 150})
        jobs.job_execute(job_id=job.pk, hostname="in-test")
        assert version.jobs.get(pk=job.pk).status == "succeeded"
    make_user("vera", ["viewer"])
    login(page, live_server, "vera")
    page.goto(f"{live_server.url}/models/iris/versions/1/report/")
    page.wait_for_selector("[data-testid=analysis-shap_global] .plotly-chart .main-svg")
    assert page.locator(".plotly-chart .main-svg").count() >= 6
    assert "not run" in page.inner_text("[data-testid=analysis-lime]")
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)
    assert page.console_errors == [], page.console_errors


def test_html_export_renders_offline_with_the_full_data(page, browser, live_server, artifacts, checked_version,
                                                        tmp_path):
    import json

    version, author = checked_version
    for kind in ("shap_global", "shap_local"):
        job = jobs.job_enqueue(actor=author, version=version, kind=kind, params={"max_rows": 150})
        jobs.job_execute(job_id=job.pk, hostname="in-test")
    make_user("vera", ["viewer"])
    login(page, live_server, "vera")
    response = page.request.get(f"{live_server.url}/models/iris/versions/1/report/export/")
    assert response.ok and "attachment" in response.headers["content-disposition"]
    html = response.text()
    assert "<script src=" not in html  # plotly and the data are inline: the file works on its own
    exported = tmp_path / "iris-v1-report.html"
    exported.write_text(html, encoding="utf-8")

    offline = browser.new_context(offline=True)  # no network at all: a reviewer's laptop on a plane
    reader = offline.new_page()
    errors = []
    reader.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    reader.goto(exported.as_uri())
    charts = reader.locator("[data-chart]").count()
    assert charts >= 3  # importance, beeswarm, a waterfall per explained row
    reader.wait_for_function("[...document.querySelectorAll('[data-chart]')].every((c) => c.querySelector('svg'))")
    assert version.artifact.sha256 in reader.inner_text("[data-artifact-sha256]")
    report = json.loads(reader.inner_text("#bulwark-report"))
    shap = next(a for a in report["analyses"] if a["kind"] == "shap_global")
    assert len(shap["result"]["shap_values"][0]) == len(shap["result"]["rows_used"]) == 150  # not downsampled
    reader.screenshot(path=str(artifacts / "report-export.png"), full_page=True)
    offline.close()
    assert errors == [], errors
