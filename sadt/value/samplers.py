"""S-ADT: searches that use a learned value network F_phi (sadt.value).

* ``sadt``: DTS in which F_phi values every new node at creation (no NFE) and selection
  shrinks each child's backed-up value toward F_phi with weight n0 / (n0 + N). A child seen
  once is judged mostly by F_phi instead of by its single noisy rollout; the weight
  vanishes with visits, so in the limit the search is DTS and stays exact. Rollouts,
  backups and the output are DTS's own.
* ``sadt_smc``: the cheap mode, SMC whose twist at every branching level is F_phi (no extra
  NFE; with a perfect F_phi it is the optimal twist and the final weights are equal).

NFE counts denoiser calls only; wall time includes the F_phi calls.
"""

from __future__ import annotations

from dataclasses import replace

from sadt.search.baselines import smc
from sadt.search.chain import Chain, SearchResult
from sadt.search.dts import TreeSearchConfig, run_tree_search
from sadt.value.model import ValueNetwork, ValuePrior


def sadt(
    chain: Chain,
    budget_nfe: int,
    value: ValueNetwork,
    lam: float = 1.0,
    num_samples: int = 64,
    seed: int = 0,
    config: TreeSearchConfig | None = None,
    greedy: bool = False,
) -> SearchResult:
    """S-ADT tree search guided by ``value``; Boltzmann selection (or UCT with ``greedy``)."""
    cfg = replace(config or TreeSearchConfig(), lam=lam, greedy=greedy)
    prior = ValuePrior(value, chain, lam)
    result = run_tree_search("sadt", chain, budget_nfe, cfg, seed, num_samples, prior)
    result.stats["value_calls"] = prior.calls
    return result


def sadt_smc(
    chain: Chain,
    budget_nfe: int,
    value: ValueNetwork,
    lam: float = 1.0,
    num_samples: int | None = None,
    seed: int = 0,
    **kwargs,
) -> SearchResult:
    """SMC with F_phi as the twist (potential) at every branching level."""
    prior = ValuePrior(value, chain, lam)
    result = smc(
        chain,
        budget_nfe,
        lam=lam,
        num_samples=num_samples,
        seed=seed,
        potential=prior.initial_values,
        **kwargs,
    )
    result.method = "sadt_smc"
    result.stats["value_calls"] = prior.calls
    return result
