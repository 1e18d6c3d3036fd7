"""Object-level authorization: contributors change only the models they own or their team owns.

The attack: a second contributor could edit another contributor's model, add a version to it, edit its
version notes and delete the model with its versions and blobs. Each must now be a 403 that changes nothing.
"""

import io

import pytest

from core.errors import Conflict
from governance import services
from governance.models import Attestation, AuditEvent, ModelVersion, RegisteredModel, StoredFile
from tests.conftest import make_user
from tests.governance.test_releases import FULL_CARD, released
from tests.ml import iris_csv, iris_skops, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artifact_dir(artifact_storage):
    return artifact_storage


@pytest.fixture
def iris(cast):
    model = services.model_create(actor=cast["author"], name="iris", title="Iris", task="classification",
                                  team="plants", risk_tier="low", card=FULL_CARD)
    dataset = services.dataset_create(actor=cast["author"], fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    version = services.model_version_create(actor=cast["author"], model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    return version


@pytest.fixture
def rival():
    return make_user("rival", ["contributor"])


def _blobs(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_another_contributor_cannot_change_someone_elses_model(api_as, rival, iris, artifact_dir):
    client = api_as(rival)
    events = AuditEvent.objects.count()
    blobs = _blobs(artifact_dir)
    attempts = [
        client.patch("/api/v1/models/iris/", {"title": "Hijacked"}, format="json"),
        client.post("/api/v1/models/iris/versions/", {"artifact": upload("x.skops", iris_skops())},
                    format="multipart"),
        client.patch("/api/v1/models/iris/versions/1/", {"notes": "mine now"}, format="json"),
        client.post("/api/v1/models/iris/versions/1/submit/", {}, format="json"),
        client.post("/api/v1/models/iris/retire/", {}, format="json"),
        client.delete("/api/v1/models/iris/"),
    ]
    for response in attempts:
        assert response.status_code == 403, response.content[:300]
        assert "Only the owner of 'iris', members of its team 'plants' and admins" in response.json()["detail"]
    model = RegisteredModel.objects.get(name="iris")
    assert model.title == "Iris" and model.versions.count() == 1 and model.versions.get().notes == ""
    assert model.versions.get().status == "draft" and model.retired_at is None
    assert AuditEvent.objects.count() == events and _blobs(artifact_dir) == blobs


def test_the_edit_pages_of_someone_elses_model_are_403_and_its_page_offers_no_edits(client, rival, iris):
    client.force_login(rival)
    for url in ("/models/iris/edit/", "/models/iris/card/", "/models/iris/versions/new/"):
        assert client.get(url).status_code == 403
    page = client.get("/models/iris/").content.decode()
    assert "Upload version" not in page and "/models/iris/edit/" not in page


def test_a_member_of_the_owning_team_may_change_the_model(api_as, cast, rival, iris):
    services.user_update(actor=cast["admin_user"], user=rival, teams=["plants"])
    client = api_as(rival)
    assert client.patch("/api/v1/models/iris/", {"title": "Iris flowers"}, format="json").status_code == 200
    assert client.patch("/api/v1/models/iris/versions/1/", {"notes": "team note"}, format="json").status_code == 200
    event = AuditEvent.objects.filter(action="user.update").latest("seq")
    assert event.changes["before"]["teams"] == [] and event.changes["after"]["teams"] == ["plants"]


def test_admin_may_change_any_model(api_as, cast, iris):
    assert api_as(cast["admin_user"]).patch("/api/v1/models/iris/", {"title": "By admin"},
                                            format="json").status_code == 200


def test_a_model_with_release_history_cannot_be_deleted_even_by_an_admin(api_as, cast, iris, artifact_dir):
    services.version_compatibility_check(version_id=iris.pk)
    released(ModelVersion.objects.get(pk=iris.pk), cast)
    services.version_revoke(actor=cast["reviewer"], version=iris, reason="leaked")
    blobs = _blobs(artifact_dir)
    response = api_as(cast["admin_user"]).delete("/api/v1/models/iris/")
    assert response.status_code == 409
    assert "retire it instead" in response.json()["detail"]
    assert RegisteredModel.objects.filter(name="iris").exists() and Attestation.objects.count() == 1
    assert StoredFile.objects.count() == 2 and _blobs(artifact_dir) == blobs  # artifact and dataset stay


def test_a_model_without_release_history_can_still_be_deleted_by_its_owner(api_as, cast, iris):
    assert api_as(cast["author"]).delete("/api/v1/models/iris/").status_code == 204
    assert not RegisteredModel.objects.exists()


def test_a_retired_model_is_read_only_and_hidden_by_default(api_as, cast, iris, client):
    owner = api_as(cast["author"])
    response = owner.post("/api/v1/models/iris/retire/", {"reason": "replaced by iris-v2"}, format="json")
    assert response.status_code == 200, response.json()
    assert AuditEvent.objects.filter(action="model.retire").count() == 1
    assert owner.patch("/api/v1/models/iris/", {"title": "x"}, format="json").status_code == 409
    refused = owner.post("/api/v1/models/iris/versions/", {"artifact": upload("x.skops", iris_skops())},
                         format="multipart")
    assert refused.status_code == 409 and "retired" in refused.json()["detail"]
    assert owner.get("/api/v1/models/").json()["count"] == 0
    assert owner.get("/api/v1/models/", {"retired": "include"}).json()["count"] == 1
    assert owner.get("/api/v1/models/iris/").status_code == 200
    client.force_login(cast["viewer"])
    assert "iris" not in client.get("/models/").content.decode()
    assert 'data-testid="retired-banner"' in client.get("/models/iris/").content.decode()
    with pytest.raises(Conflict):
        services.model_card_update(actor=cast["author"], model=RegisteredModel.objects.get(), intended_use="x")
