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

from sadt.series import (
    MIN_LENGTH,
    Series,
    SeriesError,
    describe_freq,
    list_columns,
    read_series,
)

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


def test_long_gap_near_the_end_is_refused_with_its_position():
    values = wave(100)
    values[60:72] = np.nan  # 28 values follow it: too few to forecast from alone
    with pytest.raises(SeriesError, match="gap of 12 missing values at row 61"):
        read_series(values)


@pytest.mark.parametrize("freq, alias", [("YS", "YS-JAN"), ("QE", "QE-DEC"), ("MS", "MS")])
def test_month_based_data_with_a_missing_row_keeps_its_calendar(freq, alias):
    # Years and months differ in nanoseconds: one missing year used to leave no frequency.
    stamps = pd.date_range("1833-01-01", periods=60, freq=freq).delete(30)
    series = read_series(pd.DataFrame({"year": stamps, "gold": wave(59)}))
    assert series.freq == alias and len(series) == 60 and series.filled == 1


def test_monthly_data_stamped_mid_month_keeps_its_calendar_and_its_day():
    stamps = (pd.date_range("2010-01-01", periods=48, freq="MS") + pd.Timedelta(days=14)).delete(9)
    series = read_series(pd.DataFrame({"date": stamps, "sales": wave(47)}))
    assert series.freq == "MS" and len(series) == 48 and series.filled == 1
    assert (series.timestamps.day == 15).all()


def test_rows_after_an_outage_in_the_timestamps_are_kept():
    # 40 rows, two days without any row (over 20 % of the steps), then 50 dense rows.
    before = pd.date_range("2024-03-01", periods=40, freq="5min")
    after = pd.date_range("2024-03-03 12:00", periods=50, freq="5min")
    frame = pd.DataFrame({"t": before.append(after), "temp": wave(90)})
    series = read_series(frame)
    assert series.dropped == 40 and len(series) == 50 and series.freq == "5min"
    assert series.timestamps[0] == after[0]
    np.testing.assert_allclose(series.values, wave(90)[40:])


def test_a_short_series_fills_a_gap_too_few_values_follow():
    years = pd.date_range("1960-01-01", periods=60, freq="YS")
    values = np.linspace(100.0, 400.0, 60)
    values[30:35] = np.nan  # five years of 60: a line across them beats refusing the file
    series = read_series(pd.DataFrame({"year": years, "gdp": values}))
    assert series.dropped == 0 and series.filled == 5 and len(series) == 60
    np.testing.assert_allclose(series.values, np.linspace(100.0, 400.0, 60))


def test_history_after_a_long_gap_is_kept():
    # A sensor outage of 10 rows (longer than the 5 % filled), 50 real values after it.
    stamps = pd.date_range("2024-01-01", periods=100, freq="h")
    values = wave(100)
    values[20:23] = np.nan  # a short gap before the long one goes with the cut part
    values[40:50] = np.nan
    values[80] = np.nan  # a short gap after it is still filled
    frame = pd.DataFrame({"time": stamps, "load": values})
    series = read_series(frame)
    assert series.dropped == 50 and len(series) == 50 and series.filled == 1
    assert series.timestamps[0] == stamps[50] and series.freq == "h"
    np.testing.assert_allclose(series.values[:30], wave(100)[50:80])


def test_missing_rows_in_the_timestamps_count_as_a_gap():
    stamps = pd.date_range("2024-01-01", periods=120, freq="D")
    frame = pd.DataFrame({"day": stamps, "sales": wave(120)}).drop(index=range(30, 50))
    series = read_series(frame)
    assert series.dropped == 50 and len(series) == 70 and series.freq == "D"


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


# --- numbers as spreadsheets write them ---


def daily_text(cells: list[str], header: str = "date,sales", sep: str = ",") -> str:
    """A daily file: ISO dates in the first column, `cells` in the second."""
    days = pd.date_range("2024-01-01", periods=len(cells), freq="D").strftime("%Y-%m-%d")
    return header + "\n" + "\n".join(f"{d}{sep}{c}" for d, c in zip(days, cells, strict=True))


