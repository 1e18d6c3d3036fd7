"""Reading, checking and profiling uploaded datasets (CSV or Parquet).

The format is decided from the file's content (Parquet starts with ``PAR1``), never from the name
alone. CSV files are checked in streaming passes before pandas reads them, so that a bad file gets
a message naming the problem and the row: UTF-8 validity (with the byte offset), the header, ragged
rows and the row limit. Rows are numbered as in a spreadsheet: the header is row 1.

Type inference follows ``pandas.read_csv`` (what most models were trained on), with two changes:
``low_memory=False`` so a column never mixes types between chunks, and integer-looking codes with
leading zeros ("007", ZIP codes) in the first rows stay text instead of becoming numbers.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import io
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings

from core.errors import InvalidInput, UnsupportedMediaType

PARQUET_MAGIC = b"PAR1"
DELIMITERS = ",;\t|"
CATEGORY_LIMIT = 50  # categories listed per column; more unique strings than this (and >50 % unique) is "text"
SAMPLE_BYTES = 64 * 1024  # sniffing the delimiter, spotting binary content and leading-zero codes
CHUNK_BYTES = 1024 * 1024
GENERIC_415 = "Upload a CSV (UTF-8) or Parquet file."

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_LEADING_ZERO_CODE = re.compile(r"^0\d+$")
_CONTROL_BYTES = bytes(range(0, 9)) + bytes(range(14, 27)) + bytes(range(28, 32)) + b"\x7f"
_PANDAS_EOF_IN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")

# Real text datasets can hold fields larger than the csv module's default 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))


@dataclass
class ParsedDataset:
    format: str  # "csv" | "parquet"
    frame: pd.DataFrame
    rows: int
    columns: int
    schema: list[dict]
    target_column: str  # "" when none given


def parse_dataset(path_or_fileobj, *, filename: str, target_column: str | None = None) -> ParsedDataset:
    """Read, check and profile an uploaded table. Raises InvalidInput / UnsupportedMediaType."""
    fmt, frame = read_table(path_or_fileobj, filename=filename)
    target = (target_column or "").strip()
    columns = [str(c) for c in frame.columns]
    if target:
        if target not in columns:
            raise InvalidInput(_unknown_target_message(target, columns), field="target_column")
        if frame[target].isna().all():
            raise InvalidInput(
                f"Target column '{target}' has no values: it is missing in every row.", field="target_column"
            )
    _reject_extreme_values(frame)
    if len(columns) - (1 if target else 0) < 1:
        raise InvalidInput(
            f"The file has only the target column '{target}'; it needs at least one feature column too.",
            field="target_column",
        )
    return ParsedDataset(
        format=fmt,
        frame=frame,
        rows=len(frame),
        columns=len(columns),
        schema=infer_schema(frame),
        target_column=target,
    )


def _reject_extreme_values(frame: pd.DataFrame) -> None:
    """Infinity, or a magnitude beyond DATASET_MAX_ABS_VALUE, in a numeric column: refused, naming the column and
    the first row (models and statistics break on such values, and they are almost always an export error)."""
    import numpy as np

    limit = settings.DATASET_MAX_ABS_VALUE
    for column in frame.columns:
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(values) | (np.abs(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)) > limit)
        if bad.any():
            positions = np.flatnonzero(bad)
            first = int(positions[0])
            value = values[first]
            shown = ("infinity" if value > 0 else "-infinity") if np.isinf(value) else f"{value:.6g}"
            more = f" (and {len(positions) - 1} more row(s))" if len(positions) > 1 else ""
            raise InvalidInput(
                f"Column '{column}' holds {shown} in data row {first + 1}{more}: numeric values must be finite and "
                f"within ±{limit:.0e} (DATASET_MAX_ABS_VALUE). Leave the cell empty for a missing value.",
                field="file", details={"column": str(column), "row": first + 1, "rows": len(positions)})


def read_table(
    path_or_fileobj, *, filename: str, declared_format: str | None = None, enforce_row_limit: bool = True
) -> tuple[str, pd.DataFrame]:
    """Return ("csv" | "parquet", frame). A path or a binary file object; file objects are not closed.

    ``enforce_row_limit=False`` skips the MAX_DATASET_ROWS check (for re-reading stored datasets).
    """
    max_rows = settings.MAX_DATASET_ROWS if enforce_row_limit else None
    with _binary_source(path_or_fileobj) as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        head = fh.read(SAMPLE_BYTES)
        if size == 0:
            raise InvalidInput("The file is empty.", field="file")
        if head.startswith(PARQUET_MAGIC):
            fh.seek(0)
            return "parquet", _read_parquet(fh, max_rows)
        parquet_claim = _parquet_claim(filename, declared_format)
        if _looks_binary(head):
            raise UnsupportedMediaType(_binary_message(filename, head, parquet_claim), field="file")
        if parquet_claim:
            raise UnsupportedMediaType(
                f"{parquet_claim} but is not a Parquet file (it looks like CSV text). "
                "Rename it to .csv or upload the real Parquet file.",
                field="file",
            )
        return "csv", _read_csv(fh, head, size, max_rows)


# --- Source handling -------------------------------------------------------------------------------


@contextlib.contextmanager
def _binary_source(path_or_fileobj):
    """A seekable binary handle. Paths are opened (and closed); non-seekable streams are spooled to disk."""
    if isinstance(path_or_fileobj, str | os.PathLike):
        with open(path_or_fileobj, "rb") as fh:
            yield fh
        return
    fh = path_or_fileobj
    if isinstance(fh.read(0), str):
        raise TypeError("read_table needs a binary file object (opened with 'rb'), not a text one.")
    seekable = getattr(fh, "seekable", None)
    if seekable is not None and seekable():
        fh.seek(0)
        yield fh
        return
    with tempfile.TemporaryFile() as spooled:
        shutil.copyfileobj(fh, spooled, CHUNK_BYTES)
        spooled.seek(0)
        yield spooled


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False  # text in the wrong encoding: the UTF-8 check explains it
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    if controls > 0.05 * len(head):
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        # Text in a legacy encoding has a few bytes above 0x7F; random binary has about half.
        return sum(1 for b in head if b >= 0x80) > 0.3 * len(head)
    return False


def _parquet_claim(filename: str, declared_format: str | None) -> str:
    """How the upload claims to be Parquet ("'x.parquet' has a .parquet name"), or "" when it does not."""
    if filename.lower().endswith(".parquet"):
        return f"'{filename}' has a .parquet name"
    if (declared_format or "").lower() == "parquet":
        return f"'{filename}' was declared as Parquet"
    return ""


def _binary_message(filename: str, head: bytes, parquet_claim: str) -> str:
    prefix = f"{parquet_claim} but is not a Parquet file. " if parquet_claim else ""
    hint = ""
    if head.startswith(b"PK\x03\x04") and filename.lower().endswith((".xlsx", ".xlsm", ".ods")):
        hint = " This looks like a spreadsheet workbook: save the sheet as CSV (UTF-8) first."
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        hint = " This looks like an old Excel workbook: save the sheet as CSV (UTF-8) first."
    elif head.startswith((b"\x1f\x8b", b"PK\x03\x04", b"BZh", b"\xfd7zXZ", b"(\xb5/\xfd")):
        hint = " Compressed files are not accepted: upload the uncompressed file."
    return prefix + GENERIC_415 + hint


# --- CSV -------------------------------------------------------------------------------------------


def _read_csv(fh, head: bytes, size: int, max_rows: int | None) -> pd.DataFrame:
    _check_utf8(fh, utf16_hint=head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))
    sample = _text_sample(head, complete=size <= len(head))
    delimiter = _sniff_delimiter(sample)
    fh.seek(0)
    header, rows = _check_structure(fh, delimiter, max_rows)
    text_columns = _leading_zero_columns(sample, delimiter, header)
    fh.seek(0)
    try:
        frame = pd.read_csv(
            fh,
            sep=delimiter,
            encoding="utf-8-sig",
            header=0,
            names=header,
            dtype=dict.fromkeys(text_columns, "str") or None,
            skip_blank_lines=True,
            low_memory=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(_pandas_error_message(exc), field="file")
    if len(frame) != rows:  # the csv module and pandas disagree about quoting: trust neither silently
        raise InvalidInput(
            f"The CSV is ambiguous: it reads as {rows} rows by one parser and {len(frame)} by another. "
            "Check the quoting (unbalanced \" characters).",
            field="file",
        )
    return frame


def _check_utf8(fh, *, utf16_hint: bool = False) -> None:
    """Stream the whole file through an incremental UTF-8 decoder; report the first bad byte's offset."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes read so far
    has_content = False
    while True:
        chunk = fh.read(CHUNK_BYTES)
        final = not chunk
        pending = len(decoder.getstate()[0])  # bytes of an unfinished character carried over
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            bad = offset - pending + exc.start
            hint = " It looks like UTF-16." if utf16_hint else ""
            raise InvalidInput(
                f"The CSV is not valid UTF-8 (first bad byte at offset {bad}). "
                f"Save it as UTF-8 and upload again.{hint}",
                field="file",
            )
        if not has_content and text.replace("\ufeff", "").strip():
            has_content = True
        if final:
            break
        offset += len(chunk)
    if not has_content:
        raise InvalidInput("The file is empty.", field="file")


