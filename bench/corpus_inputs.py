"""Every real series of the corpus, exported as people export files, through read_series.

    python -m bench.corpus_inputs            # all 241 series x 7 formats (~2 min)
    python -m bench.corpus_inputs --every 8  # a sample

For each series of ../shared/data/corpus the original CSV is read, then re-written the way
a spreadsheet or an API would hand it over (European Excel CSV with ";" and decimal
commas, day-first and US dates, JSON records, an API's {"data": [...]} envelope, a dict of
arrays) and read again: each export must give the original's values, or a refusal in one
sentence (a SeriesError). Prints a count per format and every mismatch or crash.
"""

from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
import pandas as pd

from bench.common import SHARED_DATA
from sadt.series import SeriesError, read_series

CORPUS = SHARED_DATA / "corpus"


def exports(frame: pd.DataFrame) -> dict[str, str]:
    """The file texts a user might upload for one table: {format name: text}."""
    out = {"plain.csv": frame.to_csv(index=False)}
    out["excel_eu.csv"] = "\ufeff" + frame.to_csv(
        index=False, sep=";", decimal=",", lineterminator="\r\n"
    )
    first = frame.columns[0]
    if first == "timestamp":
        stamps = pd.to_datetime(frame[first])
        intraday = bool(stamps.dt.hour.any() or stamps.dt.minute.any())
        dayfirst = frame.copy()
        dayfirst[first] = stamps.dt.strftime("%d/%m/%Y %H:%M" if intraday else "%d/%m/%Y")
        out["dayfirst.csv"] = dayfirst.to_csv(index=False)
        if not intraday:
            us = frame.copy()
            us[first] = stamps.dt.strftime("%m/%d/%Y")
            out["us_dates.csv"] = us.to_csv(index=False)
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    out["records.json"] = json.dumps(records)
    out["api.json"] = json.dumps({"status": "ok", "data": records})
    arrays = {c: [None if v != v else v for v in frame[c].tolist()] for c in frame.columns}
    out["arrays.json"] = json.dumps(arrays)
    return out


def check(file: str) -> dict[str, str]:
    """{format: "ok" | "refused: ..." | "MISMATCH ..." | "CRASH ..."} for one corpus file
    ({"original": "refused: ..."} when the file itself is refused)."""
    try:
        reference = read_series(CORPUS / file, allow_constant=True)
    except SeriesError as err:
        return {"original": f"refused: {err}"}
    outcome = {}
    for name, text in exports(pd.read_csv(CORPUS / file)).items():
        try:
            series = read_series(io.StringIO(text), allow_constant=True)
        except SeriesError as err:
            outcome[name] = f"refused: {err}"
            continue
        except Exception as err:  # noqa: BLE001  (a crash is what this looks for)
            outcome[name] = f"CRASH {type(err).__name__}: {err}"
            continue
        same = len(series) == len(reference) and np.allclose(series.values, reference.values)
        outcome[name] = (
            "ok"
            if same
            else (
                f"MISMATCH {len(series)} vs {len(reference)} values, freq {series.freq} vs "
                f"{reference.freq}"
            )
        )
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="check every k-th series only")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}")
        return 1
    files = pd.read_csv(CORPUS / "MANIFEST.csv")["file"].tolist()[:: args.every]
    start, counts, problems = time.perf_counter(), {}, []
    for file in files:
        for name, result in check(file).items():
            kind = result.split(":")[0].split(" ")[0]
            counts.setdefault(name, {}).setdefault(kind, 0)
            counts[name][kind] += 1
            if kind != "ok":
                problems.append(f"{file} [{name}] {result}")
    print(f"{len(files)} corpus series, {time.perf_counter() - start:.0f} s")
    for name, kinds in counts.items():
        print(f"  {name:14s} " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for line in problems:
        print("  " + line)
    return 1 if any(p for p in problems if "MISMATCH" in p or "CRASH" in p) else 0


if __name__ == "__main__":
    raise SystemExit(main())
