"""Every role against every page and endpoint: allowed, or 403 (UI and API alike), or login first.

The expectations are written out here by hand as the specification; they are not derived from
governance.permissions, so a change to the rules there shows up as a failure here.
"""

import pytest
from django.urls import reverse

from tests.conftest import make_user

# "contributor" holds the role but neither owns model "m" nor belongs to its team ("other owner");
# "owner" is a contributor who owns "m"; "teammate" is a contributor in the team that owns "m".
ROLES = ["viewer", "contributor", "owner", "teammate", "reviewer", "incident_manager", "admin", None]
CONTRIBUTORS = {"contributor", "owner", "teammate"}
EVERY_ROLE = {"viewer", "reviewer", "incident_manager", "admin"} | CONTRIBUTORS
ANY_USER = EVERY_ROLE | {None}
ADMIN_ONLY = {"admin"}
REGISTER = CONTRIBUTORS | {"admin"}  # new models and datasets: the role is enough
CHANGE_M = {"owner", "teammate", "admin"}  # writes on model "m": ownership as well
RUN_JOBS = CONTRIBUTORS | {"reviewer", "incident_manager", "admin"}
OPEN_INCIDENT = CONTRIBUTORS | {"incident_manager", "admin"}
MANAGE_INCIDENT = {"incident_manager", "admin"}
REVIEW = {"reviewer", "admin"}
CONTAIN = {"reviewer", "incident_manager", "admin"}

