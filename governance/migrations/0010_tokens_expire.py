"""Every token expires: tokens created before the maximum lifetime existed get the default one from now."""

import os
from datetime import timedelta

from django.db import migrations
from django.utils import timezone


def give_every_token_an_expiry(apps, schema_editor):
    ApiToken = apps.get_model("governance", "ApiToken")
    days = int(os.environ.get("API_TOKEN_DEFAULT_DAYS", 90))
    ApiToken.objects.filter(expires_at__isnull=True, revoked_at__isnull=True).update(
        expires_at=timezone.now() + timedelta(days=days))


class Migration(migrations.Migration):
    dependencies = [("governance", "0009_teams_and_retirement")]
    operations = [migrations.RunPython(give_every_token_an_expiry, migrations.RunPython.noop)]
