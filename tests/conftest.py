"""Shared cast of users and clients. Tests read like specs: who does what, what must happen."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from governance.choices import Role
from governance.models import AuditEvent

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"  # noqa: S105

CAST = {
    "author": [Role.CONTRIBUTOR],
    "reviewer": [Role.REVIEWER],
    "second_reviewer": [Role.REVIEWER],
    "incident_manager": [Role.INCIDENT_MANAGER],
    "viewer": [Role.VIEWER],
    "admin_user": [Role.ADMIN],
    "outsider": [],
}


def make_user(username, roles=(), password=PASSWORD, **extra):
    user = User.objects.create_user(username=username, password=password, email=f"{username}@example.test", **extra)
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
    return user


@pytest.fixture
def cast(db):
    return {name: make_user(name, roles) for name, roles in CAST.items()}


@pytest.fixture
def user_with_role(db):
    def build(role: str | None, username: str | None = None):
        username = username or f"u_{role or 'none'}"
        return make_user(username, [role] if role else [])

    return build


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """An API client authenticated with a real token of the given user."""
    from governance import services

    def build(user):
        _, key = services.api_token_create(actor=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return build


@pytest.fixture
def client_as(client):
    def build(user):
        client.force_login(user)
        return client

    return build


def assert_audited(obj=None, action=None, *, count=1, object_type=None, object_id=None):
    qs = AuditEvent.objects.filter(action=action)
    if obj is not None:
        qs = qs.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    if object_type is not None:
        qs = qs.filter(object_type=object_type)
    if object_id is not None:
        qs = qs.filter(object_id=str(object_id))
    assert qs.count() == count, f"expected {count} {action!r} event(s), found {qs.count()}"
    return qs.first()



@pytest.fixture(autouse=True)
def audit_checkpoint_file(settings, tmp_path):
    """Each test's audit chain starts empty: its signed checkpoints must not meet another test's."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.jsonl"
    return settings.AUDIT_CHECKPOINT_FILE


@pytest.fixture
def artifact_storage(settings, tmp_path):
    """Artifacts, datasets and evidence stored under this test's tmp_path; a private signing key too."""
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ARTIFACT_STORAGE_DIR = tmp_path / "artifacts"
    settings.ATTESTATION_KEY_FILE = tmp_path / "keys" / "attestation.pem"
    return tmp_path / "artifacts"
