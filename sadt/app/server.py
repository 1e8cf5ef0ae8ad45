"""The Gradio app: describe a time series and forecast it with a spectrally steered tree search.

Started by `python app.py` at the repository root (the Space's entry point), which sets
the signal handlers and the environment before this module's slow imports.

A thin shell: `sadt.read_series` parses uploads, `sadt.Pipeline` describes and forecasts,
`sadt.plots` draws. Every action is an API endpoint (see "Use via API" in the footer):
/columns, /preview, /describe, /forecast, /describe_forecast. Starting makes no outbound
connection: analytics are off and the bundled model is read from disk.
"""

from __future__ import annotations

import os
import signal
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import sadt  # first: loads the fast BLAS before mlx.core

# isort: split
import argparse
import contextvars
import functools
import html
import queue
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np

from sadt import plots
from sadt.app.examples import DEFAULT_EXAMPLE, example_names, load_example
from sadt.horizon import steps_as_time
from sadt.methods import METHODS
from sadt.pipeline import MAX_BUDGET
from sadt.series import Series, SeriesError, describe_freq, list_columns, read_series
from sadt.spectral import MIN_LENGTH as SPECTRUM_MIN_STEPS

METHOD_LABELS = {name: m.label for name, m in METHODS.items()}
NUM_SAMPLES = 64  # paths drawn per forecast: the quantiles and the paths shown come from these
MAX_BUDGET_SLIDER = 20_000
MAX_HORIZON_SLIDER = 720  # longer horizons: Pipeline.forecast and the CLI take up to 2000
MAX_UPLOAD = "10mb"
BACKTEST_WINDOWS = 3  # default rolling windows of the app's backtest (0 turns it off)
MAX_BACKTEST_WINDOWS = 5
REQUEST_SECONDS = 30  # a search stops here with what it has: no one waits minutes behind it
FAIR_SECONDS = 2.0  # ...and after this long when other requests are queued for the model
QUEUE_SIZE = 64  # requests waiting beyond this are turned away with "queue is full"
FILE_TYPES = [".csv", ".tsv", ".txt", ".json"]
WROTE_NOTHING = "(The describer wrote nothing here: an untrained or very small model can.)"
NO_DESCRIBER = "(This model has no describer: load a pipeline with a tslm/ part to get one.)"
INTRO = """# sadt — describe and forecast a time series
Upload a CSV, TSV or JSON file (or pick an example), then press **Describe & forecast**.
A diffusion model proposes forecast paths; a tree search steers them toward paths whose
**spectrum** looks like the history's (the spectral reward, no future data involved).
The fan chart shows the paths, the 10–90% band, the median and the path the search chose;
the spectrum plot shows what the reward compares — and how averaging paths erases texture."""