# (name, kind, method, url builder, data, roles allowed); "apidoc" is an API path rendered as a document
ENDPOINTS = [
    ("dashboard", "ui", "get", lambda ctx: reverse("dashboard"), None, EVERY_ROLE),
    ("audit page", "ui", "get", lambda ctx: reverse("audit-list"), None, EVERY_ROLE),
    ("profile", "ui", "get", lambda ctx: reverse("profile"), None, ANY_USER),
    ("create own token", "ui", "post", lambda ctx: reverse("profile"), {"name": ""}, ANY_USER),
    ("user list", "ui", "get", lambda ctx: reverse("user-list"), None, ADMIN_ONLY),
    ("create user", "ui", "post", lambda ctx: reverse("user-list"), {"username": ""}, ADMIN_ONLY),
    ("edit user", "ui", "get", lambda ctx: reverse("user-edit", args=[ctx["other"].pk]), None, ADMIN_ONLY),
    ("save user", "ui", "post", lambda ctx: reverse("user-edit", args=[ctx["other"].pk]), {"roles": "bogus"},
     ADMIN_ONLY),
    ("admin changes", "ui", "get", lambda ctx: reverse("admin-changes"), None, ADMIN_ONLY),
    ("model list", "ui", "get", lambda ctx: reverse("model-list"), None, EVERY_ROLE),
    ("register model page", "ui", "get", lambda ctx: reverse("model-create"), None, REGISTER),
    ("register model", "ui", "post", lambda ctx: reverse("model-create"), {"name": ""}, REGISTER),
    ("model page", "ui", "get", lambda ctx: reverse("model-detail", args=["m"]), None, EVERY_ROLE),
    ("edit model card", "ui", "get", lambda ctx: reverse("model-card-edit", args=["m"]), None, CHANGE_M),
    ("save model card", "ui", "post", lambda ctx: reverse("model-card-edit", args=["m"]), {}, CHANGE_M),
    ("edit model page", "ui", "get", lambda ctx: reverse("model-edit", args=["m"]), None, CHANGE_M),
    ("save model", "ui", "post", lambda ctx: reverse("model-edit", args=["m"]), {}, CHANGE_M),
    ("retire model", "ui", "post", lambda ctx: reverse("model-retire", args=["m"]), {}, CHANGE_M),
    ("upload version page", "ui", "get", lambda ctx: reverse("version-create", args=["m"]), None, CHANGE_M),
    ("upload version", "ui", "post", lambda ctx: reverse("version-create", args=["m"]), {}, CHANGE_M),
    ("version page", "ui", "get", lambda ctx: reverse("version-detail", args=["m", 1]), None, EVERY_ROLE),
    ("submit version", "ui", "post", lambda ctx: reverse("version-submit", args=["m", 1]), {}, CHANGE_M),
    ("reopen version", "ui", "post", lambda ctx: reverse("version-reopen", args=["m", 1]), {}, CHANGE_M),
    ("review page", "ui", "get", lambda ctx: reverse("version-review", args=["m", 1]), None, EVERY_ROLE),
    ("record review", "ui", "post", lambda ctx: reverse("version-review", args=["m", 1]), {}, REVIEW),
    ("release version", "ui", "post", lambda ctx: reverse("version-release", args=["m", 1]), {}, REVIEW),
    ("revoke version", "ui", "post", lambda ctx: reverse("version-revoke", args=["m", 1]), {}, CONTAIN),
    ("roll back model", "ui", "post", lambda ctx: reverse("model-rollback", args=["m"]), {}, CONTAIN),
    ("review queue", "ui", "get", lambda ctx: reverse("review-queue"), None, EVERY_ROLE),
    ("policies", "ui", "get", lambda ctx: reverse("policies"), None, EVERY_ROLE),
    ("edit policy", "ui", "post", lambda ctx: reverse("policies"), {"tier": "low"}, ADMIN_ONLY),
    ("verify page", "ui", "get", lambda ctx: reverse("verify"), None, ANY_USER),
    ("dataset list", "ui", "get", lambda ctx: reverse("dataset-list"), None, EVERY_ROLE),
    ("upload dataset page", "ui", "get", lambda ctx: reverse("dataset-create"), None, REGISTER),
    ("models api", "api", "get", lambda ctx: "/api/v1/models/", None, EVERY_ROLE),
    ("create model api", "api", "post", lambda ctx: "/api/v1/models/", {}, REGISTER),
    ("patch model api", "api", "patch", lambda ctx: "/api/v1/models/m/", {}, CHANGE_M),
    ("retire model api", "api", "post", lambda ctx: "/api/v1/models/m/retire/", {}, CHANGE_M),
    ("versions api", "api", "get", lambda ctx: "/api/v1/models/m/versions/", None, EVERY_ROLE),
    ("upload version api", "api", "post", lambda ctx: "/api/v1/models/m/versions/", {}, CHANGE_M),
    ("patch version api", "api", "patch", lambda ctx: "/api/v1/models/m/versions/1/", {"notes": "x"}, CHANGE_M),
    ("submit api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/submit/", {}, CHANGE_M),
    ("reopen api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/reopen/", {}, CHANGE_M),
    ("reviews api", "api", "get", lambda ctx: "/api/v1/models/m/versions/1/reviews/", None, EVERY_ROLE),
    ("review api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/reviews/", {}, REVIEW),
    ("release api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/release/", {}, REVIEW),
    ("revoke api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/revoke/", {}, CONTAIN),
    ("rollback api", "api", "post", lambda ctx: "/api/v1/models/m/rollback/", {}, CONTAIN),
    ("datasets api", "api", "get", lambda ctx: "/api/v1/datasets/", None, EVERY_ROLE),
    ("upload dataset api", "api", "post", lambda ctx: "/api/v1/datasets/", {}, REGISTER),
    ("attestation key api", "api", "get", lambda ctx: "/api/v1/keys/attestation.pub", None, ANY_USER),
    ("audit api", "api", "get", lambda ctx: "/api/v1/audit/", None, EVERY_ROLE),
    ("jobs page", "ui", "get", lambda ctx: reverse("job-list"), None, EVERY_ROLE),
    ("report page", "ui", "get", lambda ctx: reverse("version-report", args=["m", 1]), None, EVERY_ROLE),
    ("queue a job", "ui", "post", lambda ctx: reverse("job-create", args=["m", 1]), {}, RUN_JOBS),
    ("jobs api", "api", "get", lambda ctx: "/api/v1/jobs/", None, EVERY_ROLE),
    ("queue job api", "api", "post", lambda ctx: "/api/v1/jobs/", {}, RUN_JOBS),
    ("incidents page", "ui", "get", lambda ctx: reverse("incident-list"), None, EVERY_ROLE),
    ("incident page", "ui", "get", lambda ctx: reverse("incident-detail", args=[ctx["incident"]]), None,
     EVERY_ROLE),
    ("open incident page", "ui", "get", lambda ctx: reverse("incident-create"), None, OPEN_INCIDENT),
    ("add incident note", "ui", "post", lambda ctx: reverse("incident-note", args=[ctx["incident"]]), {},
     OPEN_INCIDENT),
    ("move incident", "ui", "post", lambda ctx: reverse("incident-transition", args=[ctx["incident"]]), {},
     MANAGE_INCIDENT),
    ("contain", "ui", "post", lambda ctx: reverse("incident-contain", args=[ctx["incident"]]), {},
     MANAGE_INCIDENT),
    ("evidence download", "ui", "get", lambda ctx: reverse("incident-evidence", args=[ctx["incident"], 1]), None,
     EVERY_ROLE),
    ("evidence download api", "api", "get", lambda ctx: f"/api/v1/incidents/{ctx['incident']}/evidence/1/", None,
     EVERY_ROLE),
    ("incident metrics", "ui", "get", lambda ctx: reverse("incident-metrics"), None, EVERY_ROLE),
    ("incidents api", "api", "get", lambda ctx: "/api/v1/incidents/", None, EVERY_ROLE),
    ("open incident api", "api", "post", lambda ctx: "/api/v1/incidents/", {}, OPEN_INCIDENT),
    ("open incident naming experts api", "api", "post", lambda ctx: "/api/v1/incidents/",
     {"title": "x", "severity": "sev3", "experts": ["someone_else"]}, MANAGE_INCIDENT),
    ("patch incident api", "api", "patch", lambda ctx: f"/api/v1/incidents/{ctx['incident']}/", {},
     MANAGE_INCIDENT),
    ("containment api", "api", "post", lambda ctx: f"/api/v1/incidents/{ctx['incident']}/actions/", {},
     MANAGE_INCIDENT),
    ("timeline api", "api", "post", lambda ctx: f"/api/v1/incidents/{ctx['incident']}/timeline/", {},
     OPEN_INCIDENT),
    ("suspect check on an incident", "ui", "post",
     lambda ctx: reverse("incident-fingerprint-check", args=[ctx["incident"]]), {}, OPEN_INCIDENT),
    ("suspect check api", "api", "post", lambda ctx: "/api/v1/models/m/versions/1/fingerprint-check/", {},
     RUN_JOBS),
    ("notifications", "ui", "get", lambda ctx: reverse("notifications"), None, ANY_USER),
    ("audit event api", "api", "get", lambda ctx: f"/api/v1/audit/{ctx['seq']}/", None, EVERY_ROLE),
    ("audit api is read-only", "api", "post", lambda ctx: "/api/v1/audit/", {}, set()),
    ("delete model api", "api", "delete", lambda ctx: "/api/v1/models/m/", None, CHANGE_M),
    ("own tokens api", "api", "get", lambda ctx: "/api/v1/auth/tokens/", None, ANY_USER),
    ("me api", "api", "get", lambda ctx: "/api/v1/me/", None, ANY_USER),
    ("openapi schema", "apidoc", "get", lambda ctx: "/api/v1/schema/", None, EVERY_ROLE),
    ("api docs", "apidoc", "get", lambda ctx: "/api/v1/docs/", None, EVERY_ROLE),
    ("api reference page", "ui", "get", lambda ctx: reverse("api-docs"), None, EVERY_ROLE),
]


