"""Harvested search trees: what F_phi learns from, kept in a compact on-disk buffer.

One row per tree node (the dummy root excluded): the chain's value features of its state,
its level fraction, the reward weights, its backed-up soft value / scale, its visits, its
parent row (for paths and sibling sets) and whether it is a leaf. A buffer is a folder of
``shard_NNNNN.npz`` files plus ``manifest.json`` (which work items are done: resumable).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadt.errors import DataError
from sadt.files import atomic_write
from sadt.search.dts import TreeSearch

FIELDS = ("features", "fraction", "weights", "target", "visits", "parent", "leaf", "lam_scale")


def harvest_tree(search: TreeSearch, lam: float) -> dict[str, np.ndarray]:
    """The rows of one finished search tree (values divided by the chain's value scale)."""
    tree, chain = search.tree, search.chain
    nodes = np.arange(1, tree.size)
    linked = np.zeros(tree.size, dtype=bool)  # nodes still in flight were never linked
    for children in tree.children[: tree.size]:
        linked[children] = True
    nodes = nodes[linked[nodes]]
    row_of = np.full(tree.size, -1, dtype=np.int64)
    row_of[nodes] = np.arange(len(nodes))
    k = tree.k[nodes]
    scale = float(chain.value_scale)
    weights = np.asarray(chain.value_weights(lam), dtype=np.float32)
    return {
        "features": chain.value_features(tree.states[nodes], k, tree.x0_hat[nodes]).astype(
            np.float32
        ),
        "fraction": chain.level_fraction(k).astype(np.float32),
        "weights": np.broadcast_to(weights, (len(nodes), len(weights))).copy(),
        "target": (tree.value[nodes] / scale).astype(np.float32),
        "visits": tree.visits[nodes].astype(np.int32),
        "parent": row_of[tree.parent[nodes]].astype(np.int32),  # -1: a child of the root
        "leaf": k == chain.depth,
        "lam_scale": np.full(len(nodes), lam * scale, dtype=np.float32),
    }


class BufferWriter:
    """Append trees to a buffer folder; a shard is written every ``shard_rows`` rows."""

    def __init__(self, folder: str | Path, shard_rows: int = 50_000) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shard_rows = shard_rows
        self.manifest = read_manifest(self.folder)
        self._pending: list[dict] = []
        self._pending_items: list[str] = []

    def done(self, item: str) -> bool:
        return item in self.manifest["items"]

    def set_value_base(self, base: tuple[int, float] | None) -> None:
        """Record which feature is the chain's base prediction (see ValueConfig)."""
        self.manifest["value_base"] = list(base) if base else None

    def add(self, item: str, rows: dict[str, np.ndarray]) -> None:
        self._pending.append(rows)
        self._pending_items.append(item)
        if sum(len(r["target"]) for r in self._pending) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        shard = self._concat(self._pending)
        name = f"shard_{len(self.manifest['shards']):05d}.npz"
        atomic_write(self.folder / name, lambda tmp: _save_npz(tmp, shard))
        self.manifest["shards"].append(name)
        self.manifest["items"].extend(self._pending_items)
        self.manifest["rows"] += len(shard["target"])
        text = json.dumps(self.manifest, indent=1) + "\n"
        atomic_write(self.folder / "manifest.json", lambda tmp: Path(tmp).write_text(text))
        self._pending, self._pending_items = [], []

    @staticmethod
    def _concat(trees: list[dict]) -> dict[str, np.ndarray]:
        out = {name: [] for name in FIELDS}
        out["tree"] = []
        offset = 0
        for i, rows in enumerate(trees):
            n = len(rows["target"])
            for name in FIELDS:
                values = rows[name]
                if name == "parent":  # shard-global parent rows
                    values = np.where(values >= 0, values + offset, -1)
                out[name].append(values)
            out["tree"].append(np.full(n, i, dtype=np.int32))
            offset += n
        return {name: np.concatenate(parts) for name, parts in out.items()}


def _save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return {"shards": [], "items": [], "rows": 0}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(
            f"{path} is not a harvest manifest ({err}); harvest into a new folder"
        ) from None
    if not isinstance(manifest, dict) or not {"shards", "items"} <= set(manifest):
        raise DataError(f"{path} is not a harvest manifest; harvest into a new folder")
    return manifest


@dataclass
class ValueBuffer:
    """All rows of a buffer in memory, with trees numbered globally across shards."""

    arrays: dict[str, np.ndarray]
    value_base: list | None = None  # [feature index, scale] of the chain's base prediction

    @classmethod
    def load(cls, folder: str | Path) -> ValueBuffer:
        folder = Path(folder)
        manifest = read_manifest(folder)
        if not manifest["shards"]:
            raise FileNotFoundError(f"no harvested trees in {folder}: run the harvest step first")
        parts, row_offset, tree_offset = [], 0, 0
        for name in manifest["shards"]:
            with np.load(folder / name) as shard:
                arrays = {key: shard[key] for key in shard.files}
            arrays["parent"] = np.where(arrays["parent"] >= 0, arrays["parent"] + row_offset, -1)
            arrays["tree"] = arrays["tree"] + tree_offset
            row_offset += len(arrays["target"])
            tree_offset = int(arrays["tree"].max()) + 1
            parts.append(arrays)
        buffer = cls({key: np.concatenate([p[key] for p in parts]) for key in parts[0]})
        buffer.value_base = manifest.get("value_base")
        return buffer

    def __len__(self) -> int:
        return len(self.arrays["target"])

    @property
    def num_trees(self) -> int:
        return int(self.arrays["tree"].max()) + 1

    def split(self, held_out_fraction: float, seed: int = 0) -> tuple[ValueBuffer, ValueBuffer]:
        """Split by whole trees (held-out trees are never seen in training)."""
        rng = np.random.default_rng(seed)
        trees = rng.permutation(self.num_trees)
        n_out = max(1, int(round(held_out_fraction * self.num_trees)))
        held = np.isin(self.arrays["tree"], trees[:n_out])
        return self.subset(~held), self.subset(held)

    def subset(self, mask: np.ndarray) -> ValueBuffer:
        rows = np.flatnonzero(mask)
        new_row = np.full(len(mask), -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows))
        arrays = {key: value[rows] for key, value in self.arrays.items()}
        parent = arrays["parent"]
        arrays["parent"] = np.where(parent >= 0, new_row[np.maximum(parent, 0)], -1)
        return ValueBuffer(arrays, self.value_base)

    # -- batches ---------------------------------------------------------------------------------
    def node_batch(self, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
        """Internal nodes for soft-value regression (leaves carry rewards, not F)."""
        internal = np.flatnonzero(~self.arrays["leaf"])
        rows = rng.choice(internal, size=min(size, len(internal)), replace=False)
        return {key: self.arrays[key][rows] for key in FIELDS}

    def path_batch(
        self, rng: np.random.Generator, num_paths: int, shard: slice = slice(None)
    ) -> dict[str, np.ndarray]:
        """Root-to-leaf paths with every path node's children, for the path-balance loss.
        ``shard`` keeps some of the drawn paths (a rank's share of a global batch)."""
        a = self.arrays
        children = self._children()
        leaves = np.flatnonzero(a["leaf"])
        picks = rng.choice(leaves, size=min(num_paths, len(leaves)), replace=False)[shard]
        node_rows, node_path, child_rows, child_segment = [], [], [], []
        for p, leaf in enumerate(picks):
            node = a["parent"][leaf]
            while node >= 0:
                kids = children.get(int(node), [])
                child_segment.extend([len(node_rows)] * len(kids))
                child_rows.extend(kids)
                node_rows.append(int(node))
                node_path.append(p)
                node = a["parent"][node]
        node_rows, child_rows = np.array(node_rows), np.array(child_rows)
        return {
            "node": {key: a[key][node_rows] for key in FIELDS},
            "child": {key: a[key][child_rows] for key in FIELDS},
            "child_segment": np.array(child_segment, dtype=np.int32),
            "node_path": np.array(node_path, dtype=np.int32),
            "num_paths": len(picks),
        }

    def _children(self) -> dict[int, list[int]]:
        if not hasattr(self, "_children_cache"):
            table: dict[int, list[int]] = {}
            for row, parent in enumerate(self.arrays["parent"].tolist()):
                if parent >= 0:
                    table.setdefault(parent, []).append(row)
            object.__setattr__(self, "_children_cache", table)
        return self._children_cache


def buffer_size_bytes(folder: str | Path) -> int:
    return sum(os.path.getsize(p) for p in Path(folder).glob("shard_*.npz"))
