"""S2: a task batch sharded over (forced) host devices gives the single-device meta-gradient.

Forcing several CPU devices needs ``XLA_FLAGS`` before JAX starts, so
:func:`sharded_vs_single` runs this module in a subprocess and reads back its JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

__all__ = ["ShardConfig", "QUICK", "FULL", "ShardResult", "sharded_vs_single"]


@dataclass(frozen=True)
class ShardConfig:
    n_devices: int = 4
    n_tasks: int = 24
    k_shot: int = 10
    n_inner: int = 3
    alpha: float = 0.01
    sizes: tuple[int, ...] = (1, 40, 40, 1)
    seed: int = 3


QUICK = ShardConfig()
FULL = ShardConfig(n_devices=8, n_tasks=200)


@dataclass
class ShardResult:
    n_devices: int
    rel_err: float  # sharded vs one device, relative error of the flattened meta-gradient
    rel_err_control: float  # sharded gradient vs the gradient of only the first shard's tasks
    placement: str  # the sharding of the task batch, as JAX reports it


def sharded_vs_single(config: ShardConfig) -> ShardResult:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={config.n_devices}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-m", "metatheory.experiments.sharding", json.dumps(asdict(config))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return ShardResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def _child(config: ShardConfig) -> dict:
    import jax
    from jax.flatten_util import ravel_pytree

    jax.config.update("jax_cpu_enable_async_dispatch", False)  # as in the parent process

    from metatheory import nets
    from metatheory.experiments.maml import rel_err
    from metatheory.learners.maml import batched_maml_meta_gradient
    from metatheory.parallel import shard_tasks, sharded_meta_gradient, task_mesh
    from metatheory.tasks import sinusoid

    with jax.enable_x64(True):
        assert len(jax.devices()) == config.n_devices, jax.devices()
        key = jax.random.key(config.seed)
        params = nets.init(key, config.sizes)
        s, q = sinusoid.sample_batch(
            jax.random.fold_in(key, 1), config.n_tasks, config.k_shot, config.k_shot
        )
        kw = {"alpha": config.alpha, "n_inner": config.n_inner}
        mesh = task_mesh()
        sharded = ravel_pytree(sharded_meta_gradient(nets.mse_loss, params, s, q, mesh=mesh, **kw))[
            0
        ]
        with jax.default_device(jax.devices()[0]):
            single = ravel_pytree(
                jax.jit(lambda p, s, q: batched_maml_meta_gradient(nets.mse_loss, p, s, q, **kw))(
                    params, s, q
                )
            )[0]
            per = config.n_tasks // config.n_devices
            first = jax.tree_util.tree_map(lambda a: a[:per], (s, q))
            partial = ravel_pytree(batched_maml_meta_gradient(nets.mse_loss, params, *first, **kw))[
                0
            ]
        placement = str(shard_tasks(s, mesh)[0].sharding.spec)
        return {
            "n_devices": config.n_devices,
            "rel_err": rel_err(sharded, single),
            "rel_err_control": rel_err(partial, single),
            "placement": placement,
        }


if __name__ == "__main__":
    cfg = json.loads(sys.argv[1])
    cfg["sizes"] = tuple(cfg["sizes"])
    print(json.dumps(_child(ShardConfig(**cfg))))
