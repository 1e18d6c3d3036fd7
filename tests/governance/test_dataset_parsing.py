"""Dataset upload parsing: format detection, clear errors for bad files, and the column profile."""

import io
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import governance
from core.errors import InvalidInput, UnsupportedMediaType
from governance import datasets

CREDIT_CSV = Path(governance.__file__).resolve().parent / "demo" / "data" / "credit_data.csv"


def parse(data: bytes, filename: str = "data.csv", **kwargs):
    return datasets.parse_dataset(io.BytesIO(data), filename=filename, **kwargs)


def by_name(schema):
    return {column["name"]: column for column in schema}


def csv_bytes(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


# --- The flagship dataset -------------------------------------------------------------------------


@pytest.mark.skipif(not CREDIT_CSV.exists(), reason="governance/demo/data/credit_data.csv is not in the checkout yet")
def test_credit_data_parses_with_real_missing_values():
    parsed = datasets.parse_dataset(CREDIT_CSV, filename="credit_data.csv", target_column="Status")

    assert (parsed.format, parsed.rows, parsed.columns, parsed.target_column) == ("csv", 4454, 14, "Status")
    schema = by_name(parsed.schema)
    assert list(schema)[:3] == ["Status", "Seniority", "Home"]
    for name in ("Status", "Home", "Marital", "Records", "Job"):
        assert schema[name]["dtype"] == "categorical", name
    assert set(schema["Status"]["categories"]) == {"good", "bad"}
    assert sum(schema["Status"]["categories"].values()) == 4454
    missing = {name: column["missing"] for name, column in schema.items() if column["missing"]}
    assert missing == {"Income": 381, "Assets": 47, "Debt": 18, "Home": 6, "Job": 2, "Marital": 1}
    assert schema["Income"]["missing_share"] == round(381 / 4454, 4)
    assert schema["Age"]["dtype"] == "integer"
    assert 18 <= schema["Age"]["min"] < schema["Age"]["mean"] < schema["Age"]["max"] <= 100
    assert schema["Income"]["dtype"] == "float"
    json.dumps(parsed.schema, allow_nan=False)


# --- CSV and Parquet agree ------------------------------------------------------------------------


def small_frame():
    return pd.DataFrame({
        "age": [25, 31, 47, 52, 38, 29],
        "income": [1200.5, np.nan, 3100.0, 2800.25, np.nan, 1900.0],
        "home": ["rent", "owner", None, "owner", "rent", "owner"],
        "default": [False, True, False, False, True, False],
        "status": ["good", "bad", "good", "good", "bad", "good"],
    })


def test_csv_and_parquet_of_the_same_data_give_the_same_schema(tmp_path):
    frame = small_frame()
    frame.to_csv(tmp_path / "small.csv", index=False)
    frame.to_parquet(tmp_path / "small.parquet", index=False)

    from_csv = datasets.parse_dataset(tmp_path / "small.csv", filename="small.csv", target_column="status")
    from_parquet = datasets.parse_dataset(tmp_path / "small.parquet", filename="small.parquet",
                                          target_column="status")

    assert (from_csv.format, from_parquet.format) == ("csv", "parquet")
    assert from_csv.schema == from_parquet.schema
    schema = by_name(from_csv.schema)
    assert [c["dtype"] for c in from_csv.schema] == ["integer", "float", "categorical", "boolean", "categorical"]
    assert schema["income"]["missing"] == 2
    assert schema["home"]["categories"] == {"owner": 3, "rent": 2}
    assert schema["default"]["categories"] == {"false": 4, "true": 2}
    assert schema["income"]["min"] == 1200.5 and schema["income"]["max"] == 3100.0
    pd.testing.assert_frame_equal(from_csv.frame, from_parquet.frame, check_dtype=False)


def test_format_comes_from_content_not_the_name(tmp_path):
    small_frame().to_parquet(tmp_path / "really.csv", index=False)
    assert datasets.parse_dataset(tmp_path / "really.csv", filename="really.csv").format == "parquet"
    fmt, frame = datasets.read_table(io.BytesIO(b"a,b\n1,2\n"), filename="upload", declared_format="csv")
    assert fmt == "csv" and frame.shape == (1, 2)


def test_file_objects_are_read_from_the_start_and_left_open():
    fileobj = io.BytesIO(b"a,b\n1,x\n2,y\n")
    fileobj.seek(5)
    parsed = datasets.parse_dataset(fileobj, filename="data.csv")
    assert parsed.rows == 2 and not fileobj.closed


# --- CSV details ------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(delimiter):
    rows = [delimiter.join(["1,5", "rent", "3"]), delimiter.join(["2,25", "owner", "4"])]
    parsed = parse(csv_bytes(delimiter.join(["amount", "home", "n"]), rows))
    assert list(parsed.frame.columns) == ["amount", "home", "n"]
    assert parsed.frame["amount"].tolist() == ["1,5", "2,25"]  # decimal commas stay text, never mangled
    assert parsed.frame["n"].tolist() == [3, 4]


def test_quoted_fields_may_hold_delimiters_quotes_and_newlines():
    data = b'id,comment,score\n1,"late, then paid",3\n2,"said ""fine""\nand left",4\n3,ok,5\n'
    parsed = parse(data)
    assert parsed.rows == 3
    assert parsed.frame["comment"].tolist() == ["late, then paid", 'said "fine"\nand left', "ok"]


def test_mixed_columns_stay_text_and_missing_markers_become_missing():
    data = csv_bytes("code,value,zip", ["1,NA,01234", "2,,02110", "x,3.5,10001", "4,null,00501"])
    frame = parse(data).frame
    assert frame["code"].tolist() == ["1", "2", "x", "4"]
    assert frame["value"].isna().tolist() == [True, True, False, True]
    assert frame["zip"].tolist() == ["01234", "02110", "10001", "00501"]  # leading zeros kept


def test_column_names_are_stripped_and_a_utf8_bom_is_accepted():
    parsed = parse(b"\xef\xbb\xbf name , \xc3\xa2ge\n x ,41\n")
    assert list(parsed.frame.columns) == ["name", "\u00e2ge"]
    assert parsed.frame["\u00e2ge"].tolist() == [41]


def test_blank_lines_are_ignored():
    assert parse(b"a,b\n\n1,2\n   \n3,4\n\n").rows == 2


# --- Bad files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "The file is empty."),
        (b"  \n\t\r\n  \n", "The file is empty."),
        (b"\xef\xbb\xbf\n", "The file is empty."),
        (b"1.5,2,3\n4,5,6\n", "must be a header with column names; it looks like data: ['1.5', '2', '3']"),
        (b"1,2,3,4,5,6,7\n1,2,3,4,5,6,7\n", "it looks like data: ['1', '2', '3', '4', '5', '6', ...]"),
        (b"a,b,a\n1,2,3\n", "Column name 'a' appears more than once (columns 1 and 3)"),
        (b"a, b ,b\n1,2,3\n", "Column name 'b' appears more than once (columns 2 and 3)"),
        (b"a,,c\n1,2,3\n", "Column 2 has no name"),
        (b",a,b\n0,1,2\n", "Column 1 has no name in the header row (often an index written by pandas"),
        (b"a,b,c\n", "The file has a header but no rows."),
        (b"a,b,c\n\n\n", "The file has a header but no rows."),
        (b'a,b,c\n1,"open\n2,3\n', "Row 2 has 2 fields but the header has 3. A quoted field makes it run on to line 3"),
        (b'a,b\n1,"open\n2,3\n', "A quoted field on row 2 is never closed"),
    ],
)
def test_bad_csv_is_rejected_with_a_clear_message(data, fragment):
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    assert fragment in caught.value.message
    assert caught.value.status_code == 400


