"""TSLM speed: training step vs forward, describe tokens/s vs plain mlx-lm generation.

    python -m bench.tslm_speed --describer checkpoints/sadt-tiny-describer
    python -m bench.tslm_speed --base checkpoints/tiny-llama            # fresh TSLM on a base

Both comparisons are measured side by side in one process, alternating the two
contenders, and report medians (the machine is shared; absolute times are noisy):

* train/forward: the compiled training step (value_and_grad + clip + AdamW update)
  vs the compiled forward loss on the same batch. Target: <= 3.
* describe/plain: decode tokens/s of ``TSLM.generate`` (soft prompt through
  ``input_embeddings``) vs ``mlx_lm.stream_generate`` on a token prompt of the same
  length, both with the end-of-sequence token banned so both emit ``--tokens``
  tokens. "plain" is the base model as ``mlx_lm.load`` returns it (no LoRA, same
  dtype). Measured twice: with the LoRA adapters as trained ("unfused") and merged
  into the base layers, which is how ``TSLM.load`` serves describe. Target: >= 0.8.

Writes bench/results/tslm_speed.json.
"""

from __future__ import annotations

import argparse
import json
import time

import sadt  # noqa: F401  (loads the fast BLAS; must come before mlx.core)

# isort: split
import mlx.core as mx
import numpy as np

from bench.common import write_json


def _median_ms(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        tic = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - tic))
    return out


def step_vs_forward(tslm, config, batch_size: int, reps: int) -> dict:
    """Median ms of the compiled train step and the compiled forward, interleaved."""
    from sadt.describer.model import answer_loss
    from sadt.train.tslm import StageConfig, make_batch, make_optimizer, make_train_step

    examples = _examples(batch_size)
    batch = make_batch(tslm, examples)
    optimizer = make_optimizer(StageConfig(steps=10_000), weight_decay=0.01)
    optimizer.init(tslm.trainable_parameters())
    step, state = make_train_step(tslm, optimizer, max_grad_norm=1.0)
    forward = mx.compile(lambda *a: answer_loss(tslm, *a), inputs=[tslm.state])
    tslm.train()

    def run_step():
        mx.eval(step(*batch.arrays()), state)

    def run_forward():
        mx.eval(forward(*batch.arrays()))

    for _ in range(3):  # compile + warm up
        run_step()
        run_forward()
    steps, forwards = [], []
    for _ in range(reps):
        steps += _median_ms(run_step, 1)
        forwards += _median_ms(run_forward, 1)
    s, f = float(np.median(steps)), float(np.median(forwards))
    return {
        "batch_size": batch_size,
        "tokens_per_batch": batch.num_tokens,
        "train_step_ms": s,
        "forward_ms": f,
        "ratio": s / f,
    }


def describe_vs_plain(tslm, base: str, tokens: int, reps: int) -> dict:
    """Median decode tokens/s: TSLM.generate vs mlx_lm.stream_generate (same length prompt)."""
    from mlx_lm.generate import stream_generate

    from sadt.describer.files import load_llm

    plain, tokenizer = load_llm(base, tslm.config.llm_dtype)  # mlx_lm.load + the same dtype
    eos = list(tokenizer.eos_token_ids)

    def ban_eos(_tokens, logits):
        logits[:, eos] = -float("inf")
        return logits

    series = _examples(1)[0].values
    prompt = tslm.prompts.prompt(tslm.prompts.view(series))
    ids = mx.array(prompt.prefix + [tslm.prompts.pad_id] * prompt.n_soft + prompt.suffix)

    def run_tslm():
        _, responses = tslm.generate(series, max_tokens=tokens, logits_processors=[ban_eos])
        last = list(responses)[-1]
        return last.generation_tps, last.generation_tokens

    def run_plain():
        responses = stream_generate(
            plain, tokenizer, ids, max_tokens=tokens, logits_processors=[ban_eos]
        )
        last = list(responses)[-1]
        return last.generation_tps, last.generation_tokens

    run_tslm(), run_plain()  # warm up
    ours, theirs = [], []
    for _ in range(reps):
        ours.append(run_tslm())
        theirs.append(run_plain())
    o, t = float(np.median([x[0] for x in ours])), float(np.median([x[0] for x in theirs]))
    return {
        "prompt_tokens": int(ids.size),
        "generated_tokens": int(ours[0][1]),
        "describe_tokens_per_s": o,
        "plain_tokens_per_s": t,
        "ratio": o / t,
    }


def _examples(n: int):
    from sadt.describer.data import synthetic_example

    return [synthetic_example(np.random.default_rng([7, i]), "caption") for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    from sadt.describer.model import TSLM, LoRAConfig, TSLMConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--describer", help="a saved TSLM folder")
    group.add_argument("--base", help="an mlx-lm base model: a fresh TSLM (default shapes)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64, help="tokens to generate")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--out", help="JSON path (default bench/results/...)")
    args = parser.parse_args(argv)

    if args.describer:
        tslm = TSLM.load(args.describer, fuse=False)
        base = tslm.base_path or tslm.config.base_model
    else:
        tslm = TSLM.from_base(TSLMConfig(lora=LoRAConfig()), args.base)
        base = args.base
    result = {
        "device": str(mx.default_device()),
        "blas": sadt.fast_blas.status()["source"],
        "model": args.describer or args.base,
        "train_vs_forward": step_vs_forward(tslm, tslm.config, args.batch_size, args.reps),
        "describe_unfused_vs_plain": describe_vs_plain(tslm, str(base), args.tokens, args.reps),
    }
    # What TSLM.load gives describe by default: LoRA merged into the float base layers.
    tslm.fuse_lora()
    result["describe_vs_plain"] = describe_vs_plain(tslm, str(base), args.tokens, args.reps)
    print(json.dumps(result, indent=2))
    write_json("tslm_speed", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
