"""The S-ADT value network: F_phi, learned from search trees, guides later searches.

`model` holds the network, its losses and the prior a tree search reads (`ValuePrior`);
`data` harvests trees into training buffers. The samplers that use it are in
`sadt.value.samplers`; its trainer is `sadt/train/value.py`.
"""

from sadt.value.model import (
    ValueConfig,
    ValueNetwork,
    ValuePrior,
    path_balance_loss,
    soft_value_loss,
    visit_weights,
)

__all__ = [
    "ValueConfig",
    "ValueNetwork",
    "ValuePrior",
    "path_balance_loss",
    "soft_value_loss",
    "visit_weights",
]