def _text_sample(head: bytes, *, complete: bool) -> str:
    """The first bytes as text, cut after the last full line unless it is the whole file."""
    text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    text = text.removeprefix("\ufeff")
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def _sniff_delimiter(sample: str) -> str:
    """csv.Sniffer's guess when the sample agrees with it, else the most consistent candidate, else ','."""
    try:
        guess = csv.Sniffer().sniff(sample[:16 * 1024], delimiters=DELIMITERS).delimiter
    except csv.Error:
        guess = None
    scores = {d: _consistency(sample, d) for d in DELIMITERS}
    if guess in scores and scores[guess][0] >= 0.9:
        return guess
    best = max(DELIMITERS, key=lambda d: scores[d])
    return best if scores[best][0] > 0 else ","


def _consistency(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of sample rows with the header's field count, header width); (0, 0) for one column."""
    try:
        records = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if _is_data(r)]
    except csv.Error:
        return 0.0, 0
    if not records or len(records[0]) < 2:
        return 0.0, 0
    width = len(records[0])
    body = records[1:] or records
    return sum(len(r) == width for r in body) / len(body), width


def _is_data(record: list[str]) -> bool:
    """pandas skips blank and whitespace-only lines; so does every check here."""
    return bool(record) and not (len(record) == 1 and not record[0].strip())


