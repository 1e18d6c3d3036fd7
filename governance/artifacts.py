"""Encrypted-at-rest artifact storage: model files and datasets, streamed through AES-256-GCM.

Blobs go through Django's storage API (``storages["artifacts"]``), so the filesystem backend can
be swapped for an S3-style one. Nothing here ever holds a whole upload in memory: plaintext is
read, hashed and encrypted chunk by chunk into a temporary file, which is then handed to the
storage; reads decrypt chunk by chunk.

On-disk format (version 1)::

    header = b"BWK1" | u8 key_id_len | key_id (ASCII) | u32 chunk_size | 8-byte random nonce prefix
    chunk_i = AESGCM(key).encrypt(nonce = prefix | u32 i,
                                  data  = plaintext[i * chunk_size:(i + 1) * chunk_size],
                                  aad   = header | u32 i | u8 is_final)

(integers big-endian). This is the STREAM construction: every chunk is authenticated on its own,
its index is bound by the nonce and the AAD, and only the last chunk carries the final flag, so
flipped bytes, a truncated tail, reordered or swapped chunks, appended data, an edited header
and a wrong key are all detected. Every chunk except the last holds exactly ``chunk_size``
plaintext bytes. The SHA-256 and size of the plaintext are recorded on the ``StoredFile`` row
and checked again after decryption.

Keys come from ``ARTIFACT_ENCRYPTION_KEYS = "k2:<urlsafe-b64 32 bytes>,k1:..."``: the first is
used for new writes, the others stay readable. ``manage.py rotate_artifact_keys`` moves old
blobs onto the active key.

Storage names are random (``artifacts/ab/ab12...ef.bwk``) and never derived from the uploaded
file name, which is kept, sanitised, only as metadata.
"""

import base64
import hashlib
import hmac
import logging
import re
import secrets
import struct
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction

from core.errors import Conflict, InvalidInput, PayloadTooLarge

from . import audit
from .models import StoredFile

MAGIC = b"BWK1"
CHUNK_SIZE = 1024 * 1024  # plaintext bytes per encrypted chunk
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 8
MAX_CHUNKS = 2**32  # the chunk counter is 4 bytes
# A tampered header must not make the reader allocate gigabytes before authentication fails.
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = 1024, 16 * 1024 * 1024
READ_CHUNK = 64 * 1024  # default piece size handed to downloads
STORAGE_PREFIX = "artifacts"
STORAGE_ALIAS = "artifacts"
logger = logging.getLogger(__name__)

KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")  # fits StoredFile.key_id (32)


class ArtifactIntegrityError(Exception):
    """A blob failed authentication, is malformed, or its plaintext does not match the recorded hash/size."""


class UnknownKeyError(ArtifactIntegrityError, ImproperlyConfigured):
    """The blob names a key id that ARTIFACT_ENCRYPTION_KEYS does not contain.

    It is both an integrity error (the artifact cannot be read) and a configuration error (the fix is
    to put the old key back), so callers may catch either.
    """


# --- Keys ------------------------------------------------------------------------------------


class KeyRing:
    """The configured AES-256 keys by id; the first one is active for new writes."""

    def __init__(self, keys: dict[str, bytes], active_id: str):
        self._keys = dict(keys)
        self.active_id = active_id

    @classmethod
    def from_settings(cls) -> "KeyRing":
        return cls.parse(getattr(settings, "ARTIFACT_ENCRYPTION_KEYS", "") or "")

    @classmethod
    def parse(cls, spec: str) -> "KeyRing":
        keys: dict[str, bytes] = {}
        order: list[str] = []
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        if not entries:
            raise ImproperlyConfigured(
                "ARTIFACT_ENCRYPTION_KEYS is empty; expected 'keyid:<urlsafe-base64 of 32 bytes>[,keyid2:...]'."
            )
        for position, entry in enumerate(entries, start=1):
            key_id, sep, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not KEY_ID_RE.match(key_id):
                raise ImproperlyConfigured(
                    f"ARTIFACT_ENCRYPTION_KEYS entry {position} must look like 'keyid:<base64>' with a key id of "
                    "1-32 letters, digits, '.', '_' or '-'."
                )
            if key_id in keys:
                raise ImproperlyConfigured(f"ARTIFACT_ENCRYPTION_KEYS lists key id {key_id!r} twice.")
            keys[key_id] = _decode_key(key_id, encoded.strip())
            order.append(key_id)
        return cls(keys, order[0])

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._keys

    def key(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(
                f"artifact encrypted with key {key_id!r} which is not configured in ARTIFACT_ENCRYPTION_KEYS "
                f"(configured: {', '.join(map(repr, self._keys))}); keep old keys until rotation has finished."
            )


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"ARTIFACT_ENCRYPTION_KEYS: key {key_id!r} is not valid URL-safe base64.")
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"ARTIFACT_ENCRYPTION_KEYS: key {key_id!r} must decode to 32 bytes (AES-256), not {len(raw)}."
        )
    return raw


