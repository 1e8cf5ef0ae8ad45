"""S-ADT's value network: harvesting, losses, training, files, and the searches that use it."""

import json
import signal

import mlx.core as mx
import numpy as np
import pytest

from sadt.errors import MissingModelFile, ModelFileError
from sadt.search import SAMPLERS
from sadt.search.dts import TreeSearch, TreeSearchConfig
from sadt.search.toy import bimodal_1d, sliced_w1_to_grid, target_grid
from sadt.train import common
from sadt.train import value as train_value
from sadt.value import ValueConfig, ValueNetwork, ValuePrior, path_balance_loss
from sadt.value.data import ValueBuffer, harvest_tree
from sadt.value.samplers import sadt, sadt_smc


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A value network trained on a small toy-chain harvest (seconds)."""
    out = tmp_path_factory.mktemp("value")
    args = [
        "--out_dir",
        str(out),
        "--trees",
        "24",
        "--budget",
        "600",
        "--steps",
        "300",
        "--eval_every",
        "100",
        "--log_every",
        "50",
        "--checkpoint_every",
        "100",
    ]
    assert train_value.main(args) == 0
    return out


def test_training_lowers_the_soft_value_loss(trained):
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    first, last = log[0]["value_loss"], np.mean([r["value_loss"] for r in log[-2:]])
    assert last < 0.7 * first, (first, last)
    assert "held_out_value_loss" in log[-1] and "held_out_path_loss" in log[-1]


def test_harvest_is_resumable_and_skips_done_trees(trained, capsys):
    manifest = json.loads((trained / "buffer" / "manifest.json").read_text())
    assert len(manifest["items"]) == 24
    train_value.harvest(train_value.ValueTrainConfig(out_dir=str(trained), trees=24))
    again = json.loads((trained / "buffer" / "manifest.json").read_text())
    assert again == manifest  # nothing harvested twice


def test_resume_continues_exactly(tmp_path):
    args = [
        "--trees",
        "8",
        "--budget",
        "300",
        "--steps",
        "40",
        "--log_every",
        "1",
        "--eval_every",
        "1000",
        "--checkpoint_every",
        "20",
    ]
    whole, half = tmp_path / "whole", tmp_path / "half"
    assert train_value.main(["--out_dir", str(whole), *args]) == 0
    assert train_value.main(["--out_dir", str(half), *args, "--stop_at", "20"]) == 0
    assert train_value.main(["--out_dir", str(half), *args, "--resume"]) == 0

    def losses(folder):
        return [json.loads(line)["value_loss"] for line in (folder / "log.jsonl").open()]

    np.testing.assert_allclose(losses(half), losses(whole), rtol=1e-5)


def test_save_load_round_trip_and_clear_errors(trained, tmp_path):
    net = ValueNetwork.load(trained)
    x = mx.array(np.linspace(-3, 3, 14, dtype=np.float32).reshape(7, 2))  # state, x0_hat
    frac, w = mx.full((7,), 0.5), mx.zeros((7, 1))
    copy = tmp_path / "copy"
    net.save(copy)
    np.testing.assert_array_equal(
        np.array(net(x, frac, w)), np.array(ValueNetwork.load(copy)(x, frac, w))
    )
    (copy / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFileError, match="model.safetensors"):
        ValueNetwork.load(copy)
    with pytest.raises(MissingModelFile, match="config"):
        ValueNetwork.load(tmp_path / "nowhere")


def test_path_balance_loss_matches_a_direct_computation():
    mx.random.seed(0)
    net = ValueNetwork(ValueConfig(feature_dim=1, weight_dim=1, hidden=8))
    feats = lambda v: mx.array(np.array(v, dtype=np.float32)[:, None])  # noqa: E731
    # One path: node A (children a1 leaf r=1.0, a2 leaf r=3.0), node B (children B1, B2 internal).
    node_f, node_frac = feats([0.1, 0.2]), mx.array([0.5, 0.0])
    child_f, child_frac = feats([0.3, 0.4, 0.5, 0.6]), mx.array([1.0, 1.0, 0.5, 0.5])
    child_values = mx.array([1.0, 3.0, 0.0, 0.0])
    is_leaf = mx.array([True, True, False, False])
    segment, node_path, lam = mx.array([0, 0, 1, 1]), mx.array([0, 0]), mx.array([2.0, 2.0])
    w_n, w_c = mx.zeros((2, 1)), mx.zeros((4, 1))
    loss = path_balance_loss(
        net,
        lam,
        node_f,
        node_frac,
        w_n,
        child_values,
        is_leaf,
        child_f,
        child_frac,
        w_c,
        segment,
        node_path,
        1,
    )
    f_node = np.array(net(node_f, node_frac, w_n))
    f_child = np.where(
        np.array(is_leaf), np.array(child_values), np.array(net(child_f, child_frac, w_c))
    )
    res = [
        2 * f_node[i] - np.log(np.mean(np.exp(2 * f_child[2 * i : 2 * i + 2]))) for i in range(2)
    ]
    assert loss.item() == pytest.approx((sum(res) / 2.0) ** 2, rel=1e-4)


def test_harvested_rows_match_the_tree():
    chain = bimodal_1d()
    search = TreeSearch(chain, TreeSearchConfig(lam=2.0), np.random.default_rng(0))
    search.run(400)
    rows = harvest_tree(search, 2.0)
    assert len(rows["target"]) == search.tree.size - 1
    parent = rows["parent"]
    assert np.all(rows["fraction"][parent[parent >= 0]] < rows["fraction"][parent >= 0])
    assert rows["leaf"].sum() == len(search.tree.leaves())
    np.testing.assert_allclose(rows["lam_scale"], 2.0)


def test_value_prior_weight_vanishes_with_visits(trained):
    chain = bimodal_1d()
    search = TreeSearch(
        chain,
        TreeSearchConfig(),
        np.random.default_rng(0),
        value_prior=ValuePrior(ValueNetwork.load(trained), chain, 1.0),
    )
    search.run(200)
    tree = search.tree
    kids = tree.children[0]
    tree.visits[kids] = 10**9
    np.testing.assert_allclose(search.selection_values(0, kids), tree.value[kids], atol=1e-6)


@pytest.mark.parametrize("method", [sadt, sadt_smc])
def test_amortized_samplers_respect_budgets_and_seeds(trained, method):
    net = ValueNetwork.load(trained)
    a = method(bimodal_1d(), 333, value=net, seed=4)
    b = method(bimodal_1d(), 333, value=net, seed=4)
    assert a.nfe <= 333 and a.nfe == b.nfe
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.stats["value_calls"] > 0


def test_sadt_still_converges_to_the_exact_target_with_the_value_network(trained):
    chain = bimodal_1d()
    net = ValueNetwork.load(trained)
    grid = target_grid(chain, 2001)
    target = chain.tilted_target(1.0, grid)

    def w1(budget, seed):
        result = sadt(
            chain, budget, value=net, num_samples=2000, seed=seed, config=TreeSearchConfig(batch=16)
        )
        return sliced_w1_to_grid(result.samples, grid, target)

    # Eight seeds: one search's W1 varies a lot (4-seed means gave ratios 0.21-0.77),
    # eight-seed means 0.42-0.45, so 0.6 is a margin, not a coin flip.
    small = np.mean([w1(600, s) for s in range(8)])
    large = np.mean([w1(6000, s) for s in range(8)])
    ancestral = sliced_w1_to_grid(SAMPLERS["ancestral"](chain, 6000).samples, grid, target)
    assert large < 0.6 * small and large < ancestral / 3, (small, large, ancestral)


def test_buffer_split_keeps_trees_whole(trained):
    buffer = ValueBuffer.load(trained / "buffer")
    train, held = buffer.split(0.25, seed=0)
    assert len(train) + len(held) == len(buffer)
    assert not set(np.unique(train.arrays["tree"])) & set(np.unique(held.arrays["tree"]))
    paths = held.path_batch(np.random.default_rng(0), 4)
    assert paths["num_paths"] == 4 and len(paths["node_path"]) >= 4


# -- Ctrl-C, resume, overwrite, settings ------------------------------------------------------


def _sigint_at(n):
    """A hook that sends this process a real SIGINT after item (tree, step) `n`."""
    return lambda done: done == n and signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_harvest_and_training_loses_nothing_and_resume_is_exact(tmp_path, capsys):
    args = ["--trees", "8", "--budget", "300", "--steps", "40", "--log_every", "1",
            "--eval_every", "1000", "--checkpoint_every", "20"]  # fmt: skip
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert train_value.main(["--out_dir", str(whole), *args]) == 0
    cfg, _ = train_value.parse_config(["--out_dir", str(cut), *args])
    with pytest.raises(common.Interrupted, match="with 3 of 8 trees saved to"):
        train_value.harvest(cfg, on_tree=_sigint_at(2))  # trees 0, 1, 2 done
    assert json.loads((cut / "buffer" / "manifest.json").read_text())["items"] == [
        "tree-0", "tree-1", "tree-2"
    ]  # fmt: skip
    train_value.harvest(cfg)  # the other five
    with pytest.raises(common.Interrupted, match=r"interrupted at step 7; checkpoint saved to"):
        train_value.Trainer(cfg).run(on_step=_sigint_at(7))
    capsys.readouterr()
    assert train_value.main(["--out_dir", str(cut), *args]) == 2  # forgot --resume
    err = capsys.readouterr().err
    assert "already holds a checkpoint at step 7; pass --resume" in err
    # The buffer is under out_dir: a new out_dir alone would harvest every tree again.
    assert f"another out_dir (add --buffer_dir {cut / 'buffer'} to train on the same trees" in err
    assert train_value.main(["--out_dir", str(cut), *args, "--resume"]) == 0

    def log(folder):
        return [json.loads(line) for line in (folder / "log.jsonl").open()]

    assert [r["step"] for r in log(cut)] == list(range(1, 41))
    assert [r["value_loss"] for r in log(cut)] == [r["value_loss"] for r in log(whole)]
    a, b = (mx.load(str(f / "model.safetensors")) for f in (whole, cut))
    assert all(np.array_equal(np.array(a[k]), np.array(b[k])) for k in a)


@pytest.mark.parametrize(
    "override, message",
    [
        (["--horizons", "24"], "horizons must be a list of whole numbers >= 8, e.g. [24, 48, 96]"),
        (["--horizons", "[4, 24]"], "horizons must be a list of whole numbers >= 8"),
        (["--lam_range", "[0, 1]"], "lam_range must be [low, high] with 0 < low <= high"),
        (["--gamma_range", "2"], "gamma_range must be a list of 2 numbers"),
        (["--held_out", "1.0"], "held_out must be > 0 and < 1, not 1.0"),
        (["--batch_size", "0"], "batch_size must be >= 1, not 0"),
        (["--steps", "-1"], "steps must be >= 1, not -1"),
        (["--checkpoint_every", "0"], "checkpoint_every must be >= 1, not 0"),
        (["--log_every", "0"], "log_every must be >= 1, not 0"),
        (["--split", "5"], "split must look like '0:8640' or [0, 8640]"),
        (["--split", "0:inf"], "split must look like '0:8640' or [0, 8640]"),
        (["--steps", "null"], "training setting steps must be a number, not empty (null)"),
        (["--csv", "5"], "csv must be a file path or a list of them, e.g. [a.csv, b.csv], not 5"),
        (["--lr", ".inf"], "lr must be a finite number, not inf"),
        (["--path_loss_weight", ".nan"], "path_loss_weight must be a finite number, not nan"),
        (["--model", "{hidden: 0}"], "hidden must be >= 1, not 0"),
        (["--seed", "18446744073709551616"], "seed must be <= 4294967295"),
        (["--model", "{hiden: 64}"], "hiden"),
    ],
)
def test_bad_settings_are_one_sentence_naming_the_setting(tmp_path, capsys, override, message):
    assert train_value.main(["--out_dir", str(tmp_path / "run"), *override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()  # nothing harvested, nothing trained


def test_settings_the_forecaster_cannot_meet_are_one_sentence_before_any_tree(tmp_path, capsys):
    from tiny_models import hourly_csv, tiny_forecaster

    out = tmp_path / "run"
    assert train_value.main(["--out_dir", str(out), "--budget", "5"]) == 2  # toy chain: 20 steps
    err = capsys.readouterr().err
    assert err == (
        "error: budget 5 cannot pay for one sample of the toy-1d chain (20 denoising steps); "
        "use a budget of at least 20\n"
    )
    folder = tmp_path / "forecaster"
    tiny_forecaster(horizon=24).save(folder)
    csv = hourly_csv(tmp_path / "load.csv")
    args = ["--forecaster", str(folder), "--csv", str(csv), "--horizons", "[24, 48]"]
    assert train_value.main(["--out_dir", str(out), *args]) == 2  # was a traceback
    err = capsys.readouterr().err
    assert err.startswith("error: horizons [48] exceed the 24 steps the forecaster at ")
    assert err.count("\n") == 1
    assert not out.exists()  # nothing harvested


def test_a_damaged_harvest_manifest_is_one_sentence(tmp_path, capsys):
    buffer = tmp_path / "buffer"
    buffer.mkdir()
    (buffer / "manifest.json").write_text('{"shards": ["a.npz"], "items": [')  # a torn write
    args = ["--out_dir", str(tmp_path / "run"), "--buffer_dir", str(buffer), "--trees", "2"]
    assert train_value.main([*args, "--budget", "100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {buffer / 'manifest.json'} is not a harvest manifest")


def test_held_out_that_leaves_no_training_tree_is_named(tmp_path, capsys):
    out = tmp_path / "run"
    assert train_value.main(["--out_dir", str(out), "--trees", "2", "--budget", "100",
                             "--held_out", "0.9"]) == 2  # fmt: skip
    assert "too few to hold out held_out=0.9" in capsys.readouterr().err


def test_checkpoints_of_other_trainers_are_named_as_such(tmp_path, trained):
    cfg, _ = train_value.parse_config(["--out_dir", str(tmp_path), "--buffer_dir",
                                       str(trained / "buffer")])  # fmt: skip
    trainer = train_value.Trainer(cfg)
    metadata = {"sadt": json.dumps({"step": 5, "config": {}})}  # what train.forecaster writes
    mx.save_safetensors(str(tmp_path / train_value.CHECKPOINT), {"x": mx.zeros(1)}, metadata)
    with pytest.raises(ModelFileError, match="is not a sadt value training checkpoint"):
        trainer.load_checkpoint()


def test_ctrl_c_during_the_last_tree_stops_before_training(tmp_path, monkeypatch, capsys):
    # The harvest used to raise only if trees were left, and training then began afresh.
    harvest = train_value.harvest
    monkeypatch.setattr(
        train_value, "harvest", lambda cfg: harvest(cfg, on_tree=_sigint_at(cfg.trees - 1))
    )
    out = tmp_path / "run"
    assert train_value.main(["--out_dir", str(out), "--trees", "3", "--budget", "50"]) == 130
    assert "interrupted during the harvest with 3 of 3 trees saved" in capsys.readouterr().err
    assert not (out / train_value.CHECKPOINT).exists() and not (out / "log.jsonl").exists()


def test_a_second_ctrl_c_in_the_harvest_keeps_the_finished_trees(tmp_path):
    cfg = train_value.ValueTrainConfig(out_dir=str(tmp_path), trees=4, budget=50)

    def twice(i):  # the first asks to stop after this tree, the second does not wait
        if i == 1:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_value.harvest(cfg, on_tree=twice)
    manifest = json.loads((tmp_path / "buffer" / "manifest.json").read_text())
    assert manifest["items"] == ["tree-0", "tree-1"]  # "earlier checkpoints are intact"
