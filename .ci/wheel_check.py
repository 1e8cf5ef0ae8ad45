"""What a user gets from a wheel, outside the repository: run with the Python of a fresh venv
that installed ``sadt[train]`` from a wheel built by ``pip wheel .`` (see .ci/wheel_check.sh).

Checks: the bundled pipeline loads from the installed package and forecasts; a push to a
local fake Hub (tests/fake_hub.py, the one fake here: the Hub's network side) carries a
model card whose metadata has no unrendered placeholder; the trainers are installed
(``sadt train forecaster --help``). Exits 1 naming the first thing that failed."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def check(ok: bool, what: str) -> None:
    print(f"{'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        sys.exit(1)


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))  # the fake Hub only; sadt comes from the wheel
    from fake_hub import FakeHub

    with FakeHub() as hub:
        os.environ.update(HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0", HF_TOKEN="hf_fake")
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        import numpy as np

        import sadt

        check(REPO not in Path(sadt.__file__).resolve().parents, f"sadt from {sadt.__file__}")
        pipe = sadt.from_pretrained()
        series = 10 + np.sin(np.arange(300) * 2 * np.pi / 24)
        forecast = pipe.forecast(series, horizon=24, method="ancestral", budget=200)
        check(forecast.quantiles.shape == (9, 24), "the bundled pipeline forecasts")
        url = pipe.push_to_hub("tester/sadt-wheel")
        check("sadt-wheel" in url, f"pushed to the fake Hub: {url}")
        card = hub.files("tester/sadt-wheel")["README.md"].decode()
        front = card.split("---")[1]
        check("{{" not in card and "}}" not in card, "the model card has no placeholder")
        check("library_name: mlx" in front and "- sadt" in front, "its metadata")
    with tempfile.TemporaryDirectory() as cwd:  # away from the clone's train/ aliases
        done = subprocess.run(
            ["sadt", "train", "forecaster", "--help"], cwd=cwd, capture_output=True, text=True
        )
        check(done.returncode == 0 and "--resume" in done.stdout, "sadt train forecaster --help")


if __name__ == "__main__":
    main()
