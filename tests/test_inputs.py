"""Inputs people have: real corpus series exported as a spreadsheet or an API hands them
over (bench.corpus_inputs), each read back to the original's values or refused in one
sentence. Reads ../shared/data/corpus in place; skips when it is absent."""

import pandas as pd
import pytest

from bench.corpus_inputs import CORPUS, check

if not (CORPUS / "MANIFEST.csv").is_file():
    pytest.skip(f"no corpus at {CORPUS}", allow_module_level=True)

MANIFEST = pd.read_csv(CORPUS / "MANIFEST.csv")
# One series per source and frequency (every calendar, every exporter), plus the corpus's
# awkward ones: 5-minute data in opening hours, trading days with holidays, an outage.
SAMPLE = sorted(
    set(MANIFEST.groupby(["source_repo", "frequency"]).head(1)["file"])
    | {
        "series/rdatasets__fpp3_bank_calls_5min.csv",
        "series/rdatasets__gafa_stock_AAPL_close.csv",
        "series/nab__realKnownCause_rogue_agent_key_hold.csv",
    }
)


@pytest.mark.parametrize("file", SAMPLE)
def test_every_export_reads_back_or_is_refused_in_one_sentence(file):
    outcome = check(file)
    for name, result in outcome.items():
        if result.startswith("refused: "):
            message = result.removeprefix("refused: ")
            assert "\n" not in message and message.endswith("."), (name, message)
        else:
            assert result == "ok", (file, name, result)
    if "original" not in outcome:
        assert {"plain.csv", "excel_eu.csv", "records.json", "api.json"} <= set(outcome)
        assert all(result == "ok" for result in outcome.values()), outcome
