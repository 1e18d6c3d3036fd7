"""Seed a benchmark registry: many models × many versions, fast, with bulk_create.

    BULWARK_ENV=development BULWARK_DATA_DIR=/tmp/bulwark-bench \
        .venv/bin/python bench/seed_registry.py [--models 200 --versions 50] [--wipe]

Runs the migrations into that data dir (or into DATABASE_URL), then writes rows directly — no services,
no audit events, no blobs: the StoredFile rows point at fake paths, which is all the list/detail pages and
the JSON API need (nothing here downloads or loads an artifact). Fields are filled the way real uploads fill
them (metrics, ~15 feature names, card snapshot, scan report, compatibility result) so that row widths are
realistic. Every seeded object's name starts with ``bench-`` (incidents with ``[bench]``); a second run
refuses unless ``--wipe`` is given, which deletes exactly those rows first.
"""

import argparse
import random
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import database_label, django_setup  # noqa: E402

PREFIX = "bench-"
INCIDENT_PREFIX = "[bench]"
DOMAINS = ["fraud", "credit", "churn", "vision", "nlp", "pricing", "marketing", "risk", "health", "forecast",
           "recsys", "ops"]
TEAMS = ["Payments ML", "Risk Analytics", "Growth", "Platform", "Applied Science", "Customer Care"]
FEATURE_POOL = [
    "age", "income", "tenure_months", "num_accounts", "utilisation", "late_payments_12m", "avg_balance",
    "txn_count_30d", "txn_amount_30d", "region", "device_type", "channel", "days_since_login", "credit_limit",
    "debt_to_income", "employment_years", "num_dependants", "home_owner", "support_tickets_90d", "plan_tier",
    "session_length", "pages_per_visit", "basket_value", "returns_ratio", "email_open_rate", "merchant_risk",
]
SKOPS_TYPES = ["sklearn.tree._tree.Tree"]
CARD_TEXT = {
    "intended_use": "Scores {title} decisions for the {team} team. Used by analysts as a decision aid; "
                    "a human reviews every adverse outcome.",
    "out_of_scope_uses": "Not for automated final decisions, not for populations outside the training region, "
                         "not for people under 18.",
    "factors": "Performance is reported per region, age band and device type. Seasonal effects are known.",
    "metrics": "Primary: ROC AUC on the held-out split. Secondary: F1 at the operating threshold of 0.5, "
               "calibration error.",
    "evaluation_data": "A stratified 20% hold-out of the last 12 months, de-duplicated per customer.",
    "training_data": "12 months of labelled events; PII removed; class balance restored by weighting.",
    "quantitative_analyses": "AUC varies by at most 0.03 across regions; see the robustness report.",
    "ethical_considerations": "Protected attributes are excluded; proxies were reviewed by the fairness board.",
    "caveats_and_recommendations": "Retrain quarterly. Monitor drift on income and utilisation.",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=50, help="versions per model")
    parser.add_argument("--incidents", type=int, default=12)
    parser.add_argument("--wipe", action="store_true", help="delete earlier bench rows first")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args()


def wipe():
    from governance.models import ModelVersion, RegisteredModel, SecurityFinding, StoredFile
    from incidents.models import Incident

    Incident.objects.filter(title__startswith=INCIDENT_PREFIX).delete()
    versions = ModelVersion.objects.filter(model__name__startswith=PREFIX)
    files = list(versions.values_list("artifact_id", flat=True))
    SecurityFinding.objects.filter(version__in=versions).delete()
    versions.update(parent=None)  # parent is PROTECT: cut the chains before deleting
    versions.delete()
    StoredFile.objects.filter(pk__in=files).delete()
    RegisteredModel.objects.filter(name__startswith=PREFIX).delete()