def sales(n: int = N) -> np.ndarray:
    """Values in the thousands with two decimals, so "1,046.23" has groups and a fraction."""
    return np.round(1000.0 + wave(n) * 40.0, 2)


def german(value: float) -> str:
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def test_quoted_thousands_separators_with_a_decimal_point():
    series = read_series(daily_text([f'"{v:,.2f}"' for v in sales()]).encode())
    assert series.name == "sales" and series.freq == "D"
    np.testing.assert_allclose(series.values, sales())
    assert list_columns(daily_text([f'"{v:,.2f}"' for v in sales()])) == ["sales"]


def test_german_export_with_thousands_dots_and_decimal_commas():
    days = pd.date_range("2024-01-01", periods=N, freq="D").strftime("%d.%m.%Y")
    rows = [f"{d};{german(v * 10)}" for d, v in zip(days, sales(), strict=True)]
    assert rows[0].startswith("01.01.2024;") and rows[0].count(".") == 3  # 10.462,34 style
    series = read_series(("Datum;Umsatz\n" + "\n".join(rows)).encode("cp1252"))
    assert series.name == "Umsatz" and series.freq == "D"
    assert series.timestamps[12] == pd.Timestamp("2024-01-13")
    np.testing.assert_allclose(series.values, sales() * 10)


@pytest.mark.parametrize(
    ("write", "sep"),
    [
        (lambda v: f"{v / 100:.4f}%", ","),
        (lambda v: f"{v / 100:.4f} %", ","),
        (lambda v: f"${v:.2f}", ","),
        (lambda v: f"-${v:.2f}", ","),
        (lambda v: f"€{v:.2f}", ","),
        (lambda v: f"£ {v:.2f}", ","),
        (lambda v: f"{german(v)} €", ";"),
        (lambda v: f"{v:,.2f}".replace(",", " ").replace(".", ","), ";"),
        (lambda v: f"{v:,.2f}".replace(",", "\u00a0").replace(".", ","), ";"),
        (lambda v: f"{v:,.2f}".replace(",", "\u202f").replace(".", ","), "\t"),
        (lambda v: f"{v:,.2f}".replace(",", "'"), ";"),
    ],
    ids=[
        "pct",
        "pct-space",
        "dollar",
        "minus-dollar",
        "euro",
        "pound",
        "euro-after",
        "space",
        "nbsp",
        "narrow-nbsp",
        "apostrophe",
    ],
)
def test_currency_percent_and_space_separated_thousands(write, sep):
    cells = [write(v) for v in sales()]
    series = read_series(daily_text(cells, header=f"date{sep}x", sep=sep).encode())
    expected = sales() / 100 if "%" in cells[0] else sales()
    sign = -1 if cells[0].startswith("-") else 1
    assert series.name == "x" and series.freq == "D"
    np.testing.assert_allclose(series.values, sign * expected)


def test_an_ambiguous_comma_group_follows_the_other_cells_of_its_column():
    # "1,046" is 1046 or 1.046; cells like "0.5" prove "." is the decimal mark, "2,5" ","
    # (proofs in a tenth of the column decide it; see the next test for a lone one)
    cells = [f"{v:,.0f}" for v in sales()]
    series = read_series(daily_text([*cells[:-8], *["0.5"] * 8], sep=";", header="date;x"))
    np.testing.assert_allclose(series.values[:-8], np.round(sales()[:-8]))
    dots = [f"{v:,.0f}".replace(",", ".") for v in sales()]
    series = read_series(daily_text([*dots[:-8], *["2,5"] * 8], sep=";", header="date;x"))
    np.testing.assert_allclose(series.values, [*np.round(sales()[:-8]), *[2.5] * 8])


