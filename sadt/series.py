"""Read one univariate time series from what a user hands over, or say why not.

`read_series` is the input border of `sadt`: a path, an uploaded file, bytes, a DataFrame,
a pandas Series, a list or a numpy array becomes a clean `Series`, or a `SeriesError`
that says what is wrong and what to do. The rules:
* Text is CSV/TSV/;/|/space-separated or JSON, told apart by content; the delimiter is the
  one that splits most lines alike, and decimal commas (1,5) are read unless it is ",".
* A column is numeric when >= 80% of its non-empty cells are numbers; "", "NA", "nan",
  "null", "?" are empty, and other junk in a numeric column counts as missing too.
  Booleans are not numbers. The default value column is the last numeric one.
* The timestamp column is the first whose cells are mostly dates (names like "date" are
  tried first; 13/01/2024 is read day-first). Timestamps are sorted, values with them.
  A repeated timestamp is an error (we do not guess how to aggregate); rows whose
  timestamp does not parse are dropped. When >= 80% of the steps are equal the series is
  put on that grid, so a missing row becomes a gap.
* Leading/trailing missing values are dropped; interior gaps of at most
  max(3, 5% of the length) values are filled linearly; longer gaps, or > 20% missing,
  are refused. So are inf, |value| > 1e150 (variances must stay finite), constant
  series, fewer than `min_length` values and inputs over 200 MB.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

MIN_LENGTH = 32  # fewest observations a forecast can start from
MAX_BYTES = 200 * 1024 * 1024
MAX_ABS_VALUE = 1e150
MAX_MISSING_FRACTION = 0.2
MOST = 0.8  # share of cells that makes a column numeric, or a timestamp column
MISSING_TOKENS = frozenset(
    ["", "na", "n/a", "nan", "null", "none", "nil", "?", "-", "--", ".", "#n/a", "missing"]
)
_TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "period", "year", "month", "week")
_DELIMITERS = ("\t", ";", "|", ",")  # on a tie the earlier wins: ";" beats a decimal comma
_DECIMAL_COMMA = re.compile(r"^\s*([+-]?\d+),(\d+)\s*$")
_PARSE_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError, OSError, csv.Error)


class SeriesError(ValueError):
    """A user mistake in the input; the message says what is wrong and what to do."""


@dataclass(frozen=True, eq=False)
class Series:
    """One cleaned series: `values` (T,) float64, finite, original scale.

    `timestamps` is None or a strictly increasing DatetimeIndex of length T; `freq` is a
    pandas offset alias ("h", "D", "15min") when the timestamps are regular, else None.
    `interpolated` (T,) bool marks the values that were filled by interpolation.
    """

    values: np.ndarray
    timestamps: pd.DatetimeIndex | None = None
    freq: str | None = None
    name: str = "series"
    interpolated: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        mask = np.zeros(len(values), bool) if self.interpolated is None else self.interpolated
        object.__setattr__(self, "interpolated", np.asarray(mask, bool))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def filled(self) -> int:
        """How many interior missing values were filled by interpolation."""
        return int(self.interpolated.sum())

    def tail(self, n: int) -> Series:
        """The last `n` observations (all of them when n >= len)."""
        start = max(len(self) - n, 0)
        stamps = None if self.timestamps is None else self.timestamps[start:]
        return Series(self.values[start:], stamps, self.freq, self.name, self.interpolated[start:])


def read_series(
    source,
    column: str | int | None = None,
    timestamp_column: str | None = None,
    min_length: int = MIN_LENGTH,
) -> Series:
    """Read, clean and validate one series; raises SeriesError and nothing else.

    `column` is a name or a 0-based position among the numeric columns (default: the
    last numeric column). `timestamp_column` overrides timestamp detection.
    """
    column = int(column) if isinstance(column, np.integer) else column
    if column is not None and (isinstance(column, bool) or not isinstance(column, (str, int))):
        raise SeriesError(f"column must be a name or a position, not {type(column).__name__}.")
    if timestamp_column is not None and not isinstance(timestamp_column, str):
        raise SeriesError("timestamp_column must be a column name.")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise SeriesError(f"min_length must be a positive integer, not {min_length!r}.")
    with _parsing_border():
        table = _load_table(source)
        numeric = _numeric_columns(table)
        stamp_name = _find_timestamp_column(table, timestamp_column, numeric)
        numeric.pop(stamp_name, None)
        name = _pick_column(numeric, column, list(table.columns), stamp_name)
        values, stamps, freq = numeric[name], None, None
        if stamp_name is not None:
            stamps = _parse_timestamps(table[stamp_name], allow_years=True)
            values, stamps, freq = _align_to_timestamps(values, stamps)
        values, stamps = _trim_missing(values, stamps)
        _validate(values, min_length)
        values, interpolated = _fill_gaps(values, stamps)
    return Series(values, stamps, freq, name, interpolated)


def list_columns(source) -> list[str]:
    """Names of the numeric columns of `source` (timestamps excluded), in file order."""
    with _parsing_border():
        table = _load_table(source)
        numeric = _numeric_columns(table)
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


def _load_table(source) -> pd.DataFrame:
    """A DataFrame with unique str column names and at least one row and column.

    Cells are kept raw (str, numbers, None); a DatetimeIndex becomes the first column.
    """
    if isinstance(source, pd.Series):
        source = source.to_frame(name="series" if source.name is None else str(source.name))
    if isinstance(source, pd.DataFrame):
        frame = _frame_from_pandas(source)
    elif isinstance(source, np.ndarray):
        frame = _frame_from_array(source)
    elif isinstance(source, (list, tuple, dict)):
        frame = _frame_from_json(source)
    else:
        frame = _frame_from_text(_read_text(source))
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise SeriesError("The input holds no data. Pass at least one column of numbers.")
    return frame


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


def _frame_from_text(text: str) -> pd.DataFrame:
    """CSV, TSV, ;- | - or space-separated text, or JSON; the format is read off the content."""
    text = text.lstrip("\ufeff").strip()
    if "\x00" in text:
        raise SeriesError(
            "The input is not a text file (Excel or other binary?); save it as CSV or JSON."
        )
    if not text:
        raise SeriesError("The input is empty. Pass a CSV or JSON file with a column of numbers.")
    if text[0] in "[{":
        try:
            return _frame_from_json(json.loads(text))
        except json.JSONDecodeError as err:
            raise SeriesError(
                f"The input looks like JSON but is not valid JSON ({err.msg} at line "
                f'{err.lineno}). Expected e.g. [1.5, 2.0] or [{{"time": ..., "value": ...}}].'
            ) from err
    lines = [line for line in text.splitlines() if line.strip()]
    delimiter = _sniff_delimiter(lines[:200])
    if delimiter is None:
        rows = [[line.strip().strip('"').strip("'")] for line in lines]
    elif delimiter == " ":
        rows = [line.split() for line in lines]
    else:  # one reader per line, so a stray quote cannot swallow the lines after it
        rows = [
            next(csv.reader((line,), delimiter=delimiter, skipinitialspace=True), [])
            for line in lines
        ]
    if delimiter != "," and "," in text:  # decimal commas, as European spreadsheets write
        rows = [[_DECIMAL_COMMA.sub(r"\1.\2", cell) for cell in row] for row in rows]
    return _rows_to_frame(rows)


def _sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits most lines into the same number (>= 2) of fields.

    Returns " " for whitespace-separated columns and None for a single column.
    """
    best, best_share = None, 0.0
    for delimiter in (*_DELIMITERS, " "):
        if delimiter == " ":
            counts = [len(line.split()) for line in lines]
        else:
            counts = [len(next(csv.reader((line,), delimiter=delimiter), [])) for line in lines]
        values, tallies = np.unique(counts, return_counts=True)
        width, share = values[np.argmax(tallies)], tallies.max() / len(counts)
        if width >= 2 and share > best_share and share >= 0.5 and counts[0] >= width:
            best, best_share = delimiter, share
    return best


