"""Systems experiments: Hessian-vector products (S1) and a sharded task batch (S2).

- :func:`hvp_agreement` (S1): HVPs by forward-over-reverse and reverse-over-reverse against
  the explicit Hessian product, on an MLP meta-loss (float64; Pearlmutter 1994).
- :func:`sharded_vs_single` (S2): the meta-gradient of a task batch sharded over forced host
  devices against one device. Forcing several CPU devices needs ``XLA_FLAGS`` before JAX
  starts, so it runs this module in a subprocess and reads back its JSON; an active mutant is
  passed to the child by reference (:meth:`~metatheory.mutants.Mutant.portable`) and patched
  in there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

import jax
import numpy as np

from metatheory import autodiff, nets, parallel
from metatheory.experiments import active_mutant, experiment
from metatheory.numerics import flatten, rel_err_norm
from metatheory.tasks import sinusoid

__all__ = [
    "HvpConfig",
    "HVP_PRESETS",
    "HvpResult",
    "hvp_agreement",
    "ShardConfig",
    "SHARD_PRESETS",
    "ShardResult",
    "sharded_vs_single",
]


@dataclass(frozen=True)
class HvpConfig:
    sizes: tuple[int, ...] = (1, 16, 16, 1)
    n_vectors: int = 8
    k_shot: int = 10


HVP_PRESETS = {
    "quick": HvpConfig(sizes=(1, 10, 10, 1), n_vectors=4),
    "full": HvpConfig(sizes=(1, 40, 40, 1), n_vectors=32),
}


@dataclass(frozen=True, kw_only=True)
class HvpResult:
    fwd_rev: np.ndarray  # rel_err_norm vs explicit H v, per vector
    rev_rev: np.ndarray
    fwd_vs_rev: np.ndarray  # the two HVP modes against each other
    control: np.ndarray  # diag(H) * v (a common shortcut) vs explicit H v
    n_params: int


@experiment
def hvp_agreement(config: HvpConfig, key: jax.Array) -> HvpResult:
    """S1: ``autodiff.hvp`` in both modes against ``dense_hessian @ v`` on a random MLP."""
    with jax.enable_x64(True):
        kp, kd, kv = jax.random.split(key, 3)
        params = nets.init(kp, config.sizes)
        (x, y), _ = sinusoid.sample_batch(kd, 1, config.k_shot, 1)
        f = lambda p: nets.mse_loss(p, x[0], y[0])
        flat = flatten(params)
        unravel = jax.flatten_util.ravel_pytree(params)[1]
        hess = np.asarray(autodiff.dense_hessian(f, params))
        vs = jax.random.normal(kv, (config.n_vectors, flat.size), flat.dtype)
        fr = jax.jit(jax.vmap(lambda v: flatten(autodiff.hvp(f, params, unravel(v), "fwd-rev"))))
        rr = jax.jit(jax.vmap(lambda v: flatten(autodiff.hvp(f, params, unravel(v), "rev-rev"))))
        fr, rr, vs = np.asarray(fr(vs)), np.asarray(rr(vs)), np.asarray(vs)
        exact = vs @ hess.T
        return HvpResult(
            fwd_rev=np.array([rel_err_norm(a, b) for a, b in zip(fr, exact, strict=True)]),
            rev_rev=np.array([rel_err_norm(a, b) for a, b in zip(rr, exact, strict=True)]),
            fwd_vs_rev=np.array([rel_err_norm(a, b) for a, b in zip(fr, rr, strict=True)]),
            control=np.array(
                [rel_err_norm(np.diag(hess) * v, b) for v, b in zip(vs, exact, strict=True)]
            ),
            n_params=int(flat.size),
        )


@dataclass(frozen=True)
class ShardConfig:
    n_devices: int = 4
    n_tasks: int = 24
    k_shot: int = 10
    n_inner: int = 3
    alpha: float = 0.01
    sizes: tuple[int, ...] = (1, 40, 40, 1)


SHARD_PRESETS = {
    "quick": ShardConfig(n_tasks=8, n_inner=2, sizes=(1, 16, 16, 1)),
    "full": ShardConfig(n_devices=8, n_tasks=200),
}


@dataclass(frozen=True, kw_only=True)
class ShardResult:
    n_devices: int
    rel_err: float  # sharded vs one device, rel_err_norm of the flattened meta-gradient
    rel_err_control: float  # the gradient of only the first shard's tasks vs one device
    placement: str  # the sharding of the task batch, as JAX reports it


@experiment
def sharded_vs_single(config: ShardConfig, key: jax.Array) -> ShardResult:
    """S2: ``parallel.sharded_meta_gradient`` over ``n_devices`` forced host devices against
    ``batched_maml_meta_gradient`` on one device (a subprocess; see the module docstring)."""
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={config.n_devices}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    mut = active_mutant()
    arg = {
        "config": asdict(config),
        "seed": seed,
        "mutant": None if mut is None else mut.portable(),
    }
    out = subprocess.run(
        [sys.executable, "-m", "metatheory.experiments.systems", json.dumps(arg)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sharding subprocess failed:\n{out.stderr[-2000:]}")
    return ShardResult(**json.loads(out.stdout.strip().splitlines()[-1]))


def _child(config: ShardConfig, seed: int) -> dict:
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


if __name__ == "__main__":
    from metatheory.mutants import Mutant, mutated
    from metatheory.runtime import sync_cpu_dispatch

    sync_cpu_dispatch()  # as in the parent process
    arg = json.loads(sys.argv[1])
    cfg = ShardConfig(**{**arg["config"], "sizes": tuple(arg["config"]["sizes"])})
    with mutated(Mutant.from_portable(arg["mutant"]) if arg["mutant"] else None):
        print(json.dumps(_child(cfg, arg["seed"])))
