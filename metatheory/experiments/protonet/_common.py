"""Shared by the metric-lens experiments: the identity embedding and a float64 softmax."""

from __future__ import annotations

import numpy as np

IDENTITY = {"f": []}
"""The identity embedding of :func:`metatheory.learners.protonet.embed`."""


def softmax(z) -> np.ndarray:
    """Row-wise softmax in float64 (max-shifted)."""
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)