@pytest.mark.parametrize(("fields", "bad"), [(5, "1,2,3,4,5"), (3, "1,2,3")])
def test_ragged_row_names_the_row(fields, bad):
    rows = [f"{i},{i},{i},{i}" for i in range(2, 40)]
    rows[15] = bad  # line 17 of the file: the header is line 1
    with pytest.raises(InvalidInput) as caught:
        parse(csv_bytes("a,b,c,d", rows))
    assert f"Row 17 has {fields} fields but the header has 4." in caught.value.message


def test_non_utf8_bytes_report_the_offset():
    data = b"name,city\nx,Z\xfcrich\n"
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    assert caught.value.message == (
        "The CSV is not valid UTF-8 (first bad byte at offset 13). Save it as UTF-8 and upload again."
    )
    assert data.index(b"\xfc") == 13


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7])
def test_utf8_check_streams_across_chunk_boundaries(monkeypatch, chunk):
    monkeypatch.setattr(datasets, "CHUNK_BYTES", chunk)
    good = "name,city\nr\u00e9my,S\u00e3o Paulo \u2713\n".encode()
    assert parse(good).frame["city"].tolist() == ["S\u00e3o Paulo \u2713"]
    bad = good + "z\u00e9,".encode() + b"\xe9\xe9\n"
    with pytest.raises(InvalidInput) as caught:
        parse(bad)
    assert f"first bad byte at offset {len(good) + 4}" in caught.value.message
    truncated = good + b"z,\xe2\x9c"  # a three-byte character cut off at the end of the file
    with pytest.raises(InvalidInput) as caught:
        parse(truncated)
    assert f"first bad byte at offset {len(good) + 2}" in caught.value.message


