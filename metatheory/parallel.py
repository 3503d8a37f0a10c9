"""Sharding over devices with ``jax.sharding``: a task batch (claim S2) and the mesh over which
:func:`metatheory.experiments.map_seeds` shards calibration seeds.

The leading task axis of the support and query arrays is split over a 1-D device mesh named
``"tasks"``; parameters are replicated. XLA inserts the cross-device mean, so the result is
the same meta-gradient as on one device, up to the order of the floating-point sum.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from metatheory.learners.maml import batched_maml_meta_gradient

__all__ = ["task_mesh", "shard_tasks", "sharded_meta_gradient", "seed_mesh"]


def task_mesh(devices=None) -> Mesh:
    """A 1-D mesh ``("tasks",)`` over ``devices`` (default: all local devices)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), ("tasks",))


def shard_tasks(tree, mesh: Mesh):
    """Place every array of ``tree`` with its leading (task) axis split over the mesh."""
    n = mesh.devices.size
    for leaf in jax.tree_util.tree_leaves(tree):
        if leaf.shape[0] % n:
            raise ValueError(f"the task axis ({leaf.shape[0]}) must divide over {n} devices")
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec("tasks")))


def sharded_meta_gradient(loss_fn, params, supports, queries, *, alpha, n_inner, mesh=None, **kw):
    """``batched_maml_meta_gradient`` with the task batch sharded over ``mesh``."""
    mesh = task_mesh() if mesh is None else mesh
    supports, queries = shard_tasks((supports, queries), mesh)
    params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))
    fn = jax.jit(
        lambda p, s, q: batched_maml_meta_gradient(
            loss_fn, p, s, q, alpha=alpha, n_inner=n_inner, **kw
        )
    )
    return fn(params, supports, queries)


def seed_mesh(devices=None) -> Mesh:
    """A 1-D mesh ``("seeds",)`` over ``devices`` (default: all devices, every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), ("seeds",))
