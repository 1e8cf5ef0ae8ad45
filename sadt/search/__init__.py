"""Samplers over the Chain interface: ancestral, Best-of-N, SMC, DTS, DTS* (and S-ADT)."""

from sadt.search.baselines import ancestral, best_of_n, smc
from sadt.search.chain import BudgetError, Chain, SearchResult
from sadt.search.dts import TreeSearchConfig, dts, dts_star

SAMPLERS = {
    "ancestral": ancestral,
    "best_of_n": best_of_n,
    "smc": smc,
    "dts": dts,
    "dts_star": dts_star,
}

__all__ = [
    "SAMPLERS",
    "BudgetError",
    "Chain",
    "SearchResult",
    "TreeSearchConfig",
    "ancestral",
    "best_of_n",
    "dts",
    "dts_star",
    "smc",
]
