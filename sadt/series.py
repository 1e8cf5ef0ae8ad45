"""Read one univariate time series from what a user hands over, or say why not.

`read_series` is the input border of `sadt`: a path, an uploaded file, bytes, a DataFrame,
a pandas Series, a list or a numpy array becomes a clean `Series`, or a `SeriesError`
that says what is wrong and what to do. The rules:
* Text is CSV/TSV/;/|/space-separated or JSON, told apart by content; the delimiter is the
  one that splits most lines alike. Leading "#" lines and a preamble of shorter lines above
  the table ("Station: X") are skipped. The first row is a header when its cells are names
  (not numbers, dates or booleans), or when one is text above a column of numbers.
* Numbers may be written as spreadsheets do: "1,046.23", "10.462,34", "1 046,23", "12.3%",
  "$1046.23", "1046 €" (kept in the units written: "12.3%" is 12.3). Each column's decimal
  mark is the one most of its cells prove; see `_read_formatted_column` for "1,046".
* A column is numeric when >= 80% of its non-empty cells are numbers; "", "NA", "nan",
  "null", "?" are empty, and other junk in a numeric column counts as missing too.
  Booleans are not numbers. The default value column is the last numeric one.
* The timestamp column is the first whose cells are mostly dates (names like "date" are
  tried first; 13/01/2024 is read day-first). Timestamps are sorted, values with them.
  Text with summer and winter UTC offsets keeps a time zone that gives those offsets.
  A repeated timestamp is an error (we do not guess how to aggregate); rows whose
  timestamp does not parse are dropped. When >= 80% of the steps are equal the series is
  put on that grid, so a missing row becomes a gap.
* Leading/trailing missing values are dropped; interior gaps of at most
  max(3, 5% of the length) values are filled linearly; longer gaps, or > 20% missing,
  are refused. So are inf, |value| > 1e150 (variances must stay finite), constant
  series, fewer than `min_length` values and inputs over 200 MB.
`describe_freq` puts a pandas frequency alias ("YS-JAN") into words ("year") for people.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
import zoneinfo
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from sadt.errors import SeriesError, TooShortError

MIN_LENGTH = 8  # fewest observations a forecast can start from (the model trains from 8)
MAX_BYTES = 200 * 1024 * 1024
MAX_ABS_VALUE = 1e150
MAX_MISSING_FRACTION = 0.2
# After a gap too long to interpolate, the history that follows it is kept when it has at
# least this many values (a forecaster reads 32 points well); else the gap is refused.
MIN_AFTER_GAP = 32
MOST = 0.8  # share of cells that makes a column numeric, or a timestamp column
MISSING_TOKENS = frozenset(
    ["", "na", "n/a", "nan", "null", "none", "nil", "?", "-", "--", ".", "#n/a", "missing"]
)
_TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "period", "year", "month", "week")
_DELIMITERS = ("\t", ";", "|", ",")  # on a tie the earlier wins: ";" beats a decimal comma
_BOOLEANS = frozenset(["true", "false"])
# A number as spreadsheets write it: a sign, a currency sign before or after, or a trailing
# %, around digits with separators; _read_digits checks the separators.
_CURRENCIES = "$€£¥₹"
_FORMATTED = re.compile(
    rf"([-+\u2212]?)\s*([{_CURRENCIES}]?)\s*([-+\u2212]?)(\d(?:[\d.,'’\s]*\d)?)\s*([{_CURRENCIES}%]?)"
)
_UTC_OFFSET = r"(?:(Z)|([+-])(\d{2}):?(\d{2})?)$"  # "Z", "+01:00", "+0100", "-05"
# Zone names tried first when several give the same offsets (CET data is Europe/..., not CET)
_ZONE_REGIONS = ("Europe", "America", "Asia", "Australia", "Africa", "Pacific", "Atlantic")
_FREQ_WORDS = {  # pandas offset name (before any "-") -> one of it, in words
    "ns": "nanosecond",
    "us": "microsecond",
    "ms": "millisecond",
    "s": "second",
    "min": "minute",
    "h": "hour",
    "bh": "business hour",
    "cbh": "business hour",
    "D": "day",
    "B": "business day",
    "C": "business day",
    "W": "week",
    "SMS": "half month",
    "SME": "half month",
    "MS": "month",
    "ME": "month",
    "BMS": "month",
    "BME": "month",
    "CBMS": "month",
    "CBME": "month",
    "QS": "quarter",
    "QE": "quarter",
    "BQS": "quarter",
    "BQE": "quarter",
    "YS": "year",
    "YE": "year",
    "BYS": "year",
    "BYE": "year",
}
_PARSE_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError, OSError, csv.Error)


@dataclass(frozen=True, eq=False, repr=False)
class Series:
    """One cleaned series: `values` (T,) float64, finite, original scale.

    `timestamps` is None or a strictly increasing DatetimeIndex of length T, in the time
    zone of the input when it has one; `freq` is a pandas offset alias ("h", "D", "15min",
    "YS-JAN") when the timestamps are regular, else None (`describe_freq` says it in words).
    `interpolated` (T,) bool marks the values that were filled by interpolation.
    `dropped` counts the earlier values left out because a gap too long to fill came
    after them (the series starts after that gap).
    """

    values: np.ndarray
    timestamps: pd.DatetimeIndex | None = None
    freq: str | None = None
    name: str = "series"
    interpolated: np.ndarray | None = field(default=None, repr=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        mask = np.zeros(len(values), bool) if self.interpolated is None else self.interpolated
        object.__setattr__(self, "interpolated", np.asarray(mask, bool))

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        """One line, never the values: Series('load', 720 values, freq='h', 2024-01-01 …)."""
        span = ""
        if self.timestamps is not None and len(self.timestamps):
            span = f", {self.timestamps[0]} … {self.timestamps[-1]}"
        freq = f", freq={self.freq!r}" if self.freq else ""
        return f"Series({self.name!r}, {len(self)} values{freq}{span})"

    @property
    def decimals(self) -> int:
        """The decimals the values are written with (2 for prices in cents, 0 for counts);
        for values with no short decimal form, enough for 6 significant digits."""
        return value_decimals(self.values[~self.interpolated])

    @property
    def filled(self) -> int:
        """How many interior missing values were filled by interpolation."""
        return int(self.interpolated.sum())

    def head(self, n: int) -> Series:
        """The first `n` observations: the history a backtest forecasts from."""
        stamps = None if self.timestamps is None else self.timestamps[:n]
        return replace(
            self, values=self.values[:n], timestamps=stamps, interpolated=self.interpolated[:n]
        )

    def tail(self, n: int) -> Series:
        """The last `n` observations (all of them when n >= len)."""
        start = max(len(self) - n, 0)
        stamps = None if self.timestamps is None else self.timestamps[start:]
        return replace(
            self,
            values=self.values[start:],
            timestamps=stamps,
            interpolated=self.interpolated[start:],
        )


def read_series(
    source,
    column: str | int | None = None,
    timestamp_column: str | None = None,
    min_length: int = MIN_LENGTH,
    allow_constant: bool = False,
) -> Series:
    """Read, clean and validate one series; raises SeriesError and nothing else.

    `column` is a name or a 0-based position among the numeric columns (default: the
    last numeric column). `timestamp_column` overrides timestamp detection. A constant
    series is refused unless `allow_constant` (a forecast of one is that constant).
    """
    column = int(column) if isinstance(column, np.integer) else column
    if column is not None and (isinstance(column, bool) or not isinstance(column, (str, int))):
        raise SeriesError(f"column must be a name or a position, not {type(column).__name__}.")
    if timestamp_column is not None and not isinstance(timestamp_column, str):
        raise SeriesError("timestamp_column must be a column name.")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise SeriesError(f"min_length must be a positive integer, not {min_length!r}.")
    with _parsing_border():
        table, comma_decimal = _load_table(source)
        numeric = _numeric_columns(table, comma_decimal)
        stamp_name = _find_timestamp_column(table, timestamp_column, numeric)
        numeric.pop(stamp_name, None)
        if not numeric:
            raise _no_numbers(table, stamp_name, comma_decimal)
        name = _pick_column(numeric, column, list(table.columns), stamp_name)
        values, stamps, freq, rows_dropped = numeric[name], None, None, 0
        if stamp_name is not None:
            stamps = _parse_timestamps(table[stamp_name], allow_years=True)
            stamps = _local_zone(stamps, table[stamp_name])
            _refuse_long_format(table, stamps, stamp_name, numeric)
            while True:  # after each outage too long to fill, keep the rows after it
                try:
                    values, stamps, freq = _align_to_timestamps(values, stamps)
                    break
                except _SparseTimestamps as sparse:
                    if len(sparse.after[0]) < max(MIN_AFTER_GAP, min_length):
                        raise
                    (values, stamps), rows_dropped = sparse.after, rows_dropped + sparse.before
        values, stamps = _trim_missing(values, stamps)
        _validate(values, min_length, allow_constant)
        max_gap = _max_gap(len(values))  # from the whole series, before any cut
        dropped, values, stamps = _after_long_gaps(values, stamps, min_length, max_gap)
        dropped += rows_dropped
        # Too little follows a long gap (a short yearly series): a line across it, up to
        # twice as long, beats refusing the file.
        values, interpolated = _fill_gaps(values, stamps, max_gap if dropped else 2 * max_gap)
    return Series(values, stamps, freq, name, interpolated, dropped)


def describe_freq(freq: str | None) -> str | None:
    """A pandas frequency alias in words, for people: "h" -> "hour", "15min" -> "15 minutes",
    "MS" -> "month", "YS-JAN" -> "year", "W-SUN" -> "week", "B" -> "business day"; None for
    None. An alias without words here comes back as it is."""
    return None if freq is None else _spell_offset(freq, one="")


def list_columns(source) -> list[str]:
    """Names of the numeric columns of `source` (timestamps excluded), in file order."""
    with _parsing_border():
        table, comma_decimal = _load_table(source)
        numeric = _numeric_columns(table, comma_decimal)
        numeric.pop(_find_timestamp_column(table, None, numeric), None)
        return list(numeric)


@contextmanager
def _parsing_border():
    """Turns a parsing failure inside pandas, json, csv or numpy into a SeriesError."""
    try:
        yield
    except SeriesError:
        raise
    except _PARSE_ERRORS as err:
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise SeriesError(
            f"Could not read a series from the input ({detail}). "
            "Pass a CSV or JSON file with a numeric column."
        ) from err


# --- loading: every source becomes a DataFrame of raw cells, one row per observation ---


def _load_table(source) -> tuple[pd.DataFrame, bool]:
    """(table, comma_decimal): a DataFrame with unique str column names and at least one
    row and column, and whether a "1,046" that nothing else explains means 1.046.

    Cells are kept raw (str, numbers, None); a DatetimeIndex becomes the first column.
    """
    comma_decimal = False  # a program writing "1,046" into JSON or a DataFrame means 1046
    if isinstance(source, pd.Series):
        source = source.to_frame(name="series" if source.name is None else str(source.name))
    if isinstance(source, pd.DataFrame):
        frame = _frame_from_pandas(source)
    elif isinstance(source, np.ndarray):
        frame = _frame_from_array(source)
    elif isinstance(source, (list, tuple, dict)):
        frame = _frame_from_json(source)
    else:
        frame, comma_decimal = _frame_from_text(_read_text(source))
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise SeriesError("The input holds no data. Pass at least one column of numbers.")
    return frame, comma_decimal


def _read_text(source) -> str:
    """The text of a path, a file object, bytes or pasted text (a str with a newline or
    starting with "[" or "{"); refuses inputs over MAX_BYTES before reading them whole."""
    pasted = isinstance(source, str) and not os.path.exists(source)
    if pasted and ("\n" in source or source.lstrip()[:1] in ("[", "{")):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as file:
                data = file.read(MAX_BYTES + 1)
        except FileNotFoundError as err:
            raise SeriesError(f"There is no file at {str(source)[:200]}; check the path.") from err
        except OSError as err:
            raise SeriesError(f"Cannot open {str(source)[:200]} ({err.strerror}).") from err
    elif callable(getattr(source, "read", None)):
        data = source.read(MAX_BYTES + 1)
    else:
        data = source
    if not isinstance(data, (str, bytes, bytearray, memoryview)):
        raise SeriesError(
            f"Cannot read a series from {type(source).__name__}. Pass a file path, an uploaded "
            "file, CSV/JSON bytes, a DataFrame, a pandas Series, a list or a 1-D numpy array."
        )
    if len(data) > MAX_BYTES:
        raise SeriesError(
            f"The input is over the {MAX_BYTES // 2**20} MB limit; cut it to the part you "
            "want to forecast."
        )
    if isinstance(data, str):
        return data
    data = bytes(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # old Windows exports; every byte maps to a character


def _frame_from_text(text: str) -> tuple[pd.DataFrame, bool]:
    """(table, comma_decimal) from CSV, TSV, ;- | - or space-separated text, or JSON; the
    format is read off the content. A "1,046" that its column does not explain is 1.046
    unless "," is the delimiter: a spreadsheet quotes "1,046" in a CSV for its thousands
    separator, while a ;-separated export is European, where 12,345 has three decimals."""
    text = text.lstrip("\ufeff").strip()
    if "\x00" in text:
        raise SeriesError(
            "The input is not a text file (Excel or other binary?); save it as CSV or JSON."
        )
    if not text:
        raise SeriesError("The input is empty. Pass a CSV or JSON file with a column of numbers.")
    if re.match(r"<(!doctype html|html|\?xml)", text[:200].lower()):
        raise SeriesError(
            "The file is a web page (HTML or XML), not a table: a download link may have "
            "led to a sign-in or error page. Save the data itself as CSV or JSON."
        )
    if text[0] in "[{":
        try:
            return _frame_from_json(json.loads(text)), False
        except json.JSONDecodeError as err:
            raise SeriesError(
                f"The input looks like JSON but is not valid JSON ({err.msg} at line "
                f'{err.lineno}). Expected e.g. [1.5, 2.0] or [{{"time": ..., "value": ...}}].'
            ) from err
    lines = [line for line in text.splitlines() if line.strip()]
    while lines and _is_comment(lines[0]):
        lines.pop(0)  # "# exported from ..." comments above the table
    if not lines:
        raise SeriesError("The input holds only comment lines (starting with #); add the data.")
    delimiter, start = _sniff_table(lines[:200])
    if delimiter is None:
        rows = [[line.strip().strip('"').strip("'")] for line in lines]
    else:  # one reader per line, so a stray quote cannot swallow the lines after it
        rows = [_split(line, delimiter) for line in lines[start:]]
    return _rows_to_frame(rows, comma_decimal=delimiter != ","), delimiter != ","


def _is_comment(line: str) -> bool:
    """A "# ..." line above a table. Not "#,date,value": a header whose first column (row
    numbers) is named "#"; and not "#N/A", a missing value."""
    line = line.lstrip()
    return line.startswith("#") and line[1:2] not in _DELIMITERS and not _is_missing(line)


def _split(line: str, delimiter: str) -> list[str]:
    """The fields of one line; " " splits at any run of whitespace."""
    if delimiter == " ":
        return line.split()
    return next(csv.reader((line,), delimiter=delimiter, skipinitialspace=True), [])


def _sniff_table(lines: list[str]) -> tuple[str | None, int]:
    """(delimiter, the index of the table's first line): the delimiter that splits most
    lines into the same number (>= 2) of fields, " " for whitespace-separated columns and
    None for a single column."""
    best, best_share, best_start = None, 0.0, 0
    for delimiter in (*_DELIMITERS, " "):
        counts = [len(_split(line, delimiter)) for line in lines]
        values, tallies = np.unique(counts, return_counts=True)
        width, share = values[np.argmax(tallies)], tallies.max() / len(counts)
        if width < 2 or share <= best_share or share < 0.5:
            continue
        start = _table_start(lines, counts, int(width), delimiter)
        if start is not None:
            best, best_share, best_start = delimiter, share, start
    return best, best_start


def _table_start(lines: list[str], counts: list[int], width: int, delimiter: str) -> int | None:
    """Where a table `width` fields wide starts when lines with fewer fields stand above it
    ("Station: X"): at its header, the last of those lines when it splits into >= 2 fields
    (data rows may end in a delimiter), else the first full-width line. None when that is
    no table: a line above has more fields, or the header holds something other than names,
    e.g. "-1" and "5", which are a column of decimal commas under a name "wert"."""
    if counts[0] >= width:
        return 0
    first = counts.index(width)
    if max(counts[:first]) > width:
        return None
    # The first full-width line when it holds names ("Station,X" above "date,value,flag"
    # is preamble, not the header), else the line above it when that splits too.
    for start in (first, first - 1):
        if start == first - 1 and counts[start] < 2:
            break
        header = [cell for cell in _split(lines[start], delimiter) if not _is_missing(cell)]
        if header and _are_names(header).all():
            return start
    return None


def _refuse_error_reply(data: dict) -> None:
    """An API's error reply ({"error": ...}) saved instead of its data: say so."""
    error = next((data[k] for k in ("error", "errors", "fault") if data.get(k)), None)
    if error is None or any(isinstance(v, list) and len(v) > 1 for v in data.values()):
        return
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error.get("code") or error
    if isinstance(error, list) and error:
        error = error[0].get("message", error[0]) if isinstance(error[0], dict) else error[0]
    raise SeriesError(
        f"The JSON is an error reply, not data (it says: {str(error)[:120]!r}). Fetch the "
        "data again and save what the service returns when it succeeds."
    )


def _frame_from_json(data) -> pd.DataFrame:
    """A table from parsed JSON or Python containers.

    Accepts a list of numbers, a list of records (dicts), a list of rows (lists; the first
    may be a header), a dict of column -> list, {"values": [...]}, {"data": [records]}.
    """
    if isinstance(data, dict):
        _refuse_error_reply(data)
        columns = {str(k): v for k, v in data.items() if isinstance(v, (list, tuple, dict))}
        if len(columns) == 1:
            (only,) = columns.values()
            if isinstance(only, (list, tuple)) and only and isinstance(only[0], (dict, list)):
                return _frame_from_json(only)  # e.g. {"data": [{...}, {...}]}
        if not columns:
            raise SeriesError(
                'The JSON object holds no list of values; expected e.g. {"values": [1.5, 2.0]}.'
            )
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise SeriesError(
                f"The columns have different lengths ({_quoted(columns)} hold {sorted(lengths)} "
                "values); give every column the same number of values."
            )
        return _frame_from_pandas(pd.DataFrame(columns))
    if not isinstance(data, (list, tuple)):
        raise SeriesError("The input holds a single value; pass a list of numbers.")
    if not data:
        raise SeriesError("The input list is empty. Pass at least one number.")
    if all(isinstance(item, dict) for item in data):
        return _frame_from_pandas(pd.DataFrame(list(data)))
    if all(isinstance(item, (list, tuple)) for item in data):
        return _rows_to_frame([list(item) for item in data])
    if any(isinstance(item, (dict, list, tuple)) for item in data):
        raise SeriesError("The list mixes numbers with records or lists; pass one kind only.")
    return pd.DataFrame({"series": pd.Series(list(data), dtype=object)})


def _frame_from_array(array: np.ndarray) -> pd.DataFrame:
    kind = array.dtype.kind
    if kind == "b":
        raise SeriesError("The array holds booleans (True/False), which are not numbers.")
    if kind in "cmMV":
        raise SeriesError(
            f"Cannot read an array of {array.dtype}; pass real numbers (float or int)."
        )
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise SeriesError(
            f"The array has shape {array.shape}; pass one series as a 1-D array "
            "(e.g. array[:, 0]) or a DataFrame to choose a column from."
        )
    if kind in "iuf":
        return pd.DataFrame({"series": array.astype(np.float64)})
    return _frame_from_json(array.tolist())


def _frame_from_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    names = ["/".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    frame = frame.copy(deep=False)  # renaming below must not touch the caller's frame
    index = frame.index
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if isinstance(index, pd.DatetimeIndex):
        frame = frame.reset_index(drop=True)
        frame.insert(0, "timestamp", index, allow_duplicates=True)
        names.insert(0, str(index.name or "timestamp"))
    frame.columns = _unique_names(names)
    return frame


def _rows_to_frame(rows: list[list], comma_decimal: bool = False) -> pd.DataFrame:
    """A table from rows of cells, the first row taken as a header when `_has_header` says
    so. Columns with no cell at all (trailing delimiters) are dropped."""
    width = max((len(row) for row in rows), default=0)
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)
    parsed = [_parse_numbers(frame[c], comma_decimal) for c in frame.columns]
    keep = [not missing.all() for _, missing in parsed]
    frame, parsed = frame.loc[:, keep], [p for p, k in zip(parsed, keep, strict=True) if k]
    if frame.shape[1] and _has_header(frame.iloc[0], parsed):
        names = _unique_names([str(cell) for cell in frame.iloc[0]])
        if len(frame) == 1:
            raise SeriesError(
                f"No column holds numbers: the input has a header ({_quoted(names)}) but no "
                "rows below it. Pass a file with a column of numeric values."
            )
        frame = frame.iloc[1:].reset_index(drop=True)
    else:
        names = ["series" if frame.shape[1] == 1 else ""] * frame.shape[1]
    frame.columns = _unique_names(names)
    return frame


def _has_header(first: pd.Series, parsed: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether the first row names the columns: every filled cell in it is a name (not a
    number, date or boolean), which holds for "timestamp,city,note" above text too; or one
    of its cells is text above a column of mostly numbers (a header "id,2023,2024")."""
    above_numbers = any(
        not missing[0] and np.isnan(numbers[0]) and _mostly(~np.isnan(numbers[1:]), ~missing[1:])
        for numbers, missing in parsed
    )
    filled = [cell for cell, (_, missing) in zip(first, parsed, strict=True) if not missing[0]]
    return above_numbers or (len(filled) > 0 and bool(_are_names(filled).all()))


def _are_names(cells: list) -> np.ndarray:
    """(k,) bool: which cells could name a column: text that is not empty, a number (plain
    or formatted), a boolean or a date."""
    text = pd.Series([str(cell).strip() for cell in cells], dtype=object)
    plain = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    not_formatted = np.array([np.isnan(_read_formatted(cell)).all() for cell in text], bool)
    return (
        ~text.str.lower().isin(MISSING_TOKENS | _BOOLEANS).to_numpy()
        & np.isnan(plain)
        & not_formatted
        & _parse_timestamps(text, allow_years=False).isna()
    )


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _unique_names(names: list[str]) -> list[str]:
    """Stripped names; a blank one becomes "column_<k>", repeats get ".1", ".2" as in pandas."""
    unique: list[str] = []
    for position, name in enumerate(names, 1):
        name = name.strip() or f"column_{position}"
        candidate, count = name, 0
        while candidate in unique:
            count += 1
            candidate = f"{name}.{count}"
        unique.append(candidate)
    return unique


# --- columns: which holds the timestamps, which hold numbers, which one to use ---


def _parse_numbers(cells: pd.Series, comma_decimal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(numbers, missing), both (n,): numbers is float64 with NaN wherever a cell is not a
    number (booleans and dates are not); missing marks empty cells and "NA"-like tokens.
    Text cells may be formatted ("1,046.23", "12 %"); `comma_decimal` reads an unexplained
    "1,046" as 1.046."""
    dtype = cells.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or dtype.kind in "cmM"
        or isinstance(dtype, (pd.PeriodDtype, pd.DatetimeTZDtype))
    ):
        return np.full(len(cells), np.nan), cells.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        numbers = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers, np.isnan(numbers)
    text = cells.astype(str).str.strip()
    missing = text.str.lower().isin(MISSING_TOKENS).to_numpy() | cells.isna().to_numpy()
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if (np.isnan(numbers) & ~missing).any():  # not plain numbers: maybe "1,046.23" or "$5"
        numbers = _read_formatted_column(text.to_numpy(dtype=str), missing, numbers, comma_decimal)
    return numbers, missing


def _read_formatted_column(
    text: np.ndarray, missing: np.ndarray, plain: np.ndarray, comma_decimal: bool
) -> np.ndarray:
    """(n,) numbers of a column of formatted cells; `plain` is what pandas read ("1e5").

    The column's decimal mark is the one more of its cells prove: "1,046.23", "0,5" or
    "1,046,000" prove theirs, "1,046" and "1.046" fit either. Cells that contradict the
    column's mark are junk (NaN). With no proof either way (a tie, or proofs fewer than a
    tenth of the ambiguous cells) an ambiguous "1.046"
    is 1.046, as everywhere in pandas, and an ambiguous "1,046" is 1046 unless
    `comma_decimal`, which the caller knows from the delimiter.
    """
    failed = np.flatnonzero(np.isnan(plain) & ~missing)
    spread = text[failed[:: max(1, len(failed) // 200)]]  # a look at 200 cells first
    if np.isnan([_read_formatted(cell) for cell in spread]).all():
        return plain  # what pandas could not read is junk, dates or a header, not formatting
    readings = {cell: _read_formatted(cell) for cell in set(text[~missing])}
    nan_pair = (np.nan, np.nan)
    dot = np.array([readings.get(cell, nan_pair)[0] for cell in text], dtype=np.float64)
    comma = np.array([readings.get(cell, nan_pair)[1] for cell in text], dtype=np.float64)
    dot_proofs = int((~np.isnan(dot) & np.isnan(comma)).sum())
    comma_proofs = int((np.isnan(dot) & ~np.isnan(comma)).sum())
    # A mark is proven only by a real share of the cells it would reinterpret: one stray
    # "1,5" must not turn forty "110.000" into 110000.
    ambiguous = int((~np.isnan(dot) & ~np.isnan(comma) & (dot != comma)).sum())
    if dot_proofs != comma_proofs and max(dot_proofs, comma_proofs) >= 0.1 * ambiguous:
        use_comma = np.full(len(text), comma_proofs > dot_proofs)
    else:
        use_comma = comma_decimal & (np.char.find(text, ",") >= 0)
    written = (~np.isnan(dot) | ~np.isnan(comma)) & ~missing
    return np.where(written, np.where(use_comma, comma, dot), plain)


def _read_formatted(cell: str) -> tuple[float, float]:
    """(value if "." is the decimal mark, value if "," is), NaN where the cell is not a
    number written that way. A currency sign before or after and a trailing % are dropped
    (the value stays in the units written)."""
    match = _FORMATTED.fullmatch(cell)
    if match is None:
        return np.nan, np.nan
    sign, before, sign_after, digits, after = match.groups()
    if (sign and sign_after) or (before and after):
        return np.nan, np.nan
    negative = -1.0 if (sign or sign_after) in ("-", "\u2212") else 1.0
    return negative * _read_digits(digits, "."), negative * _read_digits(digits, ",")


def _read_digits(digits: str, mark: str) -> float:
    """The number that digits with separators spell when `mark` is the decimal mark, or
    NaN. Thousands separators ("," or "." when not the mark, spaces, apostrophes) must be
    one kind, between a lead of 1-3 digits that is not 0 and groups of exactly 3, so dates
    like 01.01.2024 are not numbers."""
    whole, has_mark, fraction = digits.partition(mark)
    if has_mark and not fraction.isdecimal():
        return np.nan
    groups, separators = re.split(r"\D", whole), set(re.findall(r"\D", whole))
    lead = groups[0]
    if separators and (
        len(separators) > 1
        or not 1 <= len(lead) <= 3
        or lead.startswith("0")
        or any(len(group) != 3 for group in groups[1:])
    ):
        return np.nan
    return float("".join(groups) + "." + (fraction or "0"))


def _mostly(hits: np.ndarray, among: np.ndarray) -> bool:
    """True when `hits` covers at least the share MOST of the cells in `among` (> 0 cells)."""
    total = int(among.sum())
    return total > 0 and int(hits[among].sum()) >= MOST * total


def _numeric_columns(table: pd.DataFrame, comma_decimal: bool) -> dict[str, np.ndarray]:
    """Column name -> (n,) float64 values with NaN where missing, for every numeric column
    in table order. Junk cells in a numeric column count as missing."""
    columns = {}
    for name in table.columns:
        numbers, missing = _parse_numbers(table[name], comma_decimal)
        if _mostly(~np.isnan(numbers), ~missing):
            columns[name] = numbers
    return columns


def _looks_like_time(name: str, exactly: bool = False) -> bool:
    """Whether a column name says "time": one of _TIME_NAMES, or (unless `exactly`) any
    name containing "date" or "time"."""
    lowered = name.strip().lower()
    return lowered in _TIME_NAMES or not exactly and ("date" in lowered or "time" in lowered)


def _parse_timestamps(cells: pd.Series, allow_years: bool) -> pd.DatetimeIndex:
    """(n,) timestamps with NaT where a cell is not a date. Numbers are not dates, except
    four-digit years when `allow_years` (a column named like a time, or chosen by name)."""
    if cells.dtype.kind == "M" or isinstance(cells.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(cells).as_unit("ns")  # steps below are counted in ns
    text = cells.astype(str).str.strip()
    not_date = text.str.lower().isin(MISSING_TOKENS) | cells.isna()
    not_date |= pd.to_numeric(text.where(~not_date), errors="coerce").notna()
    # A cell without a digit ("bad", "Total") is no date. Left in, it made pandas give up
    # inferring one format and read each cell alone, 15/06 day-first but 01/07 month-first.
    not_date |= ~text.str.contains(r"\d", regex=True)
    if allow_years:
        not_date &= ~text.str.fullmatch(r"[12]\d{3}")
    text = text.where(~not_date)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format" is expected for junk
        try:
            parsed = pd.to_datetime(text, errors="coerce")
        except ValueError:  # mixed UTC offsets: pandas >= 3 raises, 2.x gives objects
            parsed = None
        if parsed is None or parsed.dtype == object:
            parsed = pd.to_datetime(text, errors="coerce", utc=True)
        if parsed.isna().sum() > not_date.sum():  # 13/01/2024 failed as month-first: retry
            utc = parsed.dt.tz is not None
            day_first = pd.to_datetime(text, errors="coerce", dayfirst=True, utc=utc)
            parsed = day_first if day_first.notna().sum() > parsed.notna().sum() else parsed
        elif text.str.match(_AMBIGUOUS_DATE).sum() > 0.5 * len(text):
            # 01/02/2020 reads both ways; a spreadsheet in Europe writes day first. The
            # reading whose steps are more regular wins (monthly data on the 1st stays
            # monthly instead of becoming days 1 to 12 of January).
            day_first = pd.to_datetime(text, errors="coerce", dayfirst=True)
            if day_first.notna().sum() == parsed.notna().sum() and _coverage(day_first) > _coverage(
                parsed
            ):
                parsed = day_first
    return pd.DatetimeIndex(parsed).as_unit("ns")


_AMBIGUOUS_DATE = r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"


def _coverage(stamps: pd.Series) -> float:
    """Rows over the slots of their most common step between the first and the last
    timestamp: 1 for a regular series, small when a reading scatters the rows."""
    known = np.unique(pd.DatetimeIndex(stamps.dropna()).asi8)
    if len(known) < 3:
        return 0.0
    steps, counts = np.unique(np.diff(known), return_counts=True)
    return len(known) / ((known[-1] - known[0]) / steps[np.argmax(counts)] + 1)


def _local_zone(stamps: pd.DatetimeIndex, cells: pd.Series) -> pd.DatetimeIndex:
    """UTC `stamps` read from text with several UTC offsets (winter and summer time) shown
    in a time zone whose rules give every cell its written offset, so 2024-03-30T00:00+01:00
    stays midnight and daily data keeps steps of a day; unchanged when no zone does."""
    if str(stamps.tz) != "UTC" or not stamps.notna().any():
        return stamps
    utc = stamps[stamps.notna()]
    parts = cells.astype(str).str.strip()[stamps.notna()].str.extract(_UTC_OFFSET)
    hours, minutes = (pd.to_numeric(parts[k]).fillna(0).to_numpy() for k in (2, 3))
    offsets = np.where(parts[1] == "-", -1, 1) * (hours * 60 + minutes)
    if (parts[0].isna() & parts[1].isna()).any() or len(np.unique(offsets)) < 2:
        return stamps  # an offset is not written, or there is only one: UTC it stays
    change = int(np.argmax(offsets != offsets[0]))
    for zone in _zones():  # a cheap look at the first offset and the first change first
        if all(
            utc[i].tz_convert(zone).utcoffset() == pd.Timedelta(minutes=offsets[i])
            for i in (0, change)
        ):
            local = utc.tz_convert(zone)
            if np.array_equal(
                (local.tz_localize(None) - utc.tz_localize(None)).asi8, offsets * 60e9
            ):
                return stamps.tz_convert(zone)
    return stamps


def _region_rank(zone: str) -> int:
    region = zone.split("/")[0]
    return _ZONE_REGIONS.index(region) if region in _ZONE_REGIONS else len(_ZONE_REGIONS)


@lru_cache(maxsize=1)
def _zones() -> list[zoneinfo.ZoneInfo]:
    """The time zones this machine knows, those of _ZONE_REGIONS first."""
    names = sorted(zoneinfo.available_timezones(), key=lambda name: (_region_rank(name), name))
    zones = []
    for name in names:
        try:
            zones.append(zoneinfo.ZoneInfo(name))
        except (OSError, ValueError):  # a name listed without a readable zone file
            continue
    return zones


def _holds_dates(cells: pd.Series, allow_years: bool) -> bool:
    """True when most non-empty cells parse as dates (a cheap look at 100 cells first)."""
    missing = cells.astype(str).str.strip().str.lower().isin(MISSING_TOKENS) | cells.isna()
    filled = cells[~missing.to_numpy()]
    for sample in (filled.iloc[:100], filled):
        if not _mostly(_parse_timestamps(sample, allow_years).notna(), np.ones(len(sample), bool)):
            return False
    return True


def _find_timestamp_column(table: pd.DataFrame, requested: str | None, numeric) -> str | None:
    """The timestamp column: `requested` when given (checked), else the first column whose
    cells are mostly dates, columns named like "date" or "time" first; None when none is.
    A `numeric` column is a candidate only when named exactly like "year" or "date" (then
    four-digit numbers are years); "response_time" in ms stays a value column."""
    if requested is None:
        names = [n for n in table.columns if _looks_like_time(n, True) or n not in numeric]
        names.sort(key=lambda n: not _looks_like_time(n))
        return next((n for n in names if _holds_dates(table[n], _looks_like_time(n, True))), None)
    if requested not in table.columns:
        raise SeriesError(
            f"There is no timestamp column {requested!r}; the columns are {_quoted(table.columns)}."
        )
    if not _holds_dates(table[requested], allow_years=True):
        raise SeriesError(
            f"Column {requested!r} does not hold dates; name a column of timestamps "
            "or leave timestamp_column empty to detect it."
        )
    return requested


def _quoted(names) -> str:
    names = [repr(str(n)[:40]) for n in names]
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _no_numbers(table: pd.DataFrame, stamps: str | None, comma_decimal: bool) -> SeriesError:
    """The refusal for a table without a numeric column: it names the column that came
    closest (the most numbers; on a tie the last, as the default value column is) and its
    first cell that is not a number."""
    advice = "Pass a file with a column of numeric values."
    names = [name for name in table.columns if name != stamps]
    if not names:
        return SeriesError(
            f"No column holds numbers: the only column, {stamps!r}, holds timestamps. {advice}"
        )
    parsed = {name: _parse_numbers(table[name], comma_decimal) for name in names}
    name = max(reversed(names), key=lambda n: int((~np.isnan(parsed[n][0])).sum()))
    numbers, missing = parsed[name]
    bad = np.flatnonzero(np.isnan(numbers) & ~missing)
    if not len(bad):
        return SeriesError(
            f"No column holds numbers: every cell of column {name!r} is empty or missing "
            f"(like 'NA'). {advice}"
        )
    cell = str(table[name].iloc[bad[0]]).strip()
    found = f"column {name!r} holds {cell[:40]!r} in row {bad[0] + 1}"
    if cell.lower() in _BOOLEANS:
        found += ", and True/False are not numbers"
    elif table.shape[1] == 1 and any(d in cell for d in _DELIMITERS):  # a table not split
        found += "; the first lines don't look like a table, so remove any lines above the header"
    elif (~np.isnan(numbers)).any():
        found += (
            f", and only {int((~np.isnan(numbers)).sum())} of its {int((~missing).sum())} "
            f"filled cells are numbers ({MOST:.0%} are needed)"
        )
    return SeriesError(f"No column holds numbers: {found}. {advice}")


def _pick_column(
    numeric: dict[str, np.ndarray], column: str | int | None, names: list[str], stamps: str | None
) -> str:
    """The value column: `column` by name or by position among the numeric columns
    (negative counts from the end); by default the last numeric column."""
    choices = list(numeric)
    available = f"the numeric columns are {_quoted(choices)}"
    if column is None:
        return choices[-1]
    if isinstance(column, int):
        if not -len(choices) <= column < len(choices):
            raise SeriesError(f"There is no numeric column number {column} (0-based); {available}.")
        return choices[column]
    if column not in choices:
        kind = "timestamps" if column == stamps else "not numeric" if column in names else "absent"
        raise SeriesError(f"Column {column!r} cannot be used ({kind}); {available}.")
    return column


# --- cleaning: order by time, put on a regular grid, fill short gaps, refuse the rest ---


def _refuse_long_format(table, stamps, stamp_name, numeric) -> None:
    """Several series stacked in one file (a "store" column beside repeated dates): name
    the column that tells them apart, instead of calling the repeats duplicates."""
    repeated = stamps.duplicated() & stamps.notna()
    if not repeated.any():
        return
    for name in table.columns:
        if name == stamp_name or name in numeric:
            continue
        keys = table[name].astype(str).to_numpy()
        items = pd.unique(keys)
        if (
            1 < len(items) <= len(table) // 2
            and not pd.DataFrame({"t": stamps, "k": keys}).duplicated().any()
        ):
            shown = ", ".join(repr(v) for v in items[:3]) + (", ..." if len(items) > 3 else "")
            raise SeriesError(
                f"The file holds {len(items)} series stacked in long format (column {name!r}: "
                f"{shown}); upload one series at a time, or forecast them all with "
                "Pipeline.predict_df."
            )


class _SparseTimestamps(SeriesError):
    """Too many steps without a row; `after` holds the (values, stamps) after the longest
    stretch without rows, `before` counts the rows before it."""

    def __init__(self, after: tuple[np.ndarray, pd.DatetimeIndex], before: int, message: str):
        super().__init__(message)
        self.after, self.before = after, before


def _align_to_timestamps(
    values: np.ndarray, stamps: pd.DatetimeIndex
) -> tuple[np.ndarray, pd.DatetimeIndex, str | None]:
    """Values and timestamps sorted by time, on a regular grid when most steps are equal
    (missing steps become NaN), with the pandas frequency alias or None if irregular."""
    keep = stamps.notna()
    values, stamps = values[keep], stamps[keep]
    order = np.argsort(stamps.asi8, kind="stable")
    values, stamps = values[order], stamps[order]
    repeated = stamps[stamps.duplicated()]
    if len(repeated):
        count = int((stamps == repeated[0]).sum())
        raise SeriesError(
            f"Timestamp {repeated[0]} appears {count} times ({len(repeated)} repeats in all); "
            "each timestamp must appear once. Aggregate the repeats (e.g. average them) first."
        )
    if len(stamps) < 3:
        return values, stamps, None
    freq = pd.infer_freq(stamps)
    if freq is not None:
        return values, stamps, freq
    calendar = _calendar_grid(stamps)
    if calendar is not None:  # yearly (monthly, quarterly) data with a few rows missing
        grid, alias = calendar
        return pd.Series(values, index=stamps).reindex(grid).to_numpy(), grid, alias
    business = _business_day_grid(stamps)
    if business is not None:  # trading days: weekends are not gaps, holidays are
        return pd.Series(values, index=stamps).reindex(business).to_numpy(), business, "B"
    steps, counts = np.unique(np.diff(stamps.asi8), return_counts=True)
    step = int(steps[np.argmax(counts)])
    if counts.max() < MOST * (len(stamps) - 1) or np.any(steps % step):
        return values, stamps, None
    slots = (stamps.asi8[-1] - stamps.asi8[0]) // step + 1
    hours = _opening_hours(stamps, pd.Timedelta(step))
    if slots > len(stamps) / (1 - MAX_MISSING_FRACTION) and hours is not None:
        # Rows only in opening hours (a call centre's 07:00-21:00 on weekdays): the closed
        # hours are not gaps; the series runs on through the open steps, in order.
        return pd.Series(values, index=stamps).reindex(hours).to_numpy(), hours, None
    if slots > len(stamps) / (1 - MAX_MISSING_FRACTION):
        step_words = _spell_offset(pd.Timedelta(step), one="1 ")
        widest = int(np.argmax(np.diff(stamps.asi8)))
        after = len(stamps) - widest - 1
        raise _SparseTimestamps(
            (values[widest + 1 :], stamps[widest + 1 :]),
            widest + 1,
            f"The timestamps step by {step_words}, but {slots - len(stamps)} of the "
            f"{slots} steps have no row (over {MAX_MISSING_FRACTION:.0%}); the longest "
            f"stretch without rows runs from {stamps[widest]} to {stamps[widest + 1]}. "
            f"Fill the missing rows or cut the series (e.g. keep the {after} rows after it).",
        )
    grid = pd.date_range(stamps[0], stamps[-1], freq=pd.Timedelta(step))
    values = pd.Series(values, index=stamps).reindex(grid).to_numpy()
    return values, grid, pd.infer_freq(grid) or to_offset(pd.Timedelta(step)).freqstr


def open_steps(start, end, step: pd.Timedelta, hours: tuple, weekdays) -> pd.DatetimeIndex:
    """The steps from ``start`` to ``end`` inside the daily ``hours`` (first, last time of
    day, as Timedeltas) on ``weekdays`` (0 = Monday)."""
    grid = pd.date_range(start, end, freq=step)
    time_of_day = grid - grid.normalize()
    inside = (time_of_day >= hours[0]) & (time_of_day <= hours[1])
    return grid[inside & grid.dayofweek.isin(list(weekdays))]


def opening_hours(stamps: pd.DatetimeIndex, step: pd.Timedelta) -> tuple | None:
    """((first, last time of day), weekdays) of an intraday series whose rows fall only in
    part of each day (at least two steps a day closed) or only on some weekdays (over two
    weeks or more); None when it runs around the clock."""
    if step >= pd.Timedelta(days=1) or stamps[-1] - stamps[0] < pd.Timedelta(days=3):
        return None
    time_of_day = stamps - stamps.normalize()
    hours = (time_of_day.min(), time_of_day.max())
    weekdays = sorted(set(stamps.dayofweek))
    part_of_day = hours[1] - hours[0] < pd.Timedelta(days=1) - 2 * step
    some_days = len(weekdays) < 7 and stamps[-1] - stamps[0] >= pd.Timedelta(days=14)
    if not (part_of_day or some_days):
        return None
    return hours, weekdays if some_days else list(range(7))


def _opening_hours(stamps: pd.DatetimeIndex, step: pd.Timedelta) -> pd.DatetimeIndex | None:
    """The grid of an intraday series observed only in opening hours, when its rows fill
    that grid (holidays missing at most); None for anything else."""
    session = opening_hours(stamps, step)
    if session is None:
        return None
    grid = open_steps(stamps[0], stamps[-1], step, *session)
    if len(stamps) < (1 - MAX_MISSING_FRACTION) * len(grid) or not stamps.isin(grid).all():
        return None
    return grid


def _calendar_grid(stamps: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, str] | None:
    """(grid, alias) of month-based data (every month, quarter or year, stamped at the
    start or end of a month, or on one day of the month: the 15th) with a few rows
    missing, or None for anything else. Years and months differ in length, so their steps
    are counted in months, not nanoseconds. Stamps on the d-th keep their day; the alias is
    the month-start one ("MS"), which `month_day_offset` and the forecast's timestamps
    shift by d - 1 days."""
    if len(stamps) < 4 or (stamps != stamps.normalize()).any():
        return None
    days = set(stamps.day)
    at_end = bool(stamps.is_month_end.all())
    if not (at_end or (len(days) == 1 and min(days) <= 28)):
        return None
    months = np.diff(np.asarray(stamps.year * 12 + stamps.month))
    step = int(np.bincount(months).argmax())
    if step < 1 or np.any(months % step):
        return None
    if at_end:
        grid = pd.date_range(stamps[0], stamps[-1], freq=f"{step}ME")
        alias = pd.infer_freq(grid)
    else:
        shift = pd.Timedelta(days=min(days) - 1)
        starts = pd.date_range(stamps[0] - shift, stamps[-1] - shift, freq=f"{step}MS")
        grid, alias = starts + shift, pd.infer_freq(starts)
    if len(stamps) < (1 - MAX_MISSING_FRACTION) * len(grid) or not stamps.isin(grid).all():
        return None
    return grid, alias or f"{step}{'ME' if at_end else 'MS'}"


def _business_day_grid(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex | None:
    """The business-day grid of daily data on weekdays only (a market's trading days, a
    few holidays missing), or None for anything else."""
    if len(stamps) < 10 or (stamps.dayofweek >= 5).any() or (stamps != stamps.normalize()).any():
        return None
    days = np.diff(stamps.asi8) // pd.Timedelta(days=1).value
    if np.median(days) != 1:
        return None
    grid = pd.bdate_range(stamps[0], stamps[-1], tz=stamps.tz)
    if len(stamps) < (1 - MAX_MISSING_FRACTION) * len(grid) or not stamps.isin(grid).all():
        return None
    return grid


def _spell_offset(freq: str | pd.Timedelta, one: str) -> str:
    """A pandas frequency or a duration in words: "15 minutes", or `one` + "hour" for one
    hour ("every hour", "1 hour"); what pandas does not know comes back as it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old aliases ("H", "M") still work, with a warning
            offset = to_offset(freq)
            if isinstance(offset, Tick):  # "60min" is an hour, "1440min" a day
                offset = to_offset(pd.Timedelta(offset))
    except (ValueError, TypeError):
        return str(freq)
    word = _FREQ_WORDS.get(offset.name.split("-")[0])
    if word is None:
        return str(freq)
    return f"{one}{word}" if offset.n == 1 else f"{offset.n} {word}s"


def _trim_missing(
    values: np.ndarray, stamps: pd.DatetimeIndex | None
) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
    """Drops leading and trailing missing values (and their timestamps)."""
    present = ~np.isnan(values)
    if not present.any():
        raise SeriesError("The chosen column has no numbers in it; pick another column.")
    first, stop = int(np.argmax(present)), len(values) - int(np.argmax(present[::-1]))
    return values[first:stop], None if stamps is None else stamps[first:stop]


def value_decimals(values: np.ndarray, most: int = 8) -> int:
    """How precisely the data was recorded: the fewest decimals (up to ``most``, and at
    most 9 significant digits) that write every value exactly, else enough for 6
    significant digits of the largest value."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)][:10_000]
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0:
        return 0
    magnitude = int(np.floor(np.log10(top)))
    for d in range(most + 1):
        if np.all(np.abs(np.round(x, d) - x) <= 1e-12 * np.maximum(1.0, np.abs(x))):
            return int(np.clip(d, 0, max(8 - magnitude, 0)))
    return int(np.clip(5 - magnitude, 0, 15))


def is_constant(values: np.ndarray) -> bool:
    """Whether the known (non-NaN) values vary too little to measure."""
    known = values[~np.isnan(values)]
    return bool(np.std(known) <= 1e-12 * np.max(np.abs(known)))


def read_forecast_series(source, **options) -> Series:
    """`read_series` for a forecast, which starts from any length: a series refused only
    for being short (under MIN_LENGTH) is read again with a minimum of one value."""
    try:
        return read_series(source, **options)
    except TooShortError:
        return read_series(source, **options, min_length=1)


def whole_numbers(values: np.ndarray) -> bool:
    """Whether values are recorded in whole numbers (counts, units sold); False when empty."""
    values = np.asarray(values, dtype=np.float64)
    return bool(values.size) and bool(np.all(values == np.round(values)))


def _validate(values: np.ndarray, min_length: int, allow_constant: bool = False) -> None:
    """Refuses infinite or overflowing values, too short series and constant series;
    `values` may still hold NaN for missing values."""
    bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > MAX_ABS_VALUE))
    if len(bad):
        raise SeriesError(
            f"Value {values[bad[0]]:g} at row {bad[0] + 1} is infinite or too large: values "
            f"beyond {MAX_ABS_VALUE:g} in size would overflow float64 arithmetic. Rescale "
            "the series or remove those values."
        )
    if len(values) < min_length:
        raise TooShortError(
            f"The series has {len(values)} values after cleaning; at least {min_length} "
            "are needed. Pass a longer series."
        )
    if not allow_constant and is_constant(values):
        first = values[~np.isnan(values)][0]
        raise SeriesError(
            f"The series is constant (every value is {first:g}) or varies too little to "
            "measure, so there is nothing to describe or forecast. Pick another column."
        )


def _max_gap(length: int) -> int:
    """The longest run of missing values that is filled by interpolation when enough of
    the series follows it (the history after a longer one is kept instead)."""
    return max(3, int(0.05 * length))


def _missing_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, stops) of the runs of NaN in values: run k is values[starts[k]:stops[k]]."""
    edges = np.diff(np.concatenate([[0], np.isnan(values).astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _after_long_gaps(
    values: np.ndarray, stamps: pd.DatetimeIndex | None, min_length: int, max_gap: int
) -> tuple[int, np.ndarray, pd.DatetimeIndex | None]:
    """(dropped, values, stamps): the history after the last gap too long to interpolate,
    when at least MIN_AFTER_GAP (and min_length) values follow it; otherwise unchanged
    (and `_fill_gaps` says what is wrong). A straight line drawn across weeks of a sensor
    outage would be read as data; the stretch after it is real."""
    starts, stops = _missing_runs(values)
    long = stops - starts > max_gap
    if not long.any():
        return 0, values, stamps
    cut = int(stops[long][-1])
    kept = values[cut:]
    if np.isfinite(kept).sum() < max(MIN_AFTER_GAP, min_length):
        return 0, values, stamps
    return cut, kept, None if stamps is None else stamps[cut:]


def _fill_gaps(
    values: np.ndarray, stamps: pd.DatetimeIndex | None, max_gap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(values, interpolated): interior NaN runs of at most `max_gap` filled by linear
    interpolation over position; refuses longer runs and > 20% missing."""
    missing = np.isnan(values)
    if missing.sum() > MAX_MISSING_FRACTION * len(values):
        raise SeriesError(
            f"{missing.sum()} of {len(values)} values ({missing.mean():.0%}) are missing; at "
            f"most {MAX_MISSING_FRACTION:.0%} can be filled. Fill them yourself or pick "
            "another column."
        )
    starts, stops = _missing_runs(values)
    longest = int(np.argmax(stops - starts)) if len(starts) else 0
    if len(starts) and stops[longest] - starts[longest] > max_gap:
        row = int(starts[longest])
        when = "" if stamps is None else f" ({stamps[row]})"
        raise SeriesError(
            f"The series has a gap of {stops[longest] - row} missing values at row {row + 1}"
            f"{when}; gaps of up to {max_gap} are filled, and fewer than {MIN_AFTER_GAP} "
            "values follow it to forecast from. Fill it or cut the series."
        )
    filled = values.copy()
    positions = np.arange(len(values))
    filled[missing] = np.interp(positions[missing], positions[~missing], values[~missing])
    return filled, missing
