r"""G4 ``reptile_expected_update``: the expected updates of MAML, FOMAML and Reptile to leading
order in α (Nichol, Achiam & Schulman 2018, Sec. 5.1). Every instance is drawn from the key.

Expectations over minibatch sequences are exact: all :math:`M^k` sequences of ``k``
minibatches drawn with replacement from ``M`` are enumerated. On quadratic minibatch losses the
three expected updates are polynomials in α (degree ``2(k-1)`` for MAML, ``k-1`` for FOMAML
and Reptile), so their Taylor coefficients are recovered exactly by interpolation; on a tanh
MLP the value and α-derivative of MAML's and FOMAML's expected update at α = 0 are taken by
forward-mode autodiff.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets
from metatheory.autodiff import hvp
from metatheory.experiments import experiment
from metatheory.learners.maml import maml_meta_loss
from metatheory.learners.reptile import reptile_direction
from metatheory.numerics import flatten, tanh_mse
from metatheory.tasks import quadratic, sinusoid

__all__ = [
    "METHODS",
    "ReptileExpectedUpdateConfig",
    "REPTILE_EXPECTED_UPDATE_PRESETS",
    "ReptileExpectedUpdateResult",
    "expected_updates",
]


METHODS = ("maml", "fomaml", "reptile")


@dataclass(frozen=True)
class ReptileExpectedUpdateConfig:
    ks: tuple[int, ...] = (1, 2, 3)  # inner steps on the quadratic minibatch family
    n_batches: int = 3  # M minibatches; all M^k sequences enumerated
    d: int = 3
    mlp_ks: tuple[int, ...] = (2, 3)
    mlp_sizes: tuple[int, ...] = (1, 8, 8, 1)
    batch_size: int = 5


REPTILE_EXPECTED_UPDATE_PRESETS = {
    "quick": ReptileExpectedUpdateConfig(),
    "full": ReptileExpectedUpdateConfig(
        ks=(1, 2, 3, 4, 5), n_batches=4, d=6, mlp_ks=(2, 3, 4), mlp_sizes=(1, 40, 40, 1)
    ),
}


@dataclass(frozen=True, kw_only=True)
class ReptileExpectedUpdateResult:
    ks: np.ndarray
    scale: np.ndarray  # (n_k,): s, the nodes are alpha = s t, t in (0, 1]; s = 1 / max ||H_i||
    coef: np.ndarray  # (n_k, 3, 2, d): Taylor coefficients c_0, c_1 of E g (maml, fomaml, reptile)
    avg_grad: np.ndarray  # (d,) E[g_i] at theta
    avg_grad_inner: np.ndarray  # (d,) E[H_i] E[g_j]
    mlp_ks: np.ndarray
    mlp_value: np.ndarray  # (n_mlp_k, 2, P): E g at alpha = 0 (maml, fomaml), tanh MLP
    mlp_slope: np.ndarray  # (n_mlp_k, 2, P): d E g / d alpha at alpha = 0
    mlp_avg_grad: np.ndarray  # (P,)
    mlp_avg_grad_inner: np.ndarray  # (P,)


def _chebyshev(deg: int) -> np.ndarray:
    """``deg + 1`` Chebyshev points of the first kind on (0, 1) (never 0: Reptile divides
    by α), the well-conditioned nodes for interpolating a polynomial of degree ``deg``."""
    j = np.arange(deg + 1)
    return (1 + np.cos((2 * j + 1) * np.pi / (2 * deg + 2))) / 2


def _updates(loss_fn, theta, sx, sy, al, k):
    """MAML, FOMAML and Reptile updates for one sequence of ``k`` minibatches (MAML and
    FOMAML adapt on the first ``k - 1`` and evaluate on the last; NaN for ``k = 1``)."""
    rep = flatten(reptile_direction(loss_fn, theta, (sx, sy), alpha=al, n_inner=k, per_step=True))
    if k == 1:
        return jnp.stack([jnp.full_like(rep, jnp.nan), jnp.full_like(rep, jnp.nan), rep])
    inner, q = (sx[: k - 1], sy[: k - 1]), (sx[k - 1], sy[k - 1])
    kw = dict(alpha=al, n_inner=k - 1, per_step=True)
    g = jax.grad(maml_meta_loss, argnums=1)(loss_fn, theta, inner, q, **kw)
    fo = jax.grad(maml_meta_loss, argnums=1)(loss_fn, theta, inner, q, first_order=True, **kw)
    return jnp.stack([flatten(g), flatten(fo), rep])


@partial(jax.jit, static_argnums=0)
def _expansion_program(c: ReptileExpectedUpdateConfig, key: jax.Array) -> dict:
    """G4's JAX part (call under float64): exact expected updates at the interpolation nodes
    (quadratic minibatches) and their value and α-derivative at 0 (tanh MLP)."""
    kq, kt, kp, kd = jax.random.split(key, 4)
    hs, cs = quadratic.sample_minibatches(kq, c.n_batches, c.d)
    theta = jax.random.normal(kt, (c.d,), jnp.float64)
    gs = jnp.einsum("mij,mj->mi", hs, theta[None] - cs)
    avg_grad = gs.mean(0)
    avg_inner = hs.mean(0) @ avg_grad  # E[H_i g_j], i != j independent draws
    s = 1.0 / jnp.max(jnp.linalg.norm(hs, ord=2, axis=(1, 2)))
    values = []
    for k in c.ks:
        seqs = np.array(list(itertools.product(range(c.n_batches), repeat=k)))
        per_seq = jax.vmap(partial(_updates, quadratic.loss, theta, k=k), (0, 0, None))

        def mean(al, sx=hs[seqs], sy=cs[seqs], per_seq=per_seq):
            return jnp.mean(per_seq(sx, sy, al), 0)

        values.append(jax.vmap(mean)(s * _chebyshev(max(2 * (k - 1), 1))))

    params = nets.init(kp, c.mlp_sizes, dtype=jnp.float64)
    m = c.n_batches * c.batch_size
    (x, y), _ = sinusoid.sample_batch(kd, 1, m, 1)
    xb = x[0].reshape(c.n_batches, c.batch_size, 1)
    yb = y[0].reshape(c.n_batches, c.batch_size, 1)

    def full(p):
        return jnp.mean(jax.vmap(lambda a, b: tanh_mse(p, a, b))(xb, yb))

    mlp_g = jax.grad(full)(params)
    mlp_gi = flatten(hvp(full, params, mlp_g))
    taylor = []
    for k in c.mlp_ks:
        seqs = np.array(list(itertools.product(range(c.n_batches), repeat=k)))

        def mean_mlp(al, sx=xb[seqs], sy=yb[seqs], k=k):
            per = jax.vmap(partial(_updates, tanh_mse, params, k=k), (0, 0, None))
            return jnp.mean(per(sx, sy, al)[:, :2], 0)

        taylor.append(jax.jvp(mean_mlp, (jnp.float64(0.0),), (jnp.float64(1.0),)))
    return {
        "scale": s,
        "values": values,
        "avg_grad": avg_grad,
        "avg_inner": avg_inner,
        "taylor": taylor,
        "mlp_g": flatten(mlp_g),
        "mlp_gi": mlp_gi,
    }


@experiment
def expected_updates(
    config: ReptileExpectedUpdateConfig, key: jax.Array
) -> ReptileExpectedUpdateResult:
    """G4: exact expected updates (enumerated minibatch sequences); Taylor coefficients by
    interpolation on quadratics and by forward-mode autodiff at α = 0 on a tanh MLP."""
    c = config
    with jax.enable_x64(True):
        nodes = {k: _chebyshev(max(2 * (k - 1), 1)) for k in c.ks}
        raw = jax.tree_util.tree_map(np.asarray, _expansion_program(c, key))
        s = float(raw["scale"])
        coef = []
        for k, v in zip(c.ks, raw["values"], strict=True):
            t = nodes[k]
            vander = np.vander(t, len(t), increasing=True)
            sol = np.linalg.solve(vander, v.reshape(len(t), -1)).reshape(v.shape)
            coef.append(np.stack([sol[0], sol[1] / s], axis=1))  # coefficients in alpha
        taylor = raw["taylor"]
        return ReptileExpectedUpdateResult(
            ks=np.array(c.ks),
            scale=np.full(len(c.ks), s),
            coef=np.stack(coef),
            avg_grad=raw["avg_grad"],
            avg_grad_inner=raw["avg_inner"],
            mlp_ks=np.array(c.mlp_ks),
            mlp_value=np.stack([np.asarray(v) for v, _ in taylor]),
            mlp_slope=np.stack([np.asarray(d) for _, d in taylor]),
            mlp_avg_grad=raw["mlp_g"],
            mlp_avg_grad_inner=raw["mlp_gi"],
        )
