"""Incident response: the NIST life cycle, timeline, containment through the registry, reviews, metrics."""

import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.errors import Conflict, InvalidInput, PayloadTooLarge, PermissionDenied, UnsupportedMediaType
from governance import services as registry
from governance.models import AuditEvent
from incidents import selectors, services
from incidents.models import Incident, Notification, TimelineEntry
from tests.ml import iris_csv, iris_skops

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ATTESTATION_KEY_FILE = tmp_path / "attestation.pem"


@pytest.fixture
def incident(cast):
    return services.incident_open(actor=cast["author"], title="Evasion on credit", severity="sev1",
                                  category="evasion", commander=cast["incident_manager"])


@pytest.fixture
def released_version(cast):
    model = registry.model_create(actor=cast["author"], name="iris", title="Iris", task="classification",
                                  risk_tier="low")
    dataset = registry.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="i.csv",
                                      target_column="target")

    def release():
        version = registry.model_version_create(actor=cast["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                                filename="iris.skops", evaluation_dataset=dataset)
        version = registry.version_compatibility_check(version_id=version.pk)
        registry.version_submit(actor=cast["author"], version=version)
        registry.review_create(actor=cast["reviewer"], version=version, decision="approve")
        return registry.version_release(actor=cast["reviewer"], version=version)

    return release


def walk(incident, actor, *states):
    for state in states:
        incident = services.incident_transition(actor=actor, incident=incident, to=state)
    return incident


def test_opening_instantiates_the_playbook_and_notifies_the_commander(incident, cast):
    assert incident.tasks.count() > 3
    assert incident.tasks.filter(text__icontains="adversarial").exists()
    assert Notification.objects.filter(user=cast["incident_manager"], incident=incident).count() == 1
    assert incident.timeline.get().kind == "created"


def test_phases_move_in_order_with_a_timestamp_each(incident, cast):
    incident = walk(incident, cast["incident_manager"], "triaged", "contained", "eradicated", "recovered")
    assert all([incident.triaged_at, incident.contained_at, incident.eradicated_at, incident.recovered_at])
    assert incident.review.due_at > incident.recovered_at


@pytest.mark.parametrize("start, target", [("reported", "contained"), ("reported", "recovered"),
                                           ("triaged", "eradicated")])
def test_invalid_transitions_are_refused(incident, cast, start, target):
    if start == "triaged":
        incident = walk(incident, cast["incident_manager"], "triaged")
    with pytest.raises(Conflict, match="cannot move to"):
        services.incident_transition(actor=cast["incident_manager"], incident=incident, to=target)


def test_a_sev1_cannot_close_without_a_signed_review(incident, cast):
    manager = cast["incident_manager"]
    incident = walk(incident, manager, "triaged", "contained", "eradicated", "recovered")
    with pytest.raises(Conflict, match="post-incident review is signed off"):
        services.incident_transition(actor=manager, incident=incident, to="closed")
    services.review_save(actor=manager, incident=incident, summary="s", root_cause="r", lessons_learned="l",
                         action_items=[{"description": "Add an input guard", "owner": "author",
                                        "due_date": "2030-01-01"}])
    services.review_sign(actor=manager, incident=incident)
    assert walk(incident, manager, "closed").closed_at is not None
    with pytest.raises(InvalidInput, match="needs a reason"):
        services.incident_transition(actor=manager, incident=incident, to="triaged")
    reopened = services.incident_transition(actor=manager, incident=incident, to="triaged", reason="came back")
    assert reopened.reopened_count == 1 and reopened.closed_at is None


def test_a_sev3_may_close_without_review(cast):
    incident = services.incident_open(actor=cast["author"], title="minor drift", severity="sev3", category="drift")
    assert walk(incident, cast["incident_manager"], "closed").status == "closed"


def test_contributors_open_but_do_not_run_incidents(incident, cast):
    with pytest.raises(PermissionDenied):
        services.incident_transition(actor=cast["author"], incident=incident, to="triaged")
    with pytest.raises(PermissionDenied):
        services.incident_open(actor=cast["viewer"], title="x", severity="sev4")


def test_containment_revoke_goes_through_the_registry(incident, cast, released_version, client):
    version = released_version()
    services.containment_action(actor=cast["incident_manager"], incident=incident, kind="revoke", version=version,
                                reason="adversarial inputs in production")
    version.refresh_from_db()
    assert version.status == "revoked"
    assert f"incident #{incident.pk}" in version.status_reason
    assert AuditEvent.objects.filter(action="version.revoked", object_id=str(version.pk)).count() == 1
    assert incident.timeline.filter(kind="action").count() == 1
    client.force_login(cast["viewer"])
    page = client.get(reverse("model-detail", args=["iris"])).content.decode()
    assert f"Revoked due to incident #{incident.pk}" in page


def test_containment_rollback_and_refusals(incident, cast, released_version):
    v1 = released_version()
    v2 = released_version()
    services.containment_action(actor=cast["incident_manager"], incident=incident, kind="rollback", model=v2.model,
                                reason="v2 misbehaves")
    v1.refresh_from_db()
    assert v1.status == "released"
    with pytest.raises(PermissionDenied):
        services.containment_action(actor=cast["author"], incident=incident, kind="revoke", version=v1, reason="x")
    with pytest.raises(InvalidInput):
        services.containment_action(actor=cast["incident_manager"], incident=incident, kind="revoke", version=v1,
                                    reason=" ")
    v1.refresh_from_db()
    assert v1.status == "released"


def test_timeline_records_every_change_exactly_once(incident, cast):
    manager = cast["incident_manager"]
    services.incident_update(actor=manager, incident=incident, severity="sev2", scribe=cast["viewer"])
    services.incident_transition(actor=manager, incident=incident, to="triaged")
    kinds = list(TimelineEntry.objects.filter(incident=incident).values_list("kind", flat=True))
    assert sorted(kinds) == sorted(["created", "severity", "assignment", "status"])
    assert Notification.objects.filter(user=cast["viewer"]).count() >= 1  # new scribe, and severity change


def test_evidence_upload_limits(incident, cast, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    manager = cast["incident_manager"]
    entry = services.timeline_add(actor=manager, incident=incident, body="logs",
                                  evidence_file=SimpleUploadedFile("../../etc/query.log", b"GET /predict x50"))
    assert entry.evidence.original_name == "query.log"
    with pytest.raises(UnsupportedMediaType):
        services.timeline_add(actor=manager, incident=incident, evidence_file=SimpleUploadedFile("x.exe", b"MZ"))
    with pytest.raises(PayloadTooLarge):
        services.timeline_add(actor=manager, incident=incident, evidence_file=SimpleUploadedFile("big.txt",
                                                                                                  b"x" * 500))
    with pytest.raises(InvalidInput):
        services.timeline_add(actor=manager, incident=incident, body="", link_url="javascript:alert(1)")
    assert incident.timeline.filter(kind="evidence").count() == 1


def test_evidence_is_downloaded_decrypted_as_an_attachment_and_the_download_is_audited(incident, cast, client,
                                                                                       api_as):
    """Evidence could be attached but never read back: readers of the incident now download it."""
    manager = cast["incident_manager"]
    content = b'<html><script>alert("x")</script></html>\n'  # untrusted: must never be rendered inline
    entry = services.timeline_add(actor=manager, incident=incident, body="page the attacker served",
                                  evidence_file=SimpleUploadedFile('page "1".txt', content))
    client.force_login(cast["viewer"])
    assert reverse("incident-evidence", args=[incident.pk, entry.pk]) in client.get(
        reverse("incident-detail", args=[incident.pk])).content.decode()
    response = client.get(reverse("incident-evidence", args=[incident.pk, entry.pk]))
    assert response.status_code == 200 and response.content == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;") and 'page \\"1\\".txt' in \
        response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.filter(action="incident.evidence_download").latest("seq")
    assert event.actor_username == "viewer" and event.changes["after"]["sha256"] == entry.evidence.sha256

    api = api_as(cast["viewer"])
    response = api.get(f"/api/v1/incidents/{incident.pk}/evidence/{entry.pk}/")
    assert response.status_code == 200 and response.content == content
    assert AuditEvent.objects.filter(action="incident.evidence_download").count() == 2
    assert api.get(f"/api/v1/incidents/{incident.pk}/evidence/999/").status_code == 404
    assert client.get(reverse("incident-evidence", args=[incident.pk, 999])).status_code == 404


def test_tampered_evidence_is_refused(incident, cast, api_as, tmp_path):
    entry = services.timeline_add(actor=cast["incident_manager"], incident=incident,
                                  evidence_file=SimpleUploadedFile("log.txt", b"original log line\n" * 50))
    blob = next(p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 100)
    raw = bytearray(blob.read_bytes())
    raw[-3] ^= 0xFF
    blob.write_bytes(bytes(raw))
    response = api_as(cast["viewer"]).get(f"/api/v1/incidents/{incident.pk}/evidence/{entry.pk}/")
    assert response.status_code == 409 and "integrity" in response.json()["detail"]
    assert not AuditEvent.objects.filter(action="incident.evidence_download").exists()


def test_anonymous_cannot_download_evidence(incident, cast, client):
    entry = services.timeline_add(actor=cast["incident_manager"], incident=incident,
                                  evidence_file=SimpleUploadedFile("log.txt", b"x"))
    response = client.get(reverse("incident-evidence", args=[incident.pk, entry.pk]))
    assert response.status_code == 302


def test_metrics_on_fixed_timestamps(cast):
    now = timezone.now()
    for hours_to_triage, hours_to_contain in [(1, 4), (3, 10), (5, None)]:
        incident = services.incident_open(actor=cast["author"], title="t", severity="sev2", category="drift",
                                          detected_at=now - timedelta(days=1))
        Incident.objects.filter(pk=incident.pk).update(
            triaged_at=incident.detected_at + timedelta(hours=hours_to_triage),
            contained_at=incident.detected_at + timedelta(hours=hours_to_contain) if hours_to_contain else None)
    data = selectors.metrics(days=30, now=now)
    assert data["count"] == 3
    assert data["time_to_triage"] == {"n": 3, "median": 3.0, "p90": 5.0}
    assert data["time_to_contain"]["median"] == 7.0
    assert data["open_by_severity"]["SEV2"] == 3


def test_overdue_action_items_are_highlighted(incident, cast, client):
    services.review_save(actor=cast["incident_manager"], incident=incident, summary="s",
                         action_items=[{"description": "Rotate tokens", "owner": "author",
                                        "due_date": (date.today() - timedelta(days=2)).isoformat()}])
    client.force_login(cast["viewer"])
    assert b'data-testid="dashboard-overdue"' in client.get(reverse("dashboard")).content
    assert b"Rotate tokens" in client.get(reverse("incident-list")).content
    assert services.notifications_overdue_action_items() == 1
    assert services.notifications_overdue_action_items() == 0  # once a day


def test_incident_api_flow(cast, api_as, released_version):
    released_version()
    author, manager = api_as(cast["author"]), api_as(cast["incident_manager"])
    response = author.post("/api/v1/incidents/", {"title": "Stolen model?", "severity": "sev2",
                                                  "category": "extraction", "affected_versions": ["iris:1"]},
                           format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert response.json()["affected_models"] == ["iris"]
    assert author.patch(f"/api/v1/incidents/{pk}/", {"status": "triaged"}, format="json").status_code == 403
    assert manager.patch(f"/api/v1/incidents/{pk}/", {"status": "contained"}, format="json").status_code == 409
    assert manager.patch(f"/api/v1/incidents/{pk}/", {"status": "triaged"}, format="json").json()["status"] == \
        "triaged"
    assert author.post(f"/api/v1/incidents/{pk}/timeline/", {"body": "saw 10k queries"}, format="json").status_code \
        == 201
    response = manager.post(f"/api/v1/incidents/{pk}/actions/", {"kind": "revoke", "version": "iris:1",
                                                                 "reason": "extraction"}, format="json")
    assert response.status_code == 201
    review = manager.put(f"/api/v1/incidents/{pk}/review/", {"summary": "s", "root_cause": "r",
                                                             "lessons_learned": "l", "action_items": [
                                                                 {"description": "rate limit", "owner": "author"}]},
                         format="json")
    assert review.status_code == 200 and review.json()["action_items"][0]["owner"] == "author"
    timeline = author.get(f"/api/v1/incidents/{pk}/timeline/").json()
    assert [e["kind"] for e in timeline][:2] == ["created", "status"]
    export = author.get(f"/api/v1/incidents/{pk}/export/").json()
    assert export["ai_system"][0]["model"] == "iris" and export["corrective_actions"]
    assert author.get("/api/v1/incidents/", {"severity": "sev2"}).json()["count"] == 1


@pytest.mark.parametrize("count", [2, 12])
def test_incident_pages_keep_a_constant_query_count(cast, client, count, django_assert_max_num_queries):
    for i in range(count):
        services.incident_open(actor=cast["author"], title=f"i{i}", severity="sev3", category="drift")
    client.force_login(cast["incident_manager"])
    pk = Incident.objects.first().pk
    for url in (reverse("incident-list"), reverse("incident-detail", args=[pk]), reverse("incident-metrics")):
        with django_assert_max_num_queries(40):
            assert client.get(url).status_code == 200, url
    with django_assert_max_num_queries(20):
        client.get(reverse("incident-list"))


def test_admins_edit_playbooks_and_new_incidents_use_them(cast, client):
    client.force_login(cast["admin_user"])
    response = client.post(reverse("playbooks"), {"category": "availability", "phase": "contain",
                                                  "text": "Scale the prediction service out"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="playbook.add").count() == 1
    incident = services.incident_open(actor=cast["author"], title="down", severity="sev4", category="availability")
    assert incident.tasks.filter(text="Scale the prediction service out").exists()
    client.force_login(cast["incident_manager"])
    assert client.post(reverse("playbooks"), {"category": "availability", "phase": "contain",
                                              "text": "x"}).status_code == 403
    assert client.get(reverse("playbooks")).status_code == 200
