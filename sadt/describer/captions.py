"""Captions and multiple-choice questions from a `SeriesAttributes` record, and their inverse.

`caption` writes 1-3 sentences (< 60 words) that always state the five scored attributes
(`ATTRIBUTES`), negatives included ("no spikes", "no clear seasonality"), with varied but
bounded wording. `parse_description` reads any such text (and reasonable free text) back into
attributes; `score_description` says which attributes a text gets right. The round trip
`parse_description(caption(a))` recovers every attribute exactly; tests hold it to that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sadt.describer.prompt import format_number
from sadt.synthetic import SeriesAttributes, SyntheticConfig, generate_batch

ATTRIBUTES = ("trend", "period", "noise", "spikes", "level_shifts")
COUNT_WORDS = ("no", "one", "two", "three", "four")
LETTERS = "ABCD"

SUBJECTS = ("The series", "This series", "The time series", "The signal")
TREND_PHRASES = {
    ("up", None): ("rises", "increases", "climbs", "trends upward", "goes up over time",
                   "shows an upward trend", "has a rising trend"),
    ("up", "linear"): ("rises steadily", "increases at a steady pace", "climbs in a straight line",
                       "shows a steady upward trend"),
    ("up", "curved"): ("rises along a curve", "increases at a changing rate",
                       "shows a curved upward trend", "climbs in a curved, non-linear way"),
    ("down", None): ("falls", "decreases", "declines", "trends downward", "goes down over time",
                     "shows a downward trend", "has a falling trend"),
    ("down", "linear"): ("falls steadily", "decreases at a steady pace",
                         "declines in a straight line", "shows a steady downward trend"),
    ("down", "curved"): ("falls along a curve", "decreases at a changing rate",
                         "shows a curved downward trend", "declines in a curved, non-linear way"),
    ("none", None): ("shows no clear trend", "has no overall trend", "stays level overall",
                     "does not trend up or down", "is flat overall", "has no long-term trend"),
}  # fmt: skip
NOISE_PHRASES = {  # (noun phrases, sentences)
    "low": (("low noise", "little noise", "only slight noise"),
            ("Noise is low.", "The noise level is low.", "It is only slightly noisy.")),
    "medium": (("moderate noise", "medium noise", "a moderate amount of noise"),
               ("Noise is moderate.", "The noise level is medium.", "It is moderately noisy.")),
    "high": (("high noise", "heavy noise", "a lot of noise"),
             ("Noise is high.", "The noise level is high.", "It is very noisy.")),
}  # fmt: skip
SEASON_NONE = ("no clear seasonality", "no repeating pattern", "no regular cycle")
SEASON_NONE_SENTENCES = ("There is no seasonal pattern.", "It has no repeating cycle.",
                         "It is not periodic.")  # fmt: skip
SEASON_MAIN = ("a {p}-step cycle", "a seasonal pattern that repeats every {p} steps",
               "a period of {p} steps", "a regular cycle of {p} steps")  # fmt: skip
SEASON_MAIN_SENTENCES = ("It repeats every {p} steps.", "The main cycle has a period of {p} steps.",
                         "A seasonal pattern repeats every {p} steps.")  # fmt: skip
SEASON_SECOND = (" plus a weaker {q}-step cycle", " with a smaller cycle of {q} steps on top")
# (none, one, several) phrases; {k} is a count word.
SPIKE_PHRASES = (
    ("no spikes", "no outliers", "no sudden spikes"),
    ("one sharp spike", "a single spike", "one isolated outlier"),
    ("{k} sharp spikes", "{k} isolated spikes", "{k} outliers"),
)
SHIFT_PHRASES = (
    ("no level shifts", "no step changes", "no abrupt shifts in level"),
    ("a level shift", "one step change in level", "an abrupt shift in level"),
    ("{k} level shifts", "{k} step changes in level", "{k} abrupt shifts in level"),
)
SHIFT_PLACES = (" early on", " around the middle", " late in the series")
NEITHER = ("no spikes or level shifts", "neither spikes nor level shifts",
           "no outliers or step changes")  # fmt: skip
MEAN_PHRASES = (("a mean level of about {m}", "Values hover around {m}."),
                ("a mean of roughly {m}", "The mean level is about {m}."))  # fmt: skip
OPENERS = ("It has", "It shows", "It also has", "The series also shows")


def caption(
    attrs: SeriesAttributes, rng: np.random.Generator, stats: tuple[float, float] | None = None
) -> str:
    """A 1-3 sentence description of `attrs`; `stats` = (mean, std) of the raw series."""
    nouns, sentences = NOISE_PHRASES[attrs.noise]
    items = [_season_item(attrs, rng), (_pick(rng, nouns), _pick(rng, sentences))]
    if not attrs.spikes and not attrs.level_shifts and rng.random() < 0.4:
        phrase = _pick(rng, NEITHER)
        items.append((phrase, f"There are {phrase}."))
    else:
        items += [_count_item(rng, len(attrs.spikes), SPIKE_PHRASES), _shifts_item(attrs, rng)]
    if stats is not None and rng.random() < 0.5:
        noun, sentence = _pick(rng, MEAN_PHRASES)
        items.append(
            (noun.format(m=format_number(stats[0])), sentence.format(m=format_number(stats[0])))
        )
    if attrs.random_walk and rng.random() < 0.3:
        items.append(("some slow random wandering", "It also wanders slowly."))
    items = [items[i] for i in rng.permutation(len(items))]

    first = f"{_pick(rng, SUBJECTS)} {_trend_phrase(attrs, rng)}"
    with_count = int(rng.integers(0, min(3, len(items)) + 1))
    if with_count:
        first += ", with " + _join([noun for noun, _ in items[:with_count]])
    sentences = [first + "."]
    rest = items[with_count:]
    cut = int(rng.integers(1, len(rest))) if len(rest) > 1 and rng.random() < 0.5 else len(rest)
    groups = [rest[:cut], rest[cut:]]
    openers = [OPENERS[i] for i in rng.permutation(len(OPENERS))]  # no opener twice
    for group, opener in zip(groups, openers, strict=False):
        if len(group) == 1 and rng.random() < 0.6:
            sentences.append(group[0][1])
        elif group:
            sentences.append(f"{opener} {_join([noun for noun, _ in group])}.")
    return " ".join(sentences)


def caption_corpus(n: int, seed: int, with_questions: bool = True) -> list[str]:
    """Texts for training the describe model's tokenizer: a caption (with the raw mean) per
    synthetic series, and with `with_questions` a question prompt and its answer per series."""
    rng = np.random.default_rng(seed)
    texts = []
    for x, attrs in generate_batch(n, seed, SyntheticConfig()):
        texts.append(caption(attrs, rng, stats=(float(x.mean()), float(x.std()))))
        if with_questions:
            mc = questions(attrs, rng, n=1)[0]
            texts.append(f"{mc.prompt()}\nAnswer: {mc.answer_text}")
    return texts


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _trend_phrase(attrs: SeriesAttributes, rng: np.random.Generator) -> str:
    shaped = (attrs.trend, attrs.trend_shape)
    if shaped in TREND_PHRASES and rng.random() < 0.5:
        return _pick(rng, TREND_PHRASES[shaped])
    return _pick(rng, TREND_PHRASES[(attrs.trend, None)])


def _season_item(attrs: SeriesAttributes, rng: np.random.Generator) -> tuple[str, str]:
    if not attrs.seasonalities:
        return _pick(rng, SEASON_NONE), _pick(rng, SEASON_NONE_SENTENCES)
    p = attrs.dominant_period
    noun = _pick(rng, SEASON_MAIN).format(p=p)
    sentence = _pick(rng, SEASON_MAIN_SENTENCES).format(p=p)
    if len(attrs.seasonalities) > 1:  # the dominant period always comes first
        second = _pick(rng, SEASON_SECOND).format(q=attrs.seasonalities[1].period)
        noun, sentence = noun + second, sentence[:-1] + second + "."
    return noun, sentence


def _count_item(rng: np.random.Generator, count: int, phrases) -> tuple[str, str]:
    """(noun phrase, sentence) for `count` spikes or level shifts; `phrases` = (none, one, some)."""
    noun = _pick(rng, phrases[min(count, 2)]).format(k=COUNT_WORDS[count])
    return noun, f"There {'is' if count == 1 else 'are'} {noun}."


def _shifts_item(attrs: SeriesAttributes, rng: np.random.Generator) -> tuple[str, str]:
    noun, sentence = _count_item(rng, len(attrs.level_shifts), SHIFT_PHRASES)
    if len(attrs.level_shifts) == 1 and rng.random() < 0.5:
        where = attrs.level_shifts[0] / attrs.length
        noun += SHIFT_PLACES[0 if where < 0.4 else 1 if where < 0.6 else 2]
        sentence = f"There is {noun}."
    return noun, sentence


# --- multiple-choice questions ----------------------------------------------------------------


@dataclass(frozen=True)
class MultipleChoice:
    """A question with four options, exactly one of them (`answer`, an index) correct."""

    question: str
    options: tuple[str, ...]
    answer: int
    topic: str = ""  # which attribute it asks about, for per-topic accuracy

    def prompt(self) -> str:
        options = " ".join(f"{LETTERS[i]}) {o}" for i, o in enumerate(self.options))
        return f"Question: {self.question}\nOptions: {options}"

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]

    @property
    def answer_text(self) -> str:
        return f"{self.answer_letter}) {self.options[self.answer]}"


COUNT_OPTIONS = ("None", "One", "Two", "Three or more")
QUESTIONS = {
    "trend": ("What is the overall trend of the series?",
              "Which best describes the long-term direction of the series?"),
    "period": ("What is the period of the main repeating pattern?",
               "How many steps does the dominant cycle take to repeat?"),
    "noise": ("How noisy is the series?", "What is the noise level of the series?"),
    "spikes": ("How many isolated spikes does the series contain?",
               "How many sharp outliers are there?"),
    "level_shifts": ("How many abrupt level shifts does the series have?",
                     "How many step changes in level occur?"),
    "seasonalities": ("How many distinct repeating cycles does the series contain?",
                      "How many seasonal patterns are present?"),
}  # fmt: skip
QUESTION_TOPICS = tuple(QUESTIONS)
NO_PATTERN = "There is no repeating pattern"


def questions(
    attrs: SeriesAttributes, rng: np.random.Generator, n: int = 3
) -> list[MultipleChoice]:
    """`n` questions on distinct topics (cycling through all six when n > 6), options shuffled."""
    order = [QUESTION_TOPICS[i] for i in rng.permutation(len(QUESTION_TOPICS))]
    return [_question(order[k % len(order)], attrs, rng) for k in range(n)]


def _question(topic: str, attrs: SeriesAttributes, rng: np.random.Generator) -> MultipleChoice:
    if topic == "trend":
        options = ["It rises over time", "It falls over time", "It has no clear trend",
                   "It rises and then falls"]  # fmt: skip
        correct = ("up", "down", "none").index(attrs.trend)
    elif topic == "period":
        options, correct = _period_options(attrs, rng)
    elif topic == "noise":
        options = ["Low noise", "Moderate noise", "High noise", "No noise at all"]
        correct = ("low", "medium", "high").index(attrs.noise)
    elif topic == "seasonalities":
        options, correct = ["None", "One", "Two", "Three"], len(attrs.seasonalities)
    else:
        count = len(attrs.spikes if topic == "spikes" else attrs.level_shifts)
        options, correct = list(COUNT_OPTIONS), min(count, 3)
    perm = rng.permutation(len(options))
    return MultipleChoice(
        question=_pick(rng, QUESTIONS[topic]),
        options=tuple(options[i] for i in perm),
        answer=int(np.flatnonzero(perm == correct)[0]),
        topic=topic,
    )


def _period_options(attrs: SeriesAttributes, rng: np.random.Generator) -> tuple[list[str], int]:
    """The dominant period (or "no repeating pattern") and three wrong answers; index 0 is right."""
    cfg = SyntheticConfig()
    real = {s.period for s in attrs.seasonalities}
    pool = set(cfg.allowed_periods(attrs.length)) or set(cfg.periods)
    if attrs.seasonalities:
        p = attrs.dominant_period
        pool |= {2 * p} | ({p // 2} if p % 2 == 0 and p >= 8 else set())
    pool = sorted(pool - real)
    if len(pool) < 3:
        pool = sorted(set(pool) | (set(cfg.periods) - real))
    if not attrs.seasonalities:
        wrong = rng.choice(pool, size=3, replace=False)
        return [NO_PATTERN] + [f"{int(q)} steps" for q in wrong], 0
    with_none = rng.random() < 0.5
    wrong = [f"{int(q)} steps" for q in rng.choice(pool, size=2 if with_none else 3, replace=False)]
    return [f"{attrs.dominant_period} steps"] + wrong + ([NO_PATTERN] if with_none else []), 0


# --- parsing text back into attributes --------------------------------------------------------

_CLAUSE_BREAK = re.compile(
    r"[.;!?,()\n]|\b(?:and|but|while|whereas|although|though|however|yet|then)\b"
)
_NEGATORS = {"no", "not", "without", "never", "neither", "nor", "none", "lacks", "lack",
             "lacking", "zero", "free", "cannot"}  # fmt: skip
_POSTFIX_NEGATORS = {"absent", "none"}
_MOVE = r"(?:go(?:es)?|going|went|moves?|moving|trends?|trending|heads?|heading|drifts?|drifting)"
_UP = re.compile(
    rf"\b(?:ris(?:e|es|ing)|rose|increas(?:e|es|ing)|climb(?:s|ing)?|grow(?:s|ing)?|upwards?"
    rf"|uptrend|{_MOVE} up)\b"
)
_DOWN = re.compile(
    rf"\b(?:fall(?:s|ing)?|fell|declin(?:e|es|ing)|decreas(?:e|es|ing)|drop(?:s|ping)?|downwards?"
    rf"|downtrend|sink(?:s|ing)?|{_MOVE} down)\b"
)
_TREND_NOUN = re.compile(r"\b(?:trends?|direction)\b")
_FLAT = re.compile(r"\b(?:flat|trendless|stationary|(?:stays?|remains?) (?:level|stable|steady))\b")
_NOISE = re.compile(r"\bnois(?:e|y|ier|iness)\b")
_NOISE_WORDS = {
    "low": ("low", "little", "slight", "slightly", "mild", "mildly", "minimal", "weak", "small",
            "light", "faint", "barely"),
    "medium": ("moderate", "moderately", "medium", "some", "somewhat", "noticeable", "average"),
    "high": ("high", "heavy", "heavily", "strong", "strongly", "very", "lot", "lots", "highly",
             "considerable", "substantial", "large", "quite", "extremely"),
}  # fmt: skip
_NOISE_WORD = re.compile(
    r"\b(?:" + "|".join(w for ws in _NOISE_WORDS.values() for w in ws) + r")\b"
)
_SPIKE = re.compile(r"\b(?:spikes?|spiky|dips?|outliers?|anomal(?:y|ies)|blips?)\b")
_SHIFT = re.compile(
    r"\blevel[- ](?:shift|change)s?\b|\bshifts? in (?:the )?(?:mean |overall |baseline )?level\b"
    r"|\bstep[- ]changes?\b|\bchanges? in (?:the )?level\b|\bjumps? to a new level\b"
    r"|\bregime (?:shift|change)s?\b|\bstructural breaks?\b|\bchange[- ]?points?\b"
    r"|\b(?:sudden|abrupt) (?:jump|drop|rise|fall)s?\b|\b(?:jump|drop)s? (?:abruptly|suddenly)\b"
)
_SPIKE_FREE = re.compile(r"\b(?:spike|outlier)-free\b")
_SHIFT_FREE = re.compile(r"\bshift-free\b")
_SEASON = re.compile(
    r"\b(?:season(?:al|ality)?|periodic(?:ity)?|cycl(?:e|es|ic|ical)|repeat(?:s|ing)?"
    r"|recurring|oscillat(?:es|ing|ion|ions))\b"
)
_NON_SEASONAL = re.compile(r"\b(?:aperiodic|non-?seasonal|non-?periodic|acyclic)\b")
_UNIT = r"(?:step|time[- ]step|point|sample|observation|hour|day|week|month)s?"
_PERIOD = re.compile(
    rf"\bevery (\d+)\b|\b(\d+)[- ]{_UNIT}[- ](?:long )?(?:cycle|period|season|seasonality|pattern"
    r"|rhythm|oscillation|periodicity)|\b(?:period|periodicity|cycle|cycle length|season length"
    r"|seasonality|wavelength)(?: of| is| equal to| =|:)? (?:about |around |roughly |~)?(\d+)\b"
)


def parse_description(text: str) -> dict:
    """Attributes a text states: {"trend": "up"|"down"|"none", "period": int (the first period
    stated, taken as the dominant one), "seasonal": bool, "noise": "low"|"medium"|"high",
    "spikes": bool, "level_shifts": bool}; None where the text says nothing clear."""
    clauses = [c.strip() for c in _CLAUSE_BREAK.split(text.lower()) if c.strip()]
    found: dict = {"trend": _parse_trend(clauses), "period": None, "seasonal": None}
    for clause in clauses:
        for m in _PERIOD.finditer(clause):
            if found["period"] is None and not _negated(clause, m):
                found["period"] = int(next(g for g in m.groups() if g))
    stated = found["period"] is not None
    found["seasonal"] = True if stated else _presence(clauses, _SEASON, _NON_SEASONAL)
    found["noise"] = _parse_noise(clauses)
    found["spikes"] = _presence(clauses, _SPIKE, _SPIKE_FREE)
    found["level_shifts"] = _presence(clauses, _SHIFT, _SHIFT_FREE)
    return found


def score_description(text: str, attrs: SeriesAttributes) -> dict[str, bool]:
    """Per attribute in `ATTRIBUTES`: does `text` state it correctly? For a series without
    seasonality, "period" is right only when the text says so (and states no period)."""
    found = parse_description(text)
    said_none = found["seasonal"] is False  # "no seasonality", and no period stated
    return {
        "trend": found["trend"] == attrs.trend,
        "period": found["period"] == attrs.dominant_period if attrs.seasonalities else said_none,
        "noise": found["noise"] == attrs.noise,
        "spikes": found["spikes"] == bool(attrs.spikes),
        "level_shifts": found["level_shifts"] == bool(attrs.level_shifts),
    }


def _negated(clause: str, match: re.Match) -> bool:
    """A negator up to five words before the match, or "absent"/"none" just after it."""
    before = re.findall(r"[a-z']+", clause[: match.start()])[-5:]
    after = re.findall(r"[a-z']+", clause[match.end() :])[:3]
    return any(w in _NEGATORS or w.endswith("n't") for w in before) or any(
        w in _POSTFIX_NEGATORS for w in after
    )


def _presence(clauses: list[str], mention: re.Pattern, absent: re.Pattern) -> bool | None:
    """True if anything is mentioned without a negation, False if only negated, else None."""
    said = None
    for clause in clauses:
        if absent.search(clause):  # "spike-free"
            said, clause = False, absent.sub(" ", clause)
        for m in mention.finditer(clause):
            if not _negated(clause, m):
                return True
            said = False
    return said


def _parse_trend(clauses: list[str]) -> str | None:
    """The first trend statement; None when the text has both directions ("rises, then falls")."""
    votes = []  # (clause, position, "up" | "down" | "none")
    for k, clause in enumerate(clauses):
        level_shift = _SHIFT.search(clause) is not None  # "an upward jump to a new level"
        for pattern, direction in ((_UP, "up"), (_DOWN, "down"), (_TREND_NOUN, None)):
            for m in pattern.finditer(clause):
                if _negated(clause, m):
                    votes.append((k, m.start(), "none"))
                elif direction and not level_shift:
                    votes.append((k, m.start(), direction))
        votes += [(k, m.start(), "none") for m in _FLAT.finditer(clause)]
    said = {v for *_, v in votes}
    if {"up", "down"} <= said:
        return None
    return min(votes)[2] if votes else None


def _parse_noise(clauses: list[str]) -> str | None:
    for clause in clauses:
        for m in _NOISE.finditer(clause):
            words = list(_NOISE_WORD.finditer(clause))
            if _negated(clause, m) or any(_negated(clause, w) for w in words):
                return "low"  # "no noise", "not very noisy", "without much noise"
            if words:
                nearest = min(words, key=lambda w: abs(w.start() - m.start()))
                return next(k for k, ws in _NOISE_WORDS.items() if nearest.group() in ws)
            if m.group() == "noisy":
                return "high"
    return None


# --- descriptions in the data's own time and units (slots) -------------------------------------
# The describer writes slot names ("[P1]", "[SPAN]", ...) where numbers, dates and calendar
# words go; `sadt.describer.facts.fill_slots` puts the computed values in. A caption states
# the generator's truth (trend, cycles, noise, spikes, shifts) and refers to the facts'
# candidate cycles by slot.

TREND_SPAN = {
    "up": ("rises from [START] to [END] [SPAN]", "climbs from about [START] to [END] [SPAN]",
           "increases from [START] to [END] [SPAN]", "trends upward [SPAN], from [START] to [END]"),
    "down": ("falls from [START] to [END] [SPAN]", "declines from about [START] to [END] [SPAN]",
             "decreases from [START] to [END] [SPAN]",
             "trends downward [SPAN], from [START] to [END]"),
    "none": ("stays around [START] [SPAN], with no overall trend",
             "shows no clear trend [SPAN], staying near [START]",
             "has no long-term trend [SPAN]"),
}  # fmt: skip
CYCLE_SLOT = ("with [{s}]", "with [{s}] throughout", "with a clear pattern: [{s}]")
CYCLE_SLOT_SENTENCES = ("It has [{s}].", "[{s}] repeats through the series.",
                        "The main pattern is [{s}].")  # fmt: skip
SECOND_SLOT = (" plus [{s}]", " and a weaker [{s}] on top")


def slot_caption(attrs: SeriesAttributes, facts, rng: np.random.Generator) -> str:
    """A description of a synthetic series in slot language (see above); ``facts`` is its
    ``SeriesFacts``. The dominant cycle is named by the facts' slot that matches it."""
    nouns, sentences = NOISE_PHRASES[attrs.noise]
    first = f"[NAME] {_pick(rng, TREND_SPAN[attrs.trend])}"
    items = [_slot_season_item(attrs, facts, rng), (_pick(rng, nouns), _pick(rng, sentences))]
    spikes, shifts = len(attrs.spikes), len(attrs.level_shifts)
    if not spikes and not shifts and rng.random() < 0.4:
        phrase = _pick(rng, NEITHER)
        items.append((phrase, f"There are {phrase}."))
    else:
        noun, sentence = _count_item(rng, spikes, SPIKE_PHRASES)
        if spikes and facts.spikes:
            noun, sentence = noun + " [SPIKES]", sentence[:-1] + " [SPIKES]."
        items.append((noun, sentence))
        noun, sentence = _count_item(rng, shifts, SHIFT_PHRASES)
        if shifts and facts.shifts:
            where = " [SHIFT]" + (" and [SHIFT2]" if shifts > 1 and len(facts.shifts) > 1 else "")
            noun, sentence = noun + where, sentence[:-1] + where + "."
        items.append((noun, sentence))
    items = [items[i] for i in rng.permutation(len(items))]
    # The season first when it is there: it is what a reader asks about next.
    with_count = int(rng.integers(0, min(2, len(items)) + 1))
    if with_count:
        first += ", with " + _join([noun.removeprefix("with ") for noun, _ in items[:with_count]])
    sentences = [first + "."]
    for noun, sentence in items[with_count:]:
        sentences.append(
            sentence if rng.random() < 0.6 else f"It has {noun.removeprefix('with ')}."
        )
    return " ".join(sentences)