def test_utf16_is_rejected_as_not_utf8():
    with pytest.raises(InvalidInput) as caught:
        parse("a,b\n1,2\n".encode("utf-16"))
    assert "not valid UTF-8 (first bad byte at offset 0)" in caught.value.message


def test_parquet_name_on_csv_text_is_unsupported_media():
    with pytest.raises(UnsupportedMediaType) as caught:
        parse(b"a,b\n1,2\n", filename="data.parquet")
    assert "has a .parquet name but is not a Parquet file (it looks like CSV text)" in caught.value.message
    assert caught.value.status_code == 415


def test_declared_parquet_format_on_csv_text_is_unsupported_media():
    with pytest.raises(UnsupportedMediaType) as caught:
        datasets.read_table(io.BytesIO(b"a,b\n1,2\n"), filename="upload", declared_format="parquet")
    assert "'upload' was declared as Parquet but is not a Parquet file" in caught.value.message


@pytest.mark.parametrize("filename", ["data.csv", "data.parquet", "data.bin"])
def test_random_binary_is_unsupported_media(filename):
    noise = random.Random(7).randbytes(4096)
    with pytest.raises(UnsupportedMediaType) as caught:
        parse(noise, filename=filename)
    assert "Upload a CSV (UTF-8) or Parquet file." in caught.value.message
    assert ("has a .parquet name but is not a Parquet file" in caught.value.message) == filename.endswith(".parquet")


def test_spreadsheet_gets_a_hint():
    with pytest.raises(UnsupportedMediaType) as caught:
        parse(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), filename="book.xlsx")
    assert "save the sheet as CSV" in caught.value.message


def test_truncated_parquet_is_invalid_with_pyarrows_reason():
    buffer = io.BytesIO()
    small_frame().to_parquet(buffer, index=False)
    data = buffer.getvalue()
    with pytest.raises(InvalidInput) as caught:
        parse(data[: len(data) // 2], filename="small.parquet")
    assert not isinstance(caught.value, UnsupportedMediaType)
    assert caught.value.message.startswith("The Parquet file could not be read: ")
    assert "magic bytes" in caught.value.message.lower() or "footer" in caught.value.message.lower()


def test_parquet_with_duplicate_names_after_stripping_is_rejected():
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2], " a": [3, 4]}), buffer)
    with pytest.raises(InvalidInput, match="Column name 'a' appears more than once"):
        parse(buffer.getvalue(), filename="dup.parquet")


def test_empty_parquet_is_rejected():
    buffer = io.BytesIO()
    small_frame().head(0).to_parquet(buffer, index=False)
    with pytest.raises(InvalidInput, match="no rows"):
        parse(buffer.getvalue(), filename="empty.parquet")


# --- Row limit --------------------------------------------------------------------------------------


