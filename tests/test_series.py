"""Specification of sadt.series: what read_series accepts, how it cleans, what it refuses."""

import io
import json
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sadt.series import MIN_LENGTH, Series, SeriesError, list_columns, read_series

N = 48


def wave(n: int = N) -> np.ndarray:
    return np.sin(np.arange(n) / 3.0) * 10.0 + 20.0


def hourly_csv(n: int = N, sep: str = ",", newline: str = "\n") -> str:
    stamps = pd.date_range("2024-01-01", periods=n, freq="h")
    lines = [f"time{sep}load{sep}temp"]
    lines += [
        f"{t.isoformat()}{sep}{v:.4f}{sep}{v / 2:.4f}" for t, v in zip(stamps, wave(n), strict=True)
    ]
    return newline.join(lines) + newline


def assert_valid(series: Series, min_length: int = MIN_LENGTH) -> None:
    """The contract every returned Series meets."""
    assert isinstance(series, Series)
    assert series.values.dtype == np.float64 and series.values.ndim == 1
    assert np.isfinite(series.values).all()
    assert len(series) >= min_length
    assert np.std(series.values) > 0
    if series.timestamps is not None:
        assert isinstance(series.timestamps, pd.DatetimeIndex)
        assert len(series.timestamps) == len(series)
        assert series.timestamps.is_monotonic_increasing and series.timestamps.is_unique
    assert series.freq is None or series.timestamps is not None
    assert isinstance(series.name, str) and series.name


# --- sources ---