def ensure_users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from governance.choices import Role

    User = get_user_model()
    wanted = {
        "bench-admin": [Role.ADMIN],
        "bench-viewer": [Role.VIEWER],
        "bench-reviewer": [Role.REVIEWER],
        "bench-incidents": [Role.INCIDENT_MANAGER],
        "bench-contributor": [Role.CONTRIBUTOR],
        **{f"bench-owner-{i}": [Role.CONTRIBUTOR] for i in range(1, 6)},
    }
    users = {}
    for username, roles in wanted.items():
        user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@bench.local"})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.set(Group.objects.filter(name__in=roles))
        users[username] = user
    return users


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def seed(args, rng: random.Random) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from governance.choices import CheckStatus, Flavour, RiskTier, Task, VersionStatus
    from governance.models import ModelCard, ModelVersion, RegisteredModel, SecurityFinding, StoredFile, Tag
    from incidents.choices import IncidentStatus, Severity
    from incidents.models import Incident

    users = ensure_users()
    owners = [users[f"bench-owner-{i}"] for i in range(1, 6)]
    now = timezone.now()
    counts = {}
    with transaction.atomic():
        tags = {name: Tag.objects.get_or_create(name=f"{PREFIX}{name}")[0] for name in DOMAINS}

        models = []
        for i in range(args.models):
            domain = DOMAINS[i % len(DOMAINS)]
            task = Task.REGRESSION if domain in ("pricing", "forecast") or i % 10 == 7 else Task.CLASSIFICATION
            tier = rng.choices([RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH], weights=[30, 45, 25])[0]
            title = f"{domain.title()} {task.label.lower()} model {i:03d}"
            models.append(RegisteredModel(
                name=f"{PREFIX}{domain}-{i:03d}", title=title, task=task, risk_tier=tier,
                team=TEAMS[i % len(TEAMS)], owner=owners[i % len(owners)],
                description=f"{title}. Owned by {TEAMS[i % len(TEAMS)]}; trained on the {domain} warehouse "
                            "tables, refreshed monthly. See the model card for intended use and limits.",
            ))
        models = RegisteredModel.objects.bulk_create(models, batch_size=500)
        counts["models"] = len(models)

        ModelCard.objects.bulk_create([
            ModelCard(model=m, updated_by=m.owner,
                      **{k: v.format(title=m.title, team=m.team) for k, v in CARD_TEXT.items()})
            for m in models
        ], batch_size=500)
        through = RegisteredModel.tags.through
        through.objects.bulk_create([
            through(registeredmodel_id=m.pk, tag_id=tags[name].pk)
            for i, m in enumerate(models)
            for name in (DOMAINS[i % len(DOMAINS)], DOMAINS[(i * 5 + 3) % len(DOMAINS)])
        ], batch_size=1000, ignore_conflicts=True)

        # Feature lists per model: ~15 names, drifting a little from version to version.
        base_features = {m.pk: rng.sample(FEATURE_POOL, 15) for m in models}
        has_submitted = _has_field(ModelVersion, "submitted_by")
        has_round = _has_field(ModelVersion, "review_round")
        previous: dict[int, ModelVersion] = {}
        before_previous: dict[int, ModelVersion] = {}
        released_for = {}
        for i, m in enumerate(models):
            if i % 2 == 0:  # half the models have a released version, not always the latest
                released_for[m.pk] = max(1, args.versions - (i // 2) % 4)
        status_counts: dict[str, int] = {}
        for number in range(1, args.versions + 1):
            files, versions = [], []
            for i, m in enumerate(models):
                status = _status(i, number, args.versions, released_for.get(m.pk))
                status_counts[str(status)] = status_counts.get(str(status), 0) + 1
                flavour = rng.choices([Flavour.SKLEARN, Flavour.XGBOOST, Flavour.ONNX, Flavour.LIGHTGBM],
                                      weights=[70, 12, 10, 8])[0]
                files.append(StoredFile(
                    path=f"artifacts/bench/{uuid.uuid4().hex}.bwk", key_id="k1", sha256=rng.randbytes(32).hex(),
                    size=rng.randint(40_000, 60_000_000), original_name=f"{m.name}-v{number}.skops",
                    content_type="application/octet-stream",
                ))
                features = list(base_features[m.pk])
                if number % 5 == 0:  # occasional feature churn, so the compare page has a diff to show
                    features[number % 15] = FEATURE_POOL[(number * 7 + i) % len(FEATURE_POOL)]
                    base_features[m.pk] = features
                parent = before_previous.get(m.pk) if number % 7 == 0 else previous.get(m.pk)
                kwargs = {}
                if has_submitted and status in (VersionStatus.IN_REVIEW, VersionStatus.APPROVED,
                                                VersionStatus.RELEASED, VersionStatus.REJECTED):
                    kwargs = {"submitted_by": m.owner, "submitted_at": now - timedelta(days=args.versions - number)}
                    if has_round:
                        kwargs["review_round"] = 1
                versions.append(ModelVersion(
                    model=m, number=number, status=status, flavour=flavour, feature_names=features,
                    class_labels=["approve", "decline"] if m.task == Task.CLASSIFICATION else [],
                    metrics=_metrics(rng, m.task, number),
                    parent=parent, notes=f"Retrained on data up to week {number}; "
                                         f"{'hyper-parameter sweep' if number % 3 else 'new features'}.",
                    card_snapshot={k: v.format(title=m.title, team=m.team) for k, v in CARD_TEXT.items()},
                    scan_report={"ok": True, "flavour": flavour, "findings": [],
                                 "scanned": {"types": SKOPS_TYPES, "trusted_by_admin": SKOPS_TYPES}},
                    compat_status=CheckStatus.PASSED if number % 11 else CheckStatus.FAILED,
                    compat_result=_compat_result(rng, m.task, number),
                    compat_checked_at=now - timedelta(days=args.versions - number),
                    created_by=m.owner, **kwargs,
                ))
            files = StoredFile.objects.bulk_create(files, batch_size=1000)
            for version, stored in zip(versions, files, strict=True):
                version.artifact = stored
            versions = ModelVersion.objects.bulk_create(versions, batch_size=1000)
            for version in versions:
                before_previous[version.model_id] = previous.get(version.model_id)
                previous[version.model_id] = version
        counts["versions"] = args.models * args.versions
        counts["statuses"] = dict(sorted(status_counts.items()))

        # A few open security findings (the version pages and list annotate open findings).
        seeded = list(ModelVersion.objects.filter(model__in=models).values_list("pk", flat=True))
        findings = [
            SecurityFinding(version_id=pk, kind=SecurityFinding.Kind.SCAN, severity="medium",
                            title="Untrusted type trusted by admin: sklearn.tree._tree.Tree",
                            detail={"global": "sklearn.tree._tree.Tree"})
            for pk in rng.sample(seeded, min(len(seeded), max(1, len(seeded) // 40)))
        ]
        SecurityFinding.objects.bulk_create(findings, batch_size=1000)
        counts["findings"] = len(findings)

        incidents = []
        statuses = [IncidentStatus.REPORTED, IncidentStatus.TRIAGED, IncidentStatus.CONTAINED,
                    IncidentStatus.RECOVERED, IncidentStatus.CLOSED]
        for n in range(args.incidents):
            incidents.append(Incident(
                title=f"{INCIDENT_PREFIX} {rng.choice(['Drift', 'Outage', 'Bias report', 'Data leak'])} #{n}",
                severity=rng.choice(list(Severity)), status=statuses[n % len(statuses)],
                reported_by=users["bench-incidents"],
            ))
        incidents = Incident.objects.bulk_create(incidents)
        for incident in incidents:
            affected = rng.sample(models, rng.randint(1, 3))
            incident.affected_models.set(affected)
            incident.affected_versions.set([previous[m.pk] for m in affected])
        counts["incidents"] = len(incidents)
    return counts


def _status(i: int, number: int, total: int, released: int | None) -> str:
    from governance.choices import VersionStatus

    if released is not None:
        if number == released:
            return VersionStatus.RELEASED
        if number < released:
            return VersionStatus.REJECTED if number % 9 == 0 else VersionStatus.DEPRECATED
        return VersionStatus.IN_REVIEW if number == total and i % 4 == 0 else VersionStatus.DRAFT
    if number == total:
        if i % 3 == 1:
            return VersionStatus.IN_REVIEW
        return VersionStatus.APPROVED if i % 5 == 1 else VersionStatus.DRAFT
    if number % 9 == 0:
        return VersionStatus.REJECTED
    return VersionStatus.DEPRECATED if number < total // 2 else VersionStatus.DRAFT


def _metrics(rng: random.Random, task: str, number: int) -> dict:
    from governance.choices import Task

    drift = number / 1000
    if task == Task.CLASSIFICATION:
        return {
            "accuracy": round(0.80 + drift + rng.uniform(-0.02, 0.02), 4),
            "f1": round(0.74 + drift + rng.uniform(-0.03, 0.03), 4),
            "roc_auc": round(0.85 + drift + rng.uniform(-0.02, 0.02), 4),
            "precision": round(0.77 + rng.uniform(-0.03, 0.03), 4),
            "recall": round(0.71 + rng.uniform(-0.03, 0.03), 4),
            "log_loss": round(0.41 - drift + rng.uniform(-0.02, 0.02), 4),
            "n_eval": 5000,
        }
    return {
        "rmse": round(12.5 - number * 0.05 + rng.uniform(-0.5, 0.5), 4),
        "mae": round(9.1 - number * 0.04 + rng.uniform(-0.4, 0.4), 4),
        "r2": round(0.62 + drift + rng.uniform(-0.02, 0.02), 4),
        "mape": round(0.18 + rng.uniform(-0.02, 0.02), 4),
        "n_eval": 5000,
    }


def _compat_result(rng: random.Random, task: str, number: int) -> dict:
    ok = bool(number % 11)
    result = {
        "artifact_sha256": rng.randbytes(32).hex(), "started_at": "2026-11-28T10:00:00+00:00",
        "finished_at": "2026-11-28T10:00:03+00:00", "loaded": True, "dataset_id": None,
        "features_match": ok, "missing_features": [] if ok else ["merchant_risk"], "extra_columns": [],
        "order_differs": False,
    }
    if ok:
        result.update({"rows": 5000, "batch_latency_ms": round(rng.uniform(20, 90), 3),
                       "latency_ms_per_row": round(rng.uniform(0.004, 0.02), 4),
                       "single_row_latency_ms": round(rng.uniform(0.8, 3), 3),
                       "metrics": _metrics(rng, task, number), "message": "Predicted 5000 rows; features match."})
    else:
        result["message"] = "The dataset lacks 1 feature(s) the model needs: merchant_risk"
    return result


def main():
    args = parse_args()
    started = time.perf_counter()
    django_setup(migrate=True)
    from governance.models import RegisteredModel

    print(f"database: {database_label()}")
    existing = RegisteredModel.objects.filter(name__startswith=PREFIX).count()
    if existing:
        if not args.wipe:
            sys.exit(f"Already seeded ({existing} {PREFIX}* models). Pass --wipe to delete them and seed again.")
        wipe_started = time.perf_counter()
        wipe()
        print(f"wiped earlier bench rows in {time.perf_counter() - wipe_started:.1f} s")
    seeding = time.perf_counter()
    counts = seed(args, random.Random(args.seed))
    print(f"seeded {counts} in {time.perf_counter() - seeding:.1f} s (total {time.perf_counter() - started:.1f} s)")
    from django.db import connection

    if connection.vendor == "postgresql":  # what autovacuum would do soon after a bulk load; plans need stats
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print("ran ANALYZE (PostgreSQL)")
    first = RegisteredModel.objects.filter(name__startswith=PREFIX).order_by("name").first()
    print(f"e.g. /models/{first.name}/  (log in as bench-admin or bench-viewer with force_login; no passwords)")


if __name__ == "__main__":
    main()
