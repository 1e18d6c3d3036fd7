"""Robustness gate thresholds are part of an approval policy: editable on the page and through the API, validated
against the gate's own ranges, audited, and in force on the scorecard."""

import pytest

from explain.scorecard import DEFAULT_THRESHOLDS
from governance import checks
from governance.models import ApprovalPolicy, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(cast, api_as):
    return api_as(cast["admin_user"])


def test_an_admin_sets_a_tiers_thresholds_through_the_api(admin_api):
    response = admin_api.patch("/api/v1/policies/high/", {"robustness_thresholds": {"evasion_max_success": 0.2,
                                                                                    "required": ["stress_test"]}},
                               format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["robustness_thresholds"]["evasion_max_success"] == 0.2
    assert body["robustness_thresholds"]["noise_min_retained"] == DEFAULT_THRESHOLDS["noise_min_retained"]
    assert body["robustness_thresholds_set"] == {"evasion_max_success": 0.2, "required": ["stress_test"]}
    stored = ApprovalPolicy.objects.get(risk_tier="high", model__isnull=True)
    assert stored.robustness_thresholds["evasion_max_success"] == 0.2
    event = AuditEvent.objects.filter(action="policy.update").latest("seq")
    assert event.changes["after"]["robustness_thresholds"]["evasion_max_success"] == 0.2
    # a second patch merges; null returns a key to its default
    admin_api.patch("/api/v1/policies/high/", {"robustness_thresholds": {"cv_max_std": 0.02}}, format="json")
    body = admin_api.patch("/api/v1/policies/high/", {"robustness_thresholds": {"evasion_max_success": None}},
                           format="json").json()
    assert body["robustness_thresholds_set"] == {"cv_max_std": 0.02, "required": ["stress_test"]}


@pytest.mark.parametrize("bad, says", [
    ({"evasion_max_success": 1.5}, "between 0.0 and 1.0"),
    ({"extraction_budget": 12.5}, "an integer"),
    ({"noise_level": "high"}, "a number"),
    ({"surprise": 1}, "Unknown robustness threshold"),
    ({"required": ["poisoning"]}, "required must list some of"),
])
def test_bad_thresholds_are_a_clear_400_and_change_nothing(admin_api, bad, says):
    response = admin_api.patch("/api/v1/policies/medium/", {"robustness_thresholds": bad}, format="json")
    assert response.status_code == 400
    assert says in str(response.json())
    assert not ApprovalPolicy.objects.filter(risk_tier="medium", robustness_thresholds__has_key="surprise").exists()
    assert not AuditEvent.objects.filter(action="policy.update").exists()


def test_only_a_policy_manager_may_change_thresholds(cast, api_as):
    response = api_as(cast["author"]).patch("/api/v1/policies/low/", {"robustness_thresholds": {
        "evasion_max_success": 0.9}}, format="json")
    assert response.status_code == 403
    assert api_as(cast["author"]).get("/api/v1/policies/").status_code == 200


def test_a_models_override_carries_its_own_thresholds(admin_api, cast):
    from governance import services

    services.model_create(actor=cast["author"], name="fraud", title="Fraud", task="classification")
    response = admin_api.patch("/api/v1/models/fraud/policy/", {"robustness_thresholds": {"cv_max_std": 0.01}},
                               format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["model"] == "fraud"
    from explain.scorecard import thresholds_for
    from governance.models import RegisteredModel

    model = RegisteredModel.objects.get(name="fraud")
    assert checks.policy_for(model).robustness_thresholds == {"cv_max_std": 0.01}
    assert admin_api.get("/api/v1/models/nope/policy/").status_code == 404

    class Version:
        pass

    version = Version()
    version.model = RegisteredModel.objects.get(name="fraud")
    assert thresholds_for(version)["cv_max_std"] == 0.01


def test_the_policies_page_edits_thresholds_and_shows_errors(cast, client):
    client.force_login(cast["admin_user"])
    page = client.get("/policies/").content.decode()
    assert 'data-testid="thresholds-high"' in page and "Evasion: max attack success on any class" in page
    form = {"tier": "low", "low-required_approvals": "1", "low-required_checks": ["compatibility", "security"]}
    form.update({f"low-threshold_{key}": str(value) for key, value in DEFAULT_THRESHOLDS.items() if key != "required"})
    form["low-threshold_evasion_max_success"] = "0.25"
    form["low-threshold_required"] = ["cross_validation", "stress_test"]
    assert client.post("/policies/", form).status_code == 302
    policy = checks.policy_for_tier("low")
    assert policy.robustness_thresholds["evasion_max_success"] == 0.25
    assert policy.robustness_thresholds["required"] == ["cross_validation", "stress_test"]
    form["low-threshold_noise_min_retained"] = "7"
    response = client.post("/policies/", form)
    assert response.status_code == 400 and "less than or equal to 1" in response.content.decode()
