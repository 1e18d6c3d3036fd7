import io

import pytest

from governance import services
from tests.ml import iris_csv, iris_skops


@pytest.fixture
def artifact_dir(artifact_storage):
    return artifact_storage


@pytest.fixture
def iris_version(db, artifact_dir):
    from tests.conftest import make_user

    author = make_user("job_author", ["contributor"])
    model = services.model_create(actor=author, name="iris", title="Iris", task="classification")
    dataset = services.dataset_create(actor=author, fileobj=io.BytesIO(iris_csv()), filename="iris.csv",
                                      target_column="target")
    version = services.model_version_create(actor=author, model=model, fileobj=io.BytesIO(iris_skops()),
                                            filename="iris.skops", evaluation_dataset=dataset)
    version.author = author
    return version
