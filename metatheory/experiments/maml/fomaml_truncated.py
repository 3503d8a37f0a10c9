r"""G2 ``fomaml_truncated``: first-order MAML is :math:`\nabla L_Q(\theta_N)`, and the
meta-gradient truncated to the last ``k`` inner steps keeps the last ``k`` factors of the
product (Finn et al. 2017, Sec. 5.2; Nichol et al. 2018). Float64; errors are
:func:`metatheory.numerics.rel_err_norm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory import nets
from metatheory.autodiff import dense_hessian
from metatheory.experiments import experiment
from metatheory.experiments.maml._common import flat, sinusoid_batch
from metatheory.learners.maml import maml_meta_gradient
from metatheory.numerics import rel_err_norm
from metatheory.tasks import linear

__all__ = [
    "FomamlTruncatedConfig",
    "FOMAML_TRUNCATED_PRESETS",
    "FomamlTruncatedResult",
    "truncated_products",
]


@dataclass(frozen=True)
class FomamlTruncatedConfig:
    d: int = 6
    m: int = 12
    alpha: float = 0.1
    mlp_alpha: float = 0.01  # the MLP case steps 5 * mlp_alpha
    k_shot: int = 10
    truncation_n: tuple[int, ...] = (1, 2, 5)  # inner steps N of the truncation cases


FOMAML_TRUNCATED_PRESETS = {
    "quick": FomamlTruncatedConfig(truncation_n=(1, 3)),
    "full": FomamlTruncatedConfig(mlp_alpha=1e-3),
}


def _apply_to(loss_fn, data, params):
    return loss_fn(params, *data)


@dataclass(frozen=True, kw_only=True)
class FomamlTruncatedResult:
    cases: tuple[tuple[str, int, int], ...]  # (problem, N, k)
    err: np.ndarray  # rel. error, truncated autodiff vs partial product
    err_control: np.ndarray  # rel. error vs the full product (truncation ignored)


@experiment
def truncated_products(config: FomamlTruncatedConfig, key: jax.Array) -> FomamlTruncatedResult:
    """G2: first-order (k = 0) and truncated (0 < k < N) meta-gradients vs the last ``k``
    factors of the product, with Hessians ``H_j`` formed explicitly at every inner iterate."""
    with jax.enable_x64(True):
        c = config
        k_lin, k_mlp, k_dat = jax.random.split(key, 3)
        cases, err, ctl = [], [], []
        xs, ys, _ = linear.sample_tasks(k_lin, 2, c.m, c.d)
        lin = ("linear", linear.loss, jnp.zeros(c.d), (xs[0], ys[0]), (xs[1], ys[1]), c.alpha)
        params = nets.init(k_mlp, (1, 6, 6, 1))
        s, q = sinusoid_batch(k_dat, 1, c.k_shot)
        s, q = jax.tree_util.tree_map(lambda a: a[0], (s, q))
        mlp = ("mlp", nets.mse_loss, params, s, q, c.mlp_alpha * 5)
        for name, loss_fn, p0, s_, q_, alpha in (lin, mlp):
            for n in c.truncation_n:
                flat0, unravel = ravel_pytree(p0)
                iters = [flat0]
                for _ in range(n):
                    z = iters[-1]
                    iters.append(z - alpha * ravel_pytree(jax.grad(loss_fn)(unravel(z), *s_))[0])
                support_loss = partial(_apply_to, loss_fn, s_)
                hess = [np.asarray(dense_hessian(support_loss, unravel(z))) for z in iters[:-1]]
                gq = np.asarray(ravel_pytree(jax.grad(loss_fn)(unravel(iters[-1]), *q_))[0])
                eye = np.eye(gq.size)
                full = gq
                for hj in reversed(hess):
                    full = (eye - alpha * hj) @ full
                for k in range(n + 1):
                    g = flat(
                        maml_meta_gradient(loss_fn, p0, s_, q_, alpha=alpha, n_inner=n, truncate=k)
                    )
                    pred = gq
                    for hj in reversed(hess[n - k :]):
                        pred = (eye - alpha * hj) @ pred
                    cases.append((name, n, k))
                    err.append(rel_err_norm(g, pred))
                    ctl.append(rel_err_norm(g, full) if k < n else rel_err_norm(g, gq))
        return FomamlTruncatedResult(
            cases=tuple(cases), err=np.array(err), err_control=np.array(ctl)
        )
