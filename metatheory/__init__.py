"""metatheory: theorems and bounds of meta-learning, each paired with a numerical check.

Public API (explicit re-exports):

- learners: :func:`maml_meta_gradient`, :func:`batched_maml_meta_gradient`,
  :func:`maml_meta_loss`, :func:`inner_adapt`, :func:`reptile_direction`,
  :func:`make_meta_step`
- :mod:`metatheory.bounds`: calculators (PAC-Bayes, smoothness constants, implicit priors)
- :mod:`metatheory.claims`: the ledger; ``claims.run("G1")`` checks one claim
"""

from metatheory import bounds, nets, stats, tasks
from metatheory.learners import (
    batched_maml_meta_gradient,
    batched_maml_meta_loss,
    batched_reptile_direction,
    inner_adapt,
    make_meta_step,
    maml_meta_gradient,
    maml_meta_loss,
    reptile_direction,
)

__version__ = "0.1.0"

__all__ = [
    "bounds",
    "nets",
    "stats",
    "tasks",
    "inner_adapt",
    "maml_meta_loss",
    "maml_meta_gradient",
    "batched_maml_meta_loss",
    "batched_maml_meta_gradient",
    "reptile_direction",
    "batched_reptile_direction",
    "make_meta_step",
]
