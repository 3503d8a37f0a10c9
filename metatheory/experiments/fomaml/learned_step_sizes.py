r"""G8 ``learned_step_sizes``: differentiating through the inner optimizer (Li et al. 2017,
Meta-SGD; Finn et al. 2017). Every instance is drawn from the key.

:math:`\partial L_Q(\theta_N)/\partial\alpha` by autodiff on linear regression (the check
compares it with :func:`metatheory.bounds.fomaml.meta_sgd_alpha_gradient`), and Meta-SGD
against MAML with a fixed α on sinusoids (seeds vmapped: ``learned_step_sizes.core``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import nets
from metatheory.experiments import vmappable
from metatheory.learners.maml import maml_meta_loss
from metatheory.learners.meta_sgd import make_meta_sgd_step, meta_sgd_init
from metatheory.numerics import flatten
from metatheory.tasks import linear, sinusoid

__all__ = [
    "LearnedStepSizesConfig",
    "LEARNED_STEP_SIZES_PRESETS",
    "LearnedStepSizesResult",
    "learned_step_sizes",
]


@dataclass(frozen=True)
class LearnedStepSizesConfig:
    n_inner: tuple[int, ...] = (1, 2, 5)
    n_linear: int = 6
    d: int = 6
    m: int = 12
    sizes: tuple[int, ...] = (1, 20, 20, 1)
    alpha: float = 0.01  # Finn et al.'s fixed inner step, and Meta-SGD's initial one
    train_n_inner: int = 1
    k_shot: int = 10
    meta_batch: int = 25
    meta_steps: int = 1000
    learning_rate: float = 3e-3
    n_seeds: int = 2
    n_eval_tasks: int = 500
    eval_query: int = 50


LEARNED_STEP_SIZES_PRESETS = {
    "quick": LearnedStepSizesConfig(),
    "full": LearnedStepSizesConfig(
        n_inner=(1, 2, 5, 10),
        sizes=(1, 40, 40, 1),
        meta_steps=10_000,
        learning_rate=1e-3,
        n_seeds=4,
        n_eval_tasks=2000,
        n_linear=30,
    ),
}


@dataclass(frozen=True, kw_only=True)
class LearnedStepSizesResult:
    n_inner: np.ndarray
    # exact part, linear regression (float64): per N, tasks (support, query) as (H, b) with
    # L = theta^T H theta / 2 - b^T theta + const, the initial point, the step sizes and the
    # autodiff derivative of L_Q(theta_N) in the step size (scalar and per-parameter)
    h_s: np.ndarray  # (n_N, n_linear, d, d)
    b_s: np.ndarray  # (n_N, n_linear, d)
    h_q: np.ndarray
    b_q: np.ndarray
    theta0: np.ndarray  # (n_N, n_linear, d)
    alpha_scalar: np.ndarray  # (n_N, n_linear)
    alpha_vector: np.ndarray  # (n_N, n_linear, d)
    grad_scalar: np.ndarray  # (n_N, n_linear)
    grad_vector: np.ndarray  # (n_N, n_linear, d)
    # training part, sinusoids
    curves: np.ndarray  # (2, n_seeds, meta_steps): meta-loss, fixed and learned alpha
    mse_fixed: np.ndarray  # (n_eval_tasks,) post-adaptation MSE, averaged over seeds
    mse_learned: np.ndarray
    mse_zero: np.ndarray  # (n_eval_tasks,) MSE of predicting 0 on the same query points
    alpha_learned: np.ndarray  # all learned step sizes (flattened over seeds)
    alpha_fixed: float


def _step_size_core(config: LearnedStepSizesConfig, key: jax.Array) -> dict:
    """G8, pure JAX over the key (vmapped over calibration seeds): Meta-SGD and MAML with a
    fixed α trained on sinusoids, evaluated on held-out tasks."""
    return _step_size_program(config, key)


@partial(jax.jit, static_argnums=0)
def _step_size_program(config: LearnedStepSizesConfig, key: jax.Array) -> dict:
    """The body of :func:`_step_size_core` as one compiled program (learners are looked up
    at trace time, so a mutant, which clears JAX's caches, is traced in)."""
    c = config
    k_exact, k_init, k_train, k_eval = jax.random.split(key, 4)
    opt = optax.adam(c.learning_rate)
    step = make_meta_sgd_step(nets.mse_loss, opt, n_inner=c.train_n_inner)

    def train(init, seed, fixed):
        """Meta-SGD; with ``fixed`` the step sizes are reset to α after every update, which is
        MAML with the fixed α (both methods share one compiled program)."""

        def body(carry, k):
            meta, s = carry
            supp, query = sinusoid.sample_batch(k, c.meta_batch, c.k_shot, c.k_shot)
            meta, s, loss = step(meta, s, supp, query)
            alpha = jax.tree_util.tree_map(lambda a: jnp.where(fixed, c.alpha, a), meta["alpha"])
            return ({"params": meta["params"], "alpha": alpha}, s), loss

        keys = jax.random.split(jax.random.fold_in(k_train, seed), c.meta_steps)
        (meta, _), losses = jax.lax.scan(body, (init, opt.init(init)), keys)
        return meta, losses

    supp, query = sinusoid.sample_batch(k_eval, c.n_eval_tasks, c.k_shot, c.eval_query)

    def per_task_mse(meta):
        def one(s, q):
            return maml_meta_loss(
                nets.mse_loss, meta["params"], s, q, alpha=meta["alpha"], n_inner=c.train_n_inner
            )

        return jax.vmap(one)(supp, query)

    def one_run(seed, fixed):
        init = meta_sgd_init(nets.init(jax.random.fold_in(k_init, seed), c.sizes), c.alpha)
        meta, losses = train(init, seed, fixed)
        return losses, per_task_mse(meta), flatten(meta["alpha"])

    seeds = jnp.tile(jnp.arange(c.n_seeds), 2)
    fixed = jnp.repeat(jnp.array([True, False]), c.n_seeds)
    losses, mse, alphas = jax.vmap(one_run)(seeds, fixed)
    curves = losses.reshape(2, c.n_seeds, c.meta_steps)
    mse = mse.reshape(2, c.n_seeds, -1)
    alphas = alphas.reshape(2, c.n_seeds, -1)[1]
    return {
        "exact_key": jax.random.key_data(k_exact),
        "curves": curves,
        "mse_fixed": jnp.mean(mse[0], 0),
        "mse_learned": jnp.mean(mse[1], 0),
        "mse_zero": jnp.mean(query[1][..., 0] ** 2, axis=-1),
        "alpha_learned": alphas.ravel(),
    }


@partial(jax.jit, static_argnums=0)
def _alpha_gradient_program(c: LearnedStepSizesConfig, key: jax.Array):
    """G8's exact part (call under float64): linear-regression tasks per N and the autodiff
    derivative of L_Q(theta_N) in a scalar and a per-parameter step size."""
    out = []
    for n in c.n_inner:
        kt = jax.random.fold_in(key, n)
        xs, ys, _ = linear.sample_tasks(kt, 2 * c.n_linear, c.m, c.d)
        th0 = jax.random.normal(jax.random.fold_in(kt, 1), (c.n_linear, c.d))
        hs = jnp.einsum("tmi,tmj->tij", xs, xs) / c.m
        bs = jnp.einsum("tmi,tm->ti", xs, ys) / c.m
        lmax = jnp.linalg.eigvalsh(hs[0::2])[:, -1]
        a_s = 0.5 / lmax
        a_v = jnp.linspace(0.2, 0.8, c.d)[None, :] / lmax[:, None]

        def grad_alpha(t, s, q, a, n=n):
            return jax.grad(lambda a: maml_meta_loss(linear.loss, t, s, q, alpha=a, n_inner=n))(a)

        sup, qry = (xs[0::2], ys[0::2]), (xs[1::2], ys[1::2])
        g_s = jax.vmap(grad_alpha)(th0, sup, qry, a_s)
        g_v = jax.vmap(grad_alpha)(th0, sup, qry, a_v)
        out.append((hs[0::2], bs[0::2], hs[1::2], bs[1::2], th0, a_s, a_v, g_s, g_v))
    return out


def _step_size_finish(config: LearnedStepSizesConfig, out: dict) -> LearnedStepSizesResult:
    """G8's exact part (float64, on the seed's key), and the result."""
    c = config
    key = jax.random.wrap_key_data(jnp.asarray(out["exact_key"]))
    with jax.enable_x64(True):
        names = ("h_s", "b_s", "h_q", "b_q", "t0", "a_s", "a_v", "g_s", "g_v")
        raw = _alpha_gradient_program(c, key)
        cols = {k: [np.asarray(o[i], np.float64) for o in raw] for i, k in enumerate(names)}
    st = {k: np.stack(v) for k, v in cols.items()}
    return LearnedStepSizesResult(
        n_inner=np.array(c.n_inner),
        h_s=st["h_s"],
        b_s=st["b_s"],
        h_q=st["h_q"],
        b_q=st["b_q"],
        theta0=st["t0"],
        alpha_scalar=st["a_s"],
        alpha_vector=st["a_v"],
        grad_scalar=st["g_s"],
        grad_vector=st["g_v"],
        curves=np.asarray(out["curves"]),
        mse_fixed=np.asarray(out["mse_fixed"], np.float64),
        mse_learned=np.asarray(out["mse_learned"], np.float64),
        mse_zero=np.asarray(out["mse_zero"], np.float64),
        alpha_learned=np.asarray(out["alpha_learned"], np.float64),
        alpha_fixed=c.alpha,
    )


learned_step_sizes = vmappable(_step_size_core, _step_size_finish)
"""G8: ∂L_Q/∂α by autodiff (exact part) and Meta-SGD vs a fixed α on sinusoids."""
