r"""C3 ``task_batch_variance``: variance and bias of the ``B``-task mean meta-gradient with
independent or shared support/query batches (Fallah, Mokhtari, Ozdaglar 2020, Sec. 4); the
exact means by Gauss–Hermite quadrature.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.experiments import LONG_RUNNING, vmappable
from metatheory.experiments.fmo._common import (
    Family,
    gauss_hermite,
    meta_objective,
)
from metatheory.learners.maml import batched_maml_meta_gradient
from metatheory.stats import Interval, bootstrap_ci, linear_fit
from metatheory.tasks import circular

__all__ = [
    "TaskBatchVarianceConfig",
    "TASK_BATCH_VARIANCE_PRESETS",
    "TaskBatchVarianceResult",
    "batch_variance",
]


@dataclass(frozen=True)
class TaskBatchVarianceConfig:
    family: Family = Family(d=2, L=1.0, tau=0.5, noise=0.5)
    n_tasks: int = 16
    alpha_l: float = 0.5
    k_shot: int = 2  # support = query size; the exact mean needs (d * n_gh)^k nodes
    batch_sizes: tuple[int, ...] = (1, 8, 64)
    n_rep: int = 2048
    n_gh: int = 24
    w: tuple[float, ...] = (0.6, -0.4)
    level: float = 2e-4  # tail probability of the bootstrap-t CI of the variance slope
    n_boot: int = 1000


TASK_BATCH_VARIANCE_PRESETS = {
    "quick": TaskBatchVarianceConfig(),
    "full": TaskBatchVarianceConfig(n_rep=32768, batch_sizes=(1, 2, 4, 8, 16, 32, 64)),
}


@dataclass(frozen=True, kw_only=True)
class TaskBatchVarianceResult:
    batch_sizes: np.ndarray
    var_indep: np.ndarray  # tr Cov of the B-task mean, independent support/query
    var_shared: np.ndarray
    mean_indep: np.ndarray  # (nB, d) Monte Carlo means
    mean_shared: np.ndarray
    se_indep: np.ndarray  # (nB, d) standard errors of those means
    se_shared: np.ndarray
    exact_indep: np.ndarray  # (d,) E g by quadrature (= grad of the K-shot objective)
    exact_shared: np.ndarray  # (d,) E g with the query batch equal to the support batch
    grad_F: np.ndarray  # (d,) grad of FMO's F (exact inner gradient)
    slope: Interval  # bootstrap over replicates of the log-log variance slope
    slope_shared: float  # point estimate (reported)
    z_indep: np.ndarray  # (nB, d) (mean_indep - exact_indep) / se
    z_shared: np.ndarray  # (nB, d) (mean_shared - exact_shared) / se
    z_shared_vs_indep: np.ndarray  # (nB, d) (mean_shared - exact_indep) / se
    n_rep: int


def _quadrature_means(fam, alpha, w, thetas, k, n_gh):
    """Exact ``E g`` over tasks and the ``k`` support samples (one-hot coordinate and Gaussian
    noise, Gauss–Hermite in the noise), with an independent or the same query batch."""
    xg, wg = gauss_hermite(n_gh)
    d = fam.d
    coords = np.array(np.meshgrid(*[np.arange(d)] * k, indexing="ij")).reshape(k, -1).T
    nodes = np.array(np.meshgrid(*[np.arange(n_gh)] * k, indexing="ij")).reshape(k, -1).T
    loss = functools.partial(circular.loss, lam=fam.lam)
    eye = jnp.eye(d, dtype=thetas.dtype)
    ci = jnp.asarray(np.repeat(coords, nodes.shape[0], axis=0))
    ni = np.tile(nodes, (coords.shape[0], 1))
    weight = jnp.asarray(np.prod(wg[ni], axis=1) / d**k, thetas.dtype)
    eps = jnp.asarray(xg, thetas.dtype)[jnp.asarray(ni)]

    def per_task(theta):
        def one(c_, e_):
            x = eye[c_]
            y = theta[c_] + fam.noise * e_
            adapt = lambda v: v - alpha * jax.grad(loss)(v, x, y)  # noqa: E731
            g_ind = jax.grad(lambda v: circular.population_loss(adapt(v), theta, fam))(w)
            g_sh = jax.grad(lambda v: loss(adapt(v), x, y))(w)
            return g_ind, g_sh

        gi, gs = jax.vmap(one)(ci, eps)
        return weight @ gi, weight @ gs

    gi, gs = jax.vmap(per_task)(thetas)
    return gi.mean(0), gs.mean(0)


@functools.partial(jax.jit, static_argnums=0)
def _batch_variance_core(config: TaskBatchVarianceConfig, key):
    """C3, pure JAX: ``n_rep`` replicates of the ``B``-task mean meta-gradient
    (``batched_maml_meta_gradient``) at a fixed ``w``, independent and shared query batches."""
    c, fam = config, config.family
    alpha = c.alpha_l / fam.L
    kt, kr, kb = jax.random.split(key, 3)
    thetas = circular.sample_tasks(kt, c.n_tasks, fam)
    w = jnp.asarray(c.w, thetas.dtype)
    loss = functools.partial(circular.loss, lam=fam.lam)

    def data(theta, coord, eps):
        return jax.nn.one_hot(coord, fam.d, dtype=theta.dtype), theta[coord] + fam.noise * eps

    def replicate(idx, coord, eps):
        """One B-task mean (``batched_maml_meta_gradient``) with an independent query batch
        and with the support batch as query (shared); ``coord``/``eps`` hold both batches."""
        t = thetas[idx]
        s = jax.vmap(data)(t, coord[:, 0], eps[:, 0])
        q = jax.vmap(data)(t, coord[:, 1], eps[:, 1])
        both = jax.tree_util.tree_map(lambda u, v: jnp.stack([u, v]), q, s)
        mean = functools.partial(batched_maml_meta_gradient, loss, w, s, alpha=alpha, n_inner=1)
        return jax.vmap(mean)(both)  # (2, d): independent query, shared (query = support)

    gi, gs = [], []
    for b in c.batch_sizes:
        k1, k2, k3 = jax.random.split(jax.random.fold_in(kr, b), 3)
        n, k = c.n_rep, c.k_shot
        g = jax.vmap(replicate)(
            jax.random.randint(k1, (n, b), 0, c.n_tasks),
            jax.random.randint(k2, (n, b, 2, k), 0, fam.d),
            jax.random.normal(k3, (n, b, 2, k), thetas.dtype),
        )
        gi.append(g[:, 0])
        gs.append(g[:, 1])
    exact_i, exact_s = _quadrature_means(fam, alpha, w, thetas, c.k_shot, c.n_gh)
    grad_F = jax.grad(meta_objective)(w, thetas, fam, alpha)
    return {
        "gi": jnp.stack(gi, 1),  # (n_rep, nB, d)
        "gs": jnp.stack(gs, 1),
        "exact_i": exact_i,
        "exact_s": exact_s,
        "grad_F": grad_F,
        "boot": jax.random.key_data(kb),
    }


def _var_slope(sizes):
    lb = np.log(np.asarray(sizes, np.float64))

    def stat(s):
        v = np.sum(np.var(s, axis=0, ddof=1), axis=-1)
        return linear_fit(lb, np.log(v)).estimate

    return stat


def _batch_variance_finish(config: TaskBatchVarianceConfig, a) -> TaskBatchVarianceResult:
    c = config
    gi, gs = (np.asarray(a[k], np.float64) for k in ("gi", "gs"))
    key = jax.random.wrap_key_data(jnp.asarray(a["boot"]))
    stat = _var_slope(c.batch_sizes)
    slope = bootstrap_ci(key, gi, stat, n_resamples=c.n_boot, level=c.level, method="t")
    slope_sh = stat(gs)
    n = gi.shape[0]
    mi, ms = gi.mean(0), gs.mean(0)
    si, ss = gi.std(0, ddof=1) / np.sqrt(n), gs.std(0, ddof=1) / np.sqrt(n)
    ei, es = np.asarray(a["exact_i"], np.float64), np.asarray(a["exact_s"], np.float64)
    return TaskBatchVarianceResult(
        batch_sizes=np.array(c.batch_sizes),
        var_indep=np.sum(gi.var(0, ddof=1), -1),
        var_shared=np.sum(gs.var(0, ddof=1), -1),
        mean_indep=mi,
        mean_shared=ms,
        se_indep=si,
        se_shared=ss,
        exact_indep=ei,
        exact_shared=es,
        grad_F=np.asarray(a["grad_F"], np.float64),
        slope=slope,
        slope_shared=slope_sh,
        z_indep=(mi - ei) / si,
        z_shared=(ms - es) / ss,
        z_shared_vs_indep=(ms - ei) / ss,
        n_rep=n,
    )


batch_variance = vmappable(
    _batch_variance_core, _batch_variance_finish, compiler_options=LONG_RUNNING
)
