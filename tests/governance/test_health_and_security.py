"""Health check, security headers and the production profile."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_each_check_and_is_public(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage", "workers"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_storage_is_not_writable(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.ARTIFACT_STORAGE_DIR = blocker / "artifacts"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"]["ok"] is False


def test_pages_carry_security_headers(client, cast):
    client.force_login(cast["viewer"])
    response = client.get(reverse("dashboard"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_scripts(client, cast):
    client.force_login(cast["admin_user"])
    for url in (reverse("dashboard"), reverse("audit-list"), reverse("profile"), reverse("user-list")):
        html = client.get(url).content.decode()
        assert "<script>" not in html and "onclick=" not in html, url


def test_api_errors_are_json_never_html(api_client, cast):
    api_client.force_authenticate(cast["viewer"])
    response = api_client.get("/api/v1/audit/999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    response = api_client.get("/api/v1/nowhere/")
    assert response.status_code == 404


def test_unknown_page_renders_friendly_404(client, cast, settings):
    settings.DEBUG = False
    client.force_login(cast["viewer"])
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def run_manage(*args, env_overrides):
    dropped = {"SECRET_KEY", "BULWARK_ENV", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


PRODUCTION_ENV = {
    "BULWARK_ENV": "production",
    "SECRET_KEY": "x" * 64 + "-production-grade-secret-key-for-the-check",
    "ALLOWED_HOSTS": "bulwark.example.org",
    "ARTIFACT_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "AUDIT_HMAC_KEY": "B" * 43 + "=",
}


def test_production_profile_passes_check_deploy_without_warnings(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING",
                        env_overrides={**PRODUCTION_ENV, "BULWARK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env_overrides={**env, "BULWARK_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert not (tmp_path / "keys" / "secret_key").exists()


def test_development_generates_a_private_secret_key_once(tmp_path):
    env = {"BULWARK_ENV": "development", "BULWARK_DATA_DIR": str(tmp_path)}
    assert run_manage("check", env_overrides=env).returncode == 0
    key_file = tmp_path / "keys" / "secret_key"
    first = key_file.read_text()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert run_manage("check", env_overrides=env).returncode == 0
    assert key_file.read_text() == first


def test_openapi_schema_validates_without_warnings(tmp_path):
    result = run_manage("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"),
                        env_overrides={"BULWARK_ENV": "test", "BULWARK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    schema = (tmp_path / "schema.yml").read_text()
    for path in ("/api/v1/models/{model_name}/versions/{number}/release/", "/api/v1/jobs/{id}/cancel/",
                 "/api/v1/incidents/{id}/review/", "/api/v1/audit/"):
        assert path in schema, path


@pytest.mark.parametrize(("overrides", "message"), [
    ({"DEBUG": "true"}, "DEBUG=true is refused"),
    ({"ARTIFACT_ENCRYPTION_KEYS": "k1:short"}, "ARTIFACT_ENCRYPTION_KEYS key 'k1'"),
    ({"ARTIFACT_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=,nocolon"}, "entry 2 must look like"),
    ({"ARTIFACT_ENCRYPTION_KEYS": "k1:" + "A" * 86 + "=="}, "exactly 32 bytes"),
    ({"AUDIT_HMAC_KEY": "tooshort"}, "AUDIT_HMAC_KEY decodes to"),
    ({"SECRET_KEY": "short"}, "at least 50 characters"),
])
def test_production_profile_refuses_to_start_with_a_bad_setting(tmp_path, overrides, message):
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "BULWARK_DATA_DIR": str(tmp_path), **overrides})
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]


def test_api_artifact_and_export_responses_are_never_stored_by_caches(api_as, cast, client):
    response = api_as(cast["viewer"]).get("/api/v1/models/")
    assert response["Cache-Control"] == "no-store"
    assert api_as(cast["viewer"]).get("/api/v1/nowhere/")["Cache-Control"] == "no-store"
    client.force_login(cast["viewer"])
    page = client.get("/models/")
    assert "no-store" not in page.get("Cache-Control", "")


def test_a_403_is_logged_as_one_line_without_a_traceback(cast, client):
    import logging

    from django.urls import reverse

    client.force_login(cast["viewer"])
    handler = logging.getLogger().handlers[0]
    records = []
    original = handler.emit

    def keep(record):
        records.append(handler.format(record))
        original(record)

    handler.emit = keep
    try:
        assert client.get(reverse("user-list")).status_code == 403
    finally:
        handler.emit = original
    forbidden = [line for line in records if "Forbidden" in line]
    assert forbidden, records
    assert all("Traceback" not in line for line in forbidden)