class ModelThread:
    """Runs every MLX call on one long-lived thread, one call at a time.

    MLX keeps streams per thread and a process aborts at exit unless each thread that used
    MLX calls `mx.clear_streams()` first; gradio runs handlers on a pool of threads, so the
    model work is funnelled through this one. Gradio's request context (progress bars)
    travels with each call.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sadt-model")

    def run(self, fn: Callable, *args, **kwargs):
        context = contextvars.copy_context()
        return self._pool.submit(context.run, fn, *args, **kwargs).result()

    def stream(self, make_pieces: Callable[..., Iterator], *args) -> Iterator:
        """Iterates `make_pieces(*args)` on the model thread, handing each piece over."""
        pieces: queue.Queue = queue.Queue()
        end = object()

        def pump() -> None:
            try:
                for piece in make_pieces(*args):
                    pieces.put(piece)
            except BaseException as err:  # re-raised on the caller's side
                pieces.put(err)
            pieces.put(end)

        self._pool.submit(contextvars.copy_context().run, pump)
        while (item := pieces.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        import mlx.core as mx

        self._pool.submit(mx.clear_streams).result()
        self._pool.shutdown()


class ForecastFiles:
    """The CSV downloads: one fresh folder per forecast under one app folder, pruned after
    an hour (gradio serves its own copy; nothing here is a user's path)."""

    def __init__(self, keep_seconds: float = 3600) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sadt-app-"))
        self.keep_seconds = keep_seconds

    def write(self, forecast, history: bool = False) -> tuple[str, str]:
        """(forecast CSV, sample paths CSV), named after the series and the method."""
        for old in self.root.iterdir():
            if time.time() - old.stat().st_mtime > self.keep_seconds:
                shutil.rmtree(old, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(dir=self.root))
        stem = f"{file_stem(forecast.history.name)}-{forecast.method}"
        table, paths = folder / f"{stem}-forecast.csv", folder / f"{stem}-paths.csv"
        forecast.to_csv(table, history=history)
        forecast.paths_to_csv(paths)
        return str(table), str(paths)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def file_stem(name: str) -> str:
    """A series name as a safe file name part: "Load (kW)" -> "load-kw"."""
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return stem or "series"


class StopRequests:
    """The Stop button's flags, per browser session: the search in progress reads its own
    through its progress callback and ends early with what it has found."""

    def __init__(self) -> None:
        self._asked: set[str] = set()

    def ask(self, request: gr.Request | None) -> None:
        if request is not None and request.session_hash:
            self._asked.add(request.session_hash)

    def clear(self, request: gr.Request | None) -> None:
        if request is not None:
            self._asked.discard(request.session_hash)

    def asked(self, request: gr.Request | None) -> bool:
        return request is not None and request.session_hash in self._asked


def reporter(progress, stops: StopRequests, request, waiting: Callable[[], int]) -> Callable:
    """A search's progress callback: the bar, an estimate of the time left, and whether to
    stop: the user pressed Stop, or others have waited `FAIR_SECONDS` for the model (one
    long search must not hold everyone behind it)."""
    started = time.perf_counter()

    def report(fraction: float, text: str) -> bool | str:
        elapsed = time.perf_counter() - started
        left = ""
        if 0.05 < fraction < 1 and elapsed > 1:
            left = f", about {elapsed / fraction * (1 - fraction):.0f} s left"
        progress(fraction, desc=f"{text}{left}")
        if stops.asked(request):
            return True
        queued = waiting() if elapsed > FAIR_SECONDS else 0
        if queued:
            return f"to let {queued} waiting request(s) run ({FAIR_SECONDS:g} s in)"
        return False

    return report


def user_error(message: str) -> gr.Error:
    """The one message a user sees for their mistake (no traceback in the server log)."""
    return gr.Error(message, print_exception=False)


def quiet_checks(component):
    """For an input component: a value Gradio itself refuses (out of a slider's range, not
    among a dropdown's choices; only a client can send one) is a user's mistake, so it gets
    Gradio's own message without a traceback in the server log. Wraps the instance's
    preprocess: a Component subclass would make Gradio write a .pyi stub beside app.py."""
    check = component.preprocess

    def preprocess(payload):
        try:
            return check(payload)
        except gr.Error as err:
            raise user_error(err.message) from None

    component.preprocess = preprocess
    return component


@contextmanager
def user_errors():
    """A user's mistake (bad file, bad parameter) becomes one clear message in the UI."""
    try:
        yield
    except (SeriesError, ValueError) as err:
        raise user_error(str(err)) from None


def whole(value, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high], or a clear message (API calls can send anything)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise user_error(f"The {name} box is empty: enter a whole number from {low} to {high}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (number.is_integer() and low <= number <= high):
        raise user_error(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def number(value, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise user_error(f"The {name} box is empty: enter a number.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise user_error(f"{name} must be a number, got {value!r}") from None


def load_series(file: str | None, example: str | None, column: str | None) -> Series:
    """The uploaded file (which wins) or the chosen example, as a validated Series."""
    with user_errors():
        if file:
            return _cached(read_series, file, column=column or None)
        if example:
            return load_example(example)
    raise user_error("Upload a CSV, TSV or JSON file, or pick an example series.")


def _cached(reader: Callable, file: str, **options):
    """``reader(open file, **options)``, parsed once per upload, refusals included: a
    100k-point file took ~3 s to parse, and one button press reads it three times."""
    stat = os.stat(file)
    outcome = _read_upload(reader, file, stat.st_mtime_ns, stat.st_size, tuple(options.items()))
    if isinstance(outcome, SeriesError):
        raise SeriesError(str(outcome))  # a fresh one: the cached one keeps no traceback
    return outcome


@functools.lru_cache(maxsize=32)
def _read_upload(reader, file: str, mtime_ns: int, size: int, options: tuple):
    """Keyed by the upload's path, time and size; a SeriesError is returned, not raised,
    so that it is cached too."""
    # A file object, not the path: no message can show where the upload is stored.
    with open(file, "rb") as handle:
        try:
            return reader(handle, **dict(options))
        except SeriesError as err:
            return err


def series_summary(series: Series) -> str:
    parts = [f"**{series.name}**: {len(series)} values"]
    if series.timestamps is not None:
        first, last = series.timestamps[0], series.timestamps[-1]
        every = describe_freq(series.freq)
        parts.append(f"from {first} to {last}" + (f" (every {every})" if every else ""))
    else:
        parts.append("no timestamps (steps are numbered)")
    if series.filled:
        parts.append(f"{series.filled} missing values filled by interpolation")
    if series.dropped:
        parts.append(
            f"the {series.dropped} rows before a gap too long to fill were left out "
            "(the forecast starts from the data after it)"
        )
    return ", ".join(parts) + "."


def search_summary(forecast, budget: int) -> dict:
    """The numbers a user reads next to the plots (rounded for display)."""
    stats = forecast.stats
    summary = {
        "method": METHOD_LABELS.get(forecast.method, forecast.method),
        "NFE used": int(forecast.nfe),
        "NFE budget": int(budget),
    }
    if "tree_formed" in stats:  # what the tree search did, in one consistent story
        rollouts, waves = int(stats["traversals"]), float(stats["waves"])
        if stats["tree_formed"]:
            summary["search tree"] = (
                f"formed: {rollouts} rollouts in {waves:.1f} waves of {stats['in_flight']}"
            )
            summary |= {
                "tree size (nodes)": int(stats["tree_size"]),
                "tree depth": int(stats["depth"]),
                "leaves": int(stats["leaves"]),
            }
        else:
            summary["search tree"] = (
                f"not formed: all {rollouts} rollouts ran in one wave, before any finished"
            )
        summary["waves"] = shown(waves, 2)
        summary["effective sample size"] = shown(stats["effective_samples"], 1)
    elif "final_ess" in stats:
        summary["effective sample size"] = shown(stats["final_ess"], 1)
    for key, label in (("particles", "particles"), ("resamples", "resamples")):
        if key in stats:
            summary[label] = int(stats[key])
    if stats.get("steps_from_x0"):  # a node's later children reuse its denoiser output
        summary["steps drawn without NFE"] = int(stats["steps_from_x0"])
    if forecast.horizon >= SPECTRUM_MIN_STEPS:
        summary["reward (chosen path)"] = shown(forecast.reward)
        summary["reward (mean of samples)"] = shown(np.mean(forecast.rewards))
    else:  # the reward stepped aside: a 0 here would read as a perfect match
        summary["reward (chosen path)"] = f"not used: a spectrum needs {SPECTRUM_MIN_STEPS} steps"
    summary["distinct paths"] = int(len(np.unique(forecast.samples, axis=0)))
    for key, label in (
        ("spec_w1_chosen", "Spec-W1 (chosen path)"),
        ("spec_w1", "Spec-W1 (mean over samples)"),
        ("spec_w1_mean_forecast", "Spec-W1 (mean forecast)"),
    ):
        if key in stats:
            summary[label] = shown(stats[key])
    summary["search time (s)"] = shown(forecast.wall_time, 3)
    note = search_note(forecast, budget)
    if note:
        summary["note"] = note
    warnings = [stats[k] for k in ("stopped", "collapsed", "longer_than_history") if k in stats]
    if warnings:  # what makes the fan misleading comes first
        summary = {"warning": " ".join(w[0].upper() + w[1:] + "." for w in warnings), **summary}
    return summary


# Statistics in plain words: (label, what it means), shown with the value on hover.
GLOSSARY = {
    "warning": ("Warning", "Something that makes the fan chart misleading."),
    "method": ("Method", "How the forecast paths were drawn and which one was chosen."),
    "NFE used": (
        "Model calls used",
        "Denoiser evaluations (NFE) the search spent; one path costs one call per step.",
    ),
    "NFE budget": ("Model call budget", "The most model calls the search may spend."),
    "search tree": (
        "Search tree",
        "Whether later rollouts started from what earlier ones found (several waves), or "
        "all ran at once (one wave: then the search re-weights independent samples).",
    ),
    "waves": ("Waves of rollouts", "Rollouts run over in-flight batches of them."),
    "effective sample size": (
        "Effective sample size",
        "How many equally likely paths the output is worth; far below the paths drawn "
        "means a few paths dominate.",
    ),
    "tree size (nodes)": ("Search tree size", "Partial forecasts the tree search kept."),
    "tree depth": ("Tree depth", "Denoising steps from pure noise to a finished path."),
    "leaves": ("Finished paths in the tree", "Complete forecast paths the tree holds."),
    "particles": ("Paths carried", "Forecast paths drawn side by side."),
    "resamples": (
        "Resampling rounds",
        "Times weak paths were dropped and strong ones copied.",
    ),
    "steps drawn without NFE": (
        "Steps reused",
        "Denoising steps taken from an earlier model call instead of a new one.",
    ),
    "reward (chosen path)": (
        "Spectral match, chosen path",
        "The spectral reward: how close a path's spectrum is to the history's "
        "(0 is a perfect match; more negative is further).",
    ),
    "reward (mean of samples)": (
        "Spectral match, average path",
        "The spectral reward averaged over the sample paths.",
    ),
    "distinct paths": (
        "Different paths",
        "How many of the sample paths differ; few means the band is too narrow.",
    ),
    "Spec-W1 (chosen path)": (
        "Spectrum distance, chosen path",
        "Distance between the shapes of the path's and the history's spectra "
        "(Wasserstein-1; 0 is the same shape).",
    ),
    "Spec-W1 (mean over samples)": (
        "Spectrum distance, paths",
        "The same distance, averaged over the sample paths.",
    ),
    "Spec-W1 (mean forecast)": (
        "Spectrum distance, mean forecast",
        "The same for the average of the paths (averaging smooths the texture away).",
    ),
    "search time (s)": ("Search time (s)", "Seconds the model and the search ran."),
    "your wait (s)": (
        "Your wait (s)",
        "Seconds from the request to the results: reading the file, the search, the plots "
        "and the CSV.",
    ),
    "note": ("Note", "Why this result may equal another method's."),
    "budget note": ("Budget", "How the budget you set was adjusted, and why."),
}


def stats_html(summary: dict) -> str:
    """The statistics as a small table in plain words; the explanation shows on hover."""
    rows = []
    for key, value in summary.items():
        label, meaning = GLOSSARY.get(key, (key, ""))
        color = "color:#b45309;font-weight:600;" if key == "warning" else ""
        rows.append(
            f'<tr title="{html.escape(meaning)}" style="cursor:help;{color}">'
            f'<th style="text-align:left;font-weight:500;padding:2px 10px 2px 0">'
            f"{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"
        )
    return f'<table class="sadt-stats" style="width:100%">{"".join(rows)}</table>'


def shown(value, digits: int = 4) -> float:
    """A number rounded for display (never "-0.0")."""
    return round(float(value), digits) + 0.0


def search_note(forecast, budget: int) -> str | None:
    """Why this result may equal another method's, in a sentence (or None)."""
    stats = forecast.stats
    if "in_flight" in stats and stats["traversals"] <= stats["in_flight"]:
        return (
            f"All {stats['traversals']} rollouts ran at once, so no tree formed: the paths "
            "are re-weighted by exp(λ·reward), as Best-of-N does (S-ADT's value network is "
            "not used). At the default budget this measured as accurate as a tree, at half "
            "the time; raise the budget for a tree search."
        )
    if forecast.method in ("smc", "sadt_smc") and stats.get("resamples") == 0:
        return (
            "SMC never resampled (its weights stayed even), so its paths are ancestral samples "
            "weighted by reward and its chosen path is Best-of-N's. Raise γ or λ to steer harder."
        )
    if forecast.method == "ancestral" and forecast.nfe < budget:
        return (
            f"Ancestral sampling draws only the {len(forecast.samples)} paths it returns; "
            "the rest of the budget is not used."
        )
    return None


def build_app(pipe, worker: ModelThread | None = None, files: ForecastFiles | None = None):
    """The Blocks app over `pipe` (a `sadt.Pipeline`)."""
    worker = worker or ModelThread()
    files = files or ForecastFiles()
    stops = StopRequests()

    def model_queue() -> int:
        """Requests waiting for the model behind the one running (Gradio's queue for the
        "model" concurrency group; 0 where this Gradio keeps it elsewhere)."""
        try:
            return len(demo._queue.event_queue_per_concurrency_id["model"].queue)
        except (AttributeError, KeyError, NameError):
            return 0

    steps = pipe.forecaster.config.num_steps
    context_length = pipe.forecaster.config.context_length
    methods = [(METHOD_LABELS[m], m) for m in METHOD_LABELS if m in pipe.methods]
    methods += [(m, m) for m in pipe.methods if m not in METHOD_LABELS]

    def columns(file):
        """The numeric columns of an uploaded file; the last one is picked."""
        if not file:
            return gr.Dropdown(choices=[], value=None)
        with user_errors():
            names = _cached(list_columns, file)
        if not names:
            raise user_error(
                "No column holds numbers. Pass a file with a column of numeric values."
            )
        return gr.Dropdown(choices=names, value=names[-1])

    def preview(file, example, column):
        """The series before any forecast: a chart and a one-line summary."""
        series = load_series(file, example, column)
        return plots.series_chart(series), series_summary(series)

    def stream_words(stream, subject):
        """The describer's text about `subject` (a series or a forecast), streamed: the
        growing text at each step."""
        if pipe.tslm is None:
            yield NO_DESCRIBER
            return
        text = ""
        with user_errors():
            for piece in worker.stream(stream, subject):
                text += piece
                yield text
        yield text.strip() or WROTE_NOTHING

    def describe_series(series: Series):
        """The description of `series`, streamed."""
        yield from stream_words(pipe.stream_describe, series)

    def describe(file, example, column):
        """The describer's text about the series, streamed as it is written."""
        yield from describe_series(load_series(file, example, column))

    def forecast(
        file,
        example,
        column,
        horizon,
        method,
        budget,
        gamma,
        low,
        mid,
        high,
        lam,
        paths,
        seed,
        with_history=False,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008  (gradio's way of asking for a progress bar)
    ):
        """Forecast with the chosen search; returns the fan chart, the spectra, the search
        statistics (a table in plain words, and the same as JSON), the forecast CSV (with
        the history when asked), the sample paths CSV and, for /describe_forecast, the
        history followed by the chosen path."""
        started = time.perf_counter()
        series = load_series(file, example, column)
        horizon, budget, budget_note = horizon_and_budget(series, horizon, budget)
        paths = whole(paths, "paths to show", 0, NUM_SAMPLES)
        settings = search_settings(method, gamma, low, mid, high, lam, seed)
        progress(0, desc="searching")
        stops.clear(request)
        with user_errors():
            result = worker.run(
                pipe.forecast,
                series,
                horizon=horizon,
                budget=budget,
                progress=reporter(progress, stops, request, model_queue),
                time_limit=REQUEST_SECONDS,
                **settings,
            )
        context = series.values[-context_length:]
        fan_chart = plots.fan_chart(result, paths)
        spectra = plots.spectrum_chart(result, context, paths, settings["band_weights"])
        table, sample_paths = files.write(result, history=bool(with_history))
        summary = search_summary(result, budget)
        if budget_note:
            summary["budget note"] = budget_note
        summary["your wait (s)"] = shown(time.perf_counter() - started, 3)
        return (
            fan_chart,
            spectra,
            stats_html(summary),
            summary,
            table,
            sample_paths,
            result,
        )

    def horizon_and_budget(series: Series, horizon, budget) -> tuple[int, int, str | None]:
        """The horizon (0: the series' default), the whole budget (the slider's is per
        block of the model's native horizon, and each block needs its own calls) and, when
        that had to be capped at the pipeline's maximum, a sentence saying so."""
        per_block = whole(budget, "budget", steps, MAX_BUDGET_SLIDER)
        horizon = whole(horizon, "horizon", 0, MAX_HORIZON_SLIDER) or pipe.default_horizon(series)
        blocks = pipe.blocks(horizon)
        if per_block * blocks <= MAX_BUDGET:
            return horizon, per_block * blocks, None
        note = (
            f"{per_block} NFE per block x {blocks} blocks of {pipe.native_horizon} steps "
            f"would be {per_block * blocks}; capped at {MAX_BUDGET}, the most one forecast "
            "may use"
        )
        return horizon, MAX_BUDGET, note

    def search_settings(method, gamma, low, mid, high, lam, seed) -> dict:
        """The search knobs a forecast and its backtest share, each checked."""
        return {
            "method": method,
            "gamma": number(gamma, "gamma"),
            "band_weights": tuple(number(w, "band weight") for w in (low, mid, high)),
            "lam": number(lam, "lambda"),
            "num_samples": NUM_SAMPLES,
            "seed": whole(seed, "seed", 0, 2**32 - 1),
        }

    def backtest(
        file,
        example,
        column,
        horizon,
        method,
        budget,
        gamma,
        low,
        mid,
        high,
        lam,
        seed,
        windows,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008
    ):
        """Forecast the last `windows` horizons from the history before each, with the same
        settings: the overlay chart and the figures against seasonal naive."""
        series = load_series(file, example, column)
        windows = whole(windows, "backtest windows", 0, MAX_BACKTEST_WINDOWS)
        if windows == 0:
            return None, "Backtest off (set the backtest windows above 0 to see one)."
        horizon, budget, _ = horizon_and_budget(series, horizon, budget)
        settings = search_settings(method, gamma, low, mid, high, lam, seed)
        progress(0, desc="backtest")
        if stops.asked(request):
            return None, "Backtest skipped: the forecast was stopped."
        try:
            result = worker.run(
                pipe.backtest,
                series,
                horizon,
                windows,
                budget=budget,
                progress=reporter(progress, stops, request, model_queue),
                time_limit=REQUEST_SECONDS / windows,
                **settings,
            )
        except (SeriesError, ValueError) as err:  # e.g. too short: say so, keep the forecast
            return None, f"No backtest: {err}."
        return plots.backtest_chart(result), result.summary()

    def horizon_note(file, example, column, horizon) -> str:
        """The horizon in the series' own time ("48 steps = 2 days")."""
        try:
            series = load_series(file, example, column)
        except gr.Error:
            return ""
        chosen = whole(horizon, "horizon", 0, MAX_HORIZON_SLIDER)
        steps_ = chosen or pipe.default_horizon(series)
        text = steps_as_time(steps_, series.freq)
        if not chosen:
            return f"Automatic horizon: {text}."
        if steps_ > len(series):
            return f"{text}: longer than the history ({len(series)} values)."
        return f"{text}."

    def describe_forecast(forecast):
        """The describer's text about the forecast: what it says relative to the history."""
        if forecast is None:
            raise user_error("Make a forecast first: this describes the forecast.")
        yield from stream_words(pipe.stream_describe_forecast, forecast)

    with gr.Blocks(
        title="sadt: describe and forecast time series", delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown(INTRO)
        last_forecast = gr.State(None, time_to_live=3600)  # freed an hour after a forecast
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                file = gr.File(
                    label="Series file (CSV, TSV or JSON, up to 10 MB)",
                    file_types=FILE_TYPES,
                    elem_id="upload",
                )
                example = gr.Dropdown(
                    example_names(),
                    value=DEFAULT_EXAMPLE,
                    label="…or an example series",
                    info="Used when no file is uploaded.",
                    elem_id="example",
                )
                column = gr.Dropdown(
                    [],
                    value=None,
                    label="Value column",
                    elem_id="column",
                    info="Filled from the file; empty means the last numeric column.",
                    allow_custom_value=True,
                )
                horizon = gr.Slider(
                    0,
                    MAX_HORIZON_SLIDER,
                    value=0,
                    step=1,
                    label="Horizon (steps; 0 = automatic)",
                    info="Automatic: by the series' frequency (48 for hourly, 18 for monthly "
                    f"data, ...), never longer than the history. Up to {MAX_HORIZON_SLIDER} "
                    "steps here; Python and the CLI take up to 2000.",
                    elem_id="horizon",
                )
                horizon_time = gr.Markdown(elem_id="horizon-time")
                method = gr.Dropdown(
                    methods,
                    value="dts",
                    label="Method",
                    info="DTS: a fan of steered paths. DTS*: the one best path, fewest calls.",
                )
                budget = gr.Slider(
                    steps,
                    MAX_BUDGET_SLIDER,
                    value=max(1000, steps),
                    step=1,
                    label="Search budget (NFE per block of the model's horizon)",
                    info=f"Denoiser calls; one path costs {steps}.",
                )
                windows = gr.Slider(
                    0,
                    MAX_BACKTEST_WINDOWS,
                    value=BACKTEST_WINDOWS,
                    step=1,
                    label="Backtest windows",
                    info="Forecast the last few horizons from the history before each, to see "
                    "how the model would have done (0: no backtest).",
                    elem_id="windows",
                )
                with gr.Accordion("Spectral reward", open=False):
                    gamma = gr.Slider(
                        0, 10, value=1.0, step=0.1, label="γ (reward weight)", info="0: no steering"
                    )
                    with gr.Row():
                        low = gr.Slider(0, 5, value=1.0, step=0.1, label="low band")
                        mid = gr.Slider(0, 5, value=1.0, step=0.1, label="mid band")
                        high = gr.Slider(0, 5, value=1.0, step=0.1, label="high band")
                    lam = gr.Slider(
                        0.1,
                        50,
                        value=1.0,
                        step=0.1,
                        label="λ (inverse temperature)",
                        info="Higher: sharper preference for high-reward paths.",
                    )
                paths = gr.Slider(0, NUM_SAMPLES, value=16, step=1, label="Sample paths to show")
                # No `minimum`: whole() checks the range and names the field in its message.
                seed = gr.Number(0, precision=0, label="Seed", elem_id="seed")
                with gr.Row():
                    run = gr.Button(
                        "Describe & forecast", variant="primary", elem_id="run", scale=3
                    )
                    stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
            with gr.Column(scale=3):
                summary = gr.Markdown(label="Series summary", elem_id="summary")
                with gr.Row():
                    description = gr.Textbox(
                        label="Description of the series",
                        lines=5,
                        max_lines=12,
                        elem_id="description",
                    )
                    forecast_description = gr.Textbox(
                        label="Description of the forecast",
                        lines=5,
                        max_lines=12,
                        elem_id="forecast-description",
                    )
                fan = gr.Plot(label="Forecast", elem_id="fan")
                with gr.Row():
                    spectrum = gr.Plot(label="Spectra", scale=3, elem_id="spectrum")
                    with gr.Column(scale=2):
                        stats = gr.HTML(label="Search statistics", elem_id="stats")
                        with gr.Accordion("Statistics as JSON", open=False):
                            stats_json = gr.JSON(label="Search statistics", elem_id="stats-json")
                backtest_text = gr.Markdown(elem_id="backtest-summary")
                backtest_plot = gr.Plot(label="Backtest", elem_id="backtest")
                with gr.Row():
                    download = gr.File(label="Forecast CSV", interactive=False, elem_id="download")
                    paths_download = gr.File(
                        label="Sample paths CSV (long format)",
                        interactive=False,
                        elem_id="paths-download",
                    )
                with_history = gr.Checkbox(
                    False, label="Put the history in the forecast CSV", elem_id="with-history"
                )

        source = [file, example, column]
        settings = [horizon, method, budget, gamma, low, mid, high, lam, paths, seed]
        forecast_inputs = source + settings + [with_history]
        backtest_inputs = source + [horizon, method, budget, gamma, low, mid, high, lam, seed]
        backtest_inputs += [windows]
        for component in [*forecast_inputs, windows]:
            quiet_checks(component)
        model_work = {"concurrency_id": "model", "concurrency_limit": 1}
        light_work = {"concurrency_id": "files", "concurrency_limit": 4}
        private = {"api_visibility": "private"}
        instant = {"api_visibility": "private", "queue": False}  # clearing outputs: no queue
        # What a run produced: cleared whenever the input changes or a new run starts, so no
        # output ever shows a previous series' results next to the current one.
        results = [description, forecast_description, spectrum, stats, stats_json, download]
        results += [paths_download, backtest_plot, backtest_text, last_forecast]
        no_results = (None,) * len(results)
        no_series = (None, "")  # fan (the preview chart) and summary

        def no_columns():  # built at event time: a component made here would be rendered
            return gr.Dropdown(choices=[], value=None)

        # A run: describe, forecast, describe the forecast. A new input cancels a run still in
        # progress, so no stream goes on writing beside the next series.
        described = run.click(lambda: no_results, None, results, **instant).then(
            describe, source, description, api_name="describe", **model_work
        )
        forecasted = described.success(
            forecast,
            forecast_inputs,
            [fan, spectrum, stats, stats_json, download, paths_download, last_forecast],
            api_name="forecast",
            **model_work,
        )
        backtested = forecasted.success(
            backtest,
            backtest_inputs,
            [backtest_plot, backtest_text],
            api_name="backtest",
            **model_work,
        )
        forecast_described = backtested.success(
            describe_forecast,
            last_forecast,
            forecast_description,
            api_name="describe_forecast",
            **model_work,
        )
        running = [described, forecasted, backtested, forecast_described]

        # Stop: the search in progress ends with what it has (shown, labelled as stopped)
        # and the backtest is skipped, so the model is free for the next request at once.
        def ask_stop(request: gr.Request):
            """Ask this session's search in progress to stop with what it has."""
            stops.ask(request)

        stop.click(ask_stop, None, None, api_name="stop", queue=False)
        horizon_inputs = [*source, horizon]
        horizon.change(
            horizon_note, horizon_inputs, horizon_time, api_name="horizon_note", **light_work
        )
        column.input(lambda: no_results, None, results, cancels=running, **instant).then(
            preview, source, [fan, summary], api_name="preview", **light_work
        ).then(horizon_note, horizon_inputs, horizon_time, **light_work, **private)
        # Upload: the file replaces the example; its columns fill the picker; show it.
        file.upload(
            lambda: (None, *no_series, *no_results),
            None,
            [example, fan, summary, *results],
            api_name="_upload",
            cancels=running,
            **instant,
        ).then(columns, file, column, api_name="columns", **light_work).success(
            preview, source, [fan, summary], api_name="_preview_upload", **light_work, **private
        ).then(horizon_note, horizon_inputs, horizon_time, **light_work, **private)
        file.clear(
            lambda: (no_columns(), *no_series, *no_results),
            None,
            [column, fan, summary, *results],
            cancels=running,
            **instant,
        )
        example.input(
            lambda: (None, no_columns(), *no_series, *no_results),
            None,
            [file, column, fan, summary, *results],
            api_name="_example",
            cancels=running,
            **instant,
        ).then(
            preview, source, [fan, summary], api_name="_preview_example", **light_work, **private
        ).then(horizon_note, horizon_inputs, horizon_time, **light_work, **private)
        demo.load(
            preview, source, [fan, summary], api_name="_preview_load", **light_work, **private
        ).then(horizon_note, horizon_inputs, horizon_time, **light_work, **private)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default=os.environ.get("SADT_MODEL") or None,
        help="Hub id or pipeline folder (default: $SADT_MODEL, else the bundled sadt-tiny)",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)"
    )
    return parser.parse_args(argv)


def stop_on_signal(signum, frame) -> None:
    raise KeyboardInterrupt  # gradio's launch() closes the server on it and returns


def main(argv: list[str] | None = None) -> int:
    """Load the model and serve until Ctrl-C or SIGTERM, which stop it cleanly (exit 0)
    at any moment, the model still loading included."""
    args = parse_args(argv)
    # Containers (and Spaces) stop with SIGTERM: shut down as cleanly as on Ctrl-C.
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    worker, files = ModelThread(), None
    try:
        try:
            pipe = worker.run(sadt.from_pretrained, args.model)
        except (ValueError, OSError) as err:
            hint = "" if args.model else " Start the app with --model REPO_OR_PATH (or SADT_MODEL)."
            print(f"sadt app: cannot load the model: {err}.{hint}", file=sys.stderr)
            return 2
        files = ForecastFiles()
        demo = build_app(pipe, worker, files)
        demo.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            max_file_size=MAX_UPLOAD,
            theme=gr.themes.Default(primary_hue="blue"),  # fonts bundled: nothing from a CDN
        )
    except OSError as err:  # e.g. the port is taken
        print(f"sadt app: cannot start the server: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # stopped before the server ran (launch handles it after)
        print("sadt app: stopped.", file=sys.stderr)
    finally:
        worker.close()
        if files is not None:
            files.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
