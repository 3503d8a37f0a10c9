r"""Monte Carlo draws of one-step MAML on mixed linear regression (claim G10).

The task weights, the output noise and the fresh test sample are integrated out in closed form
given the Gaussian input matrices (conditional expectations, below); the Monte Carlo average is
over the designs, whose fourth and higher moments the closed forms rest on.

Tasks :math:`w = w_0 + u`, :math:`u \sim N(0, (\nu^2/p)I)`, with :math:`w_0 = 0` (the model is
equivariant under shifts of :math:`w_0` and :math:`\theta` together); inputs
:math:`x\sim N(0, I_p)`; outputs :math:`y = x^\top w + \sigma\varepsilon`. Products
:math:`(I - \alpha X^\top X/n)v` are formed as :math:`v - \frac\alpha n X^\top(Xv)`.

One program serves every setting: arrays have the static shapes ``P``, ``N_T``, ``N_V``, ``N_R``
and the entries outside a setting's :math:`p` columns and :math:`n` rows are zero, which leaves
every product above equal to the unpadded one (zero rows add nothing to :math:`X^\top X` or
:math:`X^\top y`; zero columns of :math:`X` and zero coordinates of :math:`u` stay zero).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax

from metatheory.learners import maml

__all__ = ["P", "N_T", "N_V", "N_R", "gradient_noise_draws", "test_loss_draws", "meta_train"]


P, N_T, N_V, N_R = 16, 8, 4, 4
"""Largest dimension and sample counts of a setting (the padded shapes)."""


def _mask(n, size):
    return (jnp.arange(size) < n).astype(jnp.result_type(float))


@partial(jax.jit, static_argnames=("n_draws",))
def gradient_noise_draws(key, alphas, nu, sigma, p, n_t, n_v, *, n_draws):
    r""":math:`E[\|\nabla f_i(w_0)\|^2 \mid X, X^v]` for ``n_draws`` draws of the support and
    validation inputs and each rate in ``alphas``: shape (n_draws, len(alphas)).

    :math:`f_i(\theta) = \frac1{2n_v}\|y^v - X^v\theta'\|^2`; at :math:`\theta = w_0` the gradient
    is :math:`L_u u + L_v\varepsilon^v + L_\varepsilon\varepsilon` with :math:`M = I - \alpha
    X^\top X/n_t`, :math:`W = X^{v\top}X^v`, :math:`L_u = -MWM/n_v`,
    :math:`L_v = -\sigma MX^{v\top}/n_v`, :math:`L_\varepsilon = \alpha\sigma MWX^\top/(n_vn_t)`,
    so the task and noise draws integrate out exactly (Rao–Blackwell: the Monte Carlo average
    over the Gaussian designs keeps its mean and loses most of its variance and skew):
    :math:`(\nu^2/p)\|L_u\|_F^2 + \|L_v\|_F^2 + \|L_\varepsilon\|_F^2`."""
    k = jax.random.split(key, 2)
    cols, rows, vrows = _mask(p, P), _mask(n_t, N_T), _mask(n_v, N_V)
    X = jax.random.normal(k[0], (n_draws, N_T, P)) * rows[:, None] * cols
    Xv = jax.random.normal(k[1], (n_draws, N_V, P)) * vrows[:, None] * cols
    A = jnp.einsum("bnp,bnq->bpq", X, X) / n_t
    W = jnp.einsum("bnp,bnq->bpq", Xv, Xv)
    eye = jnp.eye(P)

    def one(a):
        M = eye - a * A
        MW = M @ W
        l_u = jnp.sum((MW @ M) ** 2, axis=(1, 2)) / n_v**2
        l_v = sigma**2 * jnp.sum((M @ jnp.swapaxes(Xv, 1, 2)) ** 2, axis=(1, 2)) / n_v**2
        l_e = (a * sigma / (n_v * n_t)) ** 2 * jnp.sum((MW @ jnp.swapaxes(X, 1, 2)) ** 2, (1, 2))
        return nu**2 / p * l_u + l_v + l_e

    return jax.lax.map(one, alphas).T


@partial(jax.jit, static_argnames=("n_draws",))
def test_loss_draws(key, alphas, nu, sigma, offset, p, n_r, *, n_draws):
    r""":math:`E[\tfrac12(y - x^\top\theta')^2 \mid X]` on a fresh sample after one step of each
    rate in ``alphas`` on :math:`n_r` samples with inputs :math:`X` from
    :math:`\theta = w_0 + \delta e_1`, :math:`\delta` = ``offset``: shape
    (n_draws, len(alphas)). With :math:`M = I - \alpha X^\top X/n_r`,
    :math:`w - \theta' = M(u - \delta e_1) - \frac{\alpha\sigma}{n_r}X^\top\varepsilon`, so the
    task, the noise and the fresh sample integrate out:
    :math:`\tfrac12[\delta^2\|Me_1\|^2 + (\nu^2/p)\|M\|_F^2 + (\alpha\sigma/n_r)^2\|X\|_F^2 +
    \sigma^2]` (the Frobenius norm over the setting's :math:`p` coordinates)."""
    cols, rows = _mask(p, P), _mask(n_r, N_R)
    X = jax.random.normal(key, (n_draws, N_R, P)) * rows[:, None] * cols
    A = jnp.einsum("bnp,bnq->bpq", X, X) / n_r
    eye = jnp.eye(P)
    x2 = jnp.sum(X**2, axis=(1, 2))

    def one(a):
        M = (eye - a * A) * cols  # columns of the setting's coordinates only
        e1 = jnp.sum(M[:, :, 0] ** 2, axis=1)
        return 0.5 * (
            offset**2 * e1
            + nu**2 / p * jnp.sum(M**2, axis=(1, 2))
            + (a * sigma / n_r) ** 2 * x2
            + sigma**2
        )

    return jax.lax.map(one, alphas).T


def _squared_loss(theta, x, y):
    r""":math:`\frac1{2n}\|y - X\theta\|^2`, the loss of the model."""
    return 0.5 * jnp.mean((y - x @ theta) ** 2)


@partial(jax.jit, static_argnames=("p", "n_t", "n_v", "m", "n_reps", "n_steps"))
def meta_train(key, alphas, nu, sigma, *, p, n_t, n_v, m, n_reps, n_steps):
    r"""Meta-train one-step MAML by full-batch gradient descent on the meta-objective
    :math:`\frac1m\sum_i f_i(\theta)` of ``m`` tasks, from :math:`\theta = w_0 = 0`, at each
    training rate in ``alphas``, on ``n_reps`` independent draws of the ``m`` tasks (the same
    tasks for every rate). The meta-gradient is
    :func:`metatheory.learners.maml.batched_maml_meta_gradient`; the objective is quadratic, so
    the gradient at :math:`\theta` is :math:`g_0 + H\theta` exactly (:math:`g_0` and the
    Hessian :math:`H` from the learner at :math:`w_0`), the step size is
    :math:`1/\lambda_{max}(H)`, and ``n_steps`` steps contract the error by
    :math:`(1 - \lambda_{min}/\lambda_{max})^{n_{steps}}`.

    Returns :math:`\|\theta - w_0\|^2` after training, shape (n_reps, len(alphas)), and the
    learner's meta-gradient norm at the trained :math:`\theta` relative to that at :math:`w_0`
    (convergence), of the same shape.
    """
    k = jax.random.split(key, 5)
    u = nu / jnp.sqrt(p) * jax.random.normal(k[0], (n_reps, m, p))
    X = jax.random.normal(k[1], (n_reps, m, n_t, p))
    Xv = jax.random.normal(k[2], (n_reps, m, n_v, p))
    y = jnp.einsum("rmnp,rmp->rmn", X, u) + sigma * jax.random.normal(k[3], (n_reps, m, n_t))
    yv = jnp.einsum("rmnp,rmp->rmn", Xv, u) + sigma * jax.random.normal(k[4], (n_reps, m, n_v))

    def one(alpha, sup, qry):
        def grad(theta):
            return maml.batched_maml_meta_gradient(
                _squared_loss, theta, sup, qry, alpha=alpha, n_inner=1
            )

        theta0 = jnp.zeros(p)
        g0, H = grad(theta0), jax.jacfwd(grad)(theta0)  # the objective is quadratic in theta
        opt = optax.sgd(1.0 / jnp.linalg.eigvalsh(H)[-1])

        def step(carry, _):  # its gradient at theta is g0 + H theta, exactly
            theta, state = carry
            upd, state = opt.update(g0 + H @ theta, state, theta)
            return (optax.apply_updates(theta, upd), state), None

        (theta, _), _ = jax.lax.scan(step, (theta0, opt.init(theta0)), None, length=n_steps)
        return jnp.sum(theta**2), jnp.linalg.norm(grad(theta)) / jnp.linalg.norm(g0)

    def rep(sup, qry):
        return jax.vmap(lambda a: one(a, sup, qry))(alphas)

    return jax.vmap(rep)((X, y), (Xv, yv))
