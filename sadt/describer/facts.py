"""Facts computed from a whole series, for the describer's prompt and its words.

The describer's Llama decides what to say; numbers, dates and calendar words come from
here, because a small language model does not copy digits reliably. Two halves:

* ``SeriesFacts.prompt_text``: a short line of words (no numbers) the Llama reads beside
  the soft tokens: the sampling interval, the candidate cycles and how clear they are,
  whether the level ends higher or lower, and whether a jump or isolated outliers stand
  out. It names the cycles by slot ("[P1]") so the Llama can refer to them.
* ``SeriesFacts.slots``: what each slot the Llama may write stands for, in the data's
  own time and units ("[P1]" -> "a yearly cycle of 52 weeks", "[SPAN]" -> "between
  1958 and 2001", "[SHIFT]" -> "around 1898, from about 1110 to 844 (down by about a
  quarter)"). ``fill_slots`` puts them into the text.

Every test reads the whole series (long ones through the same statistics, no prefix
cut), so a description covers all of the history. The detectors are calibrated to stay
quiet on noise, smooth cycles, trends and random walks (``bench.describe_facts``; how the
descriptions fare on annotated real series: ``bench.describe_real``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sadt.describer.prompt import format_number
from sadt.horizon import _count
from sadt.series import whole_numbers

CLEAR, WEAK = 0.45, 0.2  # seasonal strength (Hyndman's F_S) of a clear / weak cycle
DIVISOR_SHARE = 0.85  # a divisor (7 under 14) keeping this share of the strongest's strength
JUMP_RATIO = 8.0  # a shift: its peak of window-to-window change vs the typical one
JUMP_NOISE = 5.0  # ... and vs the noise of a window mean
LASTING_SHARE = 0.5  # ... and the levels either side differ by this many series stds
SPIKE_Z = 10.0  # an outlier: robust z of the residual (MAD scale) at least this
MAX_SPIKE_SHARE = 0.005  # more outliers than this share of points: heavy tails, not spikes
TREND_SHARE = 0.5  # an overall change: end minus start level, in the series' std
STEP_GAIN = 12.0  # one step over a line or parabola: the residual sum of squares it saves,
#                   in units of the residual variance
STEP_WHITE = 1.2  # ... leaving residuals at most this rough against the point-to-point noise

# Cycle lengths that people's data has (steps of a day, week, year, hour at usual intervals).
COMMON_PERIODS = (4, 5, 6, 7, 12, 24, 48, 52, 60, 96, 144, 168, 288, 336, 365)
# How far (a share of the period) a round number of steps may lie from the autocorrelation's
# peak and still be taken when it fits nearly as well: with 3 cycles of 48 steps, a trend
# and noise, the peak lands at 45-46 (synthetic series: 0.81 -> 0.83 right at 7 % vs 4 %).
ROUND_REACH = 0.07
SLOT = re.compile(r"\[([A-Z][A-Z0-9]*)\]")
_CALENDAR = (  # (name as an adjective, seconds)
    ("hourly", 3600.0),
    ("daily", 86400.0),
    ("weekly", 7 * 86400.0),
    ("monthly", 30.44 * 86400.0),
    ("quarterly", 91.31 * 86400.0),
    ("yearly", 365.25 * 86400.0),
)
_FRACTIONS = ((1 / 2, "half"), (1 / 3, "a third"), (1 / 4, "a quarter"), (1 / 5, "a fifth"),
              (1 / 10, "a tenth"))  # fmt: skip
COUNT = ("no", "one", "two", "three")
# Cycle slots: a clause naming a cycle the facts call "none" is cut. (Shifts and spikes
# the facts miss stay the Llama's call: on synthetic series, where the truth is known,
# cutting those claims cost 5 points of shift and spike accuracy.)
CYCLE_SLOTS = frozenset({"P1", "P2"})


@dataclass
class Cycle:
    steps: int
    strength: float  # seasonal strength F_S in [0, 1]
    word: str | None = None  # calendar name ("yearly") when the period is one

    @property
    def clarity(self) -> str:
        return "clear" if self.strength >= CLEAR else "weak" if self.strength >= WEAK else "none"


@dataclass
class Shift:
    index: int  # first point after the shift
    before: float
    after: float
    # Found by the whole-series test (one step in a short noisy series), which simulated
    # trends, waves and noise pass under 1 % of the time: the words may not deny it.
    sure: bool = False


@dataclass
class SeriesFacts:
    n: int
    freq: str | None
    step_seconds: float | None  # None: no calendar (step index or irregular)
    months_per_step: float | None
    cycles: list[Cycle]  # candidates, strongest first (at most two)
    start_level: float
    end_level: float
    std: float
    shifts: list[Shift] = field(default_factory=list)
    spikes: list[int] = field(default_factory=list)  # indices, largest first
    # Each spike's value and the level around it (a median over a cycle or more), in the
    # data's units: "at 412, against about 1290 around it".
    spike_levels: dict[int, tuple[float, float]] = field(default_factory=dict)
    labels: list[str] | None = None  # a date label per point, or None (steps)
    name: str | None = None
    noise: str = "medium"  # "low" | "medium" | "high": noise std / signal std, as synthetic
    # The levels the words quote for a trend: where a line through each end's last stretch
    # starts and ends. The medians above decide the verdict; on a series still climbing
    # (gold's 92.7 -> ~4000), the median of its last 15 years (1500) is far from its end.
    start_shown: float | None = None
    end_shown: float | None = None

    # -- what the Llama reads ------------------------------------------------------------
    @property
    def trend(self) -> str:
        change = self.end_level - self.start_level
        if self.std <= 0 or abs(change) < TREND_SHARE * self.std:
            return "level"
        return "higher" if change > 0 else "lower"

    def prompt_text(self) -> str:
        """Words only: "Monthly. Cycles: [P1] clear, [P2] weak. Ends higher. Jumps: one.
        Outliers: no." The Llama refers to cycles by their slot names."""
        parts = [self.interval_word.capitalize() + "."]
        named = [
            f"[P{i + 1}] {c.clarity}" for i, c in enumerate(self.cycles) if c.clarity != "none"
        ]
        parts.append("Cycles: " + (", ".join(named) if named else "none") + ".")
        parts.append(
            {"level": "Ends level.", "higher": "Ends higher.", "lower": "Ends lower."}[self.trend]
        )
        parts.append(f"Jumps: {COUNT[min(len(self.shifts), 2)]}.")
        parts.append(f"Outliers: {COUNT[min(len(self.spikes), 3)]}.")
        return " ".join(parts)

    @property
    def interval_word(self) -> str:
        if self.months_per_step is not None:
            m = self.months_per_step
            return {1: "monthly", 3: "quarterly", 12: "yearly"}.get(round(m), "calendar steps")
        if self.step_seconds is None:
            return "steps"
        return _calendar_word(self.step_seconds) or _spell_seconds(self.step_seconds) + " steps"

    # -- what the slots stand for ------------------------------------------------------
    def slots(self) -> dict[str, str]:
        start, end = self.start_level, self.end_level
        quoted = self.noise != "high" and self.start_shown is not None  # noisy: medians
        if self.trend != "level" and quoted and self.end_shown is not None:
            if (self.end_shown - self.start_shown) * (end - start) > 0:  # same direction
                start, end = self.start_shown, self.end_shown
        start, end = _distinct(start, end)
        out = {"NAME": self.subject, "SPAN": self.span, "START": start, "END": end}
        for i, cycle in enumerate(self.cycles[:2]):
            if cycle.clarity != "none":  # the facts line says "Cycles: none" of it
                out[f"P{i + 1}"] = self.cycle_phrase(cycle)
        main = self.cycles[0] if self.cycles else None
        # A clear calendar cycle, or one seen four times over: denying any cycle is wrong.
        if main and main.clarity == "clear" and (main.word or 4 * main.steps <= self.n):
            out["P1_CLEAR"] = "yes"
        for i, shift in enumerate(self.shifts[:2]):
            out["SHIFT" if i == 0 else "SHIFT2"] = self.shift_phrase(shift)
        if any(shift.sure for shift in self.shifts):
            out["SHIFT_SURE"] = "yes"
        if self.spikes:
            out["SPIKES"] = self.spikes_phrase()
            out["N_SPIKES"] = str(min(len(self.spikes), 3))  # how many dates SPIKES names
            levels = [self.spike_levels[i] for i in self.spikes[:3] if i in self.spike_levels]
            if levels and all(value < base for value, base in levels):
                out["SPIKES_DOWN"] = "yes"  # every one a drop: the words say so
        return out

    @property
    def subject(self) -> str:
        name = (self.name or "").strip()
        generic = {"", "series", "value", "values", "y", "target", "data", "0", "1"}
        if name.lower() in generic or len(name) > 40 or "__" in name:
            return "The series"
        return f"The {name} series"

    def number(self, x: float) -> str:
        return _readable(float(x))

    def label(self, index: int) -> str:
        index = int(min(max(index, 0), self.n - 1))
        return self.labels[index] if self.labels is not None else f"step {index}"

    @property
    def span(self) -> str:
        if self.labels is None:
            return f"over {self.n} steps"
        return f"between {self.labels[0]} and {self.labels[-1]}"

    def cycle_phrase(self, cycle: Cycle) -> str:
        steps = cycle.steps
        if self.step_seconds is None and self.months_per_step is None:
            return f"a {steps}-step cycle"
        length = self.duration_words(steps)
        if cycle.word:
            article = "an" if cycle.word == "hourly" else "a"
            return f"{article} {cycle.word} cycle of {length}"
        return f"a cycle of about {length}"

    def duration_words(self, steps: int) -> str:
        """ "52 weeks", "24 hours", "12 months", "288 steps of 5 minutes"."""
        if self.months_per_step is not None:
            m = self.months_per_step
            unit = {1: "month", 3: "quarter", 12: "year"}.get(round(m))
            if unit:
                return _count(steps, unit)
            return _count(round(steps * m), "month")
        unit = _unit_of(self.step_seconds)
        if unit:
            return _count(steps, unit)
        return f"{steps} steps of {_spell_seconds(self.step_seconds)}"

    def spikes_phrase(self) -> str:
        """ "(around 2022-04-11 at 310 and 2023-04-06 at 308, against about 108 around
        them)": dates, values and the usual level in the data's units."""
        picked = sorted(self.spikes[:3])
        if not all(i in self.spike_levels for i in picked):
            return "(around " + _join([self.label(i) for i in picked]) + ")"
        dates = _join([
            f"{self.label(i)} at {self.number(self.spike_levels[i][0])}" for i in picked
        ])  # fmt: skip
        base = float(np.median([self.spike_levels[i][1] for i in picked]))
        around = "it" if len(picked) == 1 else "them"
        return f"(around {dates}, against about {self.number(base)} around {around})"

    def shift_phrase(self, shift: Shift) -> str:
        text = (
            f"around {self.label(shift.index)}, from about {self.number(shift.before)} "
            f"to {self.number(shift.after)}"
        )
        if shift.before > 0 and shift.after > 0:
            ratio = shift.after / shift.before - 1.0
            if abs(ratio) >= 0.02:
                text += f" ({_relative(ratio)})"
        return text


