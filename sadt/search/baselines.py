"""Samplers without a tree: ancestral sampling, Best-of-N and SMC / FK steering.

All share the DTS signature ``f(chain, budget_nfe, ..., seed) -> SearchResult`` and
never spend more than ``budget_nfe`` denoiser calls.
"""

from __future__ import annotations

import numpy as np

from sadt.search.chain import (
    Chain,
    SearchResult,
    Stopwatch,
    check_budget,
    result_from,
    systematic_resample,
)


def _softmax(logits: np.ndarray) -> np.ndarray:
    w = np.exp(logits - logits.max())
    return w / w.sum()


def ancestral(
    chain: Chain,
    budget_nfe: int,
    num_samples: int | None = None,
    seed: int = 0,
    lam: float = 1.0,
    config=None,
) -> SearchResult:
    """Plain batched sampling from p_theta: as many samples as the budget pays for.

    ``lam`` and ``config`` are part of every sampler's signature (sadt.methods);
    unsteered sampling has no use for them.

    ``num_samples`` caps the count (a fan chart rarely needs more than 64).
    The chosen path is the highest-reward sample, so the column "reward of the
    chosen path" is comparable across methods.
    """
    clock, rng = Stopwatch(), np.random.default_rng(seed)
    n = check_budget(chain, budget_nfe)
    n = min(n, num_samples) if num_samples else n
    start = chain.nfe
    x = chain.rollout(chain.initial(n, rng), np.zeros(n, dtype=np.int64), rng)
    rewards = chain.reward(x)
    stats = {"particles": n}
    return result_from("ancestral", x, rewards, slice(None), chain.nfe - start, clock, stats)


def best_of_n(
    chain: Chain,
    budget_nfe: int,
    lam: float = 1.0,
    mode: str = "argmax",
    num_samples: int | None = None,
    seed: int = 0,
    config=None,
) -> SearchResult:
    """Best-of-N: N = budget // S ancestral samples, then select.

    ``mode="argmax"`` (search) returns the top-reward samples; ``mode="resample"``
    (sampling) returns draws with probability ∝ exp(lam r), an importance-resampling
    approximation of the tilted target (systematic draws, in random order).
    """
    if mode not in ("argmax", "resample"):
        raise ValueError(f"Best-of-N mode must be 'argmax' or 'resample', got {mode!r}")
    clock, rng = Stopwatch(), np.random.default_rng(seed)
    n = check_budget(chain, budget_nfe)
    start = chain.nfe
    x = chain.rollout(chain.initial(n, rng), np.zeros(n, dtype=np.int64), rng)
    rewards = chain.reward(x)
    k = min(num_samples or n, n)
    if mode == "argmax":
        pick = np.argsort(-rewards, kind="stable")[:k]
    else:
        pick = rng.permutation(systematic_resample(_softmax(lam * rewards), rng, k))
    stats = {"particles": n, "mode": mode}
    return result_from("best_of_n", x, rewards, pick, chain.nfe - start, clock, stats)


def smc(
    chain: Chain,
    budget_nfe: int,
    lam: float = 1.0,
    ess_threshold: float = 0.5,
    num_samples: int | None = None,
    seed: int = 0,
    potential=None,
    config=None,
) -> SearchResult:
    """SMC / Feynman-Kac steering with K = budget // S particles.

    The twist at a branching state x_k is ``psi_k = exp(lam * potential(x_k))``,
    by default the reward of the Tweedie estimate ``r(x0_hat(x_k))``, which costs
    no extra NFE: ``advance`` returns x0_hat from the same denoiser call that draws
    the child. The incremental weight is psi_k / psi_{k-1}; at level 0 the twist is
    the true reward, so the weighted particles target p(x0) exp(lam r(x0)).
    Resampling happens when ESS < ess_threshold * K (weights are kept, not reset,
    when it does not). Resampling the (parent, child) pair by the parent's weight
    is the same as resampling the parent and then drawing its child; on a chain with
    ``step_from_x0`` each further copy of a parent draws a child of its own that way.

    ``potential(states, k, x0_hat) -> (K,)`` replaces the Tweedie potential (the
    amortized sampler passes a learned value network here).
    """
    clock, rng = Stopwatch(), np.random.default_rng(seed)
    K = check_budget(chain, budget_nfe)
    start = chain.nfe
    x = chain.initial(K, rng)
    log_w = np.zeros(K)
    prev_twist = np.zeros(K)
    resamples, from_x0, ess_trace = 0, 0, []
    for k in range(chain.depth):
        idx = np.full(K, k, dtype=np.int64)
        children, x0_hat = chain.advance(x, idx, rng)
        if potential is None:
            twist = lam * chain.reward(x0_hat)
        else:
            twist = lam * np.asarray(potential(x, idx, x0_hat), dtype=np.float64)
        log_w += twist - prev_twist
        prev_twist = twist
        w = _softmax(log_w)
        ess = 1.0 / np.sum(w**2)
        ess_trace.append(float(ess))
        if ess < ess_threshold * K:
            anc = systematic_resample(w, rng)  # sorted: copies of a parent sit together
            children, prev_twist = children[anc], prev_twist[anc]
            if chain.steps_from_x0 and chain.edge_cost(k) == 1:
                # A parent drawn several times gives each copy a child of its own, drawn
                # from the x0_hat its denoiser call already gave (no NFE), not the same one.
                again = np.flatnonzero(anc[1:] == anc[:-1]) + 1
                if again.size:
                    children[again] = chain.step_from_x0(
                        x[anc[again]], x0_hat[anc[again]], np.full(again.size, chain.levels[k]), rng
                    )
                    from_x0 += again.size
            log_w = np.zeros(K)
            resamples += 1
        x = children
    rewards = chain.reward(x)
    log_w += lam * rewards - prev_twist  # final twist: the true reward
    w = _softmax(log_w)
    k_out = min(num_samples or K, K)
    pick = rng.permutation(systematic_resample(w, rng, k_out))  # random order: plots show the first
    stats = {
        "particles": K,
        "resamples": resamples,
        "steps_from_x0": from_x0,  # children drawn from a known x0_hat, no NFE
        "final_ess": float(1 / np.sum(w**2)),
        "ess_trace": ess_trace,
    }
    return result_from("smc", x, rewards, pick, chain.nfe - start, clock, stats)