def test_path_as_str_and_pathlib(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text(hourly_csv())
    for source in (str(path), path):
        series = read_series(source)
        assert_valid(series)
        assert series.name == "temp" and len(series) == N


def test_binary_and_text_file_objects():
    text = hourly_csv()
    for source in (io.BytesIO(text.encode()), io.StringIO(text)):
        assert read_series(source, column="load").freq == "h"


def test_raw_bytes_and_pasted_text():
    assert len(read_series(hourly_csv().encode())) == N
    assert len(read_series(hourly_csv())) == N


def test_dataframe_with_datetime_index_uses_index_as_timestamps():
    index = pd.date_range("2024-01-01", periods=N, freq="D", name="day")
    frame = pd.DataFrame({"sales": wave(), "flag": [True] * N}, index=index)
    series = read_series(frame)
    assert series.name == "sales" and series.freq == "D"
    assert series.timestamps.equals(pd.DatetimeIndex(index))
    assert list(frame.columns) == ["sales", "flag"]  # the caller's frame is untouched


def test_pandas_series_keeps_name_and_period_index():
    index = pd.period_range("2000-01", periods=N, freq="M")
    series = read_series(pd.Series(wave(), index=index, name="rain"))
    assert series.name == "rain" and series.freq == "MS"


def test_list_tuple_and_arrays():
    assert len(read_series(list(wave()))) == N
    assert len(read_series(tuple(wave()))) == N
    assert read_series(wave()).name == "series"
    assert len(read_series(wave().reshape(-1, 1))) == N
    assert len(read_series(wave().reshape(1, -1))) == N
    assert len(read_series(np.arange(N, dtype=np.int16))) == N
    assert len(read_series(wave().astype(str))) == N


def test_two_dimensional_array_with_many_columns_is_refused():
    with pytest.raises(SeriesError, match="shape"):
        read_series(np.zeros((N, 3)))


@pytest.mark.parametrize("source", [None, 3, 2.5, object(), {1, 2}, {"a": 1}, "", True])
def test_wrong_source_types_are_refused(source):
    with pytest.raises(SeriesError):
        read_series(source)


def test_missing_file_is_refused_with_path(tmp_path):
    with pytest.raises(SeriesError, match="no file"):
        read_series(tmp_path / "nope.csv")
    with pytest.raises(SeriesError, match="Cannot open"):
        read_series(tmp_path)


# --- formats ---


@pytest.mark.parametrize("sep", [",", ";", "\t", "|", " "])
def test_delimiters_are_sniffed(sep):
    series = read_series(hourly_csv(sep=sep).encode(), column="load")
    assert series.freq == "h" and len(series) == N
    np.testing.assert_allclose(series.values, np.round(wave(), 4))


def test_single_column_without_header():
    text = "\n".join(f"{v}" for v in wave())
    series = read_series(text.encode())
    assert series.name == "series" and series.timestamps is None
    np.testing.assert_allclose(series.values, wave())


def test_single_column_with_header_names_the_series():
    series = read_series(("value\n" + "\n".join(map(str, wave()))).encode())
    assert series.name == "value" and len(series) == N


def test_bom_crlf_quotes_blank_lines_and_trailing_delimiters():
    stamps = pd.date_range("2024-01-01", periods=N, freq="D").astype(str)
    lines = ['"time","value",'] + [f'"{t}","{v}",' for t, v in zip(stamps, wave(), strict=True)]
    lines[10:10] = ["", "   "]
    series = read_series(("\ufeff" + "\r\n".join(lines) + "\r\n\r\n").encode())
    assert series.name == "value" and series.freq == "D" and len(series) == N


def test_utf16_and_latin1_files_are_decoded():
    body = "\n".join(f"{v}" for v in wave())
    assert read_series(("wert°\n" + body).encode("utf-16")).name == "wert°"
    assert read_series(("température\n" + body).encode("latin-1")).name == "température"


def test_json_list_of_numbers():
    assert len(read_series(json.dumps(list(wave())).encode())) == N


def test_json_records_with_time_and_value():
    stamps = pd.date_range("2024-01-01", periods=N, freq="15min").astype(str)
    records = [{"time": t, "value": v} for t, v in zip(stamps, wave(), strict=True)]
    series = read_series(io.BytesIO(json.dumps(records).encode()))
    assert series.name == "value" and series.freq == "15min"


def test_json_dict_of_columns_and_values_key():
    assert read_series(json.dumps({"a": list(wave()), "b": list(wave() * 2)})).name == "b"
    assert read_series(json.dumps({"values": list(wave())}).encode()).name == "values"
    assert read_series({"data": [{"v": v} for v in wave()]}).name == "v"


def test_json_rows_with_a_header_row():
    rows = [["t", "y"]] + [[i, v] for i, v in enumerate(wave())]
    assert read_series(json.dumps(rows).encode()).name == "y"


def test_format_is_detected_from_content_not_extension(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(json.dumps({"values": list(wave())}))
    assert read_series(path).name == "values"


def test_invalid_json_is_refused_with_reason():
    with pytest.raises(SeriesError, match="not valid JSON"):
        read_series(b'[{"value": 1}, ')


def test_binary_file_is_refused():
    with pytest.raises(SeriesError, match="not a text file"):
        read_series(b"PK\x03\x04\x00\x00binary excel")


# --- columns and timestamps ---


def test_csv_with_timestamps_infers_hourly_freq():
    series = read_series(hourly_csv().encode())
    assert series.freq == "h"
    assert series.timestamps[0] == pd.Timestamp("2024-01-01 00:00")


def test_default_column_is_last_numeric():
    text = "id,a,b,note\n" + "\n".join(f"{i},{v},{-v},x{i}" for i, v in enumerate(wave()))
    assert read_series(text.encode()).name == "b"
    assert list_columns(text.encode()) == ["id", "a", "b"]


def test_column_by_name_and_by_position():
    data = hourly_csv().encode()
    assert read_series(data, column="load").name == "load"
    assert read_series(data, column=0).name == "load"
    assert read_series(data, column=-1).name == "temp"
    assert read_series(data, column=np.int64(1)).name == "temp"


def test_unknown_column_lists_numeric_columns():
    with pytest.raises(SeriesError, match="'load', 'temp'"):
        read_series(hourly_csv().encode(), column="price")
    with pytest.raises(SeriesError, match="number 5"):
        read_series(hourly_csv().encode(), column=5)
    with pytest.raises(SeriesError, match="timestamps"):
        read_series(hourly_csv().encode(), column="time")
    with pytest.raises(SeriesError, match="not numeric"):
        read_series(b"a,b,c\n" + b"x,1,2\n" * N, column="a")


def test_no_numeric_column_is_refused():
    with pytest.raises(SeriesError, match="No column holds numbers"):
        read_series(("name\n" + "\n".join(["abc"] * N)).encode())


def test_timestamp_column_can_be_named():
    text = "start,end,v\n" + "\n".join(
        f"2024-01-{d:02d},2024-02-{d:02d},{v}" for d, v in enumerate(wave(28), 1)
    )
    series = read_series(text.encode(), timestamp_column="end", min_length=28)
    assert series.timestamps[0] == pd.Timestamp("2024-02-01")
    with pytest.raises(SeriesError, match="'start', 'end', 'v'"):
        read_series(text.encode(), timestamp_column="when")
    with pytest.raises(SeriesError, match="does not hold dates"):
        read_series(text.encode(), timestamp_column="v")


def test_year_column_is_a_timestamp():
    text = "year,sales\n" + "\n".join(f"{1950 + i},{v}" for i, v in enumerate(wave()))
    series = read_series(text.encode())
    assert series.name == "sales" and series.freq.startswith("YS")


def test_numeric_column_named_like_a_time_is_a_value():
    frame = pd.DataFrame(
        {"day": pd.date_range("2024", periods=N), "response_time": 1000 + 20 * np.arange(N)}
    )
    series = read_series(frame)
    assert series.name == "response_time" and series.freq == "D"


def test_unsorted_timestamps_are_sorted_with_their_values():
    stamps = pd.date_range("2024-01-01", periods=N, freq="D")
    order = np.random.default_rng(0).permutation(N)
    frame = pd.DataFrame({"date": stamps[order], "v": wave()[order]})
    series = read_series(frame)
    assert series.freq == "D"
    np.testing.assert_allclose(series.values, wave())


def test_duplicate_timestamps_are_refused():
    stamps = list(pd.date_range("2024-01-01", periods=N, freq="D").astype(str))
    stamps[7] = stamps[6]
    text = "date,v\n" + "\n".join(f"{t},{v}" for t, v in zip(stamps, wave(), strict=True))
    with pytest.raises(SeriesError, match="appears 2 times"):
        read_series(text.encode())


def test_missing_timestamps_become_interpolated_gaps():
    frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=N, freq="h"), "v": wave()})
    series = read_series(frame.drop(index=[10, 20, 21]))
    assert series.freq == "h" and len(series) == N and series.filled == 3
    assert series.interpolated[[10, 20, 21]].all()


