"""A person logs in, looks at the dashboard and the audit log, in a real browser."""

import pytest

from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def login(page, live_server, username):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_login_dashboard_and_audit_log(page, live_server, artifacts):
    make_user("ines", ["incident_manager", "viewer"])
    login(page, live_server, "ines")

    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.get_by_test_id("count-models").inner_text() == "0"
    # Vendored Bootstrap is loaded locally (the navbar is styled dark).
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    page.click("text=Audit")
    page.wait_for_url("**/audit/")
    rows = page.locator("table tbody tr")
    assert rows.count() >= 1
    assert "auth.login" in rows.first.inner_text()
    page.fill("#f-action", "auth.")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/audit/?*action=auth.*")
    assert "auth.login" in page.locator("table tbody").inner_text()
    page.screenshot(path=str(artifacts / "audit.png"), full_page=True)

    assert page.console_errors == [], page.console_errors


def test_token_created_on_profile_is_shown_once(page, live_server, artifacts):
    make_user("carl", ["contributor"])
    login(page, live_server, "carl")
    page.click("text=carl")
    page.fill("#id_name", "laptop script")
    page.click("button:has-text('Create token')")
    key = page.locator("#new-token-key").input_value()
    assert key.startswith("bwk_")
    page.screenshot(path=str(artifacts / "profile-token.png"), full_page=True)
    page.goto(f"{live_server.url}/profile/")
    assert page.locator("#new-token-key").count() == 0
    assert "laptop script" in page.locator("table").inner_text()
    assert page.console_errors == [], page.console_errors
