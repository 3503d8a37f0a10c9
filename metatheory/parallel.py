"""Parallel work at two scales. Within one program, sharding over devices with
``jax.sharding``: a task batch (claim S2) and the mesh over which
:func:`metatheory.experiments.map_seeds` shards calibration seeds, in chunks that fit the
memory a process may use (:func:`memory_budget`, :func:`seed_chunk`). Across programs,
:func:`run_on_dask` runs independent tasks on a Dask cluster (``metatheory calibrate``).

The leading task axis of the support and query arrays is split over a 1-D device mesh named
``"tasks"``; parameters are replicated. XLA inserts the cross-device mean, so the result is
the same meta-gradient as on one device, up to the order of the floating-point sum.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Hashable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from metatheory.learners.maml import batched_maml_meta_gradient

__all__ = [
    "task_mesh",
    "shard_tasks",
    "sharded_meta_gradient",
    "seed_mesh",
    "memory_budget",
    "seed_chunk",
    "run_on_dask",
]


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


def memory_budget(device=None) -> int:
    """Bytes a new program may still use on ``device`` (default: the first device): an
    accelerator's own limit; on the CPU, the memory limit of the Dask worker this runs in less
    what the process holds already (the embedded cluster gives each of its ``jobs`` workers an
    equal share; ``dask worker --memory-limit`` sets it on a cluster), else the memory the
    system has available now."""
    device = jax.devices()[0] if device is None else device
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):  # not inside a Dask worker
        limit = None
    if limit:
        return max(0, int(limit) - _resident_memory())
    return _available_memory()


def _resident_memory() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def seed_chunk(need: int, n_seeds: int, n_dev: int, budget: int) -> int:
    """Seeds per program: all ``n_seeds`` when their program's ``need`` (bytes per device, the
    seeds split evenly over ``n_dev`` devices) fits the ``budget``, else as many as fit, in
    multiples of ``n_dev``; 0 when one seed per device does not fit."""
    if n_seeds < 1 or n_dev < 1 or n_seeds % n_dev:
        raise ValueError(
            f"n_seeds must be a positive multiple of n_dev >= 1, got {n_seeds!r}, {n_dev!r}"
        )
    if need <= budget:
        return n_seeds
    return int(budget // (need / (n_seeds // n_dev))) * n_dev


_WORKER_PRELOAD = """
import signal, threading
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the client's
"""
"""Run by each worker of the embedded cluster as it starts (Dask preload text)."""


def run_on_dask(
    fn: Callable,
    items: Sequence,
    args: tuple = (),
    *,
    key: Callable[[object], Hashable],
    jobs: int = 1,
    scheduler: str | None = None,
    retries: int = 1,
    on_result: Callable[[object, object, int], None],
    on_event: Callable[[str], None],
) -> None:
    """Run ``fn(item, *args)`` for each item as a Dask task named ``key(item)``: on an embedded
    ``LocalCluster`` of ``jobs`` single-threaded worker processes, or on the cluster at
    ``scheduler``. ``on_result(item, result, n_workers)`` is called in this process as each
    task finishes. A task whose worker dies is moved to another worker ``retries`` times, and a
    task that raises is run again as often; then ``on_event`` gets one line naming it and its
    exception, and its result never comes."""
    import dask
    from distributed import Client, LocalCluster, as_completed

    # the embedded cluster's scheduler reads the retries of a dead worker's task ("suspicious"
    # count) from here, a remote one from its own config. Each embedded worker's memory limit
    # is its share of the machine, read by memory_budget to size seed blocks; JAX's arrays are
    # not Dask data, so the limit never spills, pauses or kills a worker.
    no_actions = {f"distributed.worker.memory.{k}": False for k in ("target", "spill", "pause")}
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": retries,
            "distributed.worker.memory.terminate": False,
            **no_actions,
        }
    ):
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,  # JAX runs its own threads
                processes=True,
                dashboard_address=None,
                memory_limit="auto",  # the machine's memory / jobs
                silence_logs=logging.ERROR,
                preload=[_WORKER_PRELOAD],
            )
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
    by_key = {key(item): item for item in items}

    def died(event):
        _, msg = event
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            if not msg.get("expected") and msg.get("processing-tasks"):
                keys = ", ".join(sorted(str(k) for k in msg["processing-tasks"]))
                on_event(
                    f"worker {msg.get('worker', '?')} died running {keys}: moved to another worker"
                )

    try:
        n_workers = len(client.scheduler_info()["workers"]) or jobs
        client.subscribe_topic("all", died)
        submit = functools.partial(client.submit, fn, retries=retries, pure=False)
        futures = [submit(item, *args, key=k) for k, item in by_key.items()]
        for fut in as_completed(futures):
            item = by_key[fut.key]
            if fut.status != "finished":  # erred after its retries, or cancelled
                try:
                    exc = fut.exception()
                except Exception as e:  # a cancelled future raises here
                    exc = e
                msg = str(exc).splitlines()[0] if str(exc) else ""
                on_event(f"task {fut.key} failed: {type(exc).__name__}: {msg}")
                continue
            on_result(item, fut.result(), n_workers)
    finally:
        try:
            client.unsubscribe_topic("all")
        except Exception:  # the scheduler may already be gone
            pass
        client.close()
        if cluster is not None:
            cluster.close()