def test_more_rows_than_the_limit_are_rejected(settings, tmp_path):
    settings.MAX_DATASET_ROWS = 3
    assert parse(csv_bytes("a,b", ["1,2", "3,4", "5,6"])).rows == 3
    with pytest.raises(InvalidInput, match="more than 3 rows"):
        parse(csv_bytes("a,b", ["1,2", "3,4", "5,6", "7,8"]))
    small_frame().to_parquet(tmp_path / "six.parquet", index=False)
    with pytest.raises(InvalidInput, match="at most 3"):
        datasets.parse_dataset(tmp_path / "six.parquet", filename="six.parquet")
    fmt, frame = datasets.read_table(tmp_path / "six.parquet", filename="six.parquet", enforce_row_limit=False)
    assert len(frame) == 6


# --- Target column ----------------------------------------------------------------------------------


def test_missing_target_suggests_the_closest_column():
    with pytest.raises(InvalidInput) as caught:
        parse(csv_bytes("Status,Seniority,Home", ["good,9,rent"]), target_column="Staus")
    message = caught.value.message
    assert message.startswith("Target column 'Staus' is not in the file.")
    assert "did you mean 'status'?" in message.lower()
    assert message.endswith("Columns: Status, Seniority, Home")
    assert caught.value.field == "target_column"


def test_missing_target_without_a_near_match_lists_the_columns():
    with pytest.raises(InvalidInput) as caught:
        parse(csv_bytes("Status,Seniority,Home", ["good,9,rent"]), target_column="label")
    assert "did you mean" not in caught.value.message.lower()
    assert "Columns: Status, Seniority, Home" in caught.value.message


def test_target_may_not_be_entirely_missing():
    with pytest.raises(InvalidInput, match="Target column 'y' has no values") as caught:
        parse(csv_bytes("x,y", ["1,", "2,NA", "3,"]), target_column="y")
    assert caught.value.field == "target_column"


def test_a_file_with_only_the_target_has_no_features():
    with pytest.raises(InvalidInput, match="needs at least one feature column"):
        parse(csv_bytes("y", ["1", "0", "1"]), target_column="y")


def test_target_is_optional_and_stripped():
    assert parse(csv_bytes("x,y", ["1,0"])).target_column == ""
    assert parse(csv_bytes("x,y", ["1,0"]), target_column=" y ").target_column == "y"


# --- Schema -----------------------------------------------------------------------------------------