def _frame_from_json(data) -> pd.DataFrame:
    """A table from parsed JSON or Python containers.

    Accepts a list of numbers, a list of records (dicts), a list of rows (lists; the first
    may be a header), a dict of column -> list, {"values": [...]}, {"data": [records]}.
    """
    if isinstance(data, dict):
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


def _rows_to_frame(rows: list[list]) -> pd.DataFrame:
    """A table from rows of cells. The first row is a header when one of its cells is text
    above a column of mostly numbers. Columns with no cell at all (trailing delimiters)
    are dropped."""
    width = max((len(row) for row in rows), default=0)
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in rows], dtype=object)
    parsed = [_parse_numbers(frame[c]) for c in frame.columns]
    keep = [not missing.all() for _, missing in parsed]
    frame, parsed = frame.loc[:, keep], [p for p, k in zip(parsed, keep, strict=True) if k]
    has_header = any(
        not missing[0] and np.isnan(numbers[0]) and _mostly(~np.isnan(numbers[1:]), ~missing[1:])
        for numbers, missing in parsed
    )
    if has_header:
        names = [str(cell) for cell in frame.iloc[0]]
        frame = frame.iloc[1:].reset_index(drop=True)
    else:
        names = ["series" if frame.shape[1] == 1 else ""] * frame.shape[1]
    frame.columns = _unique_names(names)
    return frame


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


