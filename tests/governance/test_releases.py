"""Release governance: the workflow, policies, separation of duties, attestations, release and rollback."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from core.errors import Conflict, InvalidInput, PermissionDenied
from governance import checks, services
from governance.models import Attestation, AuditEvent, ModelVersion, ReleaseEvent
from tests.conftest import make_user
from tests.ml import iris_csv, iris_skops

pytestmark = pytest.mark.django_db

FULL_CARD = {f: f"Text for {f}." for f in [
    "intended_use", "out_of_scope_uses", "factors", "metrics", "evaluation_data", "training_data",
    "quantitative_analyses", "ethical_considerations", "caveats_and_recommendations"]}


@pytest.fixture(autouse=True)
def artifact_dir(settings, tmp_path):
    storages = dict(settings.STORAGES)
    storages["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                             "OPTIONS": {"location": str(tmp_path / "artifacts")}}
    settings.STORAGES = storages
    settings.ATTESTATION_KEY_FILE = tmp_path / "keys" / "attestation.pem"
    return tmp_path / "artifacts"


@pytest.fixture
def dataset(cast):
    return services.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                   target_column="target")


@pytest.fixture
def new_version(cast, dataset):
    """A checked draft version of a model of the given tier (one model per tier, versions appended)."""

    def build(tier="low", card=FULL_CARD, check=True):
        from governance.models import RegisteredModel

        model = RegisteredModel.objects.filter(name=f"iris-{tier}").first() or services.model_create(
            actor=cast["author"], name=f"iris-{tier}", title="Iris", task="classification", risk_tier=tier, card=card)
        version = services.model_version_create(actor=cast["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                                filename="iris.skops", evaluation_dataset=dataset)
        if check:
            version = services.version_compatibility_check(version_id=version.pk)
        return version

    return build


def approve(version, *reviewers):
    for reviewer in reviewers:
        services.review_create(actor=reviewer, version=version, decision="approve", comment="ok")
    version.refresh_from_db()
    return version


def released(version, cast):
    services.version_submit(actor=cast["author"], version=version)
    approve(version, cast["reviewer"])
    return services.version_release(actor=cast["reviewer"], version=version)


# --- workflow and policy --------------------------------------------------------------------------

def test_low_risk_needs_one_approval(new_version, cast):
    version = new_version("low")
    services.version_submit(actor=cast["author"], version=version)
    assert approve(version, cast["reviewer"]).status == "approved"


def test_medium_risk_needs_two_distinct_approvals(new_version, cast):
    version = new_version("medium")
    services.version_submit(actor=cast["author"], version=version)
    assert approve(version, cast["reviewer"]).status == "in_review"
    assert approve(version, cast["second_reviewer"]).status == "approved"


def test_high_risk_needs_an_admin_among_the_approvals(new_version, cast):
    from governance.checks import policy_for

    version = new_version("high")
    policy = policy_for(version.model)
    policy.required_checks = ["compatibility", "security", "model_card"]  # explainability arrives with its jobs
    policy.save()
    services.version_submit(actor=cast["author"], version=version)
    assert approve(version, cast["reviewer"], cast["second_reviewer"]).status == "in_review"
    assert approve(version, cast["admin_user"]).status == "approved"


def test_a_version_whose_required_checks_fail_cannot_be_submitted(new_version, cast):
    version = new_version("medium", card={"intended_use": "only this"}, check=False)
    with pytest.raises(Conflict) as excinfo:
        services.version_submit(actor=cast["author"], version=version)
    assert "Model card complete: Missing: Out-of-scope uses" in excinfo.value.message
    assert [c["check"] for c in excinfo.value.details["failing_checks"]] == ["model_card"]
    version.refresh_from_db()
    assert version.status == "draft" and version.review_round == 0


def test_the_api_lists_the_failing_checks_of_a_refused_submission(new_version, cast, api_as):
    version = new_version("medium", card={"intended_use": "only this"}, check=False)
    response = api_as(cast["author"]).post(f"/api/v1/models/{version.model.name}/versions/{version.number}/submit/")
    assert response.status_code == 409
    body = response.json()
    assert body["failing_checks"][0]["label"] == "Model card complete"
    assert body["failing_checks"][0]["evidence_url"].endswith(f"/models/{version.model.name}/card/")


def test_missing_or_failed_checks_block_approval(new_version, cast):
    version = new_version("medium", card={"intended_use": "only this"}, check=False)
    policy = checks.policy_for_tier("medium")
    policy.submit_with_failing_checks = True  # this policy lets reviewers see the failures instead
    policy.save()
    services.version_submit(actor=cast["author"], version=version)
    with pytest.raises(Conflict) as excinfo:
        services.review_create(actor=cast["reviewer"], version=version, decision="approve")
    message = excinfo.value.message
    assert "Compatibility check passed (missing" in message and "Model card complete (failed" in message
    assert not version.reviews.exists()
    # A rejection is still possible, with a comment.
    services.review_create(actor=cast["reviewer"], version=version, decision="reject", comment="Finish the card.")
    version.refresh_from_db()
    assert version.status == "rejected" and version.status_reason == "Finish the card."


def test_author_and_submitter_cannot_review(new_version, cast):
    version = new_version("low")
    cast["author"].groups.add(*make_user("tmp", ["reviewer"]).groups.all())  # the author is also a reviewer
    author = type(cast["author"]).objects.get(pk=cast["author"].pk)
    services.version_submit(actor=cast["admin_user"], version=version)
    with pytest.raises(PermissionDenied, match="author of a version cannot"):
        services.review_create(actor=author, version=version, decision="approve")
    with pytest.raises(PermissionDenied, match="submitted a version cannot"):
        services.review_create(actor=cast["admin_user"], version=version, decision="approve")


def test_reviewer_approves_once_and_reject_needs_a_comment(new_version, cast):
    version = new_version("medium")
    services.version_submit(actor=cast["author"], version=version)
    approve(version, cast["reviewer"])
    with pytest.raises(Conflict, match="already reviewed"):
        services.review_create(actor=cast["reviewer"], version=version, decision="approve")
    with pytest.raises(InvalidInput, match="needs a comment"):
        services.review_create(actor=cast["second_reviewer"], version=version, decision="reject", comment="  ")
    assert version.reviews.count() == 1


def test_invalid_transitions_are_409_naming_both_states(new_version, cast, api_as):
    version = new_version("low")
    response = api_as(cast["reviewer"]).post(f"/api/v1/models/{version.model.name}/versions/1/release/")
    assert response.status_code == 409
    assert "draft" in response.json()["detail"] and "approved" in response.json()["detail"]
    services.version_submit(actor=cast["author"], version=version)
    with pytest.raises(Conflict, match="in review; it cannot become in review"):
        services.version_submit(actor=cast["author"], version=version)


def test_rejected_version_goes_back_to_draft_as_a_new_submission(new_version, cast):
    version = new_version("low")
    services.version_submit(actor=cast["author"], version=version)
    services.review_create(actor=cast["reviewer"], version=version, decision="reject", comment="no")
    services.version_reopen(actor=cast["author"], version=version)
    services.version_submit(actor=cast["author"], version=version)
    version.refresh_from_db()
    assert version.review_round == 2
    assert approve(version, cast["reviewer"]).status == "approved"  # a new round: the same reviewer may decide again


def test_approvals_go_stale_when_a_check_stops_passing(new_version, cast, django_capture_on_commit_callbacks):
    version = new_version("medium")
    services.version_submit(actor=cast["author"], version=version)
    approve(version, cast["reviewer"], cast["second_reviewer"])
    assert version.status == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        services.model_card_update(actor=cast["author"], model=version.model, ethical_considerations="")
    version.refresh_from_db()
    assert version.status == "in_review"
    assert all(r.stale for r in version.reviews.all())
    assert "model_card" in version.reviews.first().stale_reason
    assert AuditEvent.objects.filter(action="review.stale", object_id=str(version.pk)).count() == 1


def test_every_transition_writes_exactly_one_audit_event(new_version, cast):
    version = new_version("low")
    released(version, cast)
    for action in ("version.in_review", "version.approved", "version.released", "review.approve"):
        assert AuditEvent.objects.filter(action=action, object_id=str(version.pk)).count() == 1, action
    call_command("verify_audit")


# --- release, revoke, rollback ---------------------------------------------------------------------

def test_release_deprecates_the_previous_release_and_signs_an_attestation(new_version, cast):
    v1 = released(new_version("low"), cast)
    v2 = released(new_version("low"), cast)
    v1.refresh_from_db()
    assert (v1.status, v2.status) == ("deprecated", "released")
    payload = v2.attestations.get().payload
    assert payload["artifact_sha256"] == v2.artifact.sha256 and payload["previous_release"] == 1
    assert payload["approvals"][0]["reviewer"] == "reviewer"
    assert {c["check"]: c["outcome"] for c in payload["checks"]}["compatibility"] == "passed"
    assert list(ReleaseEvent.objects.values_list("action", flat=True).order_by("id")) == [
        "release", "deprecate", "release"]


def test_revoking_the_released_version_leaves_none_released(new_version, cast, client):
    version = released(new_version("low"), cast)
    with pytest.raises(InvalidInput):
        services.version_revoke(actor=cast["incident_manager"], version=version, reason="")
    services.version_revoke(actor=cast["incident_manager"], version=version, reason="Evasion attack (INC-7)")
    assert not ModelVersion.objects.filter(status="released").exists()
    client.force_login(cast["viewer"])
    page = client.get(reverse("model-detail", args=[version.model.name])).content.decode()
    assert 'data-testid="no-release-banner"' in page and "Evasion attack" in page


def test_rollback_picks_the_latest_earlier_release_and_skips_revoked(new_version, cast):
    v1 = released(new_version("low"), cast)
    v2 = released(new_version("low"), cast)
    v3 = released(new_version("low"), cast)
    services.version_revoke(actor=cast["reviewer"], version=v2, reason="leaked")
    back = services.model_rollback(actor=cast["incident_manager"], model=v3.model, reason="v3 misbehaves")
    assert back.pk == v1.pk
    v3.refresh_from_db()
    assert back.status == "released" and v3.status == "deprecated"
    assert ReleaseEvent.objects.filter(action="rollback", version=v1).count() == 1
    assert v1.attestations.count() == 2


def test_rollback_without_an_earlier_release_is_a_conflict(new_version, cast):
    version = released(new_version("low"), cast)
    with pytest.raises(Conflict, match="no earlier release"):
        services.model_rollback(actor=cast["reviewer"], model=version.model)


def test_viewer_and_contributor_cannot_release_or_revoke(new_version, cast, api_as):
    version = new_version("low")
    services.version_submit(actor=cast["author"], version=version)
    approve(version, cast["reviewer"])
    url = f"/api/v1/models/{version.model.name}/versions/1/"
    for who in ("viewer", "author"):
        client = api_as(cast[who])
        assert client.post(url + "release/").status_code == 403
        assert client.post(url + "revoke/", {"reason": "x"}, format="json").status_code == 403
    assert api_as(cast["incident_manager"]).post(url + "release/").status_code == 403


# --- attestations ----------------------------------------------------------------------------------

def test_attestation_api_and_offline_verification(new_version, cast, api_as, tmp_path, capsys):
    version = released(new_version("low"), cast)
    client = api_as(cast["viewer"])
    doc = client.get(f"/api/v1/models/{version.model.name}/versions/1/attestation/").json()
    pem = client.get("/api/v1/keys/attestation.pub").content
    (tmp_path / "a.json").write_text(json.dumps(doc))
    (tmp_path / "key.pub").write_bytes(pem)
    (tmp_path / "model.skops").write_bytes(services.version_read_artifact(version))
    call_command("verify_attestation", str(tmp_path / "a.json"), "--artifact", str(tmp_path / "model.skops"),
                 "--public-key", str(tmp_path / "key.pub"))
    assert "VALID" in capsys.readouterr().out

    tampered = json.loads(json.dumps(doc))
    tampered["payload"]["approvals"].append({"reviewer": "mallory", "decision": "approve"})
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    with pytest.raises(CommandError, match="signature does not match"):
        call_command("verify_attestation", str(tmp_path / "bad.json"), "--public-key", str(tmp_path / "key.pub"))

    (tmp_path / "other.skops").write_bytes(b"another file")
    with pytest.raises(CommandError, match="not the released file"):
        call_command("verify_attestation", str(tmp_path / "a.json"), "--artifact", str(tmp_path / "other.skops"))


def test_loading_a_released_version_with_a_tampered_attestation_is_refused(new_version, cast):
    version = released(new_version("low"), cast)
    signed = Attestation.objects.get(version=version)
    Attestation.objects.filter(pk=signed.pk).update(payload={**signed.payload, "released_by": "mallory"})
    with pytest.raises(Conflict, match="Refused to load"):
        services.version_load_model(version)
    assert version.findings.filter(kind="integrity").exists()


def test_a_released_version_whose_artifact_was_swapped_is_refused(new_version, cast):
    """A validly encrypted, self-consistent file and row swapped in: only the attestation can tell."""
    import io

    from governance import artifacts
    from governance.models import ModelVersion
    from tests.ml import iris_pickle

    version = released(new_version("low"), cast)
    assert version.flavour == "sklearn"  # loaded from a verified temporary file, not from bytes
    other = artifacts.store_upload(io.BytesIO(iris_pickle()), original_name="other.skops")
    ModelVersion.objects.filter(pk=version.pk).update(artifact=other)
    version.refresh_from_db()
    with pytest.raises(Conflict, match="not the released file"):
        services.version_load_model(version)
    assert version.findings.filter(kind="integrity").exists()


def test_unreleased_version_has_no_attestation(new_version, cast, api_as):
    version = new_version("low")
    response = api_as(cast["viewer"]).get(f"/api/v1/models/{version.model.name}/versions/1/attestation/")
    assert response.status_code == 404


# --- API and pages ---------------------------------------------------------------------------------

def test_full_flow_through_the_api(new_version, cast, api_as):
    version = new_version("low")
    cast["author"].groups.add(*make_user("tmp", ["reviewer"]).groups.all())
    base = f"/api/v1/models/{version.model.name}/versions/1/"
    assert api_as(cast["author"]).post(base + "submit/").json()["status"] == "in_review"
    response = api_as(cast["author"]).post(base + "reviews/", {"decision": "approve"}, format="json")
    assert response.status_code == 403 and "author" in response.json()["detail"]
    response = api_as(cast["reviewer"]).post(base + "reviews/", {"decision": "approve", "comment": "fine"},
                                             format="json")
    assert response.status_code == 201
    assert api_as(cast["viewer"]).get(base + "reviews/").json()[0]["reviewer"] == "reviewer"
    assert api_as(cast["reviewer"]).post(base + "release/").json()["status"] == "released"
    second = api_as(cast["reviewer"]).post(base + "release/")
    assert second.status_code == 409 and "already released" in second.json()["detail"]
    response = api_as(cast["incident_manager"]).post(base + "revoke/", {"reason": "drift"}, format="json")
    assert response.json()["status"] == "revoked"


def test_review_queue_lists_what_the_reviewer_may_review(new_version, cast, client):
    version = new_version("low")
    services.version_submit(actor=cast["author"], version=version)
    client.force_login(cast["reviewer"])
    page = client.get(reverse("review-queue"))
    assert [v.pk for v in page.context["page_obj"]] == [version.pk]
    assert b'data-testid="review-badge"' in page.content
    client.force_login(cast["author"])
    assert list(client.get(reverse("review-queue")).context["page_obj"]) == []


def test_review_page_records_a_decision(new_version, cast, client):
    version = new_version("low")
    services.version_submit(actor=cast["author"], version=version)
    client.force_login(cast["reviewer"])
    url = reverse("version-review", args=[version.model.name, 1])
    assert client.get(url).status_code == 200
    response = client.post(url, {"decision": "reject", "comment": ""})
    assert response.status_code == 400 and b"needs a comment" in response.content
    assert client.post(url, {"decision": "approve"}).status_code == 302
    version.refresh_from_db()
    assert version.status == "approved"


def test_version_page_shows_signature_valid(new_version, cast, client):
    version = released(new_version("low"), cast)
    client.force_login(cast["viewer"])
    page = client.get(reverse("version-detail", args=[version.model.name, 1])).content.decode()
    assert "Signature valid" in page


def test_admin_edits_a_tier_policy(cast, client):
    client.force_login(cast["admin_user"])
    response = client.post(reverse("policies"), {"tier": "low", "low-required_approvals": 3,
                                                 "low-required_checks": ["security"]})
    assert response.status_code == 302
    from governance.checks import policy_for_tier

    policy = policy_for_tier("low")
    assert policy.required_approvals == 3 and policy.required_checks == ["security"]
    assert AuditEvent.objects.filter(action="policy.update").count() == 1
    client.force_login(cast["reviewer"])
    assert client.post(reverse("policies"), {"tier": "low", "low-required_approvals": 1}).status_code == 403


def test_release_pages_keep_a_constant_query_count(new_version, cast, client, django_assert_max_num_queries):
    version = released(new_version("low"), cast)
    for _ in range(3):
        released(new_version("low"), cast)
    client.force_login(cast["reviewer"])
    for url in [reverse("model-detail", args=[version.model.name]), reverse("review-queue"),
                reverse("version-detail", args=[version.model.name, 2]),
                reverse("version-review", args=[version.model.name, 2])]:
        with django_assert_max_num_queries(30):
            assert client.get(url).status_code == 200, url


def test_make_user_helper_is_real():
    assert make_user("x", ["viewer"]).groups.get().name == "viewer"


# --- maker-checker and admin changes ----------------------------------------------------------------

def test_the_author_cannot_release_their_version_even_as_a_reviewer_after_others_approved(cast, dataset, api_as):
    """The fault: a reviewer who wrote the version could release it once others had approved."""
    maker = make_user("maker", ["contributor", "reviewer"])
    model = services.model_create(actor=maker, name="iris-mc", title="Iris", task="classification",
                                  risk_tier="medium", card=FULL_CARD)
    version = services.model_version_create(actor=maker, model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    version = services.version_compatibility_check(version_id=version.pk)
    services.version_submit(actor=maker, version=version)
    approve(version, cast["reviewer"], cast["second_reviewer"])
    assert version.status == "approved"
    response = api_as(maker).post(f"/api/v1/models/iris-mc/versions/{version.number}/release/", {}, format="json")
    assert response.status_code == 403
    assert "someone else must release it" in response.json()["detail"]
    version.refresh_from_db()
    assert version.status == "approved" and not Attestation.objects.exists()
    assert services.version_release(actor=cast["reviewer"], version=version).status == "released"


def test_the_submitter_cannot_release_what_they_submitted(cast, new_version):
    version = new_version()
    submitter = make_user("submitter", ["contributor", "reviewer"])
    services.user_update(actor=cast["admin_user"], user=submitter, teams=["submitters"])
    from governance.models import RegisteredModel

    RegisteredModel.objects.filter(pk=version.model_id).update(team="submitters")
    version = ModelVersion.objects.get(pk=version.pk)
    services.version_submit(actor=submitter, version=version)
    approve(version, cast["reviewer"])
    with pytest.raises(PermissionDenied, match="someone else must release it"):
        services.version_release(actor=submitter, version=version)


def test_admin_changes_page_shows_role_and_policy_changes_with_before_and_after(cast, client):
    services.user_update(actor=cast["admin_user"], user=cast["viewer"], roles=["viewer", "reviewer"])
    services.policy_update(actor=cast["admin_user"], risk_tier="low", required_approvals=2,
                           admin_approval_required=False, required_checks=["model_card"])
    client.force_login(cast["admin_user"])
    html = client.get(reverse("admin-changes")).content.decode()
    assert "user.update" in html and "policy.update" in html
    event = AuditEvent.objects.filter(action="user.update").latest("seq")
    assert event.changes["before"]["roles"] == ["viewer"]
    assert event.changes["after"]["roles"] == ["reviewer", "viewer"]
    client.force_login(cast["reviewer"])
    assert client.get(reverse("admin-changes")).status_code == 403


def test_the_approval_counter_counts_the_admin_approval_still_needed(new_version, cast):
    version = new_version("high", card=FULL_CARD)
    policy = checks.policy_for_tier("high")
    policy.required_checks = ["compatibility", "security", "model_card"]
    policy.save()
    services.version_submit(actor=cast["author"], version=version)
    assert services.approval_progress(version)["label"] == "0 of 2 approvals (admin approval still needed)"
    approve(version, cast["reviewer"], cast["second_reviewer"])
    assert services.approval_progress(version)["label"] == "2 of 3 approvals (admin approval still needed)"
    approve(version, make_user("third", ["reviewer"]))
    assert services.approval_progress(version)["label"] == "3 of 4 approvals (admin approval still needed)"
    approve(version, cast["admin_user"])
    assert services.approval_progress(version)["label"] == "4 of 4 approvals"


def test_the_version_page_lists_the_checks_that_block_submission(new_version, cast, client):
    version = new_version("medium", card={"intended_use": "only this"}, check=False)
    client.force_login(cast["author"])
    page = client.get(f"/models/{version.model.name}/versions/{version.number}/").content.decode()
    assert 'data-testid="submit-failing"' in page and "Model card complete" in page
    response = client.post(f"/models/{version.model.name}/versions/{version.number}/submit/", follow=True)
    assert "Fix the failing required checks before submitting" in response.content.decode()
