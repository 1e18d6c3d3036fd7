"""The incident page offers the next sensible step; false alarms close as false positives; permissions are
checked before anything is written."""

import pytest

from core.errors import Conflict, InvalidInput
from governance.models import AuditEvent
from incidents import services
from incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def sev1(cast):
    return services.incident_open(actor=cast["incident_manager"], title="Model leaks data", severity="sev1",
                                  category="privacy")


def walk(incident, actor, *states):
    for state in states:
        incident = services.incident_transition(actor=actor, incident=incident, to=state)
    return incident


def test_the_primary_button_is_the_next_step_and_never_an_early_close(sev1, cast, client):
    client.force_login(cast["incident_manager"])
    page = client.get(f"/incidents/{sev1.pk}/")
    assert page.context["primary_next"] == "triaged"
    walk(sev1, cast["incident_manager"], "triaged", "contained", "eradicated", "recovered")
    page = client.get(f"/incidents/{sev1.pk}/")
    assert page.context["primary_next"] is None and page.context["review_is_next"]
    html = page.content.decode()
    assert "Write and sign off the review" in html
    assert 'disabled title="A SEV1 incident closes only after its post-incident review is signed off."' in html


def test_a_sev1_false_alarm_closes_as_a_false_positive_with_a_reason(sev1, cast, client):
    with pytest.raises(InvalidInput, match="why this is a false positive"):
        services.incident_transition(actor=cast["incident_manager"], incident=sev1, to="closed",
                                     false_positive=True)
    with pytest.raises(Conflict, match="cannot close before its post-incident review"):
        services.incident_transition(actor=cast["incident_manager"], incident=sev1, to="closed")
    client.force_login(cast["incident_manager"])
    response = client.post(f"/incidents/{sev1.pk}/transition/", {"false_positive": "1",
                                                                 "reason": "The alert came from a test account"})
    assert response.status_code == 302
    sev1.refresh_from_db()
    assert sev1.status == "closed" and sev1.resolution == "false_positive"
    assert sev1.resolution_reason == "The alert came from a test account"
    event = AuditEvent.objects.filter(action="incident.transition").latest("seq")
    assert event.changes["after"]["resolution"] == "false_positive"
    assert "false positive" in client.get(f"/incidents/{sev1.pk}/").content.decode()


def test_a_contained_incident_cannot_be_waved_off_as_a_false_positive(sev1, cast):
    walk(sev1, cast["incident_manager"], "triaged", "contained")
    with pytest.raises(Conflict, match="Only a reported or triaged incident"):
        services.incident_transition(actor=cast["incident_manager"], incident=sev1, to="closed",
                                     false_positive=True, reason="never mind")


def test_a_false_positive_closes_through_the_api(sev1, cast, api_as):
    response = api_as(cast["incident_manager"]).patch(f"/api/v1/incidents/{sev1.pk}/", {
        "status": "closed", "false_positive": True, "reason": "duplicate alert"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["resolution"] == "false_positive"


def test_a_contributor_naming_experts_gets_a_403_and_nothing_is_written(cast, api_as):
    response = api_as(cast["author"]).post("/api/v1/incidents/", {
        "title": "Odd outputs", "severity": "sev3", "experts": ["reviewer"]}, format="json")
    assert response.status_code == 403
    assert not Incident.objects.exists()
    assert not AuditEvent.objects.filter(action="incident.open").exists()


def test_a_manager_names_experts_when_opening(cast, api_as):
    response = api_as(cast["incident_manager"]).post("/api/v1/incidents/", {
        "title": "Odd outputs", "severity": "sev3", "experts": ["reviewer"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["experts"] == ["reviewer"]


def test_model_and_version_pages_open_an_incident_prefilled(cast, client, artifact_storage):
    import io

    from governance import services as registry
    from tests.ml import iris_csv, iris_skops

    model = registry.model_create(actor=cast["author"], name="iris", title="Iris", task="classification")
    dataset = registry.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="i.csv",
                                      target_column="target")
    version = registry.model_version_create(actor=cast["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="i.skops", evaluation_dataset=dataset)
    client.force_login(cast["incident_manager"])
    assert 'href="/incidents/new/?model=iris"' in client.get("/models/iris/").content.decode()
    assert 'href="/incidents/new/?version=iris:1"' in client.get("/models/iris/versions/1/").content.decode()
    form = client.get("/incidents/new/?version=iris:1").context["form"]
    assert form["affected_versions"].value() == [version.pk]
    assert form["affected_models"].value() == [model.pk]
    assert form["title"].value() == "Incident on iris v1"
    assert client.get("/incidents/new/?model=nope&version=x:y").status_code == 200  # unknown refs are ignored
