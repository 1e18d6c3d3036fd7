"""Every example in docs/user-guide.md works as written: each `<!-- example: METHOD PATH -->` block is sent
through the API by a user who may, and a job it queues must then succeed on a real worker path."""

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from skops import io as skops_io

from explain import services as jobs
from explain.models import AnalysisJob
from governance import services as registry

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"
EXAMPLE = re.compile(r"<!-- example: (?P<method>[A-Z]+) (?P<path>\S+) -->\s*```json\n(?P<body>.*?)```", re.S)


def examples():
    found = [(m["method"], m["path"], m["body"]) for m in EXAMPLE.finditer(GUIDE.read_text())]
    assert len(found) >= 7, "the guide's examples were not found: check the <!-- example --> markers"
    return [pytest.param(*item, id=f"{item[0]} {item[1]} {json.loads(item[2]).get('kind', '')}".strip())
            for item in found]


def credit_like(n: int, seed: int) -> pd.DataFrame:
    """Mixed types, missing values and a 10 %-positive target, like the credit data users bring."""
    g = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": g.normal(50, 15, n).round(1), "age": g.integers(18, 80, n).astype(float),
                          "home": g.choice(["rent", "owner", "parents"], n)})
    frame.loc[g.choice(n, n // 20, replace=False), "income"] = np.nan
    risk = -0.08 * frame["income"].fillna(50) + 0.02 * frame["age"] + g.normal(0, 0.6, n)
    frame["default"] = np.where(risk > np.quantile(risk, 0.9), "yes", "no")
    return frame


def pipeline(C: float) -> Pipeline:
    pre = ColumnTransformer([("num", KNNImputer(add_indicator=True), ["income", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["home"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(C=C, max_iter=500))])


@pytest.fixture
def credit(artifact_storage, cast):
    owner = cast["author"]
    model = registry.model_create(actor=owner, name="credit-scoring", title="Credit scoring", task="classification",
                                  risk_tier="high")
    train, evaluation = credit_like(600, 1), credit_like(300, 2)

    def dataset(frame, name):
        return registry.dataset_create(actor=owner, fileobj=io.BytesIO(frame.to_csv(index=False).encode()),
                                       filename=name, target_column="default")

    training, holdout = dataset(train, "train.csv"), dataset(evaluation, "eval.csv")
    for C in (1.0, 0.1):
        fitted = pipeline(C).fit(train.drop(columns="default"), train["default"])
        registry.model_version_create(actor=owner, model=model, fileobj=io.BytesIO(skops_io.dumps(fitted)),
                                      filename=f"credit-{C}.skops", evaluation_dataset=holdout,
                                      training_dataset=training)
    return model


@pytest.mark.parametrize("method, path, body", examples())
def test_the_guide_example_works_as_written(credit, cast, api_as, method, path, body):
    payload = json.loads(body)
    client = api_as(cast["admin_user"] if "policies" in path else cast["author"])
    response = getattr(client, method.lower())(path, payload, format="json")
    assert response.status_code in (200, 201), (path, response.json())
    if path == "/api/v1/jobs/":
        job = AnalysisJob.objects.get(pk=response.json()["id"])
        jobs.job_execute(job_id=job.pk, hostname="test")
        job.refresh_from_db()
        assert job.status == "succeeded", (payload["kind"], job.error_message)
        if job.kind in ("stress_test", "poisoning", "ensemble", "cross_validation"):
            metric = job.result["verdict"]["metric"]
            assert metric["name"] == payload["params"].get("metric", "balanced_accuracy")
