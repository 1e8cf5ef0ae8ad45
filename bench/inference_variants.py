"""Inference-time variants of the forecaster, on a fast proxy: the model's Laplace quantiles
from its mean path and scale (one encoder pass per window, no sampling), as is, averaged
with the forecast of the negated series, and averaged over shorter contexts.

    python -m bench.inference_variants [--transform reversed|aggregated] [--limit 20]

Scored like B6 (WQL and MASE relative to seasonal naive, geometric mean over data sets) on
the corpus's train rows, which are in-sample for the bundled model, or on series made from
them that no model trained on (``--transform``, see `bench.zeroshot.corpus_datasets`).
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import common
from bench import zeroshot as z


def main(argv: list[str] | None = None) -> int:
    import mlx.core as mx
    from scipy.stats import laplace

    import sadt
    from sadt.metrics import DEFAULT_QUANTILES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default: bundled)")
    parser.add_argument("--transform", choices=z.TRANSFORMS, default=None)
    parser.add_argument("--limit", type=int, default=20, help="windows per data set")
    args = parser.parse_args(argv)
    data = z.corpus_datasets(common.SHARED_DATA / "corpus", args.limit, "train", args.transform)
    forecaster = sadt.from_pretrained(args.model, describer=False).forecaster
    z_of_q = laplace.ppf(np.array(DEFAULT_QUANTILES))[:, None]

    def mean_and_scale(history: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        values, mask, mean, std = forecaster.normalize(history)
        cond = forecaster.encode(mx.array(values[None]), mx.array(mask[None]))
        mu = np.array(forecaster.mean_path(cond))[0, :horizon] * std + mean
        return mu, np.array(forecaster.residual_scale(cond))[0, :horizon] * std

    def variants(history: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
        mu, s = mean_and_scale(history, horizon)
        flipped_mu, flipped_s = mean_and_scale(-history, horizon)
        parts = [(mu, s)] + [
            mean_and_scale(history[-length:], horizon)
            for length in (256, 128)
            if history.size > 1.5 * length
        ]
        return {
            "as is": mu + s * z_of_q,
            "with the negated series": (mu - flipped_mu) / 2 + (s + flipped_s) / 2 * z_of_q,
            "over contexts 256, 128": np.mean([m + sc * z_of_q for m, sc in parts], axis=0),
        }

    scores: dict[str, dict[str, z.Score]] = {}
    naive: dict[str, z.Score] = {}
    for key, windows in data.items():
        for window in windows:
            horizon = window.target.size
            for name, q in variants(window.history, horizon).items():
                q = np.maximum(q, 0) if (window.history >= 0).all() else q
                scores.setdefault(name, {}).setdefault(key, z.Score()).add(window, q, None)
            naive.setdefault(key, z.Score()).add(window, z.seasonal_naive(window, horizon)[0], None)
    print(f"{args.transform or 'train rows'}: {len(data)} data sets, "
          f"{sum(map(len, data.values()))} windows (WQL / MASE vs seasonal naive)")  # fmt: skip
    for name, by_key in scores.items():
        wql = z.geometric_mean(z._ratio(by_key[k].wql(), naive[k].wql()) for k in data)
        mase = z.geometric_mean(z._ratio(by_key[k].mase(), naive[k].mase()) for k in data)
        print(f"  {name:26s} {wql:.3f} / {mase:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