def test_an_unexplained_comma_group_follows_the_delimiter():
    cells = [f"{v:,.0f}" for v in sales()]  # every cell like "1,046": nothing decides
    quoted = read_series(daily_text([f'"{c}"' for c in cells]).encode())
    np.testing.assert_allclose(quoted.values, np.round(sales()))  # a CSV quotes thousands
    european = read_series(daily_text(cells, header="date;x", sep=";").encode())
    np.testing.assert_allclose(european.values, np.round(sales()) / 1000)  # 1,046 is 1.046
    dotted = read_series(daily_text([c.replace(",", ".") for c in cells], "date;x", ";"))
    np.testing.assert_allclose(dotted.values, np.round(sales()) / 1000)  # 1.046 stays 1.046
    mixed = [c.replace(",", ".") if i % 2 else c for i, c in enumerate(cells)]  # 1.046, 1,046
    np.testing.assert_allclose(read_series(daily_text(mixed, "date;x", ";")).values, dotted.values)


def test_a_cell_against_its_columns_decimal_mark_counts_as_missing():
    cells = [german(v) for v in sales()]
    cells[10] = "1046.5"  # a decimal point in a column of decimal commas: not a number here
    series = read_series(daily_text(cells, header="date;x", sep=";").encode())
    assert series.filled == 1 and series.interpolated[10]
    np.testing.assert_allclose(series.values[9], sales()[9])


def test_dates_times_and_badly_grouped_digits_are_not_numbers():
    days = pd.date_range("2024-01-01", periods=N, freq="D")
    text = "start;end;at;v\n" + "\n".join(
        f"{d:%d.%m.%Y};{d:%-d.%-m.%Y};{d:%H:%M};{v}" for d, v in zip(days, wave(), strict=True)
    )
    assert list_columns(text) == ["v"]
    for bad in ("1,04,623.50", "01.046,5", "1.046.5", "1,046 .5", "$12%", "€12€", "--5"):
        assert list_columns("x\n" + f"{bad}\n" * 3) == [], bad
    assert list_columns("x\n" + "1.046,5\n" * 3) == ["x"]  # the same cells, well formed


# --- headers, preambles, and what a refusal names ---


def test_a_header_above_text_columns_is_named_in_the_refusal():
    text = "timestamp,city,note\n" + "2024-01-01,Oslo,x\n" * N
    with pytest.raises(SeriesError, match=r"column 'note' holds 'x' in row 1\.") as err:
        read_series(text.encode())
    assert "column_" not in str(err.value)


def test_the_refusal_shows_the_first_cell_that_is_not_a_number():
    cells = ["NA", "", '"1,046.23x"'] + [f'"{v:,.2f}x"' for v in sales(N - 3)]
    with pytest.raises(SeriesError) as err:
        read_series(daily_text(cells).encode())
    assert str(err.value) == (
        "No column holds numbers: column 'sales' holds '1,046.23x' in row 3. "
        "Pass a file with a column of numeric values."
    )


def test_the_refusal_counts_a_column_that_is_only_half_numbers():
    cells = [f"{v}" if i % 2 else "n/v" for i, v in enumerate(wave())]
    cells[1] = "oops"
    with pytest.raises(SeriesError, match=r"'sales' holds 'n/v' in row 1, and only 23 of its 48"):
        read_series(daily_text(cells).encode())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,value\n", r"the input has a header \('timestamp', 'value'\) but no rows"),
        ("flag\n" + "True\nFalse\n" * N, r"column 'flag' holds 'True' in row 1, and True/False"),
        ("timestamp\n" + "2024-01-01\n" * 3, r"the only column, 'timestamp', holds timestamps"),
        ("t,value\n" + "2024-01-01,NA\n" * 3, r"every cell of column 'value' is empty"),
        ("name\n" + "abc\n" * N, r"column 'name' holds 'abc' in row 1"),
    ],
)
def test_refusals_name_the_real_columns(text, message):
    with pytest.raises(SeriesError, match="No column holds numbers: " + message):
        read_series(text.encode())


