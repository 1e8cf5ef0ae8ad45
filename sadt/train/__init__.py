"""The trainers, installed with the package: ``sadt train <name> ...`` or
``python -m sadt.train.<name>`` (``python -m train.<name>`` in a clone is an alias).

`forecaster` (the diffusion forecaster), `value` (S-ADT's value network, from search trees),
`tslm` (the describer), `tiny_llama` (the small offline base Llama), `push` (a pipeline
folder, the bundled default or a Hub repo from trained parts); `common` and `distributed`
hold what they share: settings, checkpoints, interrupt-and-save, data parallel."""

import sadt  # noqa: F401  (loads the fast BLAS before any module imports mlx.core)

TRAINERS = ("forecaster", "value", "tslm", "tiny_llama", "push")
