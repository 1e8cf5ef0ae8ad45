"""Captions state every scored attribute and parse back exactly; questions have one answer."""

import re

import numpy as np
import pytest

from sadt.describer.captions import (
    ATTRIBUTES,
    MultipleChoice,
    caption,
    caption_corpus,
    parse_description,
    questions,
    score_description,
)
from sadt.synthetic import Seasonality, SeriesAttributes, generate, generate_batch


@pytest.fixture(scope="module")
def draws():
    return generate_batch(2000, seed=21)


def attrs_with(**changes) -> SeriesAttributes:
    base = dict(
        length=200, trend="none", trend_shape="none", seasonalities=(), noise="low",
        noise_std=0.05, random_walk=False, level_shifts=(), spikes=(), level=10.0, scale=1.0,
    )  # fmt: skip
    return SeriesAttributes(**{**base, **changes})


def expected(a: SeriesAttributes) -> dict:
    return {
        "trend": a.trend,
        "period": a.dominant_period,
        "seasonal": bool(a.seasonalities),
        "noise": a.noise,
        "spikes": bool(a.spikes),
        "level_shifts": bool(a.level_shifts),
    }


# --- captions ------------------------------------------------------------------------------


def test_parse_recovers_every_attribute_from_2000_random_captions(draws):
    rng = np.random.default_rng(0)
    for x, a in draws:
        text = caption(a, rng, stats=(float(x.mean()), float(x.std())))
        assert parse_description(text) == expected(a), text
        assert all(score_description(text, a).values())


def test_captions_are_one_to_three_sentences_under_sixty_words(draws):
    rng = np.random.default_rng(1)
    for x, a in draws[:500]:
        text = caption(a, rng, stats=(float(x.mean()), float(x.std())))
        assert len(text.split()) < 60
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", text)) <= 3, text


def test_captions_vary_for_the_same_attributes():
    _, a = generate(np.random.default_rng(2))
    rng = np.random.default_rng(3)
    assert len({caption(a, rng) for _ in range(50)}) > 30


def test_caption_is_deterministic_given_the_generator():
    _, a = generate(np.random.default_rng(4))
    assert caption(a, np.random.default_rng(5)) == caption(a, np.random.default_rng(5))


def test_caption_states_the_period_as_an_integer_number_of_steps():
    a = attrs_with(seasonalities=(Seasonality(24, 1.0), Seasonality(7, 0.4)))
    rng = np.random.default_rng(6)
    for _ in range(50):
        text = caption(a, rng)
        assert "24" in text and "7" in text
        assert text.index("24") < text.index("7")  # the dominant period comes first


def test_caption_mentions_the_mean_only_when_stats_are_given():
    a = attrs_with()
    rng = np.random.default_rng(7)
    with_stats = [caption(a, rng, stats=(437.21, 12.0)) for _ in range(40)]
    assert any("437" in t for t in with_stats)
    assert not any(re.search(r"\d", caption(a, rng)) for _ in range(40))


def test_caption_vocabulary_is_bounded():
    words = {
        w for text in caption_corpus(1000, seed=8) for w in re.findall(r"[a-z]+", text.lower())
    }
    assert 60 < len(words) <= 300


def test_caption_corpus_is_reproducible_and_holds_questions():
    corpus = caption_corpus(20, seed=9)
    assert corpus == caption_corpus(20, seed=9)
    assert len(corpus) == 40 and sum("Options: A)" in t for t in corpus) == 20


