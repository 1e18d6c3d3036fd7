"""Resource limits on untrusted model files: how much a file may make Bulwark inflate, allocate or store.

A model file is small on the wire and can be huge in memory: a zip member of zeros, a compressed pickle,
an array header that declares a billion elements, a booster that declares a billion classes. Every loader
checks what it is about to inflate or allocate against these limits *before* doing so, and every loaded
model's metadata (classes, feature names) is bounded before it can reach a database row.

Each limit is a setting (see config/settings.py, "Model file limits"); a refusal names the limit and the
setting, so an operator with a legitimately huge model knows which knob to turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

from .report import CorruptArtifact

_MiB = 1024 * 1024


class LimitExceeded(CorruptArtifact):
    """The file asks for more memory or metadata than Bulwark allows; the message names the limit."""

    def __init__(self, what: str, value, limit, setting: str):
        self.what, self.value, self.limit, self.setting = what, value, limit, setting
        super().__init__(f"{what} is {value:,}, over the limit of {limit:,} ({setting})")


@dataclass(frozen=True)
class Limits:
    inflated_bytes: int  # absolute cap on everything a file inflates to
    compression_ratio: int  # inflated / stored, above the floor
    inflation_floor: int  # a small file may always inflate this much
    array_elements: int
    array_dims: int
    classes: int
    features: int
    name_length: int


def limits() -> Limits:
    upload = int(getattr(settings, "MAX_UPLOAD_BYTES", 500 * _MiB))
    return Limits(
        inflated_bytes=int(getattr(settings, "MAX_DECOMPRESSED_BYTES", None) or 4 * upload),
        compression_ratio=int(getattr(settings, "MODEL_MAX_COMPRESSION_RATIO", 100)),
        inflation_floor=int(getattr(settings, "MODEL_INFLATION_FLOOR_BYTES", 16 * _MiB)),
        array_elements=int(getattr(settings, "MODEL_MAX_ARRAY_ELEMENTS", 100_000_000)),
        array_dims=int(getattr(settings, "MODEL_MAX_ARRAY_DIMS", 32)),
        classes=int(getattr(settings, "MODEL_MAX_CLASSES", 10_000)),
        features=int(getattr(settings, "MODEL_MAX_FEATURES", 50_000)),
        name_length=int(getattr(settings, "MODEL_MAX_NAME_LENGTH", 256)),
    )


def allowed_inflation(stored_bytes: int) -> tuple[int, str]:
    """How many bytes a file of `stored_bytes` may inflate to, and the setting that decided it."""
    lim = limits()
    by_ratio = max(lim.inflation_floor, lim.compression_ratio * max(int(stored_bytes), 0))
    if by_ratio < lim.inflated_bytes:
        return by_ratio, "MODEL_MAX_COMPRESSION_RATIO"
    return lim.inflated_bytes, "MAX_DECOMPRESSED_MB"


def check_inflated(total: int, stored_bytes: int, what: str = "the inflated size") -> None:
    allowed, setting = allowed_inflation(stored_bytes)
    if total > allowed:
        raise LimitExceeded(f"{what} (bytes)", total, allowed, setting)


def check_array(shape, itemsize: int, where: str) -> None:
    """Refuse an array before it is allocated: too many dimensions, elements or bytes."""
    lim = limits()
    shape = tuple(int(n) for n in shape)
    if len(shape) > lim.array_dims:
        raise LimitExceeded(f"the number of dimensions of {where}", len(shape), lim.array_dims,
                            "MODEL_MAX_ARRAY_DIMS")
    elements = math.prod(shape)
    if elements > lim.array_elements:
        raise LimitExceeded(f"the number of elements of {where}", elements, lim.array_elements,
                            "MODEL_MAX_ARRAY_ELEMENTS")
    if elements * max(int(itemsize), 1) > lim.inflated_bytes:
        raise LimitExceeded(f"the size of {where} (bytes)", elements * itemsize, lim.inflated_bytes,
                            "MAX_DECOMPRESSED_MB")


def check_count(what: str, count: int, kind: str) -> None:
    """`kind`: "classes" or "features"."""
    lim = limits()
    limit, setting = (lim.classes, "MODEL_MAX_CLASSES") if kind == "classes" else (lim.features, "MODEL_MAX_FEATURES")
    if count > limit:
        raise LimitExceeded(what, count, limit, setting)


def check_names(what: str, names) -> None:
    """Class labels or feature names: bounded count and length, so a version row stays small."""
    if names is None:
        return
    kind = "classes" if "class" in what else "features"
    check_count(f"the number of {what}", len(names), kind)
    longest = max((len(str(n)) for n in names), default=0)
    lim = limits()
    if longest > lim.name_length:
        raise LimitExceeded(f"the length of the longest of the {what}", longest, lim.name_length,
                            "MODEL_MAX_NAME_LENGTH")


def check_metadata(model) -> None:
    """What a LoadedModel carries into the version row."""
    check_names("class labels", model.classes)
    check_names("feature names", model.feature_names)
