"""The post-incident review form: one row per action item, and a failed submission keeps everything typed."""

import pytest

from incidents import services
from incidents.models import PostIncidentReview

pytestmark = pytest.mark.django_db

TYPED = {"summary": "Evasion of the fraud model", "root_cause": "No input guard", "impact": "12 cases missed",
         "lessons_learned": "Test with adversarial rows"}


@pytest.fixture
def incident(cast):
    return services.incident_open(actor=cast["incident_manager"], title="Evasion", severity="sev2",
                                  category="evasion")


def post(client, incident, items, **extra):
    data = {**TYPED, "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "50", **extra}
    for n, item in enumerate(items):
        data.update({f"items-{n}-{key}": value for key, value in item.items()})
    return client.post(f"/incidents/{incident.pk}/review/", data)


def test_each_action_item_is_a_row_with_an_owner_and_a_due_date(incident, cast, client):
    client.force_login(cast["incident_manager"])
    response = post(client, incident, [
        {"description": "Add an input guard", "owner": "author", "due_date": "2027-01-15", "status": "open"},
        {"description": "", "owner": "", "due_date": "", "status": "open"},  # an empty row is ignored
    ])
    assert response.status_code == 302
    items = list(PostIncidentReview.objects.get(incident=incident).action_items.all())
    assert [(i.description, i.owner.username, str(i.due_date)) for i in items] == [
        ("Add an input guard", "author", "2027-01-15")]
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'type="date"' in page and 'value="2027-01-15"' in page and 'value="Add an input guard"' in page


@pytest.mark.parametrize("bad", [
    {"description": "Rotate keys", "owner": "nobody-of-that-name", "due_date": "", "status": "open"},
    {"description": "Rotate keys", "owner": "", "due_date": "next week", "status": "open"},
    {"description": "", "owner": "author", "due_date": "2027-01-15", "status": "open"},
])
def test_an_invalid_action_item_keeps_every_field_typed_and_saves_nothing(incident, cast, client, bad):
    client.force_login(cast["incident_manager"])
    response = post(client, incident, [
        {"description": "Add an input guard", "owner": "author", "due_date": "2027-01-15", "status": "open"}, bad])
    assert response.status_code == 400
    page = response.content.decode()
    for value in TYPED.values():
        assert value in page
    assert 'value="Add an input guard"' in page and "invalid-feedback" in page
    assert not PostIncidentReview.objects.filter(incident=incident).exists()


def test_a_refused_sign_off_keeps_the_typed_review_and_changes_nothing(incident, cast, client):
    client.force_login(cast["incident_manager"])
    response = post(client, incident, [], sign="1", lessons_learned="")
    assert response.status_code == 400
    assert "Fill in lessons_learned" in response.content.decode()
    assert TYPED["root_cause"] in response.content.decode()
    assert not PostIncidentReview.objects.filter(incident=incident).exists()
