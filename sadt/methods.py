"""The forecast methods, in one registry: the pipeline, the app, the CLI and the benches read
it, so a method means the same thing everywhere.

Every sampler takes ``(chain, budget_nfe, *, lam, num_samples, seed, config)`` (those that
have no use for one, e.g. ancestral sampling for ``lam``, accept and ignore it) plus its own
keywords; a misspelt keyword is a TypeError naming it. `Method.run` gives a sampler the
method's defaults, the pipeline's tree settings when it takes them and the value network
when it needs one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sadt.search.baselines import ancestral, best_of_n, smc
from sadt.search.dts import TreeSearchConfig, dts, dts_star
from sadt.value.samplers import sadt, sadt_smc


def late_branching(num_steps: int) -> list[int]:
    """Branching levels for a search: at the top (new samples) and 3 and 2 steps from the end.

    Measured with ``bench.reward_by_level``: siblings branched anywhere in the first half of
    the chain differ in spectral reward almost as much as fresh samples, so intermediate
    branches only cost NFE, while a branch 3 steps from the end still varies the reward
    by half as much for 3/S of a sample's cost. DTS* searches on these levels (README,
    "Search: what the figures say", has what it gained).
    """
    return [num_steps, 3, 2, 0] if num_steps > 3 else list(range(num_steps, 0, -1)) + [0]


@dataclass(frozen=True)
class Method:
    """One forecast method: its sampler and what running it needs."""

    name: str
    label: str  # what people read (app, tables)
    summary: str  # one line: what it is for
    sampler: Callable
    defaults: dict = field(default_factory=dict)  # keywords the method always runs with
    needs_value: bool = False  # S-ADT: a value network (sadt.value)
    tree_settings: bool = False  # takes the pipeline's TreeSearchConfig (config.json search)
    late_branches: bool = False  # searches on `late_branching` levels
    tree: bool = False  # a tree search: it can stop early with what it has (stop_requested)

    def branch_levels(self, num_steps: int) -> list[int] | None:
        """The chain's branching levels for this method (None: the chain's regular ones)."""
        return late_branching(num_steps) if self.late_branches else None

    def run(
        self,
        chain,
        budget_nfe: int,
        tree_config: TreeSearchConfig | None = None,
        value=None,
        **kwargs,
    ):
        """The sampler on ``chain`` with this method's defaults; ``kwargs`` override them."""
        if self.needs_value and value is None:
            raise ValueError(f"{self.label} needs a value network; load a pipeline that has one")
        args = dict(self.defaults) | kwargs
        if self.tree_settings and tree_config is not None and "config" not in kwargs:
            args["config"] = tree_config
        if self.needs_value:
            args["value"] = value
        return self.sampler(chain, budget_nfe, **args)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "dts",
            "DTS",
            "a fan of paths steered toward the history's spectrum",
            dts,
            tree_settings=True,
            tree=True,
        ),
        Method(
            "dts_star",
            "DTS*",
            "the one best path, with the fewest denoiser calls",
            dts_star,
            late_branches=True,
            tree=True,
        ),
        Method(
            "sadt",
            "S-ADT",
            "DTS guided by the learned value network",
            sadt,
            needs_value=True,
            tree_settings=True,
            tree=True,
        ),
        Method(
            "sadt_smc",
            "S-ADT (SMC)",
            "SMC whose twist is the learned value network",
            sadt_smc,
            needs_value=True,
        ),
        Method(
            "best_of_n",
            "Best-of-N",
            "N samples resampled by exp(lam * reward)",
            best_of_n,
            {"mode": "resample"},
        ),
        Method("smc", "SMC", "sequential Monte Carlo with Tweedie potentials", smc),
        Method("ancestral", "ancestral", "plain samples from the model, unsteered", ancestral),
    )
}
AMORTIZED = tuple(name for name, m in METHODS.items() if m.needs_value)
TREE_METHODS = tuple(name for name, m in METHODS.items() if m.tree)


def method(name: str) -> Method:
    """The registered method ``name``; one sentence listing them otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]
