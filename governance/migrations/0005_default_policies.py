from django.db import migrations

DEFAULTS = {
    "low": (1, False, ["compatibility", "security"]),
    "medium": (2, False, ["compatibility", "security", "model_card"]),
    "high": (2, True, ["compatibility", "security", "model_card", "explainability"]),
}


def create(apps, schema_editor):
    ApprovalPolicy = apps.get_model("governance", "ApprovalPolicy")
    for tier, (approvals, admin, checks) in DEFAULTS.items():
        ApprovalPolicy.objects.get_or_create(
            risk_tier=tier,
            defaults={"required_approvals": approvals, "admin_approval_required": admin, "required_checks": checks},
        )


def remove(apps, schema_editor):
    apps.get_model("governance", "ApprovalPolicy").objects.filter(risk_tier__in=DEFAULTS).delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_release_governance")]
    operations = [migrations.RunPython(create, remove)]
