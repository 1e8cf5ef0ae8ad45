"""sadt app: describe a time series and forecast it with a spectrally steered tree search.

    python app.py                          # the bundled default model (sadt/assets/sadt-tiny)
    python app.py --model user/sadt-model  # a Hub id or a local pipeline folder (or SADT_MODEL)
    python app.py --host 0.0.0.0 --port 7860   # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

A thin shell: `sadt.read_series` parses uploads, `sadt.Pipeline` describes and forecasts,
`sadt.plots` draws. Every action is an API endpoint (see "Use via API" in the footer):
/columns, /preview, /describe, /forecast, /describe_forecast. Starting makes no outbound
connection: analytics are off and the bundled model is read from disk.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import sadt  # first: loads the fast BLAS before mlx.core

# isort: split
import argparse
import contextvars
import functools
import queue
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import numpy as np

from sadt import plots
from sadt.app_examples import DEFAULT_EXAMPLE, example_names, load_example
from sadt.search.methods import METHODS
from sadt.series import Series, SeriesError, describe_freq, list_columns, read_series

METHOD_LABELS = {name: m.label for name, m in METHODS.items()}
NUM_SAMPLES = 64  # paths drawn per forecast: the quantiles and the paths shown come from these
MAX_BUDGET_SLIDER = 20_000
MAX_HORIZON_SLIDER = 720  # longer horizons: Pipeline.forecast and the CLI take up to 2000
MAX_UPLOAD = "10mb"
QUEUE_SIZE = 64  # requests waiting beyond this are turned away with "queue is full"
FILE_TYPES = [".csv", ".tsv", ".txt", ".json"]
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

    def write(self, forecast) -> str:
        for old in self.root.iterdir():
            if time.time() - old.stat().st_mtime > self.keep_seconds:
                shutil.rmtree(old, ignore_errors=True)
        path = Path(tempfile.mkdtemp(dir=self.root)) / "sadt-forecast.csv"
        forecast.to_dataframe().to_csv(path, index=False)
        return str(path)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


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
    return ", ".join(parts) + "."


def search_summary(forecast, budget: int) -> dict:
    """The numbers a user reads next to the plots (rounded for display)."""
    stats = forecast.stats
    summary = {
        "method": METHOD_LABELS.get(forecast.method, forecast.method),
        "NFE used": int(forecast.nfe),
        "NFE budget": int(budget),
    }
    if "tree_size" in stats:
        summary |= {
            "tree size (nodes)": int(stats["tree_size"]),
            "tree depth": int(stats["depth"]),
            "leaves": int(stats["leaves"]),
        }
    for key, label in (("particles", "particles"), ("resamples", "resamples")):
        if key in stats:
            summary[label] = int(stats[key])
    if stats.get("steps_from_x0"):  # a node's later children reuse its denoiser output
        summary["steps drawn without NFE"] = int(stats["steps_from_x0"])
    summary |= {
        "reward (chosen path)": shown(forecast.reward),
        "reward (mean of samples)": shown(np.mean(forecast.rewards)),
        "distinct paths": int(len(np.unique(forecast.samples, axis=0))),
    }
    for key, label in (
        ("spec_w1_chosen", "Spec-W1 (chosen path)"),
        ("spec_w1", "Spec-W1 (mean over samples)"),
        ("spec_w1_mean_forecast", "Spec-W1 (mean forecast)"),
    ):
        if key in stats:
            summary[label] = shown(stats[key])
    summary["wall time (s)"] = shown(forecast.wall_time, 3)
    note = search_note(forecast, budget)
    if note:
        summary["note"] = note
    if "collapsed" in stats:  # the fan's band understates the uncertainty: say it first
        summary = {"warning": stats["collapsed"], **summary}
    return summary


def shown(value, digits: int = 4) -> float:
    """A number rounded for display (never "-0.0")."""
    return round(float(value), digits) + 0.0


def search_note(forecast, budget: int) -> str | None:
    """Why this result may equal another method's, in a sentence (or None)."""
    stats = forecast.stats
    if "in_flight" in stats and stats["traversals"] <= stats["in_flight"]:
        return (
            f"All {stats['traversals']} rollouts ran at once, before any finished, so no tree "
            "formed: this equals exp(λ·reward)-resampling of those paths (S-ADT's value network "
            "is not used). Raise the budget for a tree search."
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


def with_forecast(forecast) -> Series:
    """History followed by the chosen path: what the second description reads."""
    history = forecast.history
    stamps = None
    if history.timestamps is not None and forecast.timestamps is not None:
        stamps = history.timestamps.append(forecast.timestamps)
    values = np.concatenate([history.values, forecast.chosen])
    return Series(values, stamps, history.freq, f"{history.name} + forecast")


def build_app(pipe, worker: ModelThread | None = None, files: ForecastFiles | None = None):
    """The Blocks app over `pipe` (a `sadt.Pipeline`)."""
    worker = worker or ModelThread()
    files = files or ForecastFiles()
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

    def describe_series(series: Series):
        """The description of `series`, streamed (the growing text at each step)."""
        if pipe.tslm is None:
            yield NO_DESCRIBER
            return
        text = ""
        with user_errors():
            for piece in worker.stream(pipe.stream_describe, series):
                text += piece
                yield text
        yield text.strip()

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
        progress=gr.Progress(),  # noqa: B008  (gradio's way of asking for a progress bar)
    ):
        """Forecast with the chosen search; returns the fan chart, the spectra, the search
        statistics, the CSV (Forecast.to_dataframe) and, for /describe_forecast, the
        history followed by the chosen path."""
        series = load_series(file, example, column)
        budget = whole(budget, "budget", steps, MAX_BUDGET_SLIDER)
        horizon = whole(horizon, "horizon", 0, MAX_HORIZON_SLIDER) or pipe.default_horizon(series)
        # The budget is per block of the model's native horizon: longer forecasts continue
        # each path block by block, and each block needs its own denoiser calls.
        budget *= pipe.blocks(horizon)
        paths = whole(paths, "paths to show", 0, NUM_SAMPLES)
        bands = tuple(number(w, "band weight") for w in (low, mid, high))
        progress(0, desc="searching")
        with user_errors():
            result = worker.run(
                pipe.forecast,
                series,
                horizon=horizon,
                method=method,
                budget=budget,
                gamma=number(gamma, "gamma"),
                band_weights=bands,
                lam=number(lam, "lambda"),
                num_samples=NUM_SAMPLES,
                seed=whole(seed, "seed", 0, 2**32 - 1),
                progress=lambda fraction, text: progress(fraction, desc=text),
            )
        context = series.values[-context_length:]
        return (
            plots.fan_chart(result, paths),
            plots.spectrum_chart(result, context, paths, bands),
            search_summary(result, budget),
            files.write(result),
            with_forecast(result),
        )

    def describe_forecast(combined: Series | None):
        """The describer's text about the history followed by the chosen forecast path."""
        if combined is None:
            raise user_error("Make a forecast first: this describes the history plus its forecast.")
        yield from describe_series(combined)

    with gr.Blocks(
        title="sadt: describe and forecast time series", delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown(INTRO)
        last_forecast = gr.State(None, time_to_live=3600)  # freed an hour after a forecast
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                file = gr.File(
                    label="Series file (CSV, TSV or JSON)", file_types=FILE_TYPES, elem_id="upload"
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
                    label="Horizon (steps)",
                    info="0: automatic from the series' frequency (48 for hourly, 18 for "
                    "monthly data, ...), never longer than the history.",
                )
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
                seed = gr.Number(0, precision=0, label="Seed")
                run = gr.Button("Describe & forecast", variant="primary", elem_id="run")
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
                        label="Description of history + chosen forecast",
                        lines=5,
                        max_lines=12,
                        elem_id="forecast-description",
                    )
                fan = gr.Plot(label="Forecast", elem_id="fan")
                with gr.Row():
                    spectrum = gr.Plot(label="Spectra", scale=3, elem_id="spectrum")
                    stats = gr.JSON(label="Search statistics", scale=2, elem_id="stats")
                download = gr.File(label="Forecast CSV", interactive=False, elem_id="download")

        source = [file, example, column]
        settings = [horizon, method, budget, gamma, low, mid, high, lam, paths, seed]
        forecast_inputs = source + settings
        for component in forecast_inputs:
            quiet_checks(component)
        model_work = {"concurrency_id": "model", "concurrency_limit": 1}
        light_work = {"concurrency_id": "files", "concurrency_limit": 4}
        private = {"api_visibility": "private"}
        instant = {"api_visibility": "private", "queue": False}  # clearing outputs: no queue
        # What a run produced: cleared whenever the input changes or a new run starts, so no
        # output ever shows a previous series' results next to the current one.
        results = [description, forecast_description, spectrum, stats, download, last_forecast]
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
            [fan, spectrum, stats, download, last_forecast],
            api_name="forecast",
            **model_work,
        )
        forecast_described = forecasted.success(
            describe_forecast,
            last_forecast,
            forecast_description,
            api_name="describe_forecast",
            **model_work,
        )
        running = [described, forecasted, forecast_described]
        column.input(lambda: no_results, None, results, cancels=running, **instant).then(
            preview, source, [fan, summary], api_name="preview", **light_work
        )
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
        )
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
        )
        demo.load(
            preview, source, [fan, summary], api_name="_preview_load", **light_work, **private
        )
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parse_args(argv)
    worker = ModelThread()
    try:
        pipe = worker.run(sadt.from_pretrained, args.model)
    except (ValueError, OSError) as err:
        worker.close()
        hint = "" if args.model else " Start the app with --model REPO_OR_PATH (or SADT_MODEL)."
        print(f"sadt app: cannot load the model: {err}.{hint}", file=sys.stderr)
        return 2
    files = ForecastFiles()
    demo = build_app(pipe, worker, files)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    # Containers (and Spaces) stop with SIGTERM: shut down as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            max_file_size=MAX_UPLOAD,
            theme=gr.themes.Default(primary_hue="blue"),  # fonts bundled: nothing from a CDN
        )
    except OSError as err:  # e.g. the port is taken
        print(f"sadt app: cannot start the server: {err}", file=sys.stderr)
        return 2
    finally:
        worker.close()
        files.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