@pytest.mark.parametrize(
    "preamble",
    ["# exported from foo\nStation: X\n", "# exported\n", "Station: X\nUnit: kWh\n", "#\n\n#a\n"],
)
def test_comment_and_metadata_lines_above_the_header_are_skipped(preamble):
    series = read_series((preamble + daily_text([f"{v}" for v in wave()])).encode())
    assert series.name == "sales" and series.freq == "D" and len(series) == N
    np.testing.assert_allclose(series.values, wave())


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_a_header_whose_row_number_column_is_named_hash_is_not_a_comment(sep):
    days = pd.date_range("2024-01-01", periods=N, freq="D").strftime("%Y-%m-%d")
    lines = [sep.join(("#", "date", "value"))]
    lines += [
        sep.join((str(i), d, f"{v:.2f}")) for i, (d, v) in enumerate(zip(days, wave(), strict=True))
    ]
    assert list_columns("\n".join(lines)) == ["#", "value"]
    series = read_series("\n".join(lines), column="value")
    assert series.name == "value" and series.freq == "D"


def test_a_two_field_preamble_is_not_taken_for_the_header():
    # "Station,X" splits like a table line; taking "Unit,kW" for the header once turned the
    # real header into a data row, and d/m/Y dates were then read month-first, reordered.
    days = pd.date_range("2023-06-15", periods=N, freq="D")
    rows = [f"{d:%d/%m/%Y},{v:.2f},ok" for d, v in zip(days, wave(), strict=True)]
    series = read_series("Station,X\nUnit,kW\ndate,value,flag\n" + "\n".join(rows))
    assert series.name == "value" and series.freq == "D"
    assert series.timestamps[0] == days[0] and series.timestamps[-1] == days[-1]
    np.testing.assert_allclose(series.values, np.round(wave(), 2))
    assert read_series("Report, 2024\ndate,value,flag\n" + "\n".join(rows)).name == "value"


def test_one_stray_decimal_comma_does_not_rescale_its_column():
    cells = [f"{v + 100:.3f}" for v in wave()]  # "110.000": three decimals, or 110000?
    cells[-1] = "1,5"
    series = read_series(daily_text(cells, header="date;value", sep=";"))
    np.testing.assert_allclose(series.values[:-1], np.round(wave() + 100, 3)[:-1])
    assert series.values[-1] == 1.5


def test_a_junk_cell_above_day_first_dates_does_not_reorder_them():
    days = pd.date_range("2023-06-15", periods=N, freq="D")
    rows = [f"{d:%d/%m/%Y},{v:.2f}" for d, v in zip(days, wave(), strict=True)]
    series = read_series("date,value\nbad,1\n" + "\n".join(rows))
    assert series.freq == "D" and series.timestamps[0] == days[0]
    np.testing.assert_allclose(series.values, np.round(wave(), 2))


def test_a_short_header_after_a_preamble_is_kept():
    # data rows end in a delimiter, so the header has fewer fields than the rows below it
    rows = daily_text([f"{v}," for v in wave()]).splitlines()
    series = read_series("Station: X\n" + "\n".join(rows))
    assert series.name == "sales" and len(series) == N


def test_a_named_column_of_decimal_commas_is_not_taken_for_a_preamble():
    text = "wert\n" + "\n".join(f"{-v:.1f}".replace(".", ",") for v in wave())
    series = read_series(text.encode())
    assert series.name == "wert"
    np.testing.assert_allclose(series.values, -np.round(wave(), 1))


def test_a_preamble_above_rows_without_a_header_is_refused_with_advice():
    rows = daily_text([f"{v}" for v in wave()]).splitlines()[1:]
    with pytest.raises(SeriesError, match="don't look like a table, so remove any lines above"):
        read_series("Report 2024\n" + "\n".join(rows))
    assert len(read_series("\n".join(rows))) == N  # without the preamble it reads


def test_a_first_row_of_dates_is_data_not_a_header():
    rows = daily_text([f"{v},Oslo" for v in wave()]).splitlines()[1:]
    rows[0] = rows[0].split(",")[0] + ",NA,Oslo"  # a missing value; the other cells are not names
    series = read_series("\n".join(rows))
    assert series.name == "column_2" and len(series) == N - 1
    assert series.timestamps[0] == pd.Timestamp("2024-01-02")


def test_a_file_of_comments_only_is_refused():
    with pytest.raises(SeriesError, match="only comment lines"):
        read_series(b"# nothing\n# here\n")


