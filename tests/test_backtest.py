"""Backtests, time units and the user's CSV: Pipeline.backtest against seasonal naive, the
horizon in the series' own time, trading-day calendars, downloads rounded to the data."""

import io

import numpy as np
import pandas as pd
import pytest
from tiny_models import tiny_pipeline

from sadt.backtest import backtest_horizon, seasonal_naive
from sadt.horizon import season_length, steps_as_time
from sadt.series import Series, read_series, value_decimals


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("pipe"))


def daily(n=120, seed=0):
    rng = np.random.default_rng(seed)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 7) + rng.normal(0, 1, n)
    return Series(values.round(1), pd.date_range("2024-01-01", periods=n, freq="D"), "D", "visits")


def test_backtest_hides_each_window_and_scores_it_against_seasonal_naive(pipe):
    series = daily()
    bt = pipe.backtest(series, horizon=10, windows=3, method="ancestral", budget=60, seed=2)
    assert [w.start for w in bt.windows] == [90, 100, 110] and bt.horizon == 10 and bt.season == 7
    for w in bt.windows:
        # each forecast saw only the history before its window, and continues its calendar
        assert len(w.forecast.history) == w.start
        assert w.forecast.timestamps[0] == series.timestamps[w.start]
        np.testing.assert_array_equal(w.actual, series.values[w.start : w.start + 10])
        np.testing.assert_array_equal(w.naive, np.resize(series.values[w.start - 7 : w.start], 10))
    errors = np.concatenate([np.abs(w.forecast.median - w.actual) for w in bt.windows])
    assert bt.mae == pytest.approx(errors.mean())
    inside = np.concatenate(
        [
            (w.actual >= w.forecast.quantiles[0]) & (w.actual <= w.forecast.quantiles[-1])
            for w in bt.windows
        ]
    )
    assert bt.coverage == pytest.approx(inside.mean())
    text = bt.summary()
    assert "3 stretches of 10 steps" in text and "seasonal naive" in text
    assert ("better" in text) == (bt.mae <= bt.naive_mae)
    frame = bt.to_dataframe()
    assert len(frame) == 30 and {"window", "timestamp", "actual", "0.5", "seasonal_naive"} <= set(
        frame.columns
    )
    again = pipe.backtest(series, horizon=10, windows=3, method="ancestral", budget=60, seed=2)
    assert again.mae == bt.mae  # same settings, same seed: the same backtest


def test_backtest_of_a_short_series_shortens_its_windows_or_says_why_not(pipe):
    short = daily(20)
    bt = pipe.backtest(short, horizon=30, windows=1, method="ancestral", budget=60)
    assert bt.horizon == 10 and bt.requested_horizon == 30 and "not 30" in bt.summary()
    with pytest.raises(ValueError, match="at least 10"):
        pipe.backtest(Series(np.arange(9.0)), windows=2)
    with pytest.raises(ValueError, match="windows"):
        pipe.backtest(short, windows=0)
    assert backtest_horizon(100, 48, 3) == 16 and backtest_horizon(8, 5, 1) == 0
    assert backtest_horizon(1000, 48, 3) == 48  # long series: the whole horizon


def test_seasonal_naive_repeats_the_last_season():
    np.testing.assert_array_equal(seasonal_naive(np.arange(10.0), 5, 3), [7, 8, 9, 7, 8])
    np.testing.assert_array_equal(seasonal_naive(np.arange(10.0), 3, 1), [9, 9, 9])


@pytest.mark.parametrize(
    "steps, freq, text",
    [
        (48, "h", "48 steps = 2 days"),
        (36, "h", "36 steps = 36 hours"),
        (720, "h", "720 steps = 30 days"),
        (96, "5min", "96 steps = 8 hours"),
        (1, "D", "1 step = 1 day"),
        (20, "B", "20 steps = 20 business days"),
        (13, "W-SUN", "13 steps = 13 weeks"),
        (18, "MS", "18 steps = 18 months"),
        (8, "QS-OCT", "8 steps = 2 years"),
        (6, "YS-JAN", "6 steps = 6 years"),
        (2000, "D", "2000 steps = 5.5 years"),
        (7, None, "7 steps"),
    ],
)
def test_steps_read_in_the_series_own_time(steps, freq, text):
    assert steps_as_time(steps, freq) == text


@pytest.mark.parametrize(
    "freq, season",
    [
        ("h", 24),
        ("10min", 144),
        ("min", 60),
        ("D", 7),
        ("B", 5),
        ("W-SUN", 52),
        ("MS", 12),
        ("QS", 4),
        ("YS", 1),
    ],
)
def test_season_by_calendar(freq, season):
    assert season_length(np.zeros(400), freq) == season
    assert season_length(np.zeros(2 * season - 1), freq) == 1 or season == 1  # < two seasons


def test_season_without_a_calendar_is_the_strongest_cycle():
    x = np.sin(2 * np.pi * np.arange(300) / 17)
    assert season_length(x) == 17 and season_length(np.random.default_rng(0).normal(size=300)) >= 1


def test_trading_days_get_a_business_day_calendar():
    days = pd.bdate_range("2024-01-01", periods=60)
    days = days.delete([10, 30])  # two market holidays
    text = "date,close\n" + "".join(
        f"{d.date()},{100 + i * 0.25:.2f}\n" for i, d in enumerate(days)
    )
    series = read_series(io.StringIO(text))
    assert series.freq == "B" and len(series) == 60 and series.filled == 2
    assert (series.timestamps.dayofweek < 5).all() and series.decimals == 2


