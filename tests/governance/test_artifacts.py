"""Encrypted artifact storage: real AES-GCM, real filesystem storage in a temporary directory."""

import base64
import copy
import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from core.errors import InvalidInput, PayloadTooLarge
from governance import artifacts
from governance.artifacts import (
    CHUNK_SIZE,
    ArtifactIntegrityError,
    KeyRing,
    UnknownKeyError,
    artifact_upload,
    delete_blob,
    iter_plaintext,
    open_plaintext_tempfile,
    read_bytes,
    reencrypt,
    store_upload,
)
from governance.models import AuditEvent, StoredFile

K1 = base64.urlsafe_b64encode(bytes(range(32))).decode()
K2 = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()
OTHER = base64.urlsafe_b64encode(b"\xee" * 32).decode()
MARKER = b"PLAINTEXT-MARKER-7d1f"
SEALED = CHUNK_SIZE + 16


@pytest.fixture
def store_root(settings, tmp_path):
    """Point the "artifacts" storage at an empty directory and configure key k1.

    Assigning settings.STORAGES (a new dict, never mutated in place) sends setting_changed, on which
    Django drops its cached storage instances; restoring it at teardown does the same.
    """
    root = tmp_path / "store"
    config = copy.deepcopy(settings.STORAGES)
    config["artifacts"] = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}}
    settings.STORAGES = config
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k1:{K1}"
    return root


