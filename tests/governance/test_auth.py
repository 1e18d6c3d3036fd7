"""Logging in, failed-login lockout, and personal API tokens."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from governance import services
from governance.models import ApiToken, AuditEvent
from tests.conftest import PASSWORD, assert_audited

pytestmark = pytest.mark.django_db


def test_login_with_good_password_reaches_dashboard_and_is_audited(client, cast):
    response = client.post(reverse("login"), {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    assert_audited(cast["viewer"], "auth.login")


def test_wrong_password_shows_error_and_is_audited(client, cast):
    response = client.post(reverse("login"), {"username": "viewer", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content
    assert AuditEvent.objects.filter(action="auth.login_failed", object_label="viewer").count() == 1


def test_five_failures_lock_the_account_out_even_with_the_right_password(client, cast):
    for _ in range(5):
        client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed login attempts" in response.content
    assert client.get(reverse("dashboard")).status_code == 302  # still not logged in


def test_lockout_is_per_username_and_ip(client, cast):
    for _ in range(5):
        client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "reviewer", "password": PASSWORD})
    assert response.status_code == 302


def test_token_api_locks_out_after_repeated_bad_passwords(api_client, cast):
    statuses = [
        api_client.post("/api/v1/auth/tokens/", {"name": "x", "username": "viewer", "password": "bad"},
                        format="json").status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure trips the lock
    response = api_client.post("/api/v1/auth/tokens/", {"name": "x", "username": "viewer", "password": PASSWORD},
                               format="json")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many failed login attempts")
    assert not ApiToken.objects.exists()


def test_token_created_with_password_is_shown_once_and_stored_hashed(api_client, cast):
    response = api_client.post(
        "/api/v1/auth/tokens/", {"name": "CI", "username": "viewer", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    key = response.json()["key"]
    token = ApiToken.objects.get()
    assert token.user == cast["viewer"]
    assert key not in token.key_hash and token.key_hash != key and len(token.key_hash) == 64
    assert_audited(token, "token.create")

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listing = api_client.get("/api/v1/auth/tokens/")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["name"] == "CI"
    assert key not in listing.content.decode()
    assert api_client.get("/api/v1/audit/").status_code == 200


def test_expired_token_is_refused(api_client, cast):
    token, key = services.api_token_create(actor=cast["viewer"], name="short",
                                           expires_at=timezone.now() + timedelta(minutes=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.get("/api/v1/audit/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_revoked_token_is_refused(api_client, cast):
    token, key = services.api_token_create(actor=cast["viewer"], name="soon revoked")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    assert_audited(token, "token.revoke")
    response = api_client.get("/api/v1/audit/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Token bwk_nope_nope", "Token garbage", "Token a b", "Token bwk__x"])
def test_malformed_or_unknown_tokens_get_401(api_client, cast, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get("/api/v1/audit/").status_code == 401


def test_token_with_right_prefix_but_wrong_secret_is_refused(api_client, cast):
    token, key = services.api_token_create(actor=cast["viewer"], name="t")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key[:-4]}AAAA")
    assert api_client.get("/api/v1/audit/").status_code == 401


def test_cannot_revoke_someone_elses_token(api_as, cast):
    theirs, _ = services.api_token_create(actor=cast["author"], name="theirs")
    response = api_as(cast["viewer"]).delete(f"/api/v1/auth/tokens/{theirs.pk}/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_bad_input(api_client, cast):
    client = api_client
    client.force_authenticate(cast["viewer"])  # a session, not a token: tokens cannot mint tokens
    assert client.post("/api/v1/auth/tokens/", {"name": ""}, format="json").status_code == 400
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = client.post("/api/v1/auth/tokens/", {"name": "x", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert "expires_at" in response.json()
    assert client.delete("/api/v1/auth/tokens/abc/").status_code == 404


def test_profile_page_creates_lists_and_revokes_tokens(client, cast):
    client.force_login(cast["viewer"])
    response = client.post(reverse("profile"), {"name": "laptop", "expires_in_days": 30})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=cast["viewer"])
    assert response.context["new_key"].startswith(f"bwk_{token.prefix}_")
    page = client.get(reverse("profile"))
    assert b"laptop" in page.content and response.context["new_key"].encode() not in page.content
    assert 29 <= (token.expires_at - timezone.now()).days <= 30

    client.post(reverse("token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