# --- frequencies in words, time zones ---


@pytest.mark.parametrize(
    ("freq", "words"),
    [
        ("h", "hour"),
        ("15min", "15 minutes"),
        ("60min", "hour"),
        ("s", "second"),
        ("D", "day"),
        ("2D", "2 days"),
        ("B", "business day"),
        ("W-SUN", "week"),
        ("MS", "month"),
        ("ME", "month"),
        ("QS-DEC", "quarter"),
        ("YS-JAN", "year"),
        ("3YS-JAN", "3 years"),
        (None, None),
        ("not a frequency", "not a frequency"),
    ],
)
def test_describe_freq_puts_pandas_aliases_into_words(freq, words):
    assert describe_freq(freq) == words


def test_freq_stays_a_pandas_alias_that_describe_freq_explains():
    year = read_series("year,sales\n" + "\n".join(f"{1950 + i},{v}" for i, v in enumerate(wave())))
    month = read_series(pd.Series(wave(), index=pd.period_range("2000-01", periods=N, freq="M")))
    assert (year.freq, describe_freq(year.freq)) == ("YS-JAN", "year")
    assert (month.freq, describe_freq(month.freq)) == ("MS", "month")


def test_gap_refusal_gives_the_step_in_words():
    stamps = pd.date_range("2024-01-01", periods=100, freq="h").delete(range(40, 70))
    frame = pd.DataFrame({"time": stamps.astype(str), "v": wave(70)})
    with pytest.raises(SeriesError, match=r"step by 1 hour, but 30 of the 100 steps") as err:
        read_series(frame)
    assert "days" not in str(err.value)  # "1 hour", not a raw Timedelta "0 days 01:00:00"
    assert "from 2024-01-02 15:00:00 to 2024-01-03 22:00:00" in str(err.value)
    assert "keep the 30 rows after it" in str(err.value)


def berlin_text(freq: str, start: str = "2024-03-25", n: int = N) -> tuple[str, list[str]]:
    stamps = pd.date_range(start, periods=n, freq=freq, tz="Europe/Berlin")
    written = [t.isoformat() for t in stamps]
    return "time,v\n" + "\n".join(
        f"{t},{v}" for t, v in zip(written, wave(n), strict=True)
    ), written


@pytest.mark.parametrize(("freq", "start"), [("h", "2024-03-30 12:00"), ("D", "2024-03-25")])
def test_summer_and_winter_offsets_keep_their_local_times(freq, start):
    text, written = berlin_text(freq, start)
    assert {w[-6:] for w in written} == {"+01:00", "+02:00"}  # the data crosses the DST switch
    series = read_series(text.encode())
    assert [t.isoformat() for t in series.timestamps] == written
    assert series.freq == freq and str(series.timestamps.tz) != "UTC"


def test_forecast_timestamps_continue_in_local_time():
    from sadt.pipeline import future_timestamps

    text, written = berlin_text("D", "2024-03-25", n=215)  # spring switch inside the data
    assert written[-1] == "2024-10-25T00:00:00+02:00"
    future = future_timestamps(read_series(text.encode()), 3)
    assert [t.isoformat() for t in future] == [  # midnights across the autumn switch
        "2024-10-26T00:00:00+02:00",
        "2024-10-27T00:00:00+02:00",
        "2024-10-28T00:00:00+01:00",
    ]


def test_offsets_no_time_zone_gives_stay_utc():
    stamps = pd.date_range("2024-03-30 12:00", periods=N, freq="h", tz="Europe/Berlin")
    written = [t.isoformat() for t in stamps]
    written[-1] = stamps[-1].tz_convert("Asia/Kolkata").isoformat()  # +05:30: no zone fits
    text = "time,v\n" + "\n".join(f"{t},{v}" for t, v in zip(written, wave(), strict=True))
    series = read_series(text.encode())
    assert str(series.timestamps.tz) == "UTC" and series.timestamps.equals(stamps.tz_convert("UTC"))
    assert series.freq == "h"


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
