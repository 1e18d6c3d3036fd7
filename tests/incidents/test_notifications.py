"""Authors and owners hear about decisions on their versions and incidents that name their models."""

import io

import pytest
from django.core import mail

from governance import services as registry
from governance.models import RegisteredModel
from incidents import services
from incidents.models import Notification
from tests.ml import iris_csv, iris_skops

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(artifact_storage, settings, tmp_path):
    settings.ATTESTATION_KEY_FILE = tmp_path / "attestation.pem"


@pytest.fixture
def owned(cast):
    """A low-risk model owned by `owner` (a contributor), with checked versions written by `author`, a teammate."""
    from governance.models import Team
    from tests.conftest import make_user

    owner = make_user("olga", ["contributor"])
    Team.objects.create(name="fraud-team").members.add(cast["author"])  # the author works on the owner's model
    model = registry.model_create(actor=cast["author"], name="fraud", title="Fraud", task="classification",
                                  risk_tier="low", owner=owner, team="fraud-team")
    dataset = registry.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="i.csv",
                                      target_column="target")

    def version():
        made = registry.model_version_create(actor=cast["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                             filename="i.skops", evaluation_dataset=dataset)
        made = registry.version_compatibility_check(version_id=made.pk)
        registry.version_submit(actor=cast["author"], version=made)
        return made

    return {"owner": owner, "model": model, "version": version}


def messages_of(user):
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("message", flat=True))


def test_a_rejection_tells_the_author_and_the_owner_with_the_comment(owned, cast, django_capture_on_commit_callbacks):
    version = owned["version"]()
    with django_capture_on_commit_callbacks(execute=True):
        registry.review_create(actor=cast["reviewer"], version=version, decision="reject",
                               comment="The card lacks the evaluation data")
    expected = "fraud v1 was rejected by reviewer: The card lacks the evaluation data"
    assert messages_of(cast["author"]) == [expected] and messages_of(owned["owner"]) == [expected]
    assert not messages_of(cast["reviewer"])
    assert Notification.objects.filter(user=cast["author"]).get().url == "/models/fraud/versions/1/"
    assert sorted(m.to[0] for m in mail.outbox) == ["author@example.test", "olga@example.test"]


def test_approval_release_revocation_and_rollback_are_each_announced(owned, cast):
    first = owned["version"]()
    registry.review_create(actor=cast["reviewer"], version=first, decision="approve")
    registry.version_release(actor=cast["reviewer"], version=first)
    second = owned["version"]()
    registry.review_create(actor=cast["reviewer"], version=second, decision="approve")
    registry.version_release(actor=cast["reviewer"], version=second)
    registry.model_rollback(actor=cast["incident_manager"], model=RegisteredModel.objects.get(name="fraud"),
                            reason="v2 misbehaves")
    registry.version_revoke(actor=cast["incident_manager"], version=second, reason="Evasion found")
    assert messages_of(owned["owner"]) == [
        "fraud v1 was approved by reviewer", "fraud v1 was released by reviewer",
        "fraud v2 was approved by reviewer", "fraud v2 was released by reviewer",
        "fraud was rolled back to v1 by incident_manager: v2 misbehaves",
        "fraud v2 was revoked by incident_manager: Evasion found",
    ]


def test_an_incident_naming_a_model_tells_its_owner_once(owned, cast):
    incident = services.incident_open(actor=cast["incident_manager"], title="Drift", severity="sev3",
                                      affected_models=[owned["model"]])
    services.incident_update(actor=cast["incident_manager"], incident=incident, title="Drift on fraud",
                             affected_models=[owned["model"]])
    notes = Notification.objects.filter(user=owned["owner"])
    assert [n.message for n in notes] == [f"Incident #{incident.pk} (SEV3) names your model fraud"]
    assert notes.get().incident_id == incident.pk


def test_the_notifications_page_links_to_the_version(owned, cast, client):
    version = owned["version"]()
    registry.review_create(actor=cast["reviewer"], version=version, decision="approve")
    client.force_login(owned["owner"])
    page = client.get("/notifications/").content.decode()
    assert "fraud v1 was approved by reviewer" in page and 'href="/models/fraud/versions/1/"' in page


def test_the_dashboard_shows_my_versions_in_review_my_action_items_activity_and_a_chart(owned, cast, client):
    from datetime import date

    version = owned["version"]()
    incident = services.incident_open(actor=cast["incident_manager"], title="Drift", severity="sev3",
                                      affected_models=[owned["model"]])
    services.review_save(actor=cast["incident_manager"], incident=incident, summary="s",
                         action_items=[{"description": "Retrain on fresh data", "owner": "olga",
                                        "due_date": date(2020, 1, 1)}])
    client.force_login(owned["owner"])
    response = client.get("/")
    panels = {panel["testid"]: panel for panel in response.context["panels"]}
    assert [i["text"] for i in panels["my-versions-in-review"]["items"]] == [f"fraud v{version.number}"]
    assert panels["my-action-items"]["items"][0]["text"] == "Retrain on fresh data"
    assert "overdue" in panels["my-action-items"]["items"][0]["meta"]
    assert any("version.in_review" in i["text"] for i in panels["activity-on-my-models"]["items"])
    series = {trace["name"]: sum(trace["y"]) for trace in response.context["activity"]["data"]}
    from explain.models import AnalysisJob

    assert series == {"Analysis jobs": AnalysisJob.objects.count(), "Incidents opened": 1}
    assert 'data-testid="activity-chart"' in response.content.decode()


def test_someone_elses_dashboard_does_not_show_my_versions(owned, cast, client):
    owned["version"]()
    client.force_login(cast["viewer"])
    panels = {panel["testid"]: panel for panel in client.get("/").context["panels"]}
    assert panels["my-versions-in-review"]["items"] == [] and panels["my-action-items"]["items"] == []
