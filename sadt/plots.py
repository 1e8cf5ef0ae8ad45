"""Plotly figures of a series and its forecast: the fan chart and the spectra the reward sees.

All values are in the series' original units. The x axis is the series' timestamps when it
has them, else the step index (the forecast continues at len(history), as in
`Forecast.to_dataframe`). Many sample paths go into one trace, separated by gaps, so a
figure stays light however many paths are shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sadt.series import Series
from sadt.spectral import (
    EPS_REL,
    MIN_LENGTH,
    band_masks,
    frequencies,
    periodogram,
    reference_spectrum,
)

HISTORY = "#1f2937"
SAMPLES = "rgba(37, 99, 235, 0.16)"
BAND = "rgba(37, 99, 235, 0.18)"
MEDIAN = "#2563eb"
CHOSEN = "#dc2626"
MEAN = "#d97706"
BAND_SHADES = ("rgba(16, 185, 129, {a})", "rgba(234, 179, 8, {a})", "rgba(168, 85, 247, {a})")
PREVIEW_POINTS = 2000  # at most this many points of an upload are drawn before a forecast


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        template="plotly_white",
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=430,
    )
    return fig


def _history_x(series: Series, start: int) -> np.ndarray | pd.DatetimeIndex:
    if series.timestamps is not None:
        return series.timestamps[start:]
    return np.arange(start, len(series))


def _paths(x, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several paths (n, H) over one x (H,) as a single line with gaps: (n*(H+1),) each."""
    n, h = rows.shape
    xs = np.tile(np.append(np.asarray(x, dtype=object), None), n)
    ys = np.concatenate([rows, np.full((n, 1), np.nan)], axis=1).reshape(-1)
    return xs, ys


def _history_trace(series: Series, start: int, name: str = "history") -> go.Scatter:
    """The observed values from index `start` on, as the dark line every chart starts with."""
    return go.Scatter(
        x=_history_x(series, start),
        y=series.values[start:],
        name=name,
        mode="lines",
        line={"color": HISTORY, "width": 1.4},
    )


def series_chart(series: Series, max_points: int = PREVIEW_POINTS) -> go.Figure:
    """The series alone (its last `max_points` points), shown before a forecast is made."""
    start = max(len(series) - max_points, 0)
    fig = go.Figure(_history_trace(series, start))
    shown = f" (last {len(series) - start} of {len(series)} points)" if start else ""
    x_title = "time" if series.timestamps is not None else "step"
    return _layout(fig, f"{series.name}{shown}", x_title, series.name)


def fan_chart(forecast, paths: int = 16, history_points: int | None = None) -> go.Figure:
    """History, faint sample paths, the 10-90% band, the median and the chosen path.

    `forecast` is a `sadt.Forecast`; `paths` of its samples are drawn; the history shown is
    its last `history_points` points (default: four horizons, at least 192).
    """
    history, horizon = forecast.history, forecast.horizon
    keep = history_points or max(4 * horizon, 192)
    start = max(len(history) - keep, 0)
    hist_x = _history_x(history, start)
    if forecast.timestamps is not None and history.timestamps is not None:
        future_x = forecast.timestamps
    else:
        future_x = np.arange(len(history), len(history) + horizon)
    # Forecast lines start at the last observation so they join the history without a gap.
    joined_x = np.concatenate([np.asarray(hist_x[-1:], dtype=object), np.asarray(future_x, object)])
    last = history.values[-1]

    def joined(y: np.ndarray) -> np.ndarray:
        return np.concatenate([[last], y])

    lo, hi = forecast.quantiles[0], forecast.quantiles[-1]  # q = 0.1 and 0.9
    fig = go.Figure(_history_trace(history, start))
    shown = forecast.samples[: max(int(paths), 0)]
    if len(shown):
        xs, ys = _paths(joined_x, np.column_stack([np.full(len(shown), last), shown]))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=f"sample paths ({len(shown)})",
                mode="lines",
                line={"color": SAMPLES, "width": 1},
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=joined_x,
            y=joined(lo),
            name="10%",
            mode="lines",
            line={"width": 0},
            showlegend=False,
            legendgroup="band",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=joined_x,
            y=joined(hi),
            name="10–90% band",
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=BAND,
            legendgroup="band",
        )
    )
    if getattr(forecast, "unsteered", None) is not None:  # a collapsed fan's way back
        for k, row in enumerate((0, -1)):
            fig.add_trace(
                go.Scatter(
                    x=joined_x,
                    y=joined(forecast.unsteered[row]),
                    name="unsteered 10–90%",
                    mode="lines",
                    line={"color": "#6b7280", "width": 1.2, "dash": "dash"},
                    legendgroup="unsteered",
                    showlegend=k == 0,
                )
            )
    fig.add_trace(
        go.Scatter(
            x=joined_x,
            y=joined(forecast.median),
            name="median",
            mode="lines",
            line={"color": MEDIAN, "width": 2},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=joined_x,
            y=joined(forecast.chosen),
            name="chosen path",
            mode="lines",
            line={"color": CHOSEN, "width": 2},
        )
    )
    x_title = "time" if forecast.timestamps is not None else "step"
    title = f"{history.name}: {horizon}-step forecast"
    fig = _layout(fig, title, x_title, history.name)
    warning = fan_warning(forecast)
    if warning:  # on the chart itself, where the misleading band is
        fig.add_annotation(
            text=warning,
            xref="paper",
            yref="paper",
            x=0.01,
            y=1.0,
            xanchor="left",
            yanchor="bottom",
            showarrow=False,
            font={"color": "#b45309", "size": 12},
        )
        fig.update_layout(margin={"t": 75})
    return fig


