"""The MAML family's shared problem: float64 pytrees flattened to numpy, and sinusoid task
batches for the MLP cases."""

from __future__ import annotations

import numpy as np

from metatheory.numerics import flatten
from metatheory.tasks import sinusoid


def flat(tree) -> np.ndarray:
    """A pytree as one flat float64 numpy vector."""
    return np.asarray(flatten(tree))


def sinusoid_batch(key, n_tasks: int, k: int):
    """``n_tasks`` sinusoid tasks with ``k`` support and ``k`` query points each."""
    return sinusoid.sample_batch(key, n_tasks, k, k)