def test_second_resolution_timestamps_are_regularized():
    stamps = pd.date_range("2024-01-01", periods=N, freq="h").to_numpy().astype("datetime64[s]")
    series = read_series(pd.DataFrame({"t": stamps, "v": wave()}).drop(index=[5]))
    assert series.freq == "h" and len(series) == N and series.filled == 1


def test_european_export_with_day_first_dates_and_decimal_commas():
    days = pd.date_range("2024-01-01", periods=N, freq="D").strftime("%d.%m.%Y")
    cells = [f"{v:.3f}".replace(".", ",") for v in wave()]
    text = "Datum;Wert\n" + "\n".join(f"{d};{c}" for d, c in zip(days, cells, strict=True))
    series = read_series(text.encode("cp1252"))
    assert series.freq == "D" and series.timestamps[12] == pd.Timestamp("2024-01-13")
    np.testing.assert_allclose(series.values, np.round(wave(), 3))


def test_single_column_with_decimal_commas():
    text = "wert\n" + "\n".join(f"{v:.2f}".replace(".", ",") for v in wave())
    np.testing.assert_allclose(read_series(text.encode()).values, np.round(wave(), 2))


def test_irregular_timestamps_give_no_freq():
    offsets = np.cumsum(np.random.default_rng(1).integers(1, 100, N))
    frame = pd.DataFrame({"t": pd.Timestamp("2024-01-01") + pd.to_timedelta(offsets, "min")})
    frame["v"] = wave()
    series = read_series(frame)
    assert series.freq is None and series.timestamps is not None


# --- missing values ---


def test_short_gap_is_interpolated():
    values = wave()
    values[[5, 6, 7]] = np.nan
    series = read_series(values)
    assert series.filled == 3 and np.isfinite(series.values).all()
    np.testing.assert_allclose(series.values[6], (values[4] + values[8]) / 2)


def test_missing_tokens_count_as_missing():
    cells = [str(v) for v in wave()]
    cells[3], cells[10], cells[20], cells[30] = "NA", "", "null", "?"
    series = read_series(("i,v\n" + "\n".join(f"{i},{c}" for i, c in enumerate(cells))).encode())
    assert series.filled == 4 and len(series) == N


def test_leading_and_trailing_missing_values_are_dropped():
    values = np.concatenate([[np.nan] * 4, wave(), [np.nan] * 3])
    series = read_series(values)
    assert len(series) == N and series.filled == 0


def test_long_gap_is_refused_with_its_position():
    values = wave(100)
    values[40:50] = np.nan
    with pytest.raises(SeriesError, match="gap of 10 missing values at row 41"):
        read_series(values)


def test_too_many_missing_values_are_refused():
    values = wave(100)
    values[1::4] = np.nan
    with pytest.raises(SeriesError, match="25%"):
        read_series(values)


# --- refusals ---


def test_constant_series_is_refused_with_reason():
    with pytest.raises(SeriesError, match="constant"):
        read_series([5.0] * N)


def test_too_short_series_states_the_minimum():
    with pytest.raises(SeriesError, match=f"at least {MIN_LENGTH}"):
        read_series(wave(MIN_LENGTH - 1))
    assert len(read_series(wave(10), min_length=10)) == 10


def test_infinite_values_are_refused():
    values = wave()
    values[3] = np.inf
    with pytest.raises(SeriesError, match="infinite"):
        read_series(values)
    with pytest.raises(SeriesError, match="infinite"):
        read_series(("v\n" + "\n".join(["1", "2", "inf"] * 20)).encode())


