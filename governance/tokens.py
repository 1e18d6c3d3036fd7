"""API token keys: ``bwk_<prefix>_<secret>``. Only the SHA-256 of the whole key is stored."""

import hashlib
import hmac
import secrets

KEY_PREFIX = "bwk"


def new_key() -> tuple[str, str, str]:
    """Return (key, prefix, key_hash)."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1]:
        return None
    return parts[1]


def matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), key_hash)
