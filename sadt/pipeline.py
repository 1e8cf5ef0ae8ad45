"""The user-facing pipeline: describe a series, forecast it with a steered search.

    import sadt
    pipe = sadt.from_pretrained()            # the bundled sadt-tiny, or a Hub id / folder
    print(pipe.describe("load.csv"))
    fc = pipe.forecast("load.csv", horizon=48, method="dts", budget=1000)
    fc.to_dataframe().to_csv("forecast.csv")

A ``Pipeline`` holds a diffusion forecaster, optionally a TSLM describer and a value network
(S-ADT). Inputs may be anything ``sadt.read_series`` accepts; outputs are in the series'
original units. Folders and the Hub: ``sadt.hub``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from sadt import hub
from sadt.backtest import (
    MIN_HISTORY,
    Backtest,
    BacktestWindow,
    backtest_horizon,
    seasonal_naive,
)
from sadt.files import ModelFileError
from sadt.forecaster.chain import ForecastChain
from sadt.horizon import default_horizon, season_length
from sadt.methods import AMORTIZED, METHODS, TREE_METHODS
from sadt.search.chain import BudgetError
from sadt.search.dts import TreeSearchConfig
from sadt.series import (
    MIN_LENGTH,
    Series,
    SeriesError,
    is_constant,
    open_steps,
    opening_hours,
    read_forecast_series,
    read_series,
    whole_numbers,
)
from sadt.settings import checked
from sadt.spectral import spec_w1

QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_BUDGET = 100_000
MAX_HORIZON = 2000  # beyond the model's native block, sample paths continue themselves
DEFAULT_BUDGET = 1000  # NFE per block of the model's native horizon
MAX_SEED = 2**32 - 1
MAX_BACKTEST_WINDOWS = 20
# Intermittent histories (sadt.pipeline.intermittent_zeros): the recent window read, the
# share of zeros from which it counts, and the most lag-1 autocorrelation of "is zero"
# (runs of zeros, as at night in solar power, are the model's to place).
ZERO_WINDOW, MIN_ZERO_SHARE, MAX_ZERO_RUNS = 200, 0.3, 0.3


@dataclass
class SearchSettings:
    """Search defaults stored with a pipeline (config.json ``search``)."""

    branch_every: int = 1  # branching levels every k denoising steps (DTS*: late_branching)
    batch: int = 0  # in-flight rollouts of the tree searches (0: chosen from the budget)
    widen_c: float = 2.0
    widen_alpha: float = 0.7
    prior_visits: float = 16.0

    def __post_init__(self) -> None:
        """One sentence per bad setting: they come from a folder's config.json or a user."""
        for name, low in (("branch_every", 1), ("batch", 0)):
            value = getattr(self, name)
            if not _is_whole(value) or value < low:
                raise ValueError(
                    f"search setting {name} must be a whole number >= {low}, got {value!r}"
                )
        checks = (
            ("widen_c", lambda v: v > 0, "above 0"),
            ("widen_alpha", lambda v: 0 < v < 1, "between 0 and 1 (exclusive)"),
            ("prior_visits", lambda v: v >= 0, ">= 0"),
        )
        for name, ok, text in checks:
            value = getattr(self, name)
            if not _is_number(value) or not ok(value):
                raise ValueError(f"search setting {name} must be a number {text}, got {value!r}")

    @classmethod
    def from_dict(cls, d: dict | None) -> SearchSettings:
        """From config.json's ``search`` mapping: unknown keys and text numbers refused."""
        return cls(**checked(cls, {} if d is None else d, "search"))

    def tree_config(self) -> TreeSearchConfig:
        return TreeSearchConfig(
            batch=self.batch,
            widen_c=self.widen_c,
            widen_alpha=self.widen_alpha,
            prior_visits=self.prior_visits,
        )


def _with_chosen_path(forecast) -> Series:
    """History followed by the chosen path, as one series."""
    history = forecast.history
    stamps = None
    if history.timestamps is not None and forecast.timestamps is not None:
        stamps = history.timestamps.append(forecast.timestamps)
    values = np.concatenate([history.values, forecast.chosen])
    return Series(values, stamps, history.freq, f"{history.name} + forecast")