@dataclass(frozen=True)
class Observed:
    """What the facts of a real series say, in the shape of ``SeriesAttributes`` (the parts
    ``slot_caption`` reads): the caption of a real training series states what the
    calibrated detectors found, since no generator knows its truth."""

    trend: str
    seasonalities: tuple
    noise: str
    spikes: tuple
    level_shifts: tuple

    @property
    def dominant_period(self) -> int | None:
        return self.seasonalities[0].period if self.seasonalities else None


def observed(facts) -> Observed:
    from sadt.synthetic import Seasonality

    cycles = [c for c in facts.cycles[:2] if c.clarity == "clear"]
    return Observed(
        trend={"higher": "up", "lower": "down", "level": "none"}[facts.trend],
        seasonalities=tuple(Seasonality(c.steps, c.strength) for c in cycles),
        noise=facts.noise,
        spikes=tuple(facts.spikes),
        level_shifts=tuple(s.index for s in facts.shifts),
    )


def _slot_season_item(attrs: SeriesAttributes, facts, rng) -> tuple[str, str]:
    if not attrs.seasonalities:
        return _pick(rng, SEASON_NONE), _pick(rng, SEASON_NONE_SENTENCES)
    slot = _matching_slot(attrs.dominant_period, facts)
    if slot is None:  # the facts missed it: say there is a cycle, name no length
        return "a regular cycle", "A regular cycle repeats through the series."
    noun = _pick(rng, CYCLE_SLOT).format(s=slot)
    sentence = _pick(rng, CYCLE_SLOT_SENTENCES).format(s=slot)
    if len(attrs.seasonalities) > 1:
        second = _matching_slot(attrs.seasonalities[1].period, facts)
        if second is not None and second != slot:
            extra = _pick(rng, SECOND_SLOT).format(s=second)
            noun, sentence = noun + extra, sentence[:-1] + extra + "."
    return noun, sentence