def _check_structure(fh, delimiter: str, max_rows: int | None) -> tuple[list[str], int]:
    """One pass with the csv module: the header, ragged rows and the row limit. Returns (header, rows)."""
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)
        header = None
        rows = 0
        start_line = 1
        for record in reader:
            first_line, start_line = start_line, reader.line_num + 1
            if not _is_data(record):
                continue
            if header is None:
                header = _check_header(record)
                continue
            rows += 1
            if max_rows is not None and rows > max_rows:
                raise InvalidInput(
                    f"The file has more than {max_rows:,} rows, the most a dataset may have. "
                    "Upload a sample of it (the limit is the MAX_DATASET_ROWS setting).",
                    field="file",
                )
            if len(record) != len(header):
                raise InvalidInput(_ragged_message(first_line, reader.line_num, len(record), len(header)), field="file")
    except csv.Error as exc:
        raise InvalidInput(f"Row {reader.line_num} could not be read: {exc}.", field="file")
    finally:
        text.detach()  # leave the caller's file open
    if header is None:
        raise InvalidInput("The file is empty.", field="file")
    if rows == 0:
        raise InvalidInput("The file has a header but no rows.", field="file")
    return header, rows


def _ragged_message(first_line: int, last_line: int, fields: int, expected: int) -> str:
    message = f"Row {first_line} has {fields} field{'s' if fields != 1 else ''} but the header has {expected}."
    if last_line > first_line:
        message += (
            f" A quoted field makes it run on to line {last_line}: check for a missing closing quote (\")."
        )
    elif fields > expected:
        message += " A value may contain the delimiter without being quoted."
    return message


def _check_header(record: list[str]) -> list[str]:
    cells = [c.strip() for c in record]
    filled = [c for c in cells if c]
    if filled and all(_NUMBER.match(c) for c in filled):
        shown = ", ".join(repr(c) for c in cells[:6]) + (", ..." if len(cells) > 6 else "")
        raise InvalidInput(
            f"The first row must be a header with column names; it looks like data: [{shown}]", field="file"
        )
    return check_column_names(cells)