def _line_end(y: np.ndarray) -> float:
    """The last point of a least-squares line through y: the level y has reached."""
    if len(y) < 3:
        return float(y[-1])
    t = np.arange(len(y), dtype=np.float64)
    slope, intercept = np.polyfit(t, y, 1)
    return float(intercept + slope * t[-1])


_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_COUNTED = re.compile(
    r"\b(?:(there (?:is|are)) )?(an?|one|two|three|four) ((?:[a-z-]+ ){0,2}?)"
    r"(spike|dip|outlier|step change|shift|jump)(s?)\b",
    re.IGNORECASE,
)


def _agree_counts(sentence: str, slots: dict[str, str]) -> str:
    """The number a sentence gives its spikes or shifts is the number of dates its slots
    fill in: "two isolated spikes (around [SPIKES])" with three dates says three, "two
    step changes around [SHIFT]" with one says one."""
    counts = {}
    if "[SPIKES]" in sentence and slots.get("SPIKES"):
        n = int(slots.get("N_SPIKES", 0)) or None
        counts["spike"] = counts["dip"] = counts["outlier"] = n
    if "[SHIFT]" in sentence and slots.get("SHIFT"):
        n = 2 if "[SHIFT2]" in sentence and slots.get("SHIFT2") else 1
        counts["shift"] = counts["jump"] = counts["step change"] = n

    def one(match: re.Match) -> str:
        there, number, words, noun, plural = match.groups()
        n = counts.get(noun.lower())
        if not n or _NUMBER[number.lower()] == n:
            return match.group(0)
        head = "" if there is None else ("There is " if n == 1 else "There are ")
        if there is not None and there[0].islower():
            head = head.lower()
        word = COUNT[n] if n < len(COUNT) else str(n)
        if match.group(0)[0].isupper() and not head:
            word = word.capitalize()
        return f"{head}{word} {words}{noun}{'' if n == 1 else 's'}"

    return _COUNTED.sub(one, sentence) if counts else sentence


