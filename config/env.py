"""Small helpers that read settings from the environment (twelve-factor)."""

import base64
import binascii
import os
import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """A value from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str, *, production: bool, dev_file: Path, generate) -> str:
    """A secret that production must be given and development may invent once.

    In development the value is generated on first use into ``dev_file`` (mode 0600,
    outside git) so that sessions, tokens and signatures survive restarts.
    """
    value = env_str(name)
    if value:
        return value
    if production:
        raise ImproperlyConfigured(
            f"{name} (or {name}_FILE) must be set when BULWARK_ENV=production."
        )
    if dev_file.exists():
        return dev_file.read_text().strip()
    dev_file.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    fd = os.open(dev_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def random_secret_key() -> str:
    return secrets.token_urlsafe(50)


def _decoded(name: str, encoded: str, size: int) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not valid urlsafe base64: {exc}") from exc
    if len(raw) < size:
        raise ImproperlyConfigured(f"{name} decodes to {len(raw)} bytes; it must be at least {size} random bytes "
                                   "(python -c \"import base64,os;print(base64.urlsafe_b64encode(os.urandom(32))"
                                   ".decode())\").")
    return raw


def check_keyring(name: str, spec: str) -> None:
    """`keyid:<urlsafe base64 of exactly 32 bytes>[,...]`: checked at start, not at the first upload."""
    entries = [e.strip() for e in (spec or "").split(",") if e.strip()]
    if not entries:
        raise ImproperlyConfigured(f"{name} is empty; expected 'keyid:<urlsafe-base64 of 32 bytes>[,...]'.")
    for position, entry in enumerate(entries, 1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", key_id.strip()):
            raise ImproperlyConfigured(f"{name} entry {position} must look like 'keyid:<base64>'.")
        raw = _decoded(f"{name} key {key_id.strip()!r}", encoded.strip(), 32)
        if len(raw) != 32:
            raise ImproperlyConfigured(f"{name} key {key_id.strip()!r} must be exactly 32 bytes, not {len(raw)}.")


def check_secret_key(name: str, value: str, *, min_bytes: int = 32) -> None:
    _decoded(name, (value or "").strip(), min_bytes)
