"""An ML engineer uploads a dataset, registers a model, uploads a version and sees it checked."""

import pytest

from tests.browser.test_shell import login
from tests.conftest import make_user
from tests.integration.worker import running_worker
from tests.ml import iris_csv, iris_skops

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.worker]


def test_register_upload_and_browse(page, live_server, artifacts, tmp_path):
    make_user("mlops", ["contributor"])
    csv_file = tmp_path / "iris.csv"
    csv_file.write_bytes(iris_csv())
    model_file = tmp_path / "iris.skops"
    model_file.write_bytes(iris_skops())
    login(page, live_server, "mlops")

    page.click("text=Datasets")
    page.click("text=Upload a dataset")
    page.set_input_files("#id_file", str(csv_file))
    page.fill("#id_target_column", "target")
    page.click("button:has-text('Upload')")
    page.wait_for_selector("[data-testid=schema-table]")
    assert "150 rows" in page.content()
    page.screenshot(path=str(artifacts / "dataset.png"), full_page=True)

    page.click("nav >> text=Models")
    page.click("text=Register a model")
    page.fill("#id_name", "iris")
    page.fill("#id_title", "Iris species")
    page.select_option("#id_task", "classification")
    page.fill("#id_tags", "demo, tabular")
    page.click("button:has-text('Register')")
    page.wait_for_url("**/models/iris/")

    with running_worker():
        page.click("text=Upload version")
        page.set_input_files("#id_artifact", str(model_file))
        page.select_option("#id_evaluation_dataset", label="iris.csv")
        page.click("button:has-text('Upload')")
        page.wait_for_url("**/models/iris/versions/1/")
        # htmx polls the check until the worker has finished it.
        page.wait_for_selector("[data-testid=compat-check] .badge.text-bg-success", timeout=60_000)
    assert "Predicted 150 rows" in page.inner_text("[data-testid=compat-check]")
    page.screenshot(path=str(artifacts / "version.png"), full_page=True)

    page.click("nav >> text=Models")
    row = page.locator("[data-testid=model-table] tbody tr").first
    assert "iris" in row.inner_text() and "v1" in row.inner_text()
    page.screenshot(path=str(artifacts / "models.png"), full_page=True)
    assert page.console_errors == [], page.console_errors
