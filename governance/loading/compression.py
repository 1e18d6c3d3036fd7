"""Compressed joblib files: recognise the compressor by its magic bytes and inflate with a hard cap.

We inflate ourselves (rather than through joblib's file objects) so that a decompression bomb stops
at the cap instead of filling memory, and so that the scanner and the loader read the very same bytes.
"""

from __future__ import annotations

import bz2
import lzma
import zlib

from .limits import LimitExceeded, allowed_inflation, limits
from .report import CorruptArtifact, UnsupportedFlavour

# Same magic numbers joblib.compressor uses to pick a decompressor.
COMPRESSION_MAGIC = (
    ("zlib", b"\x78"),
    ("gzip", b"\x1f\x8b"),
    ("bz2", b"BZ"),
    ("xz", b"\xfd7zXZ"),
    ("lzma", b"\x5d\x00"),
    ("lz4", b"\x04\x22\x4d\x18"),
)
_JOBLIB_COMPAT_MAGIC = b"ZF"  # joblib < 0.9.3 format, arrays in companion files
_CHUNK = 1 << 20


def max_inflated_bytes() -> int:
    """The absolute cap: `MAX_DECOMPRESSED_BYTES`, else 4x `MAX_UPLOAD_BYTES`."""
    return limits().inflated_bytes


def detect_compression(head: bytes) -> str | None:
    for name, magic in COMPRESSION_MAGIC:
        if head.startswith(magic):
            # zlib's magic is a single byte ('x'): also require a valid zlib header checksum
            if name == "zlib" and (len(head) < 2 or (head[0] * 256 + head[1]) % 31):
                return None
            return name
    return None


def _decompressor(kind: str):
    if kind == "zlib":
        return zlib.decompressobj(zlib.MAX_WBITS)
    if kind == "gzip":
        return zlib.decompressobj(31)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if kind == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    try:
        import lz4.frame
    except ImportError:
        raise UnsupportedFlavour("lz4-compressed joblib files need the lz4 package, which is not installed")
    return lz4.frame.LZ4FrameDecompressor()


def inflate(data: bytes, limit: int | None = None) -> bytes:
    """Decompress a joblib file (several concatenated members allowed); plain files pass through."""
    if data.startswith(_JOBLIB_COMPAT_MAGIC):
        raise UnsupportedFlavour("joblib files older than 0.9.3 (arrays in companion files) are not supported")
    kind = detect_compression(data)
    if kind is None:
        return data
    setting = "MAX_DECOMPRESSED_MB"
    if limit is None:
        limit, setting = allowed_inflation(len(data))
    out = bytearray()
    remaining = data
    try:
        while remaining:
            decompressor = _decompressor(kind)
            remaining = _inflate_member(decompressor, remaining, out, limit, kind, setting)
    except (zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise CorruptArtifact(f"{kind} stream is corrupt: {exc}")
    return bytes(out)


def _inflate_member(decompressor, data: bytes, out: bytearray, limit: int, kind: str, setting: str) -> bytes:
    """Inflate one member into `out`, at most a chunk at a time; return the bytes after it."""
    streaming = hasattr(decompressor, "unconsumed_tail")  # zlib objects keep unread input themselves
    pending = data
    while not decompressor.eof:
        chunk = decompressor.decompress(pending, min(_CHUNK, limit + 1 - len(out)))
        pending = decompressor.unconsumed_tail if streaming else b""
        out += chunk
        if len(out) > limit:
            raise LimitExceeded(f"what this {kind} file inflates to (bytes, at least)", len(out), limit, setting)
        if not chunk and not pending and (streaming or decompressor.needs_input):
            raise CorruptArtifact(f"{kind} stream is truncated")
    return decompressor.unused_data