@dataclass
class Forecast:
    """A steered forecast, in the input's original units.

    ``samples`` (n, H) are draws from the method's output law; ``chosen`` (H,) is the single
    path the method picks (argmax descent for trees, best reward otherwise); ``quantiles``
    (9, H) at ``QUANTILES``; ``rewards`` (n,) and ``reward`` are spectral rewards;
    ``nfe`` counts denoiser calls (never above the budget).
    """

    samples: np.ndarray
    chosen: np.ndarray
    rewards: np.ndarray
    reward: float
    nfe: int
    wall_time: float
    method: str
    stats: dict
    history: Series
    timestamps: pd.DatetimeIndex | None  # of the forecast steps, when the input had them
    # Quantiles (9, H) of unsteered samples, given when the steering collapsed the fan.
    unsteered: np.ndarray | None = None
    quantiles: np.ndarray = field(init=False)
    median: np.ndarray = field(init=False)
    mean: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.quantiles = np.quantile(self.samples, QUANTILES, axis=0)
        self.median = self.quantiles[QUANTILES.index(0.5)]
        self.mean = self.samples.mean(axis=0)

    @property
    def horizon(self) -> int:
        return self.samples.shape[1]

    def __repr__(self) -> str:
        """One line: method, horizon, paths, calls, and where the median goes."""
        return (
            f"Forecast({self.method!r}, horizon {self.horizon}, {len(self.samples)} paths, "
            f"{self.nfe} NFE, median {self.median[0]:.4g} … {self.median[-1]:.4g}, "
            f"of {self.history!r})"
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Long format, one row per forecast step: ``timestamp`` (or ``step``), ``mean``,
        ``"0.1"`` … ``"0.9"``, ``chosen``. This is also the CSV the app offers."""
        frame = pd.DataFrame({"mean": self.mean})
        for q, row in zip(QUANTILES, self.quantiles, strict=True):
            frame[str(q)] = row
        frame["chosen"] = self.chosen
        frame.insert(0, *self._time_column())
        return frame

    def _time_column(self) -> tuple[str, object]:
        if self.timestamps is not None:
            return "timestamp", self.timestamps
        return "step", np.arange(len(self.history), len(self.history) + self.horizon)

    def to_csv(self, path=None, history: bool = False, decimals: int | None = None):
        """The forecast as a user's CSV (what the app and the CLI write): a ``series``
        column with the series' name, the `to_dataframe` columns rounded to the data's own
        precision (``decimals`` None: `Series.decimals`), and with ``history`` the observed
        values first (column ``observed``; empty on forecast rows). Returns the text when
        ``path`` is None."""
        frame = self.to_dataframe()
        if history:
            name, _ = self._time_column()
            past = self.history.timestamps if name == "timestamp" else np.arange(len(self.history))
            observed = pd.DataFrame({name: past, "observed": self.history.values})
            frame = pd.concat([observed, frame], ignore_index=True)
        frame.insert(0, "series", self.history.name)
        return _rounded(frame, self.history, decimals).to_csv(path, index=False)

    def paths_dataframe(self) -> pd.DataFrame:
        """Every sample path in long format: ``series``, ``path`` (0-based), the time column
        and ``value``: for people who want the joint paths, not only their quantiles."""
        name, times = self._time_column()
        n, h = self.samples.shape
        return pd.DataFrame(
            {
                "series": self.history.name,
                "path": np.repeat(np.arange(n), h),
                name: np.tile(np.asarray(times), n),
                "value": self.samples.reshape(-1),
            }
        )

    def paths_to_csv(self, path=None, decimals: int | None = None):
        """`paths_dataframe` as CSV, rounded like `to_csv`."""
        return _rounded(self.paths_dataframe(), self.history, decimals).to_csv(path, index=False)


def _rounded(frame: pd.DataFrame, series: Series, decimals: int | None) -> pd.DataFrame:
    """Float columns rounded to ``decimals`` (None: the series' own precision)."""
    digits = series.decimals if decimals is None else int(decimals)
    floats = frame.select_dtypes("float").columns
    frame[floats] = frame[floats].round(digits)
    if digits == 0:  # counts: write 12, not 12.0 (Int64 keeps the empty cells empty)
        frame[floats] = frame[floats].astype("Int64")
    return frame


def future_timestamps(series: Series, horizon: int) -> pd.DatetimeIndex | None:
    """Timestamps continuing the series at its frequency (or its median spacing)."""
    if series.timestamps is None or len(series.timestamps) < 2:
        return None
    last = series.timestamps[-1]
    if series.freq:
        offset = to_offset(series.freq)
        if not offset.is_on_offset(last):  # monthly data stamped on the 15th: "MS", shifted
            shift = pd.Timedelta(days=last.day - 1)
            if offset.is_on_offset(last - shift):
                start = last - shift
                return pd.date_range(start, periods=horizon + 1, freq=series.freq)[1:] + shift
        return pd.date_range(last, periods=horizon + 1, freq=series.freq)[1:]
    step = pd.Series(series.timestamps).diff().median()
    session = opening_hours(series.timestamps, step)
    if session is not None:  # rows only in opening hours: continue inside them
        stamps = series.timestamps
        open_share = len(stamps) / ((stamps[-1] - stamps[0]) / step + 1)
        end = last + step * int(2 * horizon / max(open_share, 1e-3)) + pd.Timedelta(days=7)
        future = open_steps(last + step, end, step, *session)
        if len(future) >= horizon:
            return future[:horizon]
    return pd.DatetimeIndex([last + step * (i + 1) for i in range(horizon)])


class Pipeline:
    """Forecaster + (optional) describer + (optional) value network."""

    def __init__(
        self,
        forecaster,
        tslm=None,
        value=None,
        search: SearchSettings | None = None,
        card: dict | None = None,
    ) -> None:
        self.forecaster = forecaster
        self.tslm = tslm
        self.value = value
        self.search = search or SearchSettings()
        self.card = card or {}  # what the model card says (metrics, base model, ...)

    # -- construction and files (see sadt.hub) --------------------------------------------------
    @classmethod
    def from_pretrained(cls, repo_or_path=None, revision=None, describer: bool = True):
        """Load a pipeline folder, a Hub id, or (None) the bundled default; ``describer``
        False skips the describer (forecasting does not need it)."""
        parts = hub.load_parts(repo_or_path, revision, describer)
        config_file = parts.folder / "config.json"
        try:
            search = SearchSettings.from_dict(parts.search)
        except ValueError as err:
            raise ModelFileError(f"{config_file}: {err}") from None
        if search.branch_every > parts.forecaster.config.num_steps:
            raise ModelFileError(
                f"{config_file}: search setting branch_every must be at most the "
                f"forecaster's {parts.forecaster.config.num_steps} steps, got {search.branch_every}"
            )
        return cls(parts.forecaster, parts.tslm, parts.value, search, parts.card)

    def save_pretrained(self, folder) -> None:
        hub.save_pipeline(self, folder)

    def push_to_hub(
        self, repo_id: str, private: bool = False, token: str | None = None, **kwargs
    ) -> str:
        return hub.push_pipeline(self, repo_id, private=private, token=token, **kwargs)

    # -- describe -------------------------------------------------------------------------------
    @property
    def max_horizon(self) -> int:
        """The longest horizon a forecast may ask for (continued past the native block)."""
        return MAX_HORIZON

    @property
    def native_horizon(self) -> int:
        """Steps the forecaster draws in one block; longer horizons continue block by block."""
        return self.forecaster.config.horizon

    def default_horizon(self, series) -> int:
        """The horizon used when none is given: by the series' frequency and length."""
        series = _forecast_input(series)
        return default_horizon(series.values, series.freq)

    def blocks(self, horizon: int) -> int:
        """Native blocks a forecast of ``horizon`` steps runs (each a full reverse diffusion)."""
        return -(-horizon // self.native_horizon)

    @property
    def methods(self) -> list[str]:
        """Forecast methods this pipeline can run (S-ADT needs a value network)."""
        return [m.name for m in METHODS.values() if self.value is not None or not m.needs_value]

    def stream_describe(
        self, series, question: str | None = None, max_tokens: int = 160, temperature: float = 0.0
    ) -> Iterator[str]:
        """The description (or the answer to ``question``), piece by piece."""
        if self.tslm is None:
            raise ValueError("this pipeline has no describer (tslm/); load one that does")
        yield from self.tslm.stream_describe(
            _as_series(series, 2), question, max_tokens, temperature
        )

    def describe(
        self, series, question: str | None = None, max_tokens: int = 160, temperature: float = 0.0
    ) -> str:
        return "".join(self.stream_describe(series, question, max_tokens, temperature))

    def stream_describe_forecast(self, forecast: Forecast, max_tokens: int = 160) -> Iterator[str]:
        """What ``forecast`` says relative to its history (does the cycle go on, where is the
        next peak, where does it end, how wide does the 10-90 % band grow), piece by piece.
        A describer trained without facts describes the history followed by the chosen path."""
        if self.tslm is None:
            raise ValueError("this pipeline has no describer (tslm/); load one that does")
        if not self.tslm.prompts.config.facts:
            yield from self.tslm.stream_describe(_with_chosen_path(forecast), None, max_tokens)
            return
        from sadt.describer.facts import date_labels

        q = forecast.quantiles
        labels = None
        if forecast.timestamps is not None:
            labels = date_labels(forecast.timestamps, forecast.history.freq)
        yield from self.tslm.stream_describe_forecast(
            forecast.history,
            forecast.median,
            q[QUANTILES.index(0.1)],
            q[QUANTILES.index(0.9)],
            labels,
            max_tokens=max_tokens,
        )

    def describe_forecast(self, forecast: Forecast, max_tokens: int = 160) -> str:
        return "".join(self.stream_describe_forecast(forecast, max_tokens)).strip()

    # -- forecast -------------------------------------------------------------------------------
    def forecast(
        self,
        series,
        horizon: int | None = None,
        method: str = "dts",
        budget: int | None = None,
        gamma: float = 1.0,
        band_weights=(1.0, 1.0, 1.0),
        lam: float = 1.0,
        num_samples: int = 64,
        seed: int = 0,
        progress: Callable[[float, str], bool | str | None] | None = None,
        nonnegative: bool | None = None,
        time_limit: float | None = None,
    ) -> Forecast:
        """Forecast ``horizon`` steps of ``series`` with ``method`` under a budget of NFE.

        ``horizon`` None: `default_horizon` (by the series' frequency, never longer than
        the history). Horizons past the model's native block continue each sample path
        from its own earlier blocks. ``budget`` None: 1000 NFE per block.
        The spectral reward (weight ``gamma``, ``band_weights`` for low/mid/high
        frequencies) steers the search toward forecasts whose spectrum looks like the
        history's, at inverse temperature ``lam``. ``progress(fraction, text)`` is called
        as denoiser calls are spent; returning True (or a reason, in words) stops the
        search. ``time_limit``
        (seconds) stops it too. A stopped tree search launches no new rollout and returns
        what its finished ones found, with ``stats["stopped"]`` saying so (one-pass methods
        finish their pass). ``nonnegative``: clip the forecast at 0; None (the default)
        does so when the history never goes below 0 (counts, sales, rainfall).
        """
        series = _forecast_input(series)
        horizon = self.default_horizon(series) if horizon is None else horizon
        blocks = self.blocks(horizon) if _is_whole(horizon) and horizon > 0 else 1
        budget = DEFAULT_BUDGET * blocks if budget is None else budget
        self._check(method, horizon, budget, gamma, band_weights, lam, num_samples, seed)
        if time_limit is not None and not (_is_number(time_limit) and time_limit > 0):
            raise ValueError(f"time_limit must be a number of seconds above 0, got {time_limit!r}")
        nonnegative = _nonnegative(series, nonnegative)
        basics = {"nonnegative": nonnegative, "blocks": blocks}
        if is_constant(series.values):  # nothing varies: the forecast is the constant
            flat = np.full((num_samples, horizon), series.values[-1])
            return _unsearched(flat, flat[0], method, {"constant": True, **basics}, series)
        if len(series.values) < MIN_LENGTH:  # too few points for the model: a random walk
            walks = _random_walk(series.values, horizon, num_samples, seed)
            paths = _as_recorded(walks, series, nonnegative)
            basics["short_history"] = (
                f"{len(series.values)} values are too few for the model (it reads "
                f"{MIN_LENGTH} or more): the paths are random walks from the last value "
                "with the history's step-to-step spread"
            )
            return _unsearched(paths, np.median(paths, axis=0), method, basics, series)
        spec = METHODS[method]
        # DTS* searches where the reward is decided: new samples and the last few steps.
        levels = spec.branch_levels(self.forecaster.config.num_steps * blocks)
        chain = ForecastChain(
            self.forecaster,
            series.values,
            horizon,
            gamma,
            band_weights,
            self.search.branch_every,
            branch_levels=levels,
        )
        start = time.perf_counter()
        stopped = []  # why the search ended early, if it did

        def on_nfe(nfe: int) -> None:
            if chain.stop_requested:
                return
            asked = progress(min(nfe / budget, 1.0), f"{nfe}/{budget} NFE") if progress else None
            if asked:  # True, or a reason in words ("to let 3 waiting requests run")
                reason = asked if isinstance(asked, str) else "on request"
                stopped.append(f"stopped {reason} after {nfe} of {budget} NFE")
            elif time_limit is not None and time.perf_counter() - start > time_limit:
                stopped.append(f"stopped at the {time_limit:g} s time limit after {nfe} NFE")
            chain.stop_requested = bool(stopped)

        chain.on_nfe = on_nfe
        try:  # DTS* keeps its own search-oriented widening (it takes no tree settings)
            result = spec.run(
                chain,
                int(budget),
                tree_config=self.search.tree_config(),
                value=self.value,
                lam=lam,
                num_samples=num_samples,
                seed=seed,
            )
        except BudgetError as err:
            raise ValueError(str(err)) from None
        samples = chain.to_original(result.samples)
        # Counted before rounding: all-zero paths of a sparse count series are not a collapse.
        distinct = len(np.unique(samples, axis=0))
        chosen = chain.to_original(result.chosen[None])[0]
        samples = _as_recorded(samples, series, nonnegative)
        chosen = _as_recorded(chosen, series, nonnegative)
        stats = dict(result.stats)
        if stopped:  # a partial result: say so, with what it cost
            stats["stopped"] = (
                f"{stopped[0]}: the paths are what the search had finished by then"
                + ("" if spec.name in TREE_METHODS else " (this method finishes its one pass)")
            )
        stats["nonnegative"] = bool(nonnegative)
        stats["whole_numbers"] = _whole_numbers(series)
        stats["blocks"] = blocks
        if horizon > len(series):
            stats["longer_than_history"] = (
                f"the forecast ({horizon} steps) is longer than the history it is based on "
                f"({len(series)} values): its far end extrapolates well beyond what the data "
                "shows; treat it with care or shorten the horizon"
            )
        if len(samples) >= 4 and distinct < len(samples) / 4:
            # A strong tilt piles the draws onto a few paths: the band then says nothing.
            stats["collapsed"] = (
                f"only {distinct} distinct paths among {len(samples)} samples: the steering "
                "(gamma x lambda) is strong enough to collapse the fan, so its quantiles "
                "understate the uncertainty (the unsteered 10-90% band is drawn beside it); "
                "lower gamma or lambda, or use ancestral sampling"
            )
        context = series.values[-self.forecaster.config.context_length :]
        if len(context) >= 8 and horizon >= 8:
            stats["spec_w1"] = float(spec_w1(samples, context).mean())
            stats["spec_w1_chosen"] = float(spec_w1(chosen, context)[0])
            stats["spec_w1_mean_forecast"] = float(spec_w1(samples.mean(0), context)[0])
        stats.pop("ess_trace", None)
        forecast = Forecast(
            samples,
            chosen,
            result.rewards,
            float(result.chosen_reward),
            result.nfe,
            time.perf_counter() - start,
            method,
            stats,
            series,
            future_timestamps(series, horizon),
        )
        if "collapsed" in stats:
            forecast.unsteered = self._unsteered_quantiles(
                chain, num_samples, seed, series, nonnegative
            )
        return forecast

    def _unsteered_quantiles(self, chain, num_samples: int, seed: int, series, clip: bool):
        """The way back from a collapsed fan: quantiles (9, H) of plain ancestral samples
        from the same chain (their denoiser calls are not counted in the search's NFE,
        which the search's result already holds)."""
        chain.stop_requested, chain.on_nfe = False, None
        result = METHODS["ancestral"].run(
            chain, chain.num_steps * num_samples, num_samples=num_samples, seed=seed
        )
        samples = chain.to_original(result.samples)
        return np.quantile(_as_recorded(samples, series, clip), QUANTILES, axis=0)

    def backtest(
        self,
        series,
        horizon: int | None = None,
        windows: int = 1,
        progress: Callable[[float, str], bool | str | None] | None = None,
        **settings,
    ) -> Backtest:
        """Forecast the last ``windows`` stretches of ``horizon`` steps of ``series``, each
        from the history before it, with the same ``settings`` as `forecast` (method,
        budget, gamma, ...), and score them against what happened and against seasonal
        naive (`sadt.backtest.Backtest`: MAE, coverage of the 10-90 % band, ``summary()``).

        ``horizon`` None: the series' default horizon. A series too short to hold out
        that much gets shorter windows (``Backtest.horizon`` says how long)."""
        series = _as_series(series, allow_constant=True)
        requested = self.default_horizon(series) if horizon is None else horizon
        if not _is_whole(windows) or not 1 <= windows <= MAX_BACKTEST_WINDOWS:
            raise ValueError(
                f"backtest windows must be a whole number from 1 to {MAX_BACKTEST_WINDOWS}, "
                f"got {windows!r}"
            )
        if not _is_whole(requested) or not 1 <= requested <= self.max_horizon:
            raise ValueError(
                f"horizon must be a whole number from 1 to {self.max_horizon}, got {requested}"
            )
        length = backtest_horizon(len(series), requested, windows)
        if length < 1:
            need = next(
                n
                for n in range(1, 10 * MIN_HISTORY + 4 * windows)
                if backtest_horizon(n, 1, windows)
            )
            raise ValueError(
                f"the series has {len(series)} values: a backtest needs at least {need} to "
                f"hold {windows} step(s) back and forecast them from the rest"
            )
        season_values = series.values[: len(series) - windows * length]
        season = season_length(season_values, series.freq)
        out = []
        for k in range(windows, 0, -1):
            start = len(series) - k * length
            history = series.head(start)
            report = None
            if progress is not None:
                done = windows - k

                def report(fraction, text, done=done):
                    progress((done + fraction) / windows, f"backtest {done + 1}/{windows}: {text}")

            forecast = self.forecast(history, length, progress=report, **settings)
            actual = series.values[start : start + length]
            naive = seasonal_naive(history.values, length, season)
            out.append(BacktestWindow(start, forecast, actual, naive))
        return Backtest(series, out, season, requested)

    def forecast_many(self, series_list, horizon: int | None = None, **kwargs) -> list[Forecast]:
        """Forecast several series. Plain ancestral sampling within the native horizon runs
        them through the model together (64 series per denoiser batch); every other method,
        and longer horizons, forecast one series at a time. Same arguments as `forecast`."""
        series_list = [_forecast_input(s) for s in series_list]
        method = kwargs.get("method", "dts")
        horizons = [self.default_horizon(s) if horizon is None else horizon for s in series_list]
        # Constant series take forecast()'s shortcut: the batch holds series that vary.
        batched = method == "ancestral" and all(
            _is_whole(h)
            and 1 <= h <= self.native_horizon
            and not is_constant(s.values)
            and len(s.values) >= MIN_LENGTH
            for s, h in zip(series_list, horizons, strict=True)
        )
        if not batched or not series_list:
            return [
                self.forecast(s, h, **kwargs) for s, h in zip(series_list, horizons, strict=True)
            ]
        return self._ancestral_many(series_list, horizons, **kwargs)

    def _ancestral_many(
        self,
        series_list,
        horizons,
        method="ancestral",
        budget=None,
        gamma=1.0,
        band_weights=(1.0, 1.0, 1.0),
        lam=1.0,
        num_samples=64,
        seed=0,
        progress=None,
        nonnegative=None,
    ) -> list[Forecast]:
        budget = DEFAULT_BUDGET if budget is None else budget
        for h in set(horizons):
            self._check(method, h, budget, gamma, band_weights, lam, num_samples, seed)
        steps = self.forecaster.config.num_steps
        n = min(budget // steps, num_samples)
        start = time.perf_counter()
        context_length = self.forecaster.config.context_length
        contexts = [s.values[-context_length:] for s in series_list]
        draws = self.forecaster.sample_many(contexts, n, seed)
        seconds = (time.perf_counter() - start) / len(series_list)
        out = []
        for series, h, paths, context in zip(series_list, horizons, draws, contexts, strict=True):
            samples = paths[:, :h]
            clip = _nonnegative(series, nonnegative)
            samples = _as_recorded(samples, series, clip)
            rewards = np.zeros(n)
            if h >= 8 and len(context) >= 8:
                from sadt.spectral import SpectralReward

                reward = SpectralReward.from_context(context, h, gamma, tuple(band_weights))
                rewards = reward(samples)
            best = int(np.argmax(rewards))
            stats = {"particles": n, "nonnegative": clip, "blocks": 1, "batched": True}
            stats["whole_numbers"] = _whole_numbers(series)
            out.append(
                Forecast(
                    samples,
                    samples[best],
                    rewards,
                    float(rewards[best]),
                    n * steps,
                    seconds,
                    method,
                    stats,
                    series,
                    future_timestamps(series, h),
                )
            )
        return out

    def predict_df(
        self,
        df: pd.DataFrame,
        id_column: str = "item_id",
        timestamp_column: str = "timestamp",
        target: str = "target",
        horizon: int | None = None,
        **kwargs,
    ) -> pd.DataFrame:
        """Forecast every series of a long DataFrame; one long DataFrame back (with the id).

        With ``method="ancestral"`` the series go through the model together (see
        `forecast_many`); ``horizon`` None gives each series its own default horizon."""
        missing = [c for c in (id_column, timestamp_column, target) if c not in df.columns]
        if missing:
            raise SeriesError(
                f"the DataFrame has no column {missing[0]!r}; its columns are {list(df.columns)}"
            )
        items, series_list = [], []
        for item, group in df.groupby(id_column, sort=False):
            table = group[[timestamp_column, target]]
            series_list.append(
                read_forecast_series(table, column=target, timestamp_column=timestamp_column)
            )
            items.append(item)
        frames = []
        for item, fc in zip(items, self.forecast_many(series_list, horizon, **kwargs), strict=True):
            out = fc.to_dataframe()
            out.insert(0, id_column, item)
            frames.append(out)
        return pd.concat(frames, ignore_index=True)

    def _check(self, method, horizon, budget, gamma, band_weights, lam, num_samples, seed) -> None:
        """Every parameter a user sets, checked here with one clear sentence each."""
        if method not in self.methods:
            hint = " (S-ADT methods need a value network)" if method in AMORTIZED else ""
            raise ValueError(
                f"unknown method {method!r}{hint}; available: {', '.join(self.methods)}"
            )
        if not _is_whole(horizon) or not 1 <= horizon <= self.max_horizon:
            raise ValueError(
                f"horizon must be a whole number from 1 to {self.max_horizon}, got {horizon}"
            )
        steps = self.forecaster.config.num_steps * self.blocks(horizon)
        if not _is_whole(budget) or not steps <= budget <= MAX_BUDGET:
            raise ValueError(
                f"budget must be a whole number of denoiser calls from {steps} "
                f"(one sample of {horizon} steps) to {MAX_BUDGET}, got {budget}"
            )
        if not (_is_number(gamma) and 0 <= gamma <= 100):
            raise ValueError(f"gamma must be a number between 0 and 100, got {gamma!r}")
        if not (_is_number(lam) and 0 < lam <= 100):
            raise ValueError(f"lam must be a number above 0 and at most 100, got {lam!r}")
        if not _is_whole(num_samples) or not 1 <= num_samples <= 1000:
            raise ValueError(
                f"num_samples must be a whole number from 1 to 1000, got {num_samples!r}"
            )
        if not _is_whole(seed) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
        band = _band(band_weights)
        if band is None or band.shape != (3,) or np.any(band < 0) or not band.any():
            raise ValueError(
                "band weights must be three numbers >= 0, not all zero: "
                "set at least one band above 0"
            )


def _is_number(value) -> bool:
    """A real, finite number (not a bool, not text): what every numeric knob takes."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and bool(np.isfinite(value))
    )


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _band(weights) -> np.ndarray | None:
    """Band weights as a float array, or None when they are not a flat run of numbers."""
    if not isinstance(weights, (list, tuple, np.ndarray)):
        return None
    items = list(weights)
    return np.asarray(items, dtype=float) if all(_is_number(w) for w in items) else None


def _nonnegative(series: Series, setting) -> bool:
    """Whether to clip a forecast at 0: ``setting``, or (None) when the history never goes
    below 0."""
    if setting is None:
        return bool(np.min(series.values) >= 0)
    if not isinstance(setting, (bool, np.bool_)):
        raise ValueError(f"nonnegative must be True, False or None, got {setting!r}")
    return bool(setting)


def _whole_numbers(series: Series) -> bool:
    """Whether the history is recorded in whole numbers (counts, units sold)."""
    return whole_numbers(series.values[~series.interpolated])


def intermittent_zeros(series: Series) -> float | None:
    """The share of exact zeros in the recent history (its last `ZERO_WINDOW` observed
    values) when it is at least `MIN_ZERO_SHARE` and they fall irregularly, as intermittent
    demand's and rain's do (lag-1 autocorrelation of "is zero" at most `MAX_ZERO_RUNS`);
    None otherwise. Zeros in runs (solar power at night, a shop closed for a season) are
    left to the model, which places them by time."""
    observed = series.values[~series.interpolated][-ZERO_WINDOW:]
    zero = (observed == 0).astype(np.float64)
    share = float(zero.mean()) if zero.size >= 8 else 0.0
    if share < MIN_ZERO_SHARE or share == 1.0:
        return None
    before, after = zero[:-1] - zero[:-1].mean(), zero[1:] - zero[1:].mean()
    scale = np.sqrt((before**2).sum() * (after**2).sum())
    runs = float((before * after).sum() / scale) if scale > 0 else 1.0
    return share if runs <= MAX_ZERO_RUNS else None


def _as_recorded(samples: np.ndarray, series: Series, clip: bool) -> np.ndarray:
    """Forecast values as the history is recorded: at least 0 when `clip`, and whole
    numbers for whole-number data. Counts forecast as 0.47 items put a quantile where no
    outcome can fall: on intermittent demand (80 % zeros) the 10-70 % quantiles belong at 0.
    Intermittent histories (`intermittent_zeros`) keep their share of zeros: at each step
    the lowest paths are set to 0 until that share of them is (a rank-preserving map), as
    the model's spread around a fraction of one unit has no point mass at 0."""
    if clip:
        samples = np.maximum(samples, 0.0)
        share = intermittent_zeros(series) if samples.ndim == 2 and len(samples) >= 4 else None
        if share is not None:
            lowest = np.argsort(np.argsort(samples, axis=0, kind="stable"), axis=0)
            samples = np.where(lowest < int(share * len(samples)), 0.0, samples)
    return np.round(samples) if _whole_numbers(series) else samples


def _forecast_input(series) -> Series:
    """The series a forecast starts from: any length from one value up (fewer than
    MIN_LENGTH take the random-walk path), constant ones too."""
    if isinstance(series, Series):
        return series
    return read_forecast_series(series, allow_constant=True)


def _unsearched(paths: np.ndarray, chosen: np.ndarray, method: str, stats, series) -> Forecast:
    """A forecast no model call made (a constant history, one too short for the model)."""
    stamps = future_timestamps(series, paths.shape[1])
    rewards = np.zeros(len(paths))
    return Forecast(paths, chosen, rewards, 0.0, 0, 0.0, method, stats, series, stamps)


def _random_walk(values: np.ndarray, horizon: int, num_samples: int, seed: int) -> np.ndarray:
    """(num_samples, horizon) Gaussian random walks from the last value, each step with the
    root mean square of the history's steps (a history of one value: no spread)."""
    steps = np.diff(values)
    scale = float(np.sqrt(np.mean(steps**2))) if steps.size else 0.0
    noise = np.random.default_rng(seed).standard_normal((num_samples, horizon))
    return values[-1] + scale * np.cumsum(noise, axis=1)


def _as_series(series, min_length: int | None = None, allow_constant: bool = False) -> Series:
    if isinstance(series, Series):
        return series
    if min_length is None:
        return read_series(series, allow_constant=allow_constant)
    return read_series(series, min_length=min_length, allow_constant=allow_constant)