def _matching_slot(period: int, facts) -> str | None:
    """The slot of the facts' cycle that matches ``period``, if the facts name it (a cycle
    whose clarity is "none" is not in the prompt, so no caption may use its slot)."""
    for i, cycle in enumerate(facts.cycles[:2]):
        if cycle.clarity != "none" and abs(cycle.steps - period) <= 0.15 * period:
            return f"P{i + 1}"
    return None


FORECAST_OPENERS = ("Over [AHEAD], the forecast", "For [AHEAD], the forecast",
                    "The forecast for [AHEAD]")  # fmt: skip
FORECAST_CYCLE = {
    "continues": ("continues [P1]", "keeps [P1] going", "repeats [P1]"),
    "fades": ("lets [P1] fade", "shows [P1] only faintly"),
    "none": ("has no cycle", "shows no repeating pattern"),
}  # fmt: skip
FORECAST_LEVEL = {
    "higher": ("It ends higher than the history, near [FEND].",
               "It rises to about [FEND] by the end."),
    "lower": ("It ends lower than the history, near [FEND].",
              "It falls to about [FEND] by the end."),
    "level": ("It stays near the last level, around [FEND].",
              "Its level stays about where the history ends, near [FEND]."),
}  # fmt: skip
FORECAST_PEAK = (" peaking next [PEAK]", ", with its next peak [PEAK]")
FORECAST_BAND = {
    "widens": ("The 10-90 % band widens from [BAND0] to [BAND1].",
               "Uncertainty grows: the 10-90 % band goes from [BAND0] to [BAND1]."),
    "steady": ("The 10-90 % band stays about [BAND1] wide.",
               "Uncertainty stays steady, a 10-90 % band about [BAND1] wide."),
}  # fmt: skip


def forecast_caption(facts, rng: np.random.Generator) -> str:
    """A description of a forecast from its ``ForecastFacts`` verdicts, in slot language."""
    text = f"{_pick(rng, FORECAST_OPENERS)} {_pick(rng, FORECAST_CYCLE[facts.cycle])}"
    if facts.cycle == "continues":
        text += _pick(rng, FORECAST_PEAK)
    sentences = [text + ".", _pick(rng, FORECAST_LEVEL[facts.level]),
                 _pick(rng, FORECAST_BAND[facts.band])]  # fmt: skip
    return " ".join(sentences)