def test_schema_is_json_safe_for_awkward_columns():
    rows = 120
    frame = pd.DataFrame({
        "score": [np.nan, np.inf, -np.inf] + [float(i) for i in range(rows - 3)],
        "count": pd.array([None] + list(range(rows - 1)), dtype="Int64"),
        "when": pd.to_datetime(["2024-01-02", None] + ["2024-03-04 05:06:07"] * (rows - 2), format="ISO8601"),
        "flag": [True, None, False] * (rows // 3),
        "note": [f"free text number {i}" for i in range(rows)],
        "grade": pd.Categorical(["a", "b", None] * (rows // 3)),
        "empty": [None] * rows,
        "nothing": [np.nan] * rows,
        "huge": [1.7e308, 1.7e308] + [0.0] * (rows - 2),  # finite values whose mean overflows
    })

    schema = by_name(datasets.infer_schema(frame))
    json.dumps(list(schema.values()), allow_nan=False)

    assert [c["dtype"] for c in schema.values()] == [
        "float", "integer", "datetime", "boolean", "text", "categorical", "categorical", "float", "float",
    ]
    score = schema["score"]
    assert (score["missing"], score["infinite"], score["min"], score["max"]) == (1, 2, 0.0, float(rows - 4))
    assert schema["count"]["missing"] == 1 and schema["count"]["min"] == 0.0
    assert (schema["when"]["min"], schema["when"]["max"]) == ("2024-01-02T00:00:00", "2024-03-04T05:06:07")
    assert schema["flag"]["categories"] == {"false": 40, "true": 40} and schema["flag"]["missing"] == 40
    assert schema["note"]["max_length"] == len(f"free text number {rows - 1}")
    assert "categories" not in schema["note"] and schema["note"]["unique"] == rows
    assert schema["grade"]["categories"] == {"a": 40, "b": 40}
    assert schema["empty"]["categories"] == {} and schema["empty"]["missing_share"] == 1.0
    assert schema["nothing"]["min"] is None and schema["nothing"]["std"] is None
    assert schema["huge"]["max"] == 1.7e308 and schema["huge"]["mean"] is None
    for column in schema.values():
        for value in column.values():
            assert type(value) in {str, int, float, bool, dict, type(None)}, (column["name"], value)


def test_categories_are_capped_at_fifty_most_frequent():
    values = [f"c{i:02d}" for i in range(60) for _ in range(i + 1)]  # c59 most frequent
    column = datasets.infer_schema(pd.DataFrame({"c": values}))[0]
    assert column["dtype"] == "categorical" and column["unique"] == 60
    assert len(column["categories"]) == 50 and column["more_categories"] == 10
    assert next(iter(column["categories"].items())) == ("c59", 60)
    assert "c00" not in column["categories"]


# --- Features and compatibility ----------------------------------------------------------------------


SCHEMA = [{"name": n} for n in ("Status", "Seniority", "Home", "Age", "Income")]


def test_compatible_when_the_dataset_has_every_feature_in_order():
    result = datasets.schema_compatibility(["Seniority", "Home", "Age", "Income"], SCHEMA, "Status")
    assert result == {"match": True, "missing": [], "extra": [], "order_differs": False, "suggestions": {}}


def test_missing_features_break_the_match_and_get_suggestions():
    result = datasets.schema_compatibility(["Seniority", "income", "Debt"], SCHEMA, "Status")
    assert result["match"] is False
    assert result["missing"] == ["income", "Debt"]
    assert result["extra"] == ["Home", "Age", "Income"]
    assert result["suggestions"] == {"income": "Income"}


def test_extra_columns_and_order_are_reported_without_breaking_the_match():
    result = datasets.schema_compatibility(["Age", "Seniority"], SCHEMA, "Status")
    assert result["match"] is True
    assert result["extra"] == ["Home", "Income"]
    assert result["order_differs"] is True


def test_the_target_is_never_a_dataset_feature():
    result = datasets.schema_compatibility(["Status", "Age"], SCHEMA, "Status")
    assert result["missing"] == ["Status"] and result["match"] is False
    result = datasets.schema_compatibility(["Seniority", "Home", "Age", "Income"], SCHEMA, "")
    assert result["extra"] == ["Status"] and result["match"] is True


def test_feature_frame_keeps_dataset_order_and_drops_the_target():
    frame = pd.DataFrame({"Status": ["good"], "Seniority": [9], "Home": ["rent"], "Age": [30]})
    assert list(datasets.feature_frame(frame, SCHEMA[:4], "Status").columns) == ["Seniority", "Home", "Age"]
    assert list(datasets.feature_frame(frame, ["Age", "Seniority", "Status"], "Status").columns) == [
        "Seniority", "Age",
    ]
    with pytest.raises(InvalidInput, match="Income"):
        datasets.feature_frame(frame, ["Age", "Income"], "Status")


@pytest.mark.parametrize("cell, shown", [("inf", "infinity"), ("-inf", "-infinity"), ("1e400", "infinity"),
                                         ("2e15", "2e+15"), ("-3e16", "-3e+16")])
def test_infinite_or_absurdly_large_numbers_are_refused_naming_column_and_row(cell, shown):
    data = csv_bytes("income,age,label", ["10,30,a", "20,40,b", f"{cell},50,a", "30,60,b"])
    with pytest.raises(InvalidInput) as excinfo:
        parse(data, target_column="label")
    message = excinfo.value.message
    assert f"Column 'income' holds {shown} in data row 3" in message
    assert excinfo.value.details == {"column": "income", "row": 3, "rows": 1}


def test_large_but_ordinary_numbers_and_missing_cells_are_accepted():
    parsed = parse(csv_bytes("amount,label", ["999999999999999,a", ",b", "-1e14,a"]), target_column="label")
    assert parsed.rows == 3


def test_an_upload_with_infinity_is_a_clear_400_that_stores_nothing(cast, api_as, artifact_storage):
    from governance.models import Dataset, StoredFile

    client = api_as(cast["author"])
    upload = io.BytesIO(csv_bytes("x,y", ["1,a", "inf,b"]))
    upload.name = "bad.csv"
    response = client.post("/api/v1/datasets/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "Column 'x' holds infinity in data row 2" in str(response.json())
    assert not Dataset.objects.exists() and not StoredFile.objects.exists()
