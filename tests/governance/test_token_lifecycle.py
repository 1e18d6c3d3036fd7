"""API token lifecycle: every token expires, tokens cannot mint tokens, credentials changes revoke tokens.

The four faults found: API-created tokens never expired; `expires_at=""` made a never-expiring token; a
token minted with another token kept working after its parent was revoked; a password change or a
deactivation left tokens working.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance import services
from governance.models import ApiToken, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_throttle_history():
    from django.core.cache import cache

    cache.clear()  # token creation is rate-limited per client; these tests create many


def _with_key(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _login_for_token(username, **extra):
    return APIClient().post("/api/v1/auth/tokens/", {"name": "script", "username": username, "password": PASSWORD,
                                                     **extra}, format="json")


@pytest.mark.parametrize("expiry", [{}, {"expires_at": ""}, {"expires_at": None}])
def test_a_token_created_without_an_expiry_gets_the_default_lifetime(cast, settings, expiry):
    settings.API_TOKEN_DEFAULT_DAYS = 30
    response = _login_for_token("viewer", **expiry)
    assert response.status_code == 201, response.json()
    token = ApiToken.objects.get()
    assert token.expires_at is not None
    assert 29 <= (token.expires_at - timezone.now()).days <= 30


def test_no_token_lives_longer_than_the_maximum(cast, settings):
    settings.API_TOKEN_MAX_DAYS = 365
    far = (timezone.now() + timedelta(days=3650)).isoformat()
    response = _login_for_token("viewer", expires_at=far)
    assert response.status_code == 400
    assert "API_TOKEN_MAX_DAYS" in response.json()["expires_at"][0]
    assert not ApiToken.objects.exists()


def test_the_profile_form_cannot_make_a_token_past_the_maximum(client, cast, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    client.force_login(cast["viewer"])
    client.post("/profile/", {"name": "laptop", "expires_in_days": 3000})
    assert not ApiToken.objects.exists()
    client.post("/profile/", {"name": "laptop"})
    assert ApiToken.objects.get().expires_at is not None


def test_a_token_cannot_mint_a_token(cast):
    _, key = services.api_token_create(actor=cast["viewer"], name="parent")
    response = _with_key(key).post("/api/v1/auth/tokens/", {"name": "child"}, format="json")
    assert response.status_code == 403
    assert "cannot create tokens" in response.json()["detail"]
    assert ApiToken.objects.count() == 1


def test_a_password_change_revokes_every_token(cast):
    _, first = services.api_token_create(actor=cast["viewer"], name="a")
    _, second = services.api_token_create(actor=cast["viewer"], name="b")
    assert _with_key(first).get("/api/v1/me/").status_code == 200
    user = cast["viewer"]
    user.set_password("another-long-passphrase-42")
    user.save()
    for key in (first, second):
        assert _with_key(key).get("/api/v1/me/").status_code == 401
    event = AuditEvent.objects.get(action="token.revoke_all")
    assert event.changes["after"]["reason"] == "password changed" and len(event.changes["after"]["revoked"]) == 2


def test_changepassword_command_revokes_tokens_too(cast, monkeypatch):
    _, key = services.api_token_create(actor=cast["viewer"], name="a")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "yet-another-passphrase-77")
    call_command("changepassword", "viewer")
    assert _with_key(key).get("/api/v1/me/").status_code == 401


def test_deactivation_revokes_every_token_audited_as_the_admin(cast):
    _, key = services.api_token_create(actor=cast["author"], name="ci")
    services.user_update(actor=cast["admin_user"], user=cast["author"], is_active=False)
    assert ApiToken.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="token.revoke_all")
    assert event.actor_username == "admin_user" and event.changes["after"]["reason"] == "account deactivated"
    services.user_update(actor=cast["admin_user"], user=cast["author"], is_active=True)
    assert _with_key(key).get("/api/v1/me/").status_code == 401  # reactivation does not bring tokens back


def test_saving_a_user_without_credential_changes_keeps_tokens(cast):
    _, key = services.api_token_create(actor=cast["viewer"], name="a")
    services.user_update(actor=cast["admin_user"], user=cast["viewer"], email="new@example.test")
    assert _with_key(key).get("/api/v1/me/").status_code == 200
    assert not AuditEvent.objects.filter(action="token.revoke_all").exists()


def test_a_token_made_through_the_api_lasts_as_long_as_one_made_on_the_profile_page(cast, client, settings):
    settings.API_TOKEN_DEFAULT_DAYS = 45
    client.force_login(cast["author"])
    assert client.get("/profile/").context["form"]["expires_in_days"].value() == 45
    client.post("/profile/", {"name": "laptop", "expires_in_days": 45})
    response = APIClient().post("/api/v1/auth/tokens/", {"name": "ci", "username": "author", "password": PASSWORD},
                                format="json")
    assert response.status_code == 201
    profile = ApiToken.objects.get(name="laptop").expires_at
    api = ApiToken.objects.get(name="ci").expires_at
    assert abs((api - profile).total_seconds()) < 60
    assert 44 <= (api - timezone.now()).days <= 45