def _parse_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(numbers, missing), both (n,): numbers is float64 with NaN wherever a cell is not a
    number (booleans and dates are not); missing marks empty cells and "NA"-like tokens."""
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
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan), missing


def _mostly(hits: np.ndarray, among: np.ndarray) -> bool:
    """True when `hits` covers at least the share MOST of the cells in `among` (> 0 cells)."""
    total = int(among.sum())
    return total > 0 and int(hits[among].sum()) >= MOST * total


def _numeric_columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Column name -> (n,) float64 values with NaN where missing, for every numeric column
    in table order. Junk cells in a numeric column count as missing."""
    columns = {}
    for name in table.columns:
        numbers, missing = _parse_numbers(table[name])
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
    if allow_years:
        not_date &= ~text.str.fullmatch(r"[12]\d{3}")
    text = text.where(~not_date)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format" is expected for junk
        parsed = pd.to_datetime(text, errors="coerce")
        if parsed.dtype == object:  # mixed UTC offsets
            parsed = pd.to_datetime(text, errors="coerce", utc=True)
        if parsed.isna().sum() > not_date.sum():  # 13/01/2024 failed as month-first: retry
            utc = parsed.dt.tz is not None
            day_first = pd.to_datetime(text, errors="coerce", dayfirst=True, utc=utc)
            parsed = day_first if day_first.notna().sum() > parsed.notna().sum() else parsed
    return pd.DatetimeIndex(parsed).as_unit("ns")


def _holds_dates(cells: pd.Series, allow_years: bool) -> bool:
    """True when most non-empty cells parse as dates (a cheap look at 100 cells first)."""
    filled = cells[~_parse_numbers(cells)[1]]
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


def _pick_column(
    numeric: dict[str, np.ndarray], column: str | int | None, names: list[str], stamps: str | None
) -> str:
    """The value column: `column` by name or by position among the numeric columns
    (negative counts from the end); by default the last numeric column."""
    choices = list(numeric)
    if not choices:
        raise SeriesError(
            f"No column holds numbers (the columns are {_quoted(names)}). "
            "Pass a file with a column of numeric values."
        )
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
    steps, counts = np.unique(np.diff(stamps.asi8), return_counts=True)
    step = int(steps[np.argmax(counts)])
    if counts.max() < MOST * (len(stamps) - 1) or np.any(steps % step):
        return values, stamps, None
    slots = (stamps.asi8[-1] - stamps.asi8[0]) // step + 1
    if slots > len(stamps) / (1 - MAX_MISSING_FRACTION):
        raise SeriesError(
            f"The timestamps step by {pd.Timedelta(step)}, but {slots - len(stamps)} of the "
            f"{slots} steps have no row (over {MAX_MISSING_FRACTION:.0%}). "
            "Fill the missing rows or cut the series."
        )
    grid = pd.date_range(stamps[0], stamps[-1], freq=pd.Timedelta(step))
    values = pd.Series(values, index=stamps).reindex(grid).to_numpy()
    return values, grid, pd.infer_freq(grid) or to_offset(pd.Timedelta(step)).freqstr


def _trim_missing(
    values: np.ndarray, stamps: pd.DatetimeIndex | None
) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
    """Drops leading and trailing missing values (and their timestamps)."""
    present = ~np.isnan(values)
    if not present.any():
        raise SeriesError("The chosen column has no numbers in it; pick another column.")
    first, stop = int(np.argmax(present)), len(values) - int(np.argmax(present[::-1]))
    return values[first:stop], None if stamps is None else stamps[first:stop]


def _validate(values: np.ndarray, min_length: int) -> None:
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
        raise SeriesError(
            f"The series has {len(values)} values after cleaning; at least {min_length} "
            "are needed. Pass a longer series."
        )
    known = values[~np.isnan(values)]
    if np.std(known) <= 1e-12 * np.max(np.abs(known)):
        raise SeriesError(
            f"The series is constant (every value is {known[0]:g}) or varies too little to "
            "measure, so there is nothing to describe or forecast. Pick another column."
        )


def _fill_gaps(
    values: np.ndarray, stamps: pd.DatetimeIndex | None
) -> tuple[np.ndarray, np.ndarray]:
    """(values, interpolated): interior NaN runs of at most max(3, 5% of the length) filled
    by linear interpolation over position; refuses longer runs and > 20% missing."""
    missing = np.isnan(values)
    if missing.sum() > MAX_MISSING_FRACTION * len(values):
        raise SeriesError(
            f"{missing.sum()} of {len(values)} values ({missing.mean():.0%}) are missing; at "
            f"most {MAX_MISSING_FRACTION:.0%} can be filled. Fill them yourself or pick "
            "another column."
        )
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(stops - starts)) if len(starts) else 0
    max_gap = max(3, int(0.05 * len(values)))
    if len(starts) and stops[longest] - starts[longest] > max_gap:
        row = int(starts[longest])
        when = "" if stamps is None else f" ({stamps[row]})"
        raise SeriesError(
            f"The series has a gap of {stops[longest] - row} missing values at row {row + 1}"
            f"{when}; gaps of up to {max_gap} are filled. Fill it or cut the series."
        )
    filled = values.copy()
    positions = np.arange(len(values))
    filled[missing] = np.interp(positions[missing], positions[~missing], values[~missing])
    return filled, missing
