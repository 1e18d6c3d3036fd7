"""A model's primary metric: what its robustness and validation analyses judge it by, set like the risk tier."""

import pytest

from governance.models import AuditEvent, RegisteredModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def contributor_api(cast, api_as):
    return api_as(cast["author"])


def test_a_model_declares_its_primary_metric_through_the_api(contributor_api):
    response = contributor_api.post("/api/v1/models/", {"name": "fraud", "title": "Fraud", "task": "classification",
                                                         "primary_metric": "roc_auc"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["primary_metric"] == "roc_auc"
    assert contributor_api.get("/api/v1/models/fraud/").json()["primary_metric"] == "roc_auc"


def test_the_default_is_blank_meaning_balanced_accuracy_or_r2(contributor_api):
    response = contributor_api.post("/api/v1/models/", {"name": "plain", "title": "Plain", "task": "regression"},
                                    format="json")
    assert response.status_code == 201 and response.json()["primary_metric"] == ""


def test_a_metric_of_the_other_task_is_a_clear_400_and_writes_nothing(contributor_api):
    response = contributor_api.post("/api/v1/models/", {"name": "bad", "title": "Bad", "task": "regression",
                                                         "primary_metric": "roc_auc"}, format="json")
    assert response.status_code == 400
    assert "does not apply to regression" in str(response.json())
    assert not RegisteredModel.objects.filter(name="bad").exists()


def test_editing_the_primary_metric_is_validated_and_audited(contributor_api):
    contributor_api.post("/api/v1/models/", {"name": "churn", "title": "Churn", "task": "classification"},
                         format="json")
    response = contributor_api.patch("/api/v1/models/churn/", {"primary_metric": "f1"}, format="json")
    assert response.status_code == 200, response.json()
    event = AuditEvent.objects.filter(action="model.update").latest("pk")
    assert event.changes["before"] == {"primary_metric": ""} and event.changes["after"] == {"primary_metric": "f1"}
    assert contributor_api.patch("/api/v1/models/churn/", {"primary_metric": "rmse"},
                                 format="json").status_code == 400
    assert contributor_api.patch("/api/v1/models/churn/", {"primary_metric": "nonsense"},
                                 format="json").status_code == 400
    assert RegisteredModel.objects.get(name="churn").primary_metric == "f1"


def test_the_edit_page_offers_the_metric_and_the_model_page_shows_it(cast, client_as):
    client = client_as(cast["author"])
    client.post("/models/new/", {"name": "loans", "title": "Loans", "task": "classification", "risk_tier": "medium"})
    page = client.get("/models/loans/")
    assert "judged by balanced accuracy (automatic)" in page.content.decode()
    response = client.post("/models/loans/edit/", {"title": "Loans", "task": "classification", "risk_tier": "medium",
                                                   "primary_metric": "f1"})
    assert response.status_code == 302
    assert "judged by F1 (positive class)" in client.get("/models/loans/").content.decode()