def check_column_names(names: list) -> list[str]:
    """Strip names; reject non-string, empty and duplicate ones. Returns the stripped names."""
    stripped = []
    for position, name in enumerate(names, start=1):
        if not isinstance(name, str):
            raise InvalidInput(
                f"Column names must be text; column {position} is named {name!r} ({type(name).__name__}).",
                field="file",
            )
        name = name.strip()
        if not name:
            hint = " (often an index written by pandas' to_csv: save with index=False)" if position == 1 else ""
            raise InvalidInput(
                f"Column {position} has no name in the header row{hint}. Every column needs a name.", field="file"
            )
        stripped.append(name)
    seen: dict[str, int] = {}
    for position, name in enumerate(stripped, start=1):
        if name in seen:
            raise InvalidInput(
                f"Column name '{name}' appears more than once (columns {seen[name]} and {position}). "
                "Column names must be unique.",
                field="file",
            )
        seen[name] = position
    return stripped


def _leading_zero_columns(sample: str, delimiter: str, header: list[str]) -> list[str]:
    """Columns whose sample values include integer codes with leading zeros: keep them as text."""
    try:
        records = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if _is_data(r)][1:]
    except csv.Error:
        return []
    found = set()
    for record in records:
        for name, value in zip(header, record, strict=False):
            if name not in found and _LEADING_ZERO_CODE.match(value.strip()):
                found.add(name)
    return [name for name in header if name in found]


def _pandas_error_message(exc: Exception) -> str:
    match = _PANDAS_EOF_IN_QUOTE.search(str(exc))
    if match:
        return (
            f"A quoted field on row {int(match.group(1)) + 1} is never closed: "
            "check for a missing closing quote (\")."
        )
    return f"The CSV could not be read: {exc}"


# --- Parquet ---------------------------------------------------------------------------------------


def _read_parquet(fh, max_rows: int | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(fh)
        if max_rows is not None and parquet.metadata.num_rows > max_rows:
            raise InvalidInput(
                f"The file has {parquet.metadata.num_rows:,} rows; a dataset may have at most {max_rows:,}. "
                "Upload a sample of it (the limit is the MAX_DATASET_ROWS setting).",
                field="file",
            )
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"The Parquet file could not be read: {exc}", field="file")
    if table.num_columns == 0:
        raise InvalidInput("The Parquet file has no columns.", field="file")
    for field in table.schema:
        if pa.types.is_nested(field.type):
            raise InvalidInput(
                f"Column '{field.name}' holds nested values ({field.type}); only flat columns are supported.",
                field="file",
            )
        if pa.types.is_decimal(field.type):
            table = table.set_column(table.schema.get_field_index(field.name), field.name,
                                     table[field.name].cast(pa.float64()))
    try:
        frame = table.to_pandas(date_as_object=False)
    except (pa.ArrowException, ValueError) as exc:
        raise InvalidInput(f"The Parquet file could not be converted to a table: {exc}", field="file")
    frame.columns = check_column_names(list(frame.columns))
    if len(frame) == 0:
        raise InvalidInput("The file has columns but no rows.", field="file")
    return frame.reset_index(drop=True)


# --- Profiling -------------------------------------------------------------------------------------


def infer_schema(frame: pd.DataFrame) -> list[dict]:
    """One JSON-safe profile per column, in order (no numpy types, no NaN or infinity)."""
    return [_profile(str(name), frame.iloc[:, position]) for position, name in enumerate(frame.columns)]


def _profile(name: str, series: pd.Series) -> dict:
    total = len(series)
    present = series.dropna()
    missing = total - len(present)
    kind, values = _classify(series.dtype, present)
    unique = int(present.nunique()) if kind not in {"categorical", "text"} else int(values.nunique())
    if kind in {"categorical", "text"} and unique > CATEGORY_LIMIT and unique > 0.5 * len(present):
        kind = "text"
    elif kind == "text":
        kind = "categorical"
    entry = {
        "name": name,
        "dtype": kind,
        "missing": int(missing),
        "missing_share": round(missing / total, 4) if total else 0.0,
        "unique": unique,
    }
    if kind in {"integer", "float"}:
        entry.update(_numeric_stats(values))
    elif kind in {"categorical", "boolean"}:
        entry.update(_category_counts(values, boolean=kind == "boolean"))
    elif kind == "text":
        lengths = values.str.len()
        entry["max_length"] = int(lengths.max()) if len(lengths) else None
    elif kind == "datetime":
        entry["min"] = values.min().isoformat() if len(values) else None
        entry["max"] = values.max().isoformat() if len(values) else None
    return entry