def test_value_decimals_is_the_recorded_precision():
    assert value_decimals(np.array([3.0, 12.0])) == 0
    assert value_decimals(np.array([79.01857, 77.704285])) == 6
    assert value_decimals(np.array([0.1 + 0.2, 1.5])) == 1
    assert value_decimals(np.random.default_rng(0).random(5)) == 6  # 6 significant digits


def test_forecast_csv_is_named_rounded_and_can_carry_the_history(pipe):
    series = daily()
    fc = pipe.forecast(series, 5, method="ancestral", budget=60)
    frame = pd.read_csv(io.StringIO(fc.to_csv()))
    assert (frame["series"] == "visits").all() and len(frame) == 5
    assert np.allclose(frame["0.5"], fc.median.round(1)) and (frame["0.5"] * 10 % 1 == 0).all()
    full = pd.read_csv(io.StringIO(fc.to_csv(history=True)))
    assert len(full) == 125 and full["observed"].iloc[:120].tolist() == series.values.tolist()
    assert full["0.5"].iloc[:120].isna().all() and full["observed"].iloc[120:].isna().all()
    paths = pd.read_csv(io.StringIO(fc.paths_to_csv()))
    assert len(paths) == fc.samples.size and paths["path"].nunique() == len(fc.samples)
    first = paths[paths["path"] == 0]["value"].to_numpy()
    np.testing.assert_allclose(first, fc.samples[0].round(1))


def test_a_forecast_longer_than_its_history_says_so(pipe):
    fc = pipe.forecast(np.sin(np.arange(20.0)), 30, method="ancestral", budget=60)
    assert "longer than the history" in fc.stats["longer_than_history"]
    assert (
        "longer_than_history"
        not in pipe.forecast(np.sin(np.arange(40.0)), 30, method="ancestral", budget=60).stats
    )


def test_forecast_timestamps_continue_the_files_calendar(pipe):
    month_ends = pd.date_range("2020-01-31", periods=40, freq="ME")
    text = "date,sales\n" + "".join(
        f"{d.date()},{100 + i % 12}\n" for i, d in enumerate(month_ends)
    )
    fc = pipe.forecast(read_series(io.StringIO(text)), 3, method="ancestral", budget=60)
    assert [str(t.date()) for t in fc.timestamps] == ["2023-05-31", "2023-06-30", "2023-07-31"]
    days = pd.bdate_range("2024-01-01", periods=40).delete([5])
    text = "date,close\n" + "".join(f"{d.date()},{50 + i % 5}\n" for i, d in enumerate(days))
    fc = pipe.forecast(read_series(io.StringIO(text)), 3, method="ancestral", budget=60)
    assert [str(t.date()) for t in fc.timestamps] == ["2024-02-26", "2024-02-27", "2024-02-28"]
    # a call centre open 07:00-20:55 on weekdays continues inside its hours
    hours = pd.date_range("2024-01-01 07:00", "2024-01-26 20:55", freq="5min")
    hours = hours[(hours.hour >= 7) & (hours.hour < 21) & (hours.dayofweek < 5)]
    calls = pd.DataFrame({"t": hours, "calls": np.arange(len(hours)) % 17})
    series = read_series(calls)
    assert series.freq is None and len(series) == len(hours)
    fc = pipe.forecast(series, 3, method="ancestral", budget=60)
    assert [str(t) for t in fc.timestamps] == [
        "2024-01-29 07:00:00",
        "2024-01-29 07:05:00",
        "2024-01-29 07:10:00",
    ]


@pytest.mark.parametrize("method", ["dts", "dts_star"])
def test_a_search_asked_to_stop_returns_what_it_found_labelled(pipe, method):
    series = daily(300)
    asked = []

    def progress(fraction, text):
        asked.append(fraction)
        return fraction > 0.2  # "stop" once a fifth of the budget is spent

    fc = pipe.forecast(series, 12, method=method, budget=3000, progress=progress)
    assert fc.nfe < 3000 * 0.5 and fc.samples.shape == (64, 12)
    assert fc.stats["stopped"].startswith("stopped on request after")
    full = pipe.forecast(series, 12, method=method, budget=3000)
    assert full.nfe > 2900 and "stopped" not in full.stats
    timed = pipe.forecast(series, 12, method=method, budget=3000, time_limit=1e-6)
    assert "time limit" in timed.stats["stopped"] and timed.nfe < 3000
    with pytest.raises(ValueError, match="time_limit"):
        pipe.forecast(series, 12, method=method, budget=3000, time_limit=0)


def test_a_collapsed_fan_comes_with_the_unsteered_band_and_a_warning_on_the_chart(pipe):
    from sadt import plots

    series = daily(300)
    fc = pipe.forecast(series, 12, method="dts", budget=6, gamma=10.0, lam=50.0)
    assert "collapsed" in fc.stats and fc.nfe <= 6  # the way back costs the search nothing
    assert fc.unsteered.shape == (9, 12) and np.all(fc.unsteered[-1] >= fc.unsteered[0])
    assert np.ptp(fc.quantiles[[0, -1]], axis=0).max() == 0  # the steered band is a line
    assert (fc.unsteered[-1] - fc.unsteered[0]).mean() > 0  # the unsteered one is not
    figure = plots.fan_chart(fc)
    assert "unsteered 10–90%" in {t.name for t in figure.data}
    assert "collapsed the fan" in figure.layout.annotations[0].text
    plain = pipe.forecast(series, 12, method="ancestral", budget=600)
    assert plain.unsteered is None and not plots.fan_chart(plain).layout.annotations
