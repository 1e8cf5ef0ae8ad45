"""The app in a real browser: Debian's Chromium driven by Playwright (sync API).

Load the page, upload a CSV, press the button, wait for the plots; the descriptions, the
plot traces, the statistics and the download are on the page, a bad upload shows its
message, the page asks nothing of any other host, and a screenshot is kept in the test's
tmp dir. Browsers cannot be downloaded here: Chromium comes from `apt-get install chromium`
and the test skips when it is absent.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) to run the "
        "browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from test_app import MALFORMED, launch_app  # noqa: E402
from tiny_models import hourly_csv, tiny_pipeline  # noqa: E402

# Headless, and quiet: without the background-networking flags Chromium phones home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000
# A loaded CI machine can take seconds to draw a plot: expect() waits as long as actions.
sync_api.expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-model")
    tiny_pipeline(folder / "build").save_pretrained(folder / "pipeline")
    app = launch_app(folder / "pipeline", tmp_path_factory.mktemp("browser-server"))
    yield app
    app.stop()


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.elsewhere = []  # requests to any host but the app's
        page.errors = []  # uncaught JavaScript errors
        page.on("request", lambda r: _note_elsewhere(page, server.url, r.url))
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        page.goto(server.url)
        yield page
        browser.close()


def _note_elsewhere(page, app_url: str, url: str) -> None:
    if not url.startswith(("data:", "blob:")) and urlparse(url).netloc != urlparse(app_url).netloc:
        page.elsewhere.append(url)


def drawn_pixels(png: Path, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of a screenshot are close to a plot colour: a drawn trace."""
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32)
    return int((np.abs(pixels - np.array(rgb)).sum(axis=-1) < tolerance).sum())


def test_upload_and_forecast_in_a_real_browser(page, tmp_path):
    expect = sync_api.expect
    # The default example is drawn as soon as the page loads.
    expect(page.locator("#summary")).to_contain_text("load_kw: 720 values")
    expect(page.locator("#fan .scatterlayer .trace")).to_have_count(1)

    page.locator("#upload input[type=file]").set_input_files(hourly_csv(tmp_path / "load.csv"))
    expect(page.locator("#column input")).to_have_value("load")
    expect(page.locator("#summary")).to_contain_text("load: 300 values")
    # The horizon in the series' own time, automatic or chosen.
    expect(page.locator("#horizon-time")).to_contain_text("Automatic horizon: 48 steps = 2 days")
    horizon_box = page.locator("#horizon input[type=number]")
    horizon_box.fill("16")
    horizon_box.press("Enter")
    expect(page.locator("#horizon-time")).to_contain_text("16 steps = 16 hours")

    page.locator("#run").click()
    expect(page.locator("#fan .legend")).to_contain_text("chosen path")
    # The tiny test describer is untrained: its words are arbitrary, but both boxes fill.
    expect(page.locator("#forecast-description textarea")).not_to_have_value("")
    expect(page.locator("#description textarea")).not_to_have_value("")
    fan_legend = page.locator("#fan .legend").text_content()
    for name in ("history", "sample paths (16)", "10–90% band", "median", "chosen path"):
        assert name in fan_legend
    assert page.locator("#fan .scatterlayer .trace").count() == 6  # the band's edges are two
    expect(page.locator("#spectrum .legend")).to_contain_text("mean forecast")
    assert page.locator("#spectrum .scatterlayer .trace").count() == 4
    expect(page.locator("#stats")).to_contain_text("Model calls used")
    expect(page.locator("#stats")).to_contain_text("Your wait (s)")
    # The backtest: three windows of 16 steps against seasonal naive.
    expect(page.locator("#backtest .legend")).to_contain_text("seasonal naive")
    expect(page.locator("#backtest-summary")).to_contain_text(
        "Backtest on the last 3 stretches of 16 steps"
    )
    expect(page.locator("#download a")).to_have_attribute(
        "href", re.compile(r"/load-dts-forecast\.csv$")
    )
    with page.expect_download() as download:
        page.locator("#download a").first.click()
    saved = tmp_path / "downloaded.csv"
    download.value.save_as(saved)
    frame = pd.read_csv(saved)
    assert len(frame) == 16 and frame["series"].eq("load").all()

    # The plots are drawn, not just present: their screenshots hold the traces' colours.
    fan_png, backtest_png = tmp_path / "fan.png", tmp_path / "backtest.png"
    page.locator("#fan").screenshot(path=str(fan_png))
    page.locator("#backtest").screenshot(path=str(backtest_png))
    red, blue, dark = (220, 38, 38), (37, 99, 235), (31, 41, 55)  # chosen, median, history
    assert drawn_pixels(fan_png, red) > 100 and drawn_pixels(fan_png, blue) > 100
    assert drawn_pixels(backtest_png, blue) > 100 and drawn_pixels(backtest_png, dark) > 100

    screenshot = tmp_path / "app.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert not page.errors, page.errors
    assert not page.elsewhere, f"the page fetched from other hosts: {page.elsewhere}"


def test_a_refused_value_says_why_on_the_page(page):
    expect = sync_api.expect
    expect(page.locator("#summary")).to_contain_text("load_kw: 720 values")
    seed = page.locator("#seed input")
    seed.fill("-3")
    page.locator("#run").click()
    expect(page.get_by_text(re.compile("seed must be a whole number from 0")).first).to_be_visible()
    assert not page.errors, page.errors


def test_a_new_input_clears_the_previous_results(page, tmp_path):
    expect = sync_api.expect
    expect(page.locator("#summary")).to_contain_text("load_kw: 720 values")
    page.locator("#run").click()
    expect(page.locator("#stats")).to_contain_text("Model calls used")
    expect(page.locator("#forecast-description textarea")).not_to_have_value("")

    # A new file: nothing of the example's run may stay beside it.
    page.locator("#upload input[type=file]").set_input_files(hourly_csv(tmp_path / "load.csv"))
    expect(page.locator("#summary")).to_contain_text("load: 300 values")
    for box in ("#description textarea", "#forecast-description textarea"):
        expect(page.locator(box)).to_have_value("")
    expect(page.locator("#stats")).not_to_contain_text("Model calls used")
    expect(page.locator("#download a")).to_have_count(0)

    page.locator("#run").click()
    expect(page.locator("#stats")).to_contain_text("Model calls used")
    # Back to an example: the upload's results go too.
    page.locator("#example input").click()
    page.get_by_role("option").filter(has_text="Noisy").first.click()
    expect(page.locator("#summary")).not_to_contain_text("load: 300 values")
    expect(page.locator("#stats")).not_to_contain_text("Model calls used")
    expect(page.locator("#description textarea")).to_have_value("")
    assert not page.errors, page.errors


def test_a_bad_upload_shows_its_message_on_the_page(page):
    expect = sync_api.expect
    expect(page.locator("#fan .scatterlayer .trace")).to_have_count(1)
    page.locator("#upload input[type=file]").set_input_files(MALFORMED / "constant.csv")
    expect(page.get_by_text("The series is constant")).to_be_visible()
    # The refused file's summary is not left showing the example that came before it.
    expect(page.locator("#summary")).not_to_contain_text("load_kw")
    page.locator("#run").click()  # the app keeps serving: the same message again
    expect(page.get_by_text("The series is constant").first).to_be_visible()
    assert not page.errors, page.errors