def files_in(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def payload(size: int) -> bytes:
    """Deterministic, incompressible-looking content with the marker spread through it."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest() * 8 + MARKER
        counter += 1
    return bytes(out[:size])


def upload(data: bytes, name: str = "model.pkl", **kwargs) -> StoredFile:
    return store_upload(io.BytesIO(data), original_name=name, **kwargs)


def header_len(key_id: str = "k1") -> int:
    return 4 + 1 + len(key_id) + 4 + 8


class Stream:
    """A file-like object that produces `total` bytes in reads, never holding them all."""

    def __init__(self, total: int):
        self.left = total
        self.block = payload(CHUNK_SIZE)
        self.reads = 0

    def read(self, n: int) -> bytes:
        self.reads += 1
        take = min(n, self.left, len(self.block))
        self.left -= take
        return self.block[:take]


# --- Storage override and round trips --------------------------------------------------------


def test_fixture_points_the_artifact_storage_at_the_tmp_dir(store_root):
    assert Path(storages["artifacts"].location) == store_root


@pytest.mark.django_db
def test_small_file_round_trips_and_the_blob_holds_no_plaintext(store_root):
    data = b"hello " + MARKER + b" world"
    stored = upload(data, content_type="application/octet-stream")
    stored.refresh_from_db()

    assert read_bytes(stored) == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.key_id == "k1"
    assert stored.content_type == "application/octet-stream"
    assert files_in(store_root) == [stored.path]
    blob = (store_root / stored.path).read_bytes()
    assert blob.startswith(b"BWK1\x02k1")
    assert MARKER not in blob
    assert len(blob) == header_len() + len(data) + 16


@pytest.mark.django_db
def test_multi_chunk_file_round_trips_through_every_reader(store_root):
    data = payload(3 * CHUNK_SIZE + CHUNK_SIZE // 2)
    stored = upload(data)

    assert read_bytes(stored) == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    pieces = list(iter_plaintext(stored, chunk_size=100_000))
    assert max(len(p) for p in pieces) <= 100_000
    assert b"".join(pieces) == data
    with open_plaintext_tempfile(stored) as tmp:
        assert tmp.name.endswith(".pkl")
        assert tmp.read() == data
    blob = (store_root / stored.path).read_bytes()
    assert MARKER not in blob
    assert len(blob) == header_len() + len(data) + 4 * 16  # four chunks, one tag each


@pytest.mark.django_db
def test_django_uploaded_file_is_read_through_its_chunks(store_root):
    data = payload(CHUNK_SIZE + 10)
    stored = store_upload(SimpleUploadedFile("x.onnx", data), original_name="x.onnx")
    assert read_bytes(stored) == data


@pytest.mark.django_db
def test_exact_multiple_of_the_chunk_size_round_trips_and_losing_the_last_chunk_is_detected(store_root):
    data = payload(2 * CHUNK_SIZE)
    stored = upload(data)
    assert read_bytes(stored) == data
    blob_path = store_root / stored.path
    blob = blob_path.read_bytes()
    assert len(blob) == header_len() + 2 * SEALED
    blob_path.write_bytes(blob[: header_len() + SEALED])  # a clean cut at a chunk boundary
    with pytest.raises(ArtifactIntegrityError, match="failed authentication at chunk 0"):
        read_bytes(stored)


# --- Tampering -------------------------------------------------------------------------------


@pytest.fixture
def three_chunk_file(store_root, db):
    data = payload(2 * CHUNK_SIZE + 5000)
    stored = upload(data)
    return stored, store_root / stored.path


def test_flipping_one_ciphertext_byte_is_detected(three_chunk_file):
    stored, blob_path = three_chunk_file
    blob = bytearray(blob_path.read_bytes())
    blob[header_len() + SEALED + 1234] ^= 0x01
    blob_path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match="failed authentication at chunk 1"):
        read_bytes(stored)


def test_editing_the_header_is_detected(three_chunk_file):
    stored, blob_path = three_chunk_file
    blob = bytearray(blob_path.read_bytes())
    blob[header_len() - 1] ^= 0x01  # last byte of the nonce prefix
    blob_path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match="failed authentication at chunk 0"):
        read_bytes(stored)


def test_a_blob_without_the_magic_is_rejected(three_chunk_file):
    stored, blob_path = three_chunk_file
    blob_path.write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(ArtifactIntegrityError, match="not a Bulwark encrypted blob"):
        read_bytes(stored)


@pytest.mark.parametrize("cut", [1, 100, 5000 + 16], ids=["one-byte", "part-of-tag", "whole-last-chunk"])
def test_truncating_the_blob_is_detected(three_chunk_file, cut):
    stored, blob_path = three_chunk_file
    blob = blob_path.read_bytes()
    blob_path.write_bytes(blob[:-cut])
    with pytest.raises(ArtifactIntegrityError, match="failed authentication"):
        read_bytes(stored)


def test_appending_data_is_detected(three_chunk_file):
    stored, blob_path = three_chunk_file
    with blob_path.open("ab") as fh:
        fh.write(b"\x00" * 32)
    with pytest.raises(ArtifactIntegrityError, match="failed authentication"):
        read_bytes(stored)


def test_swapping_two_chunks_is_detected(three_chunk_file):
    stored, blob_path = three_chunk_file
    blob = blob_path.read_bytes()
    h = header_len()
    first, second = blob[h : h + SEALED], blob[h + SEALED : h + 2 * SEALED]
    blob_path.write_bytes(blob[:h] + second + first + blob[h + 2 * SEALED :])
    with pytest.raises(ArtifactIntegrityError, match="failed authentication at chunk 0"):
        read_bytes(stored)


def test_a_chunk_from_another_blob_is_detected(store_root, db):
    a = upload(payload(CHUNK_SIZE + 10))
    b = upload(payload(CHUNK_SIZE + 10))
    a_blob, b_blob = (store_root / a.path).read_bytes(), (store_root / b.path).read_bytes()
    h = header_len()
    (store_root / a.path).write_bytes(a_blob[: h + SEALED] + b_blob[h + SEALED :])  # same key, same index
    with pytest.raises(ArtifactIntegrityError, match="failed authentication at chunk 1"):
        read_bytes(a)


def test_a_changed_hash_in_the_database_is_detected(three_chunk_file):
    stored, _ = three_chunk_file
    StoredFile.objects.filter(pk=stored.pk).update(sha256="0" * 64)
    stored.refresh_from_db()
    with pytest.raises(ArtifactIntegrityError, match="SHA-256 mismatch"):
        read_bytes(stored)
    with pytest.raises(ArtifactIntegrityError, match="SHA-256 mismatch"):
        open_plaintext_tempfile(stored)


def test_a_changed_size_in_the_database_is_detected(three_chunk_file):
    stored, _ = three_chunk_file
    for wrong in (stored.size - 1, stored.size + 1):
        stored.size = wrong
        with pytest.raises(ArtifactIntegrityError, match="bytes"):
            read_bytes(stored)


def test_a_streaming_read_can_only_report_a_hash_mismatch_at_the_end(three_chunk_file):
    stored, _ = three_chunk_file
    stored.sha256 = "f" * 64
    received = []
    with pytest.raises(ArtifactIntegrityError, match="SHA-256 mismatch"):
        for piece in iter_plaintext(stored):
            received.append(piece)
    assert sum(map(len, received)) == stored.size  # every byte went out before the check could fail


def test_an_unknown_key_id_gives_a_clear_error(three_chunk_file, settings):
    stored, _ = three_chunk_file
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2}"
    with pytest.raises(UnknownKeyError, match="artifact encrypted with key 'k1' which is not configured") as exc:
        read_bytes(stored)
    assert isinstance(exc.value, ArtifactIntegrityError) and isinstance(exc.value, ImproperlyConfigured)


def test_the_wrong_key_under_the_same_id_fails_authentication(three_chunk_file, settings):
    stored, _ = three_chunk_file
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k1:{OTHER}"
    with pytest.raises(ArtifactIntegrityError, match="key 'k1' is not the key it was encrypted with"):
        read_bytes(stored)


def test_a_record_naming_another_key_than_the_blob_is_rejected(three_chunk_file, settings):
    stored, _ = three_chunk_file
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k1:{K1},k2:{K2}"
    stored.key_id = "k2"
    with pytest.raises(ArtifactIntegrityError, match="encrypted with key 'k1' but its record says 'k2'"):
        read_bytes(stored)


# --- Key ring --------------------------------------------------------------------------------


def test_key_ring_takes_the_first_key_as_active(settings):
    settings.ARTIFACT_ENCRYPTION_KEYS = f" k2:{K2} , k1:{K1.rstrip('=')} "
    ring = KeyRing.from_settings()
    assert ring.active_id == "k2"
    assert ring.key("k1") == bytes(range(32))
    assert ring.ids == ["k2", "k1"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "is empty"),
        ("k1", "must look like"),
        ("../x:" + K1, "must look like"),
        (f"k1:{K1},k1:{K2}", "twice"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "32 bytes"),
        ("k1:not*base64!", "not valid URL-safe base64"),
    ],
)
def test_key_ring_rejects_bad_configuration_without_echoing_key_material(settings, spec, message):
    settings.ARTIFACT_ENCRYPTION_KEYS = spec
    with pytest.raises(ImproperlyConfigured, match=message) as exc:
        KeyRing.from_settings()
    assert K1 not in str(exc.value) and K2 not in str(exc.value)


# --- Limits and names ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_over_the_limit_is_refused_as_soon_as_the_limit_is_passed_leaving_nothing(store_root):
    with pytest.raises(PayloadTooLarge, match="larger than the 1000 byte limit"):
        upload(payload(2000), max_bytes=1000)
    stream = Stream(100 * CHUNK_SIZE)
    with pytest.raises(PayloadTooLarge):
        store_upload(stream, original_name="big.bin", max_bytes=3 * CHUNK_SIZE)
    assert stream.reads == 4  # stopped at the first read past the limit, not at the end of the stream
    assert files_in(store_root) == []
    assert not StoredFile.objects.exists()


@pytest.mark.django_db
def test_the_default_limit_is_max_upload_bytes(store_root, settings):
    settings.MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    with pytest.raises(PayloadTooLarge, match="larger than the 2 MB limit"):
        upload(payload(2 * 1024 * 1024 + 1))
    assert upload(payload(2 * 1024 * 1024)).size == 2 * 1024 * 1024


@pytest.mark.django_db
def test_an_empty_file_is_refused_leaving_nothing(store_root):
    with pytest.raises(InvalidInput, match="The file is empty."):
        upload(b"")
    assert files_in(store_root) == []
    assert not StoredFile.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, shown",
    [
        ("../../etc/passwd", "passwd"),
        ("a\x00b.pkl", "ab.pkl"),
        ("C:\\evil\\x.onnx", "x.onnx"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("/abs/olute/", "unnamed"),
        ("\u202eexe.pkl", "exe.pkl"),
        ("line\nbreak\r.csv", "linebreak.csv"),
        ("é" * 300 + ".joblib", "é" * 248 + ".joblib"),
    ],
)
def test_the_uploaded_name_never_reaches_the_storage_path_and_is_sanitised(store_root, name, shown):
    stored = upload(b"payload", name=name)
    assert stored.original_name == shown
    assert len(stored.original_name) <= 255
    assert stored.path.startswith("artifacts/")
    assert "passwd" not in stored.path and "evil" not in stored.path and ".." not in stored.path
    blob = (store_root / stored.path).resolve()
    assert blob.is_relative_to(store_root.resolve())
    assert files_in(store_root) == [stored.path]


@pytest.mark.django_db
def test_storage_names_are_random(store_root):
    paths = {upload(b"same bytes", name="same.pkl").path for _ in range(5)}
    assert len(paths) == 5


@pytest.mark.django_db
def test_delete_blob_removes_the_file_and_ignores_a_missing_one(store_root):
    stored = upload(b"bye")
    delete_blob(stored)
    assert files_in(store_root) == []
    delete_blob(stored.path)


# --- The upload context manager --------------------------------------------------------------


@pytest.mark.django_db
def test_artifact_upload_commits_row_and_blob_when_the_block_succeeds(store_root):
    with artifact_upload(io.BytesIO(b"model bytes"), original_name="m.pkl") as stored:
        assert StoredFile.objects.filter(pk=stored.pk).exists()
    assert read_bytes(StoredFile.objects.get(pk=stored.pk)) == b"model bytes"
    assert files_in(store_root) == [stored.path]


@pytest.mark.django_db
def test_artifact_upload_leaves_no_blob_and_no_row_when_the_block_fails(store_root):
    class Boom(Exception):
        pass

    data = io.BytesIO(payload(CHUNK_SIZE + 1))
    with pytest.raises(Boom), artifact_upload(data, original_name="m.pkl") as stored:
        assert files_in(store_root) == [stored.path]
        AuditEvent.objects.create(seq=999, action="test.inside-block", prev_hash="x", hash="y")
        raise Boom
    assert files_in(store_root) == []
    assert not StoredFile.objects.exists()
    assert not AuditEvent.objects.filter(action="test.inside-block").exists()  # the block's writes rolled back too


@pytest.mark.django_db
def test_artifact_upload_refuses_before_running_the_block(store_root):
    ran = False
    with pytest.raises(PayloadTooLarge), artifact_upload(io.BytesIO(payload(2000)), original_name="m", max_bytes=1000):
        ran = True
    assert not ran and files_in(store_root) == []


# --- Key rotation ----------------------------------------------------------------------------


@pytest.fixture
def three_files_on_k1(store_root, transactional_db):
    contents = [b"small " + MARKER, payload(CHUNK_SIZE * 2 + 17), payload(300)]
    stored = [upload(data, name=f"f{i}.pkl") for i, data in enumerate(contents)]
    return list(zip(stored, contents, strict=True))


def rotate(**kwargs):
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_artifact_keys", stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_rotation_moves_every_file_to_the_new_key_and_audits_it(three_files_on_k1, store_root, settings):
    old_paths = {s.path for s, _ in three_files_on_k1}
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2},k1:{K1}"

    out, _ = rotate(batch=2)

    assert "Re-encrypted 3 file(s) to key 'k2'; skipped 0 already on it; 0 failed." in out
    for before, data in three_files_on_k1:
        after = StoredFile.objects.get(pk=before.pk)
        assert after.key_id == "k2"
        assert after.path != before.path and after.sha256 == before.sha256
        assert read_bytes(after) == data
        assert (store_root / after.path).read_bytes().startswith(b"BWK1\x02k2")
        event = AuditEvent.objects.get(action="artifact.reencrypt", object_id=str(before.pk))
        assert event.changes == {"before": {"key_id": "k1"}, "after": {"key_id": "k2"}}
        assert event.channel == "cli" and event.actor is None
    remaining = set(files_in(store_root))
    assert len(remaining) == 3 and not remaining & old_paths  # old blobs deleted, nothing orphaned
    call_command("verify_audit", stdout=io.StringIO())

    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2}"  # the old key can go now
    out, _ = rotate()
    assert "Re-encrypted 0 file(s) to key 'k2'; skipped 3 already on it; 0 failed." in out
    assert AuditEvent.objects.filter(action="artifact.reencrypt").count() == 3
    for before, data in three_files_on_k1:
        assert read_bytes(StoredFile.objects.get(pk=before.pk)) == data


def test_rotation_reports_a_tampered_file_and_rotates_the_others(three_files_on_k1, store_root, settings):
    (bad, _), *good = three_files_on_k1
    blob = bytearray((store_root / bad.path).read_bytes())
    blob[-1] ^= 0xFF
    (store_root / bad.path).write_bytes(bytes(blob))
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2},k1:{K1}"

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 file\\(s\\) could not be re-encrypted"):
        call_command("rotate_artifact_keys", stdout=io.StringIO(), stderr=err)

    assert f"StoredFile {bad.pk} 'f0.pkl'" in err.getvalue() and "failed authentication" in err.getvalue()
    bad.refresh_from_db()
    assert bad.key_id == "k1"
    assert (store_root / bad.path).exists()  # left exactly as it was
    for stored, data in good:
        stored.refresh_from_db()
        assert stored.key_id == "k2" and read_bytes(stored) == data
    assert len(files_in(store_root)) == 3  # no half-written blob of the failed file
    assert AuditEvent.objects.filter(action="artifact.reencrypt").count() == 2
    call_command("verify_audit", stdout=io.StringIO())


def test_a_rotation_that_fails_at_the_switch_over_leaves_the_file_on_its_old_blob(
    three_files_on_k1, store_root, settings, monkeypatch
):
    stored, data = three_files_on_k1[1]
    before = files_in(store_root)
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2},k1:{K1}"

    def crash(**kwargs):
        raise RuntimeError("killed mid-rotation")

    monkeypatch.setattr(artifacts.audit, "record", crash)
    with pytest.raises(RuntimeError, match="killed mid-rotation"):
        reencrypt(stored)

    stored.refresh_from_db()
    assert stored.key_id == "k1" and read_bytes(stored) == data
    assert files_in(store_root) == before  # the new blob was removed, the old one kept


def test_dry_run_changes_nothing_and_flags_unconfigured_keys(three_files_on_k1, store_root, settings):
    before = files_in(store_root)
    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2},k1:{K1}"
    out, _ = rotate(dry_run=True)
    assert "would re-encrypt 3 file(s) to key 'k2' (k1: 3); 0 already on it" in out
    assert files_in(store_root) == before
    assert set(StoredFile.objects.values_list("key_id", flat=True)) == {"k1"}

    settings.ARTIFACT_ENCRYPTION_KEYS = f"k2:{K2}"
    with pytest.raises(CommandError, match="key\\(s\\) 'k1' which are not configured"):
        rotate(dry_run=True)


def test_reencrypt_to_an_unconfigured_key_is_refused(three_files_on_k1):
    stored, _ = three_files_on_k1[0]
    with pytest.raises(ImproperlyConfigured, match="Cannot re-encrypt to key 'k9'"):
        reencrypt(stored, to_key_id="k9")


# --- Memory ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_50_mb_upload_and_download_stay_in_bounded_memory(store_root):
    total = 50 * 1024 * 1024
    upload(b"warm-up")  # first-use allocations (storage, crypto, queries) are not what we measure
    stream = Stream(total)

    tracemalloc.start()
    try:
        stored = store_upload(stream, original_name="big.bin")
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        for piece in iter_plaintext(stored):
            digest.update(piece)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == total and digest.hexdigest() == stored.sha256
    assert upload_peak < 10 * 1024 * 1024, f"upload peaked at {upload_peak / 2**20:.1f} MiB"
    assert download_peak < 10 * 1024 * 1024, f"download peaked at {download_peak / 2**20:.1f} MiB"
