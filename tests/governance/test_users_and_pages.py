"""Admins manage users and roles; pages render with a fixed number of queries."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from governance import audit
from governance.models import AuditEvent
from incidents.models import Incident
from tests.conftest import assert_audited, make_user

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_admin_creates_a_user_with_roles(client, cast):
    client.force_login(cast["admin_user"])
    response = client.post(reverse("user-list"), {
        "username": "newbie", "password": "a-long-unusual-passphrase", "roles": ["contributor", "viewer"],
    })
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert set(user.groups.values_list("name", flat=True)) == {"contributor", "viewer"}
    event = assert_audited(user, "user.create")
    assert event.actor_username == "admin_user"
    assert event.changes["after"]["roles"] == ["contributor", "viewer"]
    assert "password" not in str(event.changes)


def test_weak_password_or_duplicate_name_is_refused_with_a_message(client, cast):
    client.force_login(cast["admin_user"])
    response = client.post(reverse("user-list"), {"username": "weak", "password": "123"})
    assert response.status_code == 200
    assert b"too short" in response.content
    response = client.post(reverse("user-list"), {"username": "VIEWER", "password": "a-long-unusual-passphrase"})
    assert b"already exists" in response.content
    assert not User.objects.filter(username__in=["weak", "VIEWER"]).exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_admin_changes_roles_and_the_change_is_audited_with_before_and_after(client, cast):
    client.force_login(cast["admin_user"])
    target = cast["viewer"]
    response = client.post(reverse("user-edit", args=[target.pk]), {"roles": ["reviewer"], "is_active": "on"})
    assert response.status_code == 302
    event = assert_audited(target, "user.update")
    assert event.changes["before"]["roles"] == ["viewer"]
    assert event.changes["after"]["roles"] == ["reviewer"]


def test_admin_cannot_lock_themselves_out(client, cast):
    admin = cast["admin_user"]
    client.force_login(admin)
    response = client.post(reverse("user-edit", args=[admin.pk]), {"roles": ["viewer"], "is_active": "on"})
    assert response.status_code == 200
    assert b"cannot remove your own admin role" in response.content
    response = client.post(reverse("user-edit", args=[admin.pk]), {"roles": ["admin"]})
    assert b"cannot deactivate your own account" in response.content
    assert set(admin.groups.values_list("name", flat=True)) == {"admin"}


def test_unknown_user_id_is_404(client, cast):
    client.force_login(cast["admin_user"])
    assert client.get(reverse("user-edit", args=[999999])).status_code == 404


def test_dashboard_counts_open_incidents_by_severity(client, cast):
    for severity, status in [("sev1", "reported"), ("sev1", "contained"), ("sev3", "triaged"), ("sev2", "closed")]:
        Incident.objects.create(title="t", severity=severity, status=status, reported_by=cast["viewer"])
    client.force_login(cast["viewer"])
    counts = client.get(reverse("dashboard")).context["counts"]
    assert counts["open_incidents"] == 3
    by_sev = {row["severity"]: row["count"] for row in counts["open_incidents_by_severity"]}
    assert by_sev == {"sev1": 2, "sev2": 0, "sev3": 1, "sev4": 0}


def test_audit_page_filters_by_actor_action_and_date(client, cast):
    with transaction.atomic():
        audit.record(actor=cast["author"], action="model.create", object_type="x", object_label="credit")
        audit.record(actor=cast["reviewer"], action="review.approve", object_type="x", object_label="credit")
    client.force_login(cast["viewer"])
    page = client.get(reverse("audit-list"), {"actor": "author"}).context["page_obj"]
    assert [e.action for e in page] == ["model.create"]
    page = client.get(reverse("audit-list"), {"action": "review."}).context["page_obj"]
    assert [e.actor_username for e in page] == ["reviewer"]
    page = client.get(reverse("audit-list"), {"since": "2000-01-01", "until": "2000-01-02"}).context["page_obj"]
    assert list(page) == []
    response = client.get(reverse("audit-list"), {"since": "not-a-date"})
    assert response.status_code == 200


def test_audit_api_filters_and_paginates(api_as, cast):
    with transaction.atomic():
        for i in range(60):
            audit.record(actor=cast["author"], action="test.bulk", object_id=str(i))
    client = api_as(cast["viewer"])
    body = client.get("/api/v1/audit/", {"action": "test.bulk", "page_size": 25}).json()
    assert body["count"] == 60 and len(body["results"]) == 25 and body["next"]
    assert body["results"][0]["seq"] > body["results"][1]["seq"]
    assert client.get("/api/v1/audit/", {"page_size": 1000}).json()["results"].__len__() <= 200


# The dashboard adds the signed-in user's panels (versions in review, action items, activity) and the chart's
# two series: five queries, whatever the data.
@pytest.mark.parametrize("url_name, queries", [("dashboard", 17), ("audit-list", 12), ("user-list", 12),
                                               ("profile", 12)])
def test_pages_use_a_constant_number_of_queries(client, cast, url_name, queries, django_assert_max_num_queries):
    for i in range(40):
        make_user(f"bulk{i}", ["viewer", "contributor"])
    with transaction.atomic():
        for i in range(80):
            audit.record(actor=cast["author"], action="test.bulk", object_id=str(i))
    client.force_login(cast["admin_user"])
    with django_assert_max_num_queries(queries):
        assert client.get(reverse(url_name)).status_code == 200
