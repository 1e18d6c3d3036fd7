"""Signed release attestations (Ed25519): what was released, on whose approval, with which checks."""

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

PAYLOAD_TYPE = "bulwark.release-attestation/v1"
ALGORITHM = "Ed25519"


class VerificationError(Exception):
    pass


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _key_path() -> Path:
    return Path(settings.ATTESTATION_KEY_FILE)


def private_key() -> Ed25519PrivateKey:
    """The signing key, created on first use into the configured file (mode 0600) if absent."""
    path = _key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise VerificationError(f"{path} does not hold an Ed25519 private key.")
    return key


def public_key_pem() -> str:
    return private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(payload: dict) -> tuple[str, str]:
    key = private_key()
    signature = key.sign(canonical(payload))
    return base64.b64encode(signature).decode(), fingerprint(key.public_key())


def document(payload: dict, signature: str, key_fingerprint: str) -> dict:
    """The exported, self-describing attestation file."""
    return {"algorithm": ALGORITHM, "key_fingerprint": key_fingerprint, "payload": payload, "signature": signature}


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationError("The public key is not an Ed25519 key.")
    return key


def verify(doc: dict, *, public_key: Ed25519PublicKey | None = None, artifact: bytes | None = None,
           artifact_sha256: str | None = None) -> dict:
    """Check the signature (and the artifact's hash when given: the bytes, or the SHA-256 of bytes the caller has
    already hashed). Returns the payload or raises VerificationError."""
    if not isinstance(doc, dict) or not {"payload", "signature"} <= set(doc):
        raise VerificationError("Not an attestation document: expected 'payload' and 'signature'.")
    if doc.get("algorithm", ALGORITHM) != ALGORITHM:
        raise VerificationError(f"Unsupported algorithm {doc.get('algorithm')!r}; expected Ed25519.")
    payload = doc["payload"]
    if not isinstance(payload, dict) or payload.get("type") != PAYLOAD_TYPE:
        raise VerificationError(f"The payload is not a {PAYLOAD_TYPE} statement.")
    public_key = public_key or private_key().public_key()
    if doc.get("key_fingerprint") and doc["key_fingerprint"] != fingerprint(public_key):
        raise VerificationError("The attestation was signed with a different key than the one given "
                                f"(fingerprint {doc['key_fingerprint'][:16]}… vs {fingerprint(public_key)[:16]}…).")
    try:
        signature = base64.b64decode(doc["signature"], validate=True)
        public_key.verify(signature, canonical(payload))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise VerificationError("The signature does not match the payload: the attestation was altered "
                                "or signed by another key.") from exc
    if artifact is not None or artifact_sha256 is not None:
        actual = hashlib.sha256(artifact).hexdigest() if artifact is not None else artifact_sha256
        if actual != payload.get("artifact_sha256"):
            raise VerificationError(f"The artifact's SHA-256 is {actual}, but the attestation says "
                                    f"{payload.get('artifact_sha256')}: this is not the released file.")
    return payload
