import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BULWARK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def browser():
    """Per test: Playwright's sync API keeps an event loop in this thread while it is open."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"Debian's chromium is needed at {CHROMIUM} for browser tests (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it; a missing browser there is a broken pipeline
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django's guard would refuse DB access.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def submitted(artifact_storage):
    """A checked iris v1 (low risk) written and submitted by ada, and rita, a reviewer: (version, ada, rita)."""
    import io

    from governance import services
    from tests.conftest import make_user
    from tests.ml import iris_csv, iris_skops

    author, reviewer = make_user("ada", ["contributor"]), make_user("rita", ["reviewer"])
    model = services.model_create(actor=author, name="iris", title="Iris", task="classification", risk_tier="low")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="i.csv",
                                      target_column="target")
    version = services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    version = services.version_compatibility_check(version_id=version.pk)
    services.version_submit(actor=author, version=version)
    return version, author, reviewer