def fan_warning(forecast) -> str | None:
    """One short line for the chart when its fan misleads: collapsed, stopped, too long."""
    stats = getattr(forecast, "stats", {}) or {}
    if "collapsed" in stats:
        return "⚠ The steering collapsed the fan: its band is too narrow (dashed: unsteered)"
    if "stopped" in stats:
        return "⚠ Stopped early: the paths are what the search had found by then"
    if "longer_than_history" in stats:
        return "⚠ Longer than the history: the far end is a guess"
    return None


def spectrum_chart(
    forecast, context: np.ndarray, paths: int = 16, band_weights=(1.0, 1.0, 1.0)
) -> go.Figure:
    """Power spectra on the forecast's frequency grid (log power, original units):
    the history's reference spectrum (what the spectral reward compares with), the sample
    paths', the chosen path's and the mean forecast's (averaging paths removes their
    texture, so its high frequencies drop). Power is floored where the reward floors it;
    the reward's three bands are shaded with their weights. `context` (L,) is the history
    the reward saw."""
    horizon = forecast.horizon
    title = "Spectra (what the spectral reward compares)"
    if horizon < MIN_LENGTH or len(context) < MIN_LENGTH:  # too few steps for three bands
        fig = go.Figure()
        fig.add_annotation(
            text=f"A spectrum needs at least {MIN_LENGTH} steps of forecast and history;<br>"
            f"this forecast has {horizon}, so the spectral reward stepped aside.",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _layout(fig, title, "", "")
    freq = frequencies(horizon)
    reference = reference_spectrum(np.asarray(context, dtype=np.float64), horizon)
    # The reward's own floor: power below it counts as the floor, so it is drawn there.
    floor = max(EPS_REL * float(reference.mean()), np.finfo(np.float64).tiny)

    def power(x: np.ndarray) -> np.ndarray:
        return np.maximum(periodogram(x), floor)

    fig = go.Figure()
    masks = band_masks(len(freq))
    weights = np.asarray(band_weights, dtype=np.float64)
    edges = [freq[m].min() - 0.5 / horizon for m in masks] + [freq[-1] + 0.5 / horizon]
    for k, label in enumerate(("low", "mid", "high")):
        fig.add_vrect(
            x0=edges[k],
            x1=edges[k + 1],
            fillcolor=BAND_SHADES[k].format(a=0.05 + 0.1 * min(weights[k], 3) / 3),
            line_width=0,
            layer="below",
            annotation_text=f"{label} ×{weights[k]:g}",
            annotation_position="top left",
            annotation_font_size=11,
        )
    shown = forecast.samples[: max(int(paths), 0)]
    if len(shown):
        xs, ys = _paths(freq, power(shown))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name=f"sample paths ({len(shown)})",
                mode="lines",
                line={"color": SAMPLES, "width": 1},
                hoverinfo="skip",
            )
        )
    for name, y, style in (
        ("history (reference)", np.maximum(reference, floor), {"color": HISTORY, "width": 2.5}),
        ("chosen path", power(forecast.chosen), {"color": CHOSEN, "width": 2}),
        ("mean forecast", power(forecast.mean), {"color": MEAN, "width": 2, "dash": "dash"}),
    ):
        fig.add_trace(go.Scatter(x=freq, y=y, name=name, mode="lines", line=style))
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(range=[0, freq[-1] + 0.5 / horizon])
    return _layout(fig, title, "cycles per step", "power")


def backtest_chart(backtest, history_points: int | None = None) -> go.Figure:
    """What happened over the backtest windows (and some history before them), each
    window's 10-90% band and median forecast made without it, and seasonal naive.

    `backtest` is a `sadt.backtest.Backtest`; the history shown before the first window is
    its last `history_points` points (default: two windows' worth, at least 48)."""
    series, windows = backtest.series, backtest.windows
    first = windows[0].start
    keep = history_points or max(2 * backtest.horizon * len(windows), 48)
    start = max(first - keep, 0)
    fig = go.Figure(_history_trace(series, start, "what happened"))
    for k, w in enumerate(windows):
        x = _history_x(series, w.start)[: len(w.actual)]
        lo, hi = w.forecast.quantiles[0], w.forecast.quantiles[-1]
        shown = k == 0  # one legend entry per kind, however many windows
        fig.add_trace(
            go.Scatter(
                x=x, y=lo, mode="lines", line={"width": 0}, showlegend=False, legendgroup="band"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=hi,
                name="10–90% band",
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND,
                legendgroup="band",
                showlegend=shown,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=w.forecast.median,
                name="median forecast",
                mode="lines",
                line={"color": MEDIAN, "width": 2},
                legendgroup="median",
                showlegend=shown,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=w.naive,
                name="seasonal naive",
                mode="lines",
                line={"color": "#6b7280", "width": 1.5, "dash": "dash"},
                legendgroup="naive",
                showlegend=shown,
            )
        )
        fig.add_vline(x=x[0], line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    x_title = "time" if series.timestamps is not None else "step"
    count = f"{len(windows)} windows" if len(windows) > 1 else "1 window"
    title = f"Backtest: {count} of {backtest.horizon} steps, each forecast without it"
    return _layout(fig, title, x_title, series.name)