def test_huge_values_are_refused_as_overflow():
    with pytest.raises(SeriesError, match="overflow"):
        read_series(wave() * 1e300)


def test_booleans_are_not_numbers():
    with pytest.raises(SeriesError, match="booleans"):
        read_series(np.arange(N) % 2 == 0)
    with pytest.raises(SeriesError, match="No column holds numbers"):
        read_series([True, False] * N)


def test_bad_arguments_are_refused():
    for kwargs in ({"column": 1.5}, {"column": True}, {"min_length": 0}, {"min_length": "3"}):
        with pytest.raises(SeriesError):
            read_series(wave(), **kwargs)


def test_files_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("sadt.series.MAX_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text(hourly_csv())
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        with pytest.raises(SeriesError, match="limit"):
            read_series(source)


def test_long_series_is_kept_whole():
    assert len(read_series(wave(200_000))) == 200_000


def test_list_columns_offers_numeric_columns_without_timestamps():
    assert list_columns(hourly_csv().encode()) == ["load", "temp"]
    assert list_columns(pd.DataFrame({"a": ["x"] * 3, "b": [1.0, 2.0, 3.0]})) == ["b"]
    with pytest.raises(SeriesError):
        list_columns(None)


def test_tail_keeps_the_last_values_with_their_timestamps():
    series = read_series(hourly_csv().encode())
    tail = series.tail(10)
    assert len(tail) == 10 and tail.timestamps[-1] == series.timestamps[-1]
    assert tail.freq == "h" and tail.name == "temp"
    np.testing.assert_array_equal(tail.values, series.values[-10:])


# --- real data ---


def test_etth1_defaults_to_ot_with_hourly_freq(shared_data):
    series = read_series(shared_data / "ETTh1.csv")
    assert series.name == "OT" and series.freq == "h" and len(series) == 17420
    assert read_series(shared_data / "ETTh1.csv", column="HUFL").name == "HUFL"


# --- properties: valid Series or SeriesError, never anything else ---


def read_or_refuse(source, min_length: int = MIN_LENGTH) -> None:
    try:
        series = read_series(source, min_length=min_length)
    except SeriesError as err:
        assert str(err) and "Traceback" not in str(err)
        return
    assert_valid(series, min_length)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000), min_length=st.sampled_from([1, 2, MIN_LENGTH]))
def test_random_bytes_give_series_or_series_error(data, min_length):
    read_or_refuse(data, min_length)


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "NA", "nan", "null", "?", "abc", "True", '"1.5"', "1e400", " 7 "]),
    st.dates().map(str),
    st.datetimes().map(str),
    st.text(string.printable, max_size=6),
)


@st.composite
def csv_texts(draw) -> str:
    sep = draw(st.sampled_from([",", ";", "\t", "|", " ", ", "]))
    width = draw(st.integers(1, 4))
    if draw(st.booleans()):  # a well-formed numeric block makes success paths likely
        rows = [[f"{x:.3f}"] * width for x in draw(st.lists(st.floats(-1e6, 1e6), max_size=60))]
    else:
        rows = []
    rows += draw(st.lists(st.lists(CELLS, min_size=1, max_size=width), max_size=40))
    rows = draw(st.permutations(rows))
    header = [draw(st.sampled_from(["time", "date", "value", "x", ""])) for _ in range(width)]
    lines = [sep.join(row) for row in [header, *rows]]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), min_length=st.sampled_from([2, MIN_LENGTH]))
def test_random_csv_gives_series_or_series_error(text, min_length):
    read_or_refuse(text.encode(), min_length)


ARRAYS = hnp.arrays(
    dtype=st.one_of(
        hnp.floating_dtypes(),
        hnp.integer_dtypes(),
        hnp.unsigned_integer_dtypes(),
        hnp.boolean_dtypes(),
        hnp.complex_number_dtypes(),
        hnp.datetime64_dtypes(),
        st.just(np.dtype(object)),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=80),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array=ARRAYS, min_length=st.sampled_from([2, MIN_LENGTH]))
def test_random_arrays_give_series_or_series_error(array, min_length):
    read_or_refuse(array, min_length)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["2024-01-01", "1.5", "NA"]),
)
JSON_LIKE = st.recursive(
    st.lists(SCALARS, max_size=60) | st.lists(st.floats(-1e9, 1e9), min_size=30, max_size=60),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.lists(st.dictionaries(st.sampled_from(["t", "v"]), SCALARS), max_size=40)
    ),
    max_leaves=80,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=JSON_LIKE, as_text=st.booleans())
def test_random_json_and_containers_give_series_or_series_error(data, as_text):
    read_or_refuse(json.dumps(data).encode() if as_text else data, min_length=2)
