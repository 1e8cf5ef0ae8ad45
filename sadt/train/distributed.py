"""Data-parallel training on MLX's own engine: ``mx.distributed`` under ``mlx.launch``.

    mlx.launch --hosts 127.0.0.1 -n 2 --backend ring python -m sadt.train.forecaster --config ...

Every rank draws the same *global* batch from the same seeded stream and keeps its own
contiguous shard of rows, so the data a run sees does not depend on the number of ranks;
gradients are averaged across ranks (``mx.distributed.all_sum``) before the optimizer step,
which makes N ranks compute the same update as one process on the whole global batch
(up to float rounding, and except for dropout: each rank draws its own dropout masks, so a
model trained with dropout follows a different, equally valid, path on N ranks).
Only rank 0 logs, writes checkpoints and pushes; a Ctrl-C on any rank stops every rank at
the same step (``World.any_rank``), with a checkpoint. A checkpoint holds the global stream's
state, so a run can resume on any number of ranks. Without a launcher, ``init()`` returns
a world of size 1 and nothing changes.

``batch_size`` in the configs is the global batch (per rank: batch_size / ranks); the
learning rate is set for that global batch and needs no rescaling when ranks change.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np
from mlx.utils import tree_map


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    group: object | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def say(self, *args, **kwargs) -> None:
        """``print`` on rank 0 only (one log, however many ranks)."""
        if self.is_main:
            print(*args, **kwargs)

    def shard(self, rows: int) -> slice:
        """This rank's rows of a global batch of ``rows`` (which the ranks must divide)."""
        if rows % self.size:
            raise ValueError(
                f"the global batch of {rows} does not split evenly over {self.size} ranks; "
                "choose a batch size divisible by the number of ranks"
            )
        per = rows // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def average(self, grads):
        """Mean of a gradient tree over ranks (identity on one process)."""
        if self.size == 1:
            return grads
        return tree_map(lambda g: mx.distributed.all_sum(g, group=self.group) / self.size, grads)

    def any_rank(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank; every rank must call this at the same point
        (e.g. a Ctrl-C that reached some ranks stops all of them at the same step)."""
        if self.size == 1:
            return bool(flag)
        total = mx.distributed.all_sum(mx.array(int(bool(flag))), group=self.group)
        return total.item() > 0

    def mean(self, value: mx.array) -> mx.array:
        """Mean of a scalar (e.g. the loss) over ranks, for logging."""
        if self.size == 1:
            return value
        return mx.distributed.all_sum(value, group=self.group) / self.size


def init() -> World:
    """The distributed world this process runs in; size 1 without a launcher."""
    group = mx.distributed.init()
    if group.size() == 1:
        return World(0, 1, None)
    return World(group.rank(), group.size(), group)


def take(world: World, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This rank's shard of every array of a global batch (same leading dimension)."""
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) != 1:
        raise ValueError("a batch's arrays must share their first dimension")
    rows = world.shard(sizes.pop())
    return {name: a[rows] for name, a in arrays.items()}
