"""Shared by the bench scripts: put the repo on sys.path and set Django up (no test environment)."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def django_setup(*, migrate: bool = False, verbosity: int = 0) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("BULWARK_ENV", "development")
    if not os.environ.get("BULWARK_DATA_DIR"):
        sys.exit("Set BULWARK_DATA_DIR (e.g. /tmp/bulwark-bench): the bench must not touch var/.")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=verbosity)


def fresh_data_dir(marker: str, owner: str) -> Path:
    """An empty BULWARK_DATA_DIR of the bench's own: wiped only if it carries `marker` (so never var/)."""
    import shutil

    raw = os.environ.get("BULWARK_DATA_DIR")
    if not raw:
        sys.exit("Set BULWARK_DATA_DIR (e.g. /tmp/bulwark-bench): the bench must not touch var/.")
    data_dir = Path(raw).resolve()
    var = (REPO / "var").resolve()
    if data_dir == var or var in data_dir.parents:
        sys.exit("BULWARK_DATA_DIR points into the repository's var/: use a directory of its own.")
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / marker).exists():
            sys.exit(f"{data_dir} is not empty and has no {marker} marker: refusing to wipe it.")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / marker).write_text(f"created by {owner}; wiped at every run\n")
    return data_dir


def database_label() -> str:
    from django.db import connection

    vendor = connection.vendor
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
        if vendor == "postgresql":
            cursor.execute("show server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    return vendor