def _classify(dtype, present: pd.Series) -> tuple[str, pd.Series]:
    """(kind, the non-missing values in a form the kind's statistics can use). "text" means string-like."""
    types = pd.api.types
    if isinstance(dtype, pd.CategoricalDtype):
        return "text", present.astype(str)
    if types.is_bool_dtype(dtype):
        return "boolean", present.astype(bool)
    if types.is_integer_dtype(dtype):
        return "integer", present
    if types.is_float_dtype(dtype):
        return "float", present
    if types.is_datetime64_any_dtype(dtype):
        return "datetime", present
    inferred = types.infer_dtype(present, skipna=True) if len(present) else "empty"
    if inferred == "boolean":
        return "boolean", present.astype(bool)
    if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all():
            return ("integer" if inferred == "integer" else "float"), numbers
    if inferred in {"datetime", "datetime64", "date"}:
        with contextlib.suppress(ValueError, TypeError):
            return "datetime", pd.Series(pd.to_datetime(present))
    return "text", present.astype(str)


def _numeric_stats(values: pd.Series) -> dict:
    numbers = np.asarray(values, dtype="float64")
    finite = numbers[np.isfinite(numbers)]
    stats = {"min": None, "max": None, "mean": None, "std": None, "infinite": int(len(numbers) - len(finite))}
    with np.errstate(over="ignore", invalid="ignore"):  # a mean that overflows becomes None below
        if len(finite):
            stats.update(min=_json_float(finite.min()), max=_json_float(finite.max()),
                         mean=_json_float(finite.mean()))
        if len(finite) > 1:
            stats["std"] = _json_float(finite.std(ddof=1))
    return stats


def _category_counts(values: pd.Series, *, boolean: bool) -> dict:
    counts: dict[str, int] = {}
    for value, count in values.value_counts(sort=False).items():
        if count:
            key = ("true" if value else "false") if boolean else str(value)
            counts[key] = counts.get(key, 0) + int(count)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "categories": dict(ordered[:CATEGORY_LIMIT]),
        "more_categories": max(0, len(ordered) - CATEGORY_LIMIT),
    }


def _json_float(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# --- Features and compatibility --------------------------------------------------------------------


def feature_frame(frame: pd.DataFrame, schema_or_columns, target_column: str) -> pd.DataFrame:
    """The listed columns except the target, in the dataset's column order."""
    names = [c["name"] if isinstance(c, dict) else c for c in schema_or_columns]
    wanted = {n for n in names if n != target_column}
    absent = [n for n in names if n in wanted and n not in frame.columns]
    if absent:
        raise InvalidInput(f"The dataset has no column(s): {', '.join(map(str, absent))}.")
    return frame[[c for c in frame.columns if c in wanted]]


def schema_compatibility(expected_features: list[str], dataset_schema: list[dict], target_column: str) -> dict:
    """Compare a model's expected features with a dataset's feature columns (everything but the target).

    ``match`` means the dataset has every feature the model needs; extra columns and a different order
    are reported but do not break it (callers select ``frame[expected_features]``). ``suggestions``
    maps a missing feature to a similarly named extra column, e.g. {"income": "Income"}.
    """
    expected = list(dict.fromkeys(expected_features))
    available = [c["name"] for c in dataset_schema if c["name"] != target_column]
    available_set, expected_set = set(available), set(expected)
    missing = [f for f in expected if f not in available_set]
    extra = [c for c in available if c not in expected_set]
    common_expected = [f for f in expected if f in available_set]
    common_dataset = [c for c in available if c in expected_set]
    suggestions = {}
    for feature in missing:
        near = _closest(feature, extra)
        if near:
            suggestions[feature] = near
    return {
        "match": not missing,
        "missing": missing,
        "extra": extra,
        "order_differs": common_expected != common_dataset,
        "suggestions": suggestions,
    }


def _closest(name: str, candidates: list[str]) -> str | None:
    folded = {c.casefold().replace(" ", "_"): c for c in candidates}
    key = name.casefold().replace(" ", "_")
    if key in folded:
        return folded[key]
    near = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return near[0] if near else None


def _unknown_target_message(target: str, columns: list[str]) -> str:
    near = _closest(target, columns)
    suggestion = f" Did you mean '{near}'?" if near else ""
    shown = ", ".join(columns[:20]) + (f", … ({len(columns) - 20} more)" if len(columns) > 20 else "")
    return f"Target column '{target}' is not in the file.{suggestion} Columns: {shown}"