# --- parsing free text --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("There are no spikes.", "spikes", False),
        ("The series is without spikes or level shifts.", "level_shifts", False),
        ("The series is without spikes or level shifts.", "spikes", False),
        ("It has neither outliers nor level shifts.", "level_shifts", False),
        ("Spikes are absent.", "spikes", False),
        ("A spike-free series.", "spikes", False),
        ("One spike stands out near the end.", "spikes", True),
        ("There is a sudden level shift halfway through.", "level_shifts", True),
        ("It doesn't contain any step changes.", "level_shifts", False),
        ("The series does not trend.", "trend", "none"),
        ("It does not rise or fall over time.", "trend", "none"),
        ("No clear upward or downward trend.", "trend", "none"),
        ("Sales are stationary.", "trend", "none"),
        ("Sales grow strongly over the year.", "trend", "up"),
        ("Demand is trending down.", "trend", "down"),
        ("It rises, then falls.", "trend", None),
        ("There is no seasonality.", "seasonal", False),
        ("There is no repeating pattern.", "period", None),
        ("The data are aperiodic.", "seasonal", False),
        ("Strong daily seasonality with a 24-hour cycle.", "period", 24),
        ("It has a cycle length of 12 and a weaker one every 7 steps.", "period", 12),
        ("It is not very noisy.", "noise", "low"),
        ("There is hardly any noise, just slight noise.", "noise", "low"),
        ("The noise is considerable.", "noise", "high"),
        ("Somewhat noisy data.", "noise", "medium"),
        ("It rises steadily with low noise and no spikes.", "trend", "up"),
        ("It rises steadily with low noise and no spikes.", "noise", "low"),
        ("Nothing to report.", "trend", None),
        ("Mostly flat with an upward jump to a new level.", "trend", "none"),
        ("Mostly flat with an upward jump to a new level.", "level_shifts", True),
        ("The level drops abruptly at step 100.", "level_shifts", True),
        ("The series shows a clear downward trend and is spike-free.", "level_shifts", None),
        ("The series shows a clear downward trend and is spike-free.", "spikes", False),
        ("The series rises sharply with a few spikes.", "trend", "up"),
        ("The mean is about 24 and it repeats every 12 steps.", "period", 12),
        ("Spikes: none.", "spikes", False),
    ],
)
def test_parse_description_reads_free_text(text, key, value):
    assert parse_description(text)[key] == value


def test_parse_description_says_none_for_unstated_attributes():
    found = parse_description("The weather was nice.")
    assert set(found) >= set(ATTRIBUTES)
    assert all(v is None for v in found.values())


def test_score_description_marks_each_attribute():
    a = attrs_with(trend="up", trend_shape="linear", seasonalities=(Seasonality(24, 1.0),),
                   spikes=(50,), noise="high")  # fmt: skip
    text = "The series falls, with a 24-step cycle, high noise, one spike and no level shifts."
    assert score_description(text, a) == {
        "trend": False, "period": True, "noise": True, "spikes": True, "level_shifts": True,
    }  # fmt: skip


def test_period_without_seasonality_needs_an_explicit_statement():
    a = attrs_with()
    assert score_description("It has no repeating pattern.", a)["period"]
    assert not score_description("It rises.", a)["period"]
    assert not score_description("It repeats every 12 steps.", a)["period"]


# --- questions ------------------------------------------------------------------------------


def correct_option(topic: str, a: SeriesAttributes) -> str:
    counts = ("None", "One", "Two", "Three or more")
    return {
        "trend": {"up": "It rises over time", "down": "It falls over time",
                  "none": "It has no clear trend"}[a.trend],
        "period": f"{a.dominant_period} steps" if a.seasonalities
        else "There is no repeating pattern",
        "noise": {"low": "Low noise", "medium": "Moderate noise", "high": "High noise"}[a.noise],
        "spikes": counts[min(len(a.spikes), 3)],
        "level_shifts": counts[min(len(a.level_shifts), 3)],
        "seasonalities": ("None", "One", "Two")[len(a.seasonalities)],
    }[topic]  # fmt: skip


def test_questions_have_four_distinct_options_and_the_right_answer(draws):
    rng = np.random.default_rng(10)
    for _, a in draws[:500]:
        for q in questions(a, rng, n=6):
            assert len(q.options) == 4 == len(set(q.options))
            assert q.options[q.answer] == correct_option(q.topic, a)
            assert q.options.count(correct_option(q.topic, a)) == 1


def test_questions_cover_distinct_topics_and_are_deterministic():
    _, a = generate(np.random.default_rng(11))
    qs = questions(a, np.random.default_rng(12), n=6)
    assert len({q.topic for q in qs}) == 6
    assert qs == questions(a, np.random.default_rng(12), n=6)


def test_period_distractors_are_not_real_periods():
    a = attrs_with(length=500, seasonalities=(Seasonality(24, 1.0), Seasonality(168, 0.5)))
    rng = np.random.default_rng(13)
    for _ in range(50):
        q = next(q for q in questions(a, rng, n=6) if q.topic == "period")
        assert "168 steps" not in q.options and q.options[q.answer] == "24 steps"


def test_answers_are_spread_over_the_letters(draws):
    rng = np.random.default_rng(14)
    letters = [q.answer_letter for _, a in draws[:300] for q in questions(a, rng)]
    assert set(letters) == set("ABCD")
    assert max(letters.count(c) for c in "ABCD") < 0.35 * len(letters)


def test_prompt_lists_lettered_options():
    q = MultipleChoice("How noisy is it?", ("Low noise", "High noise", "None", "Some"), 1)
    assert q.prompt() == (
        "Question: How noisy is it?\nOptions: A) Low noise B) High noise C) None D) Some"
    )
    assert (q.answer_letter, q.answer_text) == ("B", "B) High noise")