# --- Names -----------------------------------------------------------------------------------


def sanitize_original_name(name: str) -> str:
    """The uploaded file's name as display metadata: basename only, no control characters, <= 255 chars."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # both separators: a Windows path arrives from any client
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"}).strip()
    if name in {"", ".", ".."}:
        return "unnamed"
    if len(name) > 255:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if 1 < len(suffix) <= 16 else ""
        name = name[: 255 - len(suffix)] + suffix
    return name


def _clean_content_type(content_type: str) -> str:
    content_type = "".join(ch for ch in str(content_type or "") if ch.isprintable()).strip()
    return content_type[:100]


def _new_storage_name() -> str:
    hex_id = uuid.uuid4().hex
    return f"{STORAGE_PREFIX}/{hex_id[:2]}/{hex_id}.bwk"


def _storage():
    return storages[STORAGE_ALIAS]


# --- Format ----------------------------------------------------------------------------------


def _build_header(key_id: str, chunk_size: int, nonce_prefix: bytes) -> bytes:
    kid = key_id.encode("ascii")
    return MAGIC + bytes([len(kid)]) + kid + struct.pack(">I", chunk_size) + nonce_prefix


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if final else 0)


@dataclass(frozen=True)
class _Written:
    sha256: str
    size: int


def _encrypt_into(out, pieces: Iterable[bytes], *, key_id: str, key: bytes, max_bytes: int | None) -> _Written:
    """Encrypt a stream of plaintext pieces into ``out``; hash and count while doing it.

    Holds at most one chunk plus one piece in memory. Raises PayloadTooLarge as soon as more than
    ``max_bytes`` have been read.
    """
    prefix = secrets.token_bytes(NONCE_PREFIX_SIZE)
    header = _build_header(key_id, CHUNK_SIZE, prefix)
    aead = AESGCM(key)
    digest = hashlib.sha256()
    size = 0
    index = 0
    buffer = bytearray()

    def emit(data, final: bool):
        nonlocal index
        if index >= MAX_CHUNKS:
            raise PayloadTooLarge("The file is too large for the artifact format.")
        out.write(aead.encrypt(_nonce(prefix, index), data, _aad(header, index, final)))
        index += 1

    out.write(header)
    for piece in pieces:
        if not piece:
            continue
        size += len(piece)
        if max_bytes is not None and size > max_bytes:
            raise PayloadTooLarge(f"The file is larger than the {_describe_limit(max_bytes)} limit.")
        digest.update(piece)
        buffer += piece
        if len(buffer) > CHUNK_SIZE:
            # Emit every full chunk that is certainly not the last one; keep the rest.
            view = memoryview(buffer)
            offset = 0
            while len(buffer) - offset > CHUNK_SIZE:
                emit(view[offset : offset + CHUNK_SIZE], final=False)
                offset += CHUNK_SIZE
            view.release()
            del buffer[:offset]
    emit(bytes(buffer), final=True)
    return _Written(sha256=digest.hexdigest(), size=size)


def _describe_limit(max_bytes: int) -> str:
    mib = 1024 * 1024
    if max_bytes >= mib:
        return f"{max_bytes / mib:g} MB"
    return f"{max_bytes} byte"


def _source_pieces(fileobj) -> Iterator[bytes]:
    if hasattr(fileobj, "chunks"):  # Django File / UploadedFile
        yield from fileobj.chunks(CHUNK_SIZE)
        return
    while True:
        piece = fileobj.read(CHUNK_SIZE)
        if not piece:
            return
        yield piece


def _read_exact(fh, n: int) -> bytes:
    """Read n bytes unless the stream ends first (storage backends may return short reads)."""
    parts = []
    remaining = n
    while remaining:
        part = fh.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _what(stored: StoredFile) -> str:
    return f"artifact {stored.pk} ({stored.path})"


def _read_header(fh, stored: StoredFile) -> tuple[bytes, str, int, bytes]:
    fixed = _read_exact(fh, len(MAGIC) + 1)
    if len(fixed) < len(MAGIC) + 1 or fixed[: len(MAGIC)] != MAGIC:
        raise ArtifactIntegrityError(f"{_what(stored)} is not a Bulwark encrypted blob (bad or missing header).")
    kid_len = fixed[len(MAGIC)]
    rest = _read_exact(fh, kid_len + 4 + NONCE_PREFIX_SIZE)
    if kid_len == 0 or len(rest) < kid_len + 4 + NONCE_PREFIX_SIZE:
        raise ArtifactIntegrityError(f"{_what(stored)} has a truncated or malformed header.")
    try:
        key_id = rest[:kid_len].decode("ascii")
    except UnicodeDecodeError:
        raise ArtifactIntegrityError(f"{_what(stored)} has a malformed key id in its header.")
    (chunk_size,) = struct.unpack(">I", rest[kid_len : kid_len + 4])
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ArtifactIntegrityError(f"{_what(stored)} has an implausible chunk size in its header.")
    prefix = rest[kid_len + 4 :]
    return fixed + rest, key_id, chunk_size, prefix


# --- Writing ---------------------------------------------------------------------------------


def _write_blob(pieces: Iterable[bytes], *, key_id: str, key: bytes, max_bytes: int | None) -> tuple[str, _Written]:
    """Encrypt into a temporary file, then hand it to the storage. Nothing reaches storage on error."""
    with tempfile.SpooledTemporaryFile(max_size=CHUNK_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        written = _encrypt_into(tmp, pieces, key_id=key_id, key=key, max_bytes=max_bytes)
        if written.size == 0:
            raise InvalidInput("The file is empty.")
        tmp.seek(0)
        name = _new_storage_name()
        path = _storage().save(name, File(tmp, name=name))
    return path, written


def _delete_quietly(path: str) -> None:
    """Cleanup-path delete: never raises, so it cannot mask the error that caused the cleanup."""
    try:
        _storage().delete(path)
    except Exception:
        logger.exception("Could not delete artifact blob %s; it is unreferenced and can be removed by hand.", path)


def _encrypt_upload(fileobj, max_bytes: int | None) -> tuple[str, str, _Written]:
    if max_bytes is None:
        max_bytes = settings.MAX_UPLOAD_BYTES
    ring = KeyRing.from_settings()
    key_id = ring.active_id
    path, written = _write_blob(_source_pieces(fileobj), key_id=key_id, key=ring.key(key_id), max_bytes=max_bytes)
    return path, key_id, written


def _create_row(path: str, key_id: str, written: _Written, original_name: str, content_type: str) -> StoredFile:
    return StoredFile.objects.create(
        path=path,
        key_id=key_id,
        sha256=written.sha256,
        size=written.size,
        original_name=sanitize_original_name(original_name),
        content_type=_clean_content_type(content_type),
    )


def store_upload(fileobj, *, original_name: str, content_type: str = "", max_bytes: int | None = None) -> StoredFile:
    """Encrypt ``fileobj`` into artifact storage and create its ``StoredFile`` row.

    Reads the file in chunks (``.chunks()`` for Django uploads, else ``.read()``). Raises
    PayloadTooLarge as soon as more than ``max_bytes`` (default ``MAX_UPLOAD_BYTES``) were read and
    InvalidInput for an empty file; in both cases nothing is written to storage.

    The row is created in the caller's transaction (if any). If that transaction later rolls back,
    the blob stays behind unreferenced; prefer :func:`artifact_upload`, which cleans up.
    """
    path, key_id, written = _encrypt_upload(fileobj, max_bytes)
    try:
        return _create_row(path, key_id, written, original_name, content_type)
    except BaseException:
        _delete_quietly(path)
        raise


@contextmanager
def artifact_upload(
    fileobj, *, original_name: str, content_type: str = "", max_bytes: int | None = None
) -> Iterator[StoredFile]:
    """Store an upload and yield its row inside a transaction; undo both if the block fails.

    Usage (the whole write that references the file goes inside the block)::

        upload = request.FILES["file"]
        with artifact_upload(upload, original_name=upload.name, content_type=upload.content_type) as stored:
            version = services.model_version_create(..., artifact=stored, actor=request.user)

    Order of events: the upload is encrypted into storage first, with no transaction open (a large
    upload holds no database locks); then a transaction is opened, the ``StoredFile`` row created and
    the block runs in it. If any exception escapes the block, the transaction rolls back and the blob
    is deleted, so neither row nor blob is left. Services decorated with ``@transaction.atomic`` called
    in the block simply nest. Enter it outside any transaction: an outer atomic block that rolls back
    *after* this one has exited cannot be seen (Django has no rollback hook) and would leave an
    unreferenced blob behind. Same errors as :func:`store_upload`, raised before the block runs.
    """
    path, key_id, written = _encrypt_upload(fileobj, max_bytes)
    try:
        with transaction.atomic():
            yield _create_row(path, key_id, written, original_name, content_type)
    except BaseException:
        _delete_quietly(path)
        raise


# --- Reading ---------------------------------------------------------------------------------


def iter_plaintext(stored: StoredFile, chunk_size: int = READ_CHUNK, *, ring: KeyRing | None = None) -> Iterator[bytes]:
    """Decrypt a blob as a stream of plaintext pieces of at most ``chunk_size`` bytes.

    Each encrypted chunk is authenticated before any of its bytes are yielded, so tampered,
    reordered or truncated data raises ArtifactIntegrityError before it is released. The SHA-256
    and size of the whole plaintext, however, can only be compared with the row at the end: a
    streaming download whose blob was *replaced by another validly encrypted file* has already sent
    its bytes when the error is raised (the response is then cut off). Use :func:`read_bytes` or
    :func:`open_plaintext_tempfile` when the content must be verified before it is used.
    """
    ring = ring or KeyRing.from_settings()
    with _storage().open(stored.path, "rb") as fh:
        header, key_id, blob_chunk, prefix = _read_header(fh, stored)
        if key_id != stored.key_id:
            raise ArtifactIntegrityError(
                f"{_what(stored)} is encrypted with key {key_id!r} but its record says {stored.key_id!r}."
            )
        aead = AESGCM(ring.key(key_id))
        digest = hashlib.sha256()
        size = 0
        sealed_len = blob_chunk + TAG_SIZE
        index = 0
        current = _read_exact(fh, sealed_len)
        while True:
            if len(current) < sealed_len:
                following, final = b"", True
            else:
                following = _read_exact(fh, sealed_len)
                final = not following
            try:
                plain = aead.decrypt(_nonce(prefix, index), current, _aad(header, index, final))
            except InvalidTag:
                raise ArtifactIntegrityError(
                    f"{_what(stored)} failed authentication at chunk {index}: the blob was modified, truncated "
                    f"or reordered, or key {key_id!r} is not the key it was encrypted with."
                )
            size += len(plain)
            if size > stored.size:
                raise ArtifactIntegrityError(
                    f"{_what(stored)} decrypts to more than the recorded {stored.size} bytes."
                )
            digest.update(plain)
            for start in range(0, len(plain), chunk_size):
                yield plain[start : start + chunk_size]
            if final:
                break
            current = following
            index += 1
            if index >= MAX_CHUNKS:
                raise ArtifactIntegrityError(f"{_what(stored)} has more chunks than the format allows.")
    if size != stored.size:
        raise ArtifactIntegrityError(
            f"{_what(stored)} decrypted to {size} bytes but {stored.size} were recorded."
        )
    actual = digest.hexdigest()
    if not hmac.compare_digest(actual, stored.sha256):
        raise ArtifactIntegrityError(
            f"{_what(stored)} SHA-256 mismatch: decrypted content hashes to {actual} but {stored.sha256} "
            "was recorded; the record or the blob was replaced."
        )


def read_bytes(stored: StoredFile) -> bytes:
    """The whole plaintext, authenticated and checked against the recorded SHA-256 and size."""
    return b"".join(iter_plaintext(stored, CHUNK_SIZE))


def open_plaintext_tempfile(stored: StoredFile):
    """Decrypt into a named temporary file, verified, positioned at 0; closing it deletes it.

    For libraries that load from a path (``tmp.name``); the suffix of the original name is kept.
    """
    suffix = PurePosixPath(stored.original_name).suffix
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""
    tmp = tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
    try:
        for piece in iter_plaintext(stored, CHUNK_SIZE):
            tmp.write(piece)
        tmp.flush()
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return tmp


def delete_blob(stored_or_path: StoredFile | str) -> None:
    """Delete the blob from storage (not the row). Missing blobs are ignored."""
    path = stored_or_path.path if isinstance(stored_or_path, StoredFile) else stored_or_path
    _storage().delete(path)


# --- Rotation --------------------------------------------------------------------------------


def reencrypt(stored: StoredFile, *, to_key_id: str | None = None, actor=None) -> StoredFile:
    """Move a blob onto ``to_key_id`` (default: the active key); the file stays readable throughout.

    1. Without any lock: decrypt the old blob (authenticated, SHA-256 checked) and encrypt it under
       the new key into a NEW blob. On any error the new blob is discarded and nothing changes.
    2. In one transaction: lock the row (``select_for_update``), check nobody moved it meanwhile,
       point it at the new blob and key id, and record an ``artifact.reencrypt`` audit event.
    3. Only after that commit is the old blob deleted (``on_commit``); if the transaction rolls
       back, the new blob is deleted instead.

    Returns the updated row; a row already on the target key is returned unchanged.
    """
    ring = KeyRing.from_settings()
    target = to_key_id or ring.active_id
    if target not in ring:
        raise ImproperlyConfigured(f"Cannot re-encrypt to key {target!r}: it is not in ARTIFACT_ENCRYPTION_KEYS.")
    target_key = ring.key(target)
    if stored.key_id == target:
        return stored
    old_path, old_key_id = stored.path, stored.key_id
    new_path, written = _write_blob(
        iter_plaintext(stored, CHUNK_SIZE, ring=ring), key_id=target, key=target_key, max_bytes=None
    )
    if written.sha256 != stored.sha256 or written.size != stored.size:  # iter_plaintext checked; belt and braces
        _delete_quietly(new_path)
        raise ArtifactIntegrityError(f"{_what(stored)} changed while it was being re-encrypted.")
    try:
        with transaction.atomic():
            locked = StoredFile.objects.select_for_update().get(pk=stored.pk)
            if locked.path != old_path:
                if locked.key_id == target:  # another rotation got there first
                    _delete_quietly(new_path)
                    return locked
                raise Conflict(f"{_what(stored)} was moved to {locked.path} while it was being re-encrypted.")
            locked.path, locked.key_id = new_path, target
            locked.save(update_fields=["path", "key_id"])
            audit.record(
                actor=actor,
                action="artifact.reencrypt",
                obj=locked,
                before={"key_id": old_key_id},
                after={"key_id": target},
            )
            transaction.on_commit(lambda: _delete_quietly(old_path), robust=True)
    except BaseException:
        _delete_quietly(new_path)
        raise
    return locked