def fill_slots(text: str, slots: dict[str, str]) -> str:
    """Put each slot's words in place; a slot the facts do not have becomes neutral words."""
    text = " ".join(_agree_counts(part, slots) for part in re.split(r"(?<=[.!?])\s+", text))
    fallback = {"P1": "a cycle", "P2": "a second cycle", "SHIFT": "", "SHIFT2": "",
                "SPIKES": "", "NAME": "The series"}  # fmt: skip

    def one(match: re.Match) -> str:
        key = match.group(1)
        return slots.get(key, fallback.get(key, ""))

    filled = SLOT.sub(one, text)
    filled = re.sub(r"(?:,| and)? +([.;)])", r"\1", filled)  # an empty slot: no stray "and"
    filled = re.sub(r" +,", ",", filled)
    filled = re.sub(r"  +", " ", filled)
    # A slot that opens a sentence starts with a capital.
    return re.sub(r"(^|[.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), filled)


@dataclass(frozen=True)
class Calendar:
    """What one step of a series is: seconds (None for month-based or step-indexed data),
    months (None unless month-based), and whether the steps are business days."""

    step_seconds: float | None
    months: float | None
    business_days: bool = False


def calendar_of(freq: str | None, stamps: pd.DatetimeIndex | None = None) -> Calendar:
    """The calendar of a pandas frequency alias; irregular timestamps (no alias) are named
    by their median spacing."""
    from sadt.horizon import _business_days, _months_per_step, step_duration

    months = _months_per_step(freq)
    step = step_duration(freq)
    seconds = None if months is not None or step is None else step.total_seconds()
    if stamps is not None and freq is None and len(stamps) > 2:
        seconds = float(np.median(np.diff(stamps.asi8))) / 1e9
    return Calendar(seconds, months, _business_days(freq) and months is None)


def compute_facts(series, name: str | None = None) -> SeriesFacts:
    """The facts of a ``sadt.Series`` (timestamps and name used) or a plain array."""
    values = np.asarray(getattr(series, "values", series), dtype=np.float64).reshape(-1)
    freq = getattr(series, "freq", None)
    stamps = getattr(series, "timestamps", None)
    name = name if name is not None else getattr(series, "name", None)
    cal = calendar_of(freq, stamps)
    labels = _labels(stamps, cal.months, cal.step_seconds) if stamps is not None else None
    return facts_of_values(
        values, cal.step_seconds, cal.months, labels, freq, name, cal.business_days
    )


def facts_of_values(
    values: np.ndarray,
    step_seconds: float | None = None,
    months_per_step: float | None = None,
    labels: list[str] | None = None,
    freq: str | None = None,
    name: str | None = None,
    business_days: bool = False,
) -> SeriesFacts:
    x = np.asarray(values, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nanmedian(x) if np.isfinite(x).any() else 0.0)
    n = len(x)
    # Outliers out first: two spikes a hundred steps apart would read as a 100-step cycle.
    clean = x.copy()
    first_spikes = detect_spikes(x, None)
    if first_spikes:
        clean[first_spikes] = _running_median(x, 7)[first_spikes]
    cycles = candidate_cycles(clean, step_seconds, months_per_step, business_days)
    main = cycles[0].steps if cycles and cycles[0].clarity != "none" else None
    deseasoned = clean - _seasonal_component(clean, main) if main else clean
    edge = max(1, n // 10, main or 1)
    edge = min(edge, max(1, n // 3))
    start, end = float(np.median(deseasoned[:edge])), float(np.median(deseasoned[-edge:]))
    # Shown levels: a line through each end's last twentieth, deseasoned by a clear cycle
    # only (a weak 186-month "cycle" of gold prices would bend the ends). A clear first
    # cycle is `main`, so its deseasoned series is already at hand.
    clear = bool(cycles) and cycles[0].clarity == "clear"
    base = deseasoned if clear else clean
    shown = min(max(6, n // 20), max(1, n // 3))
    start_shown, end_shown = _line_end(base[:shown][::-1]), _line_end(base[-shown:])
    spikes = detect_spikes(x, main)
    # The level around a spike: a median over a cycle or more, so that a dip lasting a few
    # points is measured against the months around it, not against itself.
    window = min(max(7, 2 * (main or 0) + 1), max(7, n // 3) | 1)
    base = _running_median(clean, window)
    return SeriesFacts(
        n=n,
        freq=freq,
        step_seconds=step_seconds,
        months_per_step=months_per_step,
        cycles=cycles,
        start_level=start,
        end_level=end,
        start_shown=start_shown,
        end_shown=end_shown,
        std=float(np.std(deseasoned)),
        shifts=detect_shifts(deseasoned, main),
        spikes=spikes,
        spike_levels={i: (float(x[i]), float(base[i])) for i in spikes},
        labels=labels,
        name=name,
        noise=noise_level(deseasoned, clean),
    )


def noise_level(deseasoned: np.ndarray, x: np.ndarray) -> str:
    """The generator's noise words from noise std / signal std (thresholds 0.1 and 0.3):
    the noise from first differences of the deseasoned series (robust), the signal is what
    is left of the variance."""
    from sadt.synthetic import SyntheticConfig

    low, high = SyntheticConfig().noise_thresholds
    noise = 1.4826 * float(np.median(np.abs(np.diff(deseasoned)))) / math.sqrt(2)
    signal = math.sqrt(max(float(np.var(x)) - noise**2, 1e-24))
    ratio = noise / signal
    return "low" if ratio < low else "medium" if ratio < high else "high"


# ---- cycles -----------------------------------------------------------------------------


def calendar_periods(
    step_seconds: float | None, months: float | None, business_days: bool = False
) -> list[tuple[int, str]]:
    """The calendar's cycles in steps: [(24, "daily"), (168, "weekly")] for hourly data,
    [(5, "weekly"), (261, "yearly")] for business days."""
    if business_days:
        return [(5, "weekly"), (261, "yearly")]
    if months is not None:
        return [(round(12 / months), "yearly")] if months < 12 and (12 / months) >= 2 else []
    if step_seconds is None or step_seconds <= 0:
        return []
    found = []
    for word, seconds in _CALENDAR:
        if word in ("monthly", "quarterly"):
            continue  # months are not whole numbers of days
        steps = seconds / step_seconds
        if steps >= 2 and abs(steps - round(steps)) < 0.05 * steps:
            found.append((round(steps), word))
    return found


def _profile(detrended: np.ndarray, period: int, robust: bool = False) -> np.ndarray:
    """Each point's value of the mean repeating profile of ``detrended`` over ``period``;
    with ``robust`` the per-phase median, so one outlier does not echo into every cycle."""
    n = len(detrended)
    phase = np.arange(n) % period
    if robust:
        rows = -(-n // period)
        grid = np.full(rows * period, np.nan)
        grid[:n] = detrended
        return np.nanmedian(grid.reshape(rows, period), axis=0)[phase]
    counts = np.maximum(np.bincount(phase, minlength=period), 1)
    return (np.bincount(phase, detrended, minlength=period) / counts)[phase]


def _seasonal_component(x: np.ndarray, period: int, robust: bool = False) -> np.ndarray:
    """The repeating profile of ``x`` over ``period``, after a moving-average trend."""
    return _profile(x - _moving_average(x, period), period, robust)


def seasonal_strength(x: np.ndarray, period: int) -> float:
    """Hyndman's F_S = max(0, 1 - Var(remainder) / Var(season + remainder)), with the
    trend a centred moving average over one period, less what chance explains."""
    n = len(x)
    if period < 2 or n < 2 * period:
        return 0.0
    detrended = x - _moving_average(x, period)
    remainder = detrended - _profile(detrended, period)
    # A few wild points (a month-long collapse in 2020, a broken sensor) must not hide a
    # cycle every other year repeats: points whose remainder is beyond 4 robust sds are
    # replaced by trend + profile, and both are measured again without their pull.
    reach = 4 * 1.4826 * float(np.median(np.abs(remainder - np.median(remainder))))
    wild = np.abs(remainder) > reach
    if reach > 0 and wild.any():
        x = np.where(wild, x - remainder, x)
        detrended = x - _moving_average(x, period)
        remainder = detrended - _profile(detrended, period)
    total = float(np.var(detrended))
    if total <= 1e-12:
        return 0.0
    # With k cycles a profile of pure noise still explains about 1/k of it: discount that,
    # so that a few wiggles of a random walk do not read as a cycle.
    chance = period / n
    return max(0.0, (1.0 - float(np.var(remainder)) / total - chance) / (1.0 - chance))


def candidate_cycles(
    x: np.ndarray,
    step_seconds: float | None = None,
    months: float | None = None,
    business_days: bool = False,
) -> list[Cycle]:
    """Up to two cycles, strongest first, from a pool of the calendar's periods and the
    autocorrelation's peaks (snapped to a calendar period within 10 %) with their halves,
    thirds and quarters; each needs 2.5 cycles in the series.

    A multiple of a cycle always scores at least as high (a 14-step profile holds a 7-step
    cycle), so the first cycle is the shortest one that keeps 85 % of the best strength and
    a second one must hold strength of its own: a multiple of the first (weekly over daily)
    is scored on what remains once the first cycle is taken out."""
    from sadt.forecaster.bases import autocorrelation, detect_periods

    n = len(x)
    if np.all(x > 0) and x.max() > 3 * x.min():
        # Growth by a multiple: a cycle that grows with the level (multiplicative) is a
        # plain one on the log scale.
        x = np.log(x)
    calendar = dict(
        (p, w) for p, w in calendar_periods(step_seconds, months, business_days) if n >= 2.5 * p
    )
    view = x[-8192:]
    # High-pass first: a trend or a wandering level hides the cycles from the autocorrelation.
    view = view - _moving_average(view, max(3, len(view) // 4))
    sd = view.std() or 1.0
    lags = [lag for lag, _ in detect_periods(view / sd, max_periods=3)]
    acf = autocorrelation(view - view.mean())
    pool: dict[int, str | None] = dict(calendar)
    for lag in lags:
        for k in (1, 2, 3, 4):
            p = round(lag / k)
            if p < 2 or n < 2.5 * p:
                continue
            snapped = next((c for c in calendar if abs(p - c) <= 0.1 * c), None)
            # The autocorrelation's peak can sit a step off the cycle; the profile that
            # explains most says which whole number of steps it is.
            p = snapped or _refine(acf, p)
            pool.setdefault(p, calendar.get(p) or _word_for(p, step_seconds, months))
    cycles = [Cycle(p, seasonal_strength(x, p), w) for p, w in pool.items()]
    if not cycles:
        return []
    top = max(cycles, key=lambda c: c.strength)
    # A divisor of the strongest that keeps DIVISOR_SHARE of its strength is the cycle.
    divisors = [
        c for c in cycles
        if c.steps < top.steps and abs(top.steps / c.steps - round(top.steps / c.steps)) < 0.05
        and c.strength >= DIVISOR_SHARE * top.strength
    ]  # fmt: skip
    first = min(divisors, key=lambda c: c.steps) if divisors else top
    first = _whole_cycle(first, acf, n, step_seconds, months)
    rest = []
    without_first = None
    for c in cycles:
        if c is first:
            continue
        ratio = max(c.steps, first.steps) / min(c.steps, first.steps)
        if abs(ratio - round(ratio)) >= 0.1:  # an unrelated cycle
            if c.strength >= 0.5 * first.strength:
                rest.append(c)
        elif c.steps > first.steps:  # a multiple (weekly over daily): its own share
            if without_first is None:
                without_first = x - _seasonal_component(x, first.steps)
            own = seasonal_strength(without_first, c.steps)
            if own >= WEAK:
                rest.append(Cycle(c.steps, own, c.word))
        elif c.strength >= max(WEAK, 0.5 * first.strength):  # a divisor (daily in weekly)
            rest.append(c)
    rest.sort(key=lambda c: -c.strength)
    return [first] + rest[:1]


def _whole_cycle(cycle: Cycle, acf: np.ndarray, n: int, step_seconds, months) -> Cycle:
    """A cycle of no calendar length that is two or three turns of a shorter one. A cycle
    of 9.6 years fits no whole number of years, so its 10-year profile drifts out of phase
    while two turns (19 years, nearly whole) fit well; the autocorrelation tells them apart:
    at half a true 19-year cycle it is negative, at one turn of a 9.6-year one it peaks as
    high as at two. The shorter cycle keeps the strength of the longer one it was seen in."""
    if cycle.word is not None or cycle.steps < 8:
        return cycle
    whole = acf[cycle.steps] if cycle.steps < len(acf) else 0.0
    for k in (3, 2):
        p = round(cycle.steps / k)
        if p < 4 or n < 2.5 * p or p + 1 >= len(acf):
            continue
        turn = max(acf[p - 1 : p + 2])  # the peak of a cycle of p +- 1/2 steps
        # ... a peak, not a slowly falling autocorrelation (a trend, a shift): it dips
        # half a turn earlier.
        dip = min(acf[max(1, p // 2 - 1) : p // 2 + 2])
        if whole > 0 and turn >= 0.8 * whole and dip <= turn - 0.5:
            return Cycle(p, cycle.strength, _word_for(p, step_seconds, months))
    return cycle


def _refine(acf: np.ndarray, lag: int) -> int:
    """The whole number of steps next to ``lag`` (3 %, at least one step) that its
    multiples agree on: the autocorrelation's peak can sit a step off a long cycle, but at
    2, 3, 4 ... cycles the wrong length drifts off the peaks and the right one does not."""
    reach = max(1, round(0.03 * lag))
    near = [p for p in range(lag - reach, lag + reach + 1) if 2 <= p < len(acf) // 2]
    if not near:
        return lag

    def comb(p: int) -> float:
        ks = np.arange(1, max(2, (len(acf) // 2) // p) + 1)
        ks = ks[ks * p < len(acf)]
        return float(np.mean(acf[ks * p]))

    best = max(near, key=comb)
    # A round number of steps close by (a day of hours, a year of months, an hour of
    # minutes) that fits nearly as well is the likelier cycle: with few cycles in the
    # series, a step either side is within the noise.
    round_near = [p for p in COMMON_PERIODS if abs(p - best) <= max(1, ROUND_REACH * best)]
    if round_near and comb(round_near[0]) >= 0.9 * comb(best):
        return round_near[0]
    return best


def _word_for(lag: int, step_seconds: float | None, months: float | None) -> str | None:
    seconds = (
        lag * months * 30.44 * 86400 if months is not None
        else None if step_seconds is None else lag * step_seconds
    )  # fmt: skip
    return None if seconds is None else _calendar_word(seconds)


# ---- events ------------------------------------------------------------------------------


def detect_shifts(x: np.ndarray, period: int | None) -> list[Shift]:
    """Lasting level shifts (at most two): where the change between the mean of a window
    after a point and the window before it stands out from the changes around it (a step
    makes a sharp peak there; a trend, even a curved one, changes every window alike) by
    far more than is typical of the series, and more than the noise of a window mean, and
    where most of that change happens within a few points (a bend is not a step). A series
    that grows by orders of magnitude is read on a log scale."""
    n = len(x)
    # The cycle is already out of ``x`` (facts_of_values passes the deseasoned series), so
    # the window need not span it; a window of a cycle would hide every shift of a series
    # only a few cycles long.
    w = max(3, min(period or n, n // 20))
    if n < 6 * w:
        return []
    y = x
    positive = bool(np.all(x > 0))
    if positive and x.max() / x.min() > 10:
        y = np.log(x)
    c = np.concatenate([[0.0], np.cumsum(y)])
    t = np.arange(w, n - w + 1)
    after = (c[t + w] - c[t]) / w
    before = (c[t] - c[t - w]) / w
    d = after - before
    # The step's peak against the changes one window either side of it.
    dd = np.zeros_like(d)
    dd[w:-w] = d[w:-w] - 0.5 * (d[: -2 * w] + d[2 * w :])
    typical = float(np.median(np.abs(dd[w:-w]))) + 1e-12
    noise = step_noise(y)
    window_noise = noise * math.sqrt(2.0 / w)
    shifts: list[Shift] = []
    blocked = np.zeros(len(d), bool)
    if abs(d).max() < JUMP_NOISE * window_noise:
        # Too noisy for windows of w points (a century of yearly river flows): one step
        # between two long flat stretches can still stand out over the whole series.
        at = _single_step(y, noise)
        if at is not None:
            shifts.append(Shift(at, 0.0, 0.0, sure=True))
            blocked[:] = True
    blocked[:w] = blocked[-w:] = True
    for _ in range(6):  # candidates, strongest first; at most two shifts
        score = np.where(blocked, 0.0, np.abs(dd))
        i = int(np.argmax(score))
        if score[i] < JUMP_RATIO * typical or abs(d[i]) < JUMP_NOISE * window_noise:
            break
        blocked[max(0, i - 2 * w) : i + 2 * w] = True
        at = _abrupt_at(y, int(t[i]), w, abs(d[i]))
        if at is not None:
            shifts.append(Shift(at, 0.0, 0.0))
        if len(shifts) == 2:
            break
    # The levels either side: medians of the whole stretches between shifts. A shift lasts:
    # the stretch after it stays away from the one before by a good part of the series'
    # spread (a holiday dip or a heat wave comes back).
    shifts.sort(key=lambda s: s.index)
    edges = [0] + [s.index for s in shifts] + [n]
    for k, shift in enumerate(shifts):
        shift.before = float(np.median(x[edges[k] : edges[k + 1]]))
        shift.after = float(np.median(x[edges[k + 1] : edges[k + 2]]))
    spread = float(np.std(x))
    return [s for s in shifts if abs(s.after - s.before) >= LASTING_SHARE * spread]


def step_noise(y: np.ndarray) -> float:
    """The sd of white noise on ``y`` from its point-to-point steps (robust: 1.4826 MAD of
    the differences over sqrt 2; a trend or a slow wave hardly moves it)."""
    return 1.4826 * float(np.median(np.abs(np.diff(y)))) / math.sqrt(2) + 1e-12


def _single_step(y: np.ndarray, noise: float) -> int | None:
    """Where one step splits ``y`` into two flat stretches (each at least a tenth of it),
    when that fits far better than a straight line or a parabola (``STEP_GAIN`` residual
    variances saved: a trend, even a curved one, fits those as well) and leaves residuals
    hardly rougher than the point-to-point noise (a random walk's wandering level leaves far
    rougher ones); else None. Simulated (`python -m bench.describe_shapes`, 300 series of
    each kind at n = 60, 100, 300): lines, parabolas and slow waves get a step in under
    0.5 %, AR(1) noise in about 1 %, a gentle S-curve in 4-7 %; a step of 1.9 noise sds a
    third of the way along is found in 36 %, 65 % and 99 % of them."""
    n = len(y)
    m = max(5, n // 10)
    if n < 2 * m + 1:
        return None
    k = np.arange(m, n - m + 1)
    c1 = np.concatenate([[0.0], np.cumsum(y)])
    c2 = np.concatenate([[0.0], np.cumsum(y * y)])
    left = c2[k] - c1[k] ** 2 / k
    right = (c2[n] - c2[k]) - (c1[n] - c1[k]) ** 2 / (n - k)
    rss = left + right
    best = int(np.argmin(rss))
    t = np.arange(n, dtype=np.float64) / n
    rss_smooth = min(float(np.sum((y - np.polyval(np.polyfit(t, y, d), t)) ** 2)) for d in (1, 2))
    sigma = math.sqrt(rss[best] / (n - 2))
    gain = (rss_smooth - rss[best]) / max(sigma, 1e-12) ** 2
    if gain < STEP_GAIN or sigma > STEP_WHITE * noise:
        return None
    return int(k[best])


def _abrupt_at(y: np.ndarray, k: int, w: int, change: float) -> int | None:
    """Where near ``k`` most of ``change`` happens within a few points (a step), else None
    (a bend of a trend or a slow swing spreads it over the whole window)."""
    span = max(1, w // 4)
    c = np.concatenate([[0.0], np.cumsum(y)])
    js = np.arange(max(span, k - w // 2), min(len(y) - span, k + w // 2) + 1)
    if len(js) == 0:
        return None
    short = np.abs((c[js + span] - c[js]) - (c[js] - c[js - span])) / span
    j = int(np.argmax(short))
    return int(js[j]) if short[j] >= 0.5 * change else None


def detect_spikes(x: np.ndarray, period: int | None) -> list[int]:
    """Isolated outliers (largest first, at most three): points far from a running median
    (and the cycle), in robust units of the residual. Heavy-tailed noise, where many points
    would count, has no isolated spikes."""
    n = len(x)
    if n < 10:
        return []
    y = x - _seasonal_component(x, period, robust=True) if period and n >= 2 * period else x
    residual = y - _running_median(y, 7)  # the cycle out first: a median would flatten it
    scale = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    if scale <= 1e-12:
        scale = float(np.std(residual)) or 1.0
    # A floor on the scale: a smooth series has almost no residual, and its slight bends
    # are not spikes.
    scale = max(scale, 0.02 * float(np.std(x)))
    z = np.abs(residual) / scale
    threshold = max(SPIKE_Z, float(np.sqrt(2 * np.log(n))) + 2.0)
    if np.count_nonzero(z >= 5.0) > max(6, MAX_SPIKE_SHARE * n):
        return []  # heavy tails: many large residuals, none of them isolated
    hits = np.flatnonzero(z >= threshold)
    # Isolated: a spike stands alone; a run of large residuals is a fast change of level.
    neighbours = np.maximum(np.roll(z, 2), np.roll(z, -2))
    hits = hits[neighbours[hits] < 0.5 * z[hits]]
    if len(hits) > max(3, MAX_SPIKE_SHARE * n):
        return []
    # Neighbouring hits are one spike.
    order = hits[np.argsort(-z[hits])]
    picked: list[int] = []
    for i in order:
        if all(abs(int(i) - j) > 2 for j in picked):
            picked.append(int(i))
    return picked[:3]


# ---- helpers -----------------------------------------------------------------------------


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` (2 x window for an even one), edges held."""
    n = len(x)
    window = int(max(1, min(window, n)))
    if window == 1:
        return x.copy()
    c = np.concatenate([[0.0], np.cumsum(x)])
    half = window // 2
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx - half + window, 0, n)
    out = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    if window % 2 == 0 and n > 1:  # a 2 x window average centres an even window
        out = 0.5 * (out + np.concatenate([out[1:], out[-1:]]))
    return out


def _running_median(x: np.ndarray, window: int) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view

    half = window // 2
    padded = np.pad(x, half, mode="edge")
    return np.median(sliding_window_view(padded, window), axis=1)


def date_labels(stamps: pd.DatetimeIndex, freq: str | None) -> list[str]:
    """A label per timestamp at the frequency's grain: "1898", "Mar 1898", "2003-05-04",
    "2017-01-02 14:00"."""
    cal = calendar_of(freq, stamps)
    return _labels(stamps, cal.months, cal.step_seconds)


def _labels(stamps: pd.DatetimeIndex, months: float | None, step_seconds: float | None):
    if months is not None and months >= 12:
        fmt = "%Y"
    elif months is not None:
        fmt = "%b %Y"
    elif step_seconds is not None and step_seconds >= 86400:
        fmt = "%Y-%m-%d"
    else:
        fmt = "%Y-%m-%d %H:%M"
    return [t.strftime(fmt) for t in stamps]


def _calendar_word(seconds: float) -> str | None:
    for word, size in _CALENDAR:
        if abs(seconds - size) <= 0.05 * size:
            return word
    return None


def _unit_of(step_seconds: float) -> str | None:
    for unit, size in (("minute", 60), ("hour", 3600), ("day", 86400), ("week", 604800)):
        if abs(step_seconds - size) < 1:
            return unit
    return None


def _spell_seconds(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-6:
            return _count(round(seconds / size), unit)
    return _count(round(seconds), "second")


def _readable(x: float, digits: int = 3) -> str:
    """A number for people: 3 significant digits, "44.2 million" past a million."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(x) >= size:
            return f"{format_number(x / size, digits)} {word}"
    return format_number(x, digits)


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Two levels with enough digits to tell them apart ("1016" and "1021", not "1020" twice),
    unless they are within a tenth of a percent (a level that stays: "508", not "508.4")."""
    if abs(a - b) < 0.001 * max(abs(a), abs(b)):
        return _readable(a), _readable(b)
    for digits in range(3, 8):
        x, y = _readable(a, digits), _readable(b, digits)
        if x != y:
            return x, y
    return x, y


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _relative(ratio: float) -> str:
    direction = "up" if ratio > 0 else "down"
    size = abs(ratio)
    if size >= 1.0:
        return f"{direction} {format_number(1 + ratio)}-fold" if ratio > 0 else "down sharply"
    for value, word in _FRACTIONS:
        if abs(size - value) <= 0.15 * value:
            return f"{direction} by about {word}"
    return f"{direction} by about {round(100 * size)} %"


# ---- the forecast ---------------------------------------------------------------------------


@dataclass
class ForecastFacts:
    """What a forecast says relative to its history: verdicts for the prompt, slot values."""

    cycle: str  # "continues" | "fades" | "none": the history's main cycle in the median path
    level: str  # "higher" | "lower" | "level": the median's end against the history's end
    band: str  # "widens" | "steady": the 10-90 % band's width, end against start
    slot_values: dict[str, str]

    def prompt_text(self) -> str:
        cycle = {"continues": "continues [P1]", "fades": "[P1] fades", "none": "none"}[self.cycle]
        return f"Forecast. Cycle: {cycle}. Ends {self.level}. Band: {self.band}."

    def slots(self) -> dict[str, str]:
        return dict(self.slot_values)


def forecast_facts(
    history: SeriesFacts,
    history_values: np.ndarray,
    median: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    future_labels: list[str] | None = None,
) -> ForecastFacts:
    """Facts of a forecast (median and 10-90 % band, each (h,)) after ``history``."""
    median, low, high = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (median, low, high))
    h = len(median)
    # The cycle a reader can see in the forecast: the strongest named one that fits one and
    # a half times in the horizon (a day of a weekly cycle shows the daily one), else the
    # shortest named one. Only cycles a reader can trust are named: clear ones, or weak
    # ones with a calendar name (a weak 37-year "cycle" of gold prices is not).
    named = [c for c in history.cycles if c.clarity == "clear" or c.clarity == "weak" and c.word]
    fitting = [c for c in named if h >= 1.5 * c.steps]
    main = fitting[0] if fitting else min(named, key=lambda c: c.steps) if named else None
    cycle = "none"
    if main is not None:
        p = main.steps
        if h >= 1.5 * p:
            joined = np.concatenate([np.asarray(history_values, float)[-2 * p :], median])
            # The history's own profile carried on: is the forecast's swing comparable?
            tail = np.asarray(history_values, float)[-2 * p :]
            swing_hist = float(np.std(tail - _moving_average(tail, p)))
            swing_fc = float(np.std(median - _moving_average(median, p)))
            strong = seasonal_strength(joined, p) >= WEAK
            cycle = "continues" if strong and swing_fc >= 0.5 * swing_hist else "fades"
        else:
            swing_hist = float(np.std(np.asarray(history_values, float)[-p:]))
            cycle = "continues" if float(np.std(median)) >= 0.5 * swing_hist else "fades"
    # The forecast's end against the history's end, over windows of one length (a month of
    # a daily series against its last month, not against its whole last year).
    window = max(1, min(h, main.steps if main else max(1, h // 4)))
    last = float(np.mean(np.asarray(history_values, float)[-window:]))
    end = float(np.mean(median[-window:]))
    spread = history.std if history.std > 0 else 1.0
    change = end - last
    level = "level" if abs(change) < 0.25 * spread else ("higher" if change > 0 else "lower")
    width = high - low
    w0, w1 = float(width[0]), float(width[-1])
    band = "widens" if w1 > 1.5 * max(w0, 1e-12) else "steady"
    peak = int(np.argmax(median))
    label = (
        future_labels[peak]
        if future_labels is not None and len(future_labels) == h
        else f"step {peak + 1} ahead"
    )
    from sadt.horizon import steps_as_time

    ahead = steps_as_time(h, history.freq).split(" = ")[-1]
    ahead = ahead.removeprefix("1 ") if ahead.startswith("1 ") else ahead  # "the next day"
    values = {
        "AHEAD": f"the next {ahead}",
        "PEAK": f"around {label} at about {history.number(median[peak])}",
        # Counts end near a count: "near 0", not the 0.0417 a window's mean gives.
        "FEND": history.number(float(np.round(end)) if whole_numbers(history_values) else end),
        "BAND0": history.number(w0),
        "BAND1": history.number(w1),
    }
    if main is not None:  # without one, a sentence naming [P1] is rewritten or cut
        values["P1"] = history.cycle_phrase(main)
    return ForecastFacts(cycle, level, band, values)


_OPENERS = re.compile(r"^(?:it has|it shows|there (?:is|are)|the series (?:has|shows))\s+")


_DENIED_CYCLE_SENTENCE = re.compile(
    r"^(?:There is no seasonal pattern|It has no repeating (?:cycle|pattern)|It is not periodic)"
    r"\.$"
)
_DENIED_CYCLE = re.compile(r"\bno (?:clear seasonality|repeating (?:pattern|cycle)|regular cycle)")


def _no_denied_cycle(sentence: str) -> str:
    """A clear cycle is never denied: "It has no repeating cycle." becomes "It has [P1].",
    "..., with no clear seasonality" "..., with [P1]" (a restatement is dropped later)."""
    if _DENIED_CYCLE_SENTENCE.match(sentence):
        return "It has [P1]."
    return _DENIED_CYCLE.sub("[P1]", sentence)


_NEITHER_SHIFT = re.compile(
    r"\b(?:no|neither) (spikes|outliers) (?:or|nor) (?:level shifts|step changes)\b"
)
_DENIED_SHIFT = re.compile(
    r"\bno (?:abrupt )?(?:level shifts|step changes(?: in level)?|shifts in level)\b"
)


def _no_denied_shift(sentence: str, two: bool) -> str:
    """A sure shift (`Shift.sure`) is never denied: "..., with no spikes or level shifts"
    becomes "..., with no spikes and a level shift [SHIFT]", "It has no step changes." "It
    has a level shift [SHIFT]." (the words learned to count shifts from synthetic series,
    and can miss a step in a short noisy one that the facts' whole-series test finds)."""
    found = "level shifts [SHIFT] and [SHIFT2]" if two else "a level shift [SHIFT]"
    sentence = _NEITHER_SHIFT.sub(lambda m: f"no {m.group(1)} and {found}", sentence)
    return _DENIED_SHIFT.sub(found, sentence)


_FORECAST_CYCLE = re.compile(
    r"\b(?:continues|keeps|repeats|lets|shows) \[P1\](?: going| fade| only faintly)?"
)


def without_missing_claims(sentence: str, slots: dict[str, str]) -> str:
    """The sentence without its clauses that name a cycle the facts do not have ("...,
    with no spikes and a yearly cycle of [P1]." when the facts found no clear cycle); ""
    when its main clause does."""

    def missing(text: str) -> bool:
        keys = [k for k in SLOT.findall(text) if k in CYCLE_SLOTS]
        return bool(keys) and all(k not in slots for k in keys)

    for key in CYCLE_SLOTS - slots.keys():
        # "... with [P1] and a weaker [P2] on top": the named cycle stays, the other goes.
        sentence = re.sub(rf" and [^,.;\[]*\[{key}\][^,.;\[]*", "", sentence)
    if not missing(sentence):
        return sentence
    # A forecast's words about a cycle its facts do not name: "the forecast has no cycle".
    sentence = _FORECAST_CYCLE.sub("has no cycle", sentence)
    if not missing(sentence):
        return sentence
    stop = sentence[-1] if sentence[-1:] in ".!?" else ""
    clauses = sentence.rstrip(".!?").split(", ")
    if missing(clauses[0]):
        return ""
    kept = [clauses[0]]
    for clause in clauses[1:]:
        if missing(clause):
            pieces = clause.split(" and ")
            left = [p for p in pieces if not missing(p)]
            if not left:
                continue
            if pieces[0].startswith("with ") and not left[0].startswith("with "):
                left[0] = "with " + left[0]
            clause = " and ".join(left)
        kept.append(clause)
    return ", ".join(kept) + stop


def _said_before(sentence: str, said: str) -> bool:
    """A sentence that only restates a phrase already shown ("It has a yearly cycle of 12
    months." after "..., with a yearly cycle of 12 months")."""
    body = _OPENERS.sub("", sentence.lower().rstrip(".!? ")).removesuffix(" throughout")
    return len(body) >= 12 and body in said


class SlotStream:
    """Fill slots in text that arrives piece by piece, a sentence at a time: ``feed``
    returns the sentences completed so far (never a half-written slot), ``close`` the
    rest. A sentence the text already said is dropped and ``repeated`` turns True, so the
    caller can stop generating (a small model at greedy decoding can loop)."""

    def __init__(self, slots: dict[str, str]):
        self.slots, self.raw, self.done = slots, "", 0
        self.seen: set[str] = set()
        self.said = ""  # what was shown, lower case
        self.repeated, self.count = False, 0
        self.p1_named = False

    def feed(self, piece: str) -> str:
        self.raw += piece
        out = []
        while not self.repeated:
            end = re.search(r"[.!?]\s", self.raw[self.done :])
            if end is None:
                break
            stop = self.done + end.end()
            out.append(self._sentence(self.raw[self.done : stop]))
            self.done = stop
        return "".join(out)

    def close(self) -> str:
        rest, self.done = self.raw[self.done :], len(self.raw)
        return "" if self.repeated else self._sentence(rest)

    def _first_cycle_first(self, raw: str) -> str:
        """The second cycle is never named before the first (half-hourly demand: its daily
        cycle, then its weekly one): the first sentence naming [P2] alone names both."""
        if "[P1]" in raw:
            self.p1_named = True
        elif "[P2]" in raw and "P1" in self.slots and not self.p1_named:
            raw = raw.replace("[P2]", "[P1] and [P2]", 1)
            self.p1_named = True
        return raw

    def _sentence(self, raw: str) -> str:
        key = " ".join(raw.lower().split())
        if not key:
            return ""
        if key in self.seen:
            self.repeated = True
            return ""
        self.seen.add(key)
        raw = without_missing_claims(raw.strip(), self.slots)
        if "P1_CLEAR" in self.slots:
            raw = _no_denied_cycle(raw)
        if "SHIFT_SURE" in self.slots:
            raw = _no_denied_shift(raw, "SHIFT2" in self.slots)
        if "SPIKES_DOWN" in self.slots and "[SPIKES]" in raw:
            raw = re.sub(r"\bspike(s?)\b", r"dip\1", raw)  # every one a drop
        raw = self._first_cycle_first(raw)
        text = fill_slots(raw, self.slots) if raw else ""
        if not text or _said_before(text, self.said):
            return ""
        self.said += " " + text.lower()
        self.count += 1
        return text if self.count == 1 else " " + text
