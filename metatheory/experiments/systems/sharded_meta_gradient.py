"""S2: the meta-gradient of a task batch sharded over forced host devices against one device.

Forcing several CPU devices needs ``XLA_FLAGS`` before JAX starts, so :func:`sharded_vs_single`
runs :func:`child` in a subprocess (``python -m metatheory.experiments.systems._shard_main``)
and reads back its JSON; an active mutant is pickled to the child and patched in there."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
from dataclasses import asdict, dataclass

import jax

from metatheory import nets, parallel
from metatheory.experiments import active_mutant, experiment
from metatheory.numerics import flatten, rel_err_norm
from metatheory.tasks import sinusoid

__all__ = [
    "ShardedMetaGradientConfig",
    "SHARDED_META_GRADIENT_PRESETS",
    "ShardedMetaGradientResult",
    "sharded_vs_single",
]


@dataclass(frozen=True)
class ShardedMetaGradientConfig:
    n_devices: int = 4
    n_tasks: int = 24
    k_shot: int = 10
    n_inner: int = 3
    alpha: float = 0.01
    sizes: tuple[int, ...] = (1, 40, 40, 1)


SHARDED_META_GRADIENT_PRESETS = {
    "quick": ShardedMetaGradientConfig(n_tasks=8, n_inner=2, sizes=(1, 16, 16, 1)),
    "full": ShardedMetaGradientConfig(n_devices=8, n_tasks=200),
}


@dataclass(frozen=True, kw_only=True)
class ShardedMetaGradientResult:
    n_devices: int
    rel_err: float  # sharded vs one device, rel_err_norm of the flattened meta-gradient
    rel_err_control: float  # the gradient of only the first shard's tasks vs one device
    placement: str  # the sharding of the task batch, as JAX reports it


@experiment
def sharded_vs_single(
    config: ShardedMetaGradientConfig, key: jax.Array
) -> ShardedMetaGradientResult:
    """S2: ``parallel.sharded_meta_gradient`` over ``n_devices`` forced host devices against
    ``batched_maml_meta_gradient`` on one device (a subprocess; see the module docstring)."""
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={config.n_devices}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    mut = active_mutant()
    try:
        blob = None if mut is None else base64.b64encode(pickle.dumps(mut)).decode("ascii")
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise TypeError(
            f"mutant {mut.name!r} must be picklable (a module-level make function) to reach the "
            "sharding subprocess"
        ) from e
    arg = {"config": asdict(config), "seed": seed, "mutant": blob}
    out = subprocess.run(
        [sys.executable, "-m", "metatheory.experiments.systems._shard_main", json.dumps(arg)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sharding subprocess failed:\n{out.stderr[-2000:]}")
    return ShardedMetaGradientResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def child(config: ShardedMetaGradientConfig, seed: int) -> dict:
    """The measurement, run in a process that sees ``config.n_devices`` devices."""
    from metatheory.learners import maml

    with jax.enable_x64(True):
        assert len(jax.devices()) == config.n_devices, jax.devices()
        key = jax.random.key(seed)
        params = nets.init(key, config.sizes)
        s, q = sinusoid.sample_batch(
            jax.random.fold_in(key, 1), config.n_tasks, config.k_shot, config.k_shot
        )
        kw = {"alpha": config.alpha, "n_inner": config.n_inner}
        mesh = parallel.task_mesh()
        sharded = flatten(
            parallel.sharded_meta_gradient(nets.mse_loss, params, s, q, mesh=mesh, **kw)
        )
        with jax.default_device(jax.devices()[0]):
            single = flatten(
                jax.jit(
                    lambda p, s, q: maml.batched_maml_meta_gradient(nets.mse_loss, p, s, q, **kw)
                )(params, s, q)
            )
            per = config.n_tasks // config.n_devices
            first = jax.tree_util.tree_map(lambda a: a[:per], (s, q))
            partial = flatten(maml.batched_maml_meta_gradient(nets.mse_loss, params, *first, **kw))
        placement = str(parallel.shard_tasks(s, mesh)[0].sharding.spec)
        return {
            "n_devices": config.n_devices,
            "rel_err": rel_err_norm(sharded, single),
            "rel_err_control": rel_err_norm(partial, single),
            "placement": placement,
        }


def main(argv: str) -> dict:
    """The child's entry: ``argv`` is the JSON written by :func:`sharded_vs_single`."""
    from metatheory.mutants import mutated

    jax.config.update("jax_cpu_enable_async_dispatch", False)  # as in the parent process
    arg = json.loads(argv)
    cfg = ShardedMetaGradientConfig(**{**arg["config"], "sizes": tuple(arg["config"]["sizes"])})
    mut = None if arg["mutant"] is None else pickle.loads(base64.b64decode(arg["mutant"]))
    with mutated(mut):
        return child(cfg, arg["seed"])