@pytest.fixture
def ctx(db):
    from django.db import transaction

    from governance import audit
    from governance.models import ModelVersion, RegisteredModel, StoredFile

    other = make_user("someone_else", ["viewer"])
    with transaction.atomic():
        event = audit.record(actor=other, action="test.seed")
    model = RegisteredModel.objects.create(name="m", title="M", task="classification", owner=other)
    stored = StoredFile.objects.create(path="x", key_id="k1", sha256="0" * 64, size=1, original_name="m.skops")
    ModelVersion.objects.create(model=model, number=1, flavour="sklearn", artifact=stored, created_by=other)
    from incidents.models import Incident

    incident = Incident.objects.create(title="i", severity="sev3", reported_by=other)
    return {"other": other, "seq": event.seq, "incident": incident.pk}


def call(client, method, url, data, kind):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    if kind == "api":
        return getattr(client, method)(url, data, format="json")
    return client.post(url, data)


def make_subject(role, ctx):
    from governance.models import RegisteredModel, Team

    real_role = "contributor" if role in CONTRIBUTORS else role
    user = make_user(f"matrix_{role or 'none'}", [real_role] if real_role else [])
    if role == "owner":
        RegisteredModel.objects.filter(name="m").update(owner=user)
    elif role == "teammate":
        Team.objects.create(name="m-team").members.add(user)
        RegisteredModel.objects.filter(name="m").update(team="m-team")
    return user


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e[0])
def test_role_matrix(endpoint, role, ctx, client, api_client):
    name, kind, method, url_for, data, allowed = endpoint
    from governance.models import AuditEvent

    user = make_subject(role, ctx)
    url = url_for(ctx)
    if kind == "ui":
        client.force_login(user)
    else:
        api_client.force_authenticate(user)
    events_before = AuditEvent.objects.count()  # after the login, which is audited itself
    response = call(client if kind == "ui" else api_client, method, url, data, kind)

    if role in allowed:
        # Allowed means the rules let the request through; it may still fail on its (empty) input or state.
        assert response.status_code in (200, 201, 204, 302, 400, 404, 409, 415), (
            f"{name}: {role} should be allowed, got {response.status_code}")
    elif kind == "api" and method != "get" and not allowed:
        assert response.status_code in (403, 405), f"{name}: got {response.status_code}"
    else:
        assert response.status_code == 403, f"{name}: {role} should get 403, got {response.status_code}"
        if kind == "api":
            assert "detail" in response.json()
    if response.status_code in (403, 405):
        # A refusal writes nothing: no audited change followed by a 403 (as POST /incidents/ with experts did).
        assert AuditEvent.objects.count() == events_before, f"{name}: {role} was refused but a change was audited"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e[0])
def test_anonymous_is_sent_to_login_or_gets_401(endpoint, ctx, client):
    name, kind, method, url_for, data, _ = endpoint
    response = call(client, method, url_for(ctx), data, "ui")
    if kind == "ui":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == 401, f"{name}: got {response.status_code}"
        if kind == "api":
            assert response["Content-Type"].startswith("application/json")


def test_login_page_and_health_are_public(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_denial_names_the_missing_role(client, db):
    client.force_login(make_user("plain_viewer", ["viewer"]))
    response = client.get(reverse("user-list"))
    assert response.status_code == 403
    assert b"admin role" in response.content


def test_inactive_user_is_refused_everything(api_client, db):
    user = make_user("gone", ["admin"], is_active=False)
    api_client.force_authenticate(user)
    assert api_client.get("/api/v1/audit/").status_code == 403
