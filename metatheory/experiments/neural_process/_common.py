"""Shared by the neural-process experiments: the GP task family, an independent float64 GP
predictive (dense inverse, no Cholesky; Rasmussen & Williams 2006, Eq. 2.23-2.24), and a
latent NP whose decoder is affine in ``z`` (a linear-Gaussian LNP), whose ELBO, log-likelihood
and KL are closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets
from metatheory.learners import neural_process as npl
from metatheory.tasks import gp

__all__ = [
    "FAMILY",
    "numpy_kernel",
    "numpy_predictive",
    "linear_gaussian_lnp",
    "exact_bounds",
    "kl_diag",
    "closed_forms",
]

FAMILY = gp.GPFamily(lengthscale_range=(0.6, 1.2), variance=1.0, noise=0.1, x_range=(-2.0, 2.0))
"""The B1/B2 task family: lengthscales between 15% and 30% of the input range [-2, 2]."""


def numpy_kernel(a, b, ell, variance):
    return variance * np.exp(-0.5 * (a[:, None, 0] - b[None, :, 0]) ** 2 / ell**2)


def numpy_predictive(xc, yc, xt, ell, variance, noise, with_noise=True):
    """Independent float64 reference: an explicit dense inverse, no Cholesky."""
    k = lambda a, b: numpy_kernel(a, b, ell, variance)
    kinv = np.linalg.inv(k(xc, xc) + noise**2 * np.eye(len(xc)))
    kt = k(xt, xc)
    mean = kt @ kinv @ yc[:, 0]
    var = variance - np.einsum("ij,jk,ik->i", kt, kinv, kt) + (noise**2 if with_noise else 0.0)
    cov = k(xt, xt) - kt @ kinv @ kt.T + noise**2 * np.eye(len(xt))
    return mean, var, cov


_BIAS = 50.0
"""First decoder layer bias: with He weights halved (std ≈ 0.12; ≈ 1 for the z-rows), a
pre-activation turns negative only for inputs far outside their range, so every ReLU of the
decoder is the identity (the check records the smallest pre-activation at μ ± 8σ of both
latent distributions)."""


def linear_gaussian_lnp(key, c) -> dict:
    r"""LNP parameters whose decoder is affine in ``[z, r, x]`` with a constant ``σ`` (``c``: a
    :class:`~.neural_processes.NeuralProcessesConfig`):
    :math:`y_i = a^\top z + g(r, x_i) + \varepsilon_i`, :math:`\varepsilon_i\sim N(0,\sigma^2)`,
    ``‖a‖ = c.bound_slope``, ``σ = c.bound_sigma``. The encoders are random networks. Under
    the model's conditional prior ``z ~ q(z|C) = N(μ_C, diag σ_C²)`` the log-likelihood is then
    :math:`\log N(y_T;\ g_T + \mathbf 1 a^\top\mu_C,\ \sigma^2 I + (a^\top\Sigma_C a)\mathbf 1
    \mathbf 1^\top)` and the ELBO with ``q(z|C∪T)`` is a closed form too."""
    cfg = npl.NPConfig(hidden=c.hidden, r_dim=c.hidden, z_dim=c.bound_z_dim)
    p = npl.init_lnp(key, cfg)
    p["lat"][-1] = jax.tree_util.tree_map(lambda v: c.bound_latent_scale * v, p["lat"][-1])
    (l1, l2, l3) = p["dec"]
    z = c.bound_z_dim
    # z-rows 8x the others: the decoder's offset relative to its z-sensitivity, ~_BIAS/|w1_z|,
    # stays small, so float32 rounding of the affine map is ~1e-5 (no large cancellation)
    w1 = (0.5 * l1["w"]).at[:z].multiply(8.0)
    b1 = jnp.full_like(l1["b"], _BIAS)
    w2 = jnp.abs(l2["w"]) / l2["w"].shape[0]  # nonnegative: positive inputs stay positive
    b2 = jnp.zeros_like(l2["b"])
    a_dir = w1[:z] @ w2  # (z, hidden): d h2 / d z
    v = l3["w"][:, 0]
    a = a_dir @ v
    v = v * (c.bound_slope / jnp.linalg.norm(a))
    h2_at_zero = (b1 @ w2) + b2
    raw_sigma = jnp.log(jnp.expm1((c.bound_sigma - npl.SIGMA_MIN) / (1 - npl.SIGMA_MIN)))
    w3 = jnp.stack([v, jnp.zeros_like(v)], axis=1)
    b3 = jnp.stack([-(h2_at_zero @ v), raw_sigma])
    p["dec"] = [{"w": w1, "b": b1}, {"w": w2, "b": b2}, {"w": w3, "b": b3}]
    return p


def exact_bounds(p, x, y, ctx, tgt):
    """Closed-form ELBO, log-likelihood and KL of one task under the linear-Gaussian LNP (the
    decoder's affine coefficients read off by a Jacobian, exact for an affine map)."""
    r = npl.masked_mean(nets.apply(p["enc"], jnp.concatenate([x, y], -1)), ctx)
    mu_c, s_c = npl.latent_q(p, x, y, ctx)
    mu_ct, s_ct = npl.latent_q(p, x, y, jnp.logical_or(ctx, tgt))
    z0 = jnp.zeros_like(mu_c)
    g, sigma = npl.lnp_decode(p, z0, r, x)
    a = jax.jacfwd(lambda zz: npl.lnp_decode(p, zz, r, x)[0])(z0)  # (n, z): every row is a
    pre = jnp.concatenate([mu_ct + 8 * s_ct, mu_ct - 8 * s_ct, mu_c + 8 * s_c, mu_c - 8 * s_c])
    u = jnp.concatenate(
        [
            jnp.repeat(pre.reshape(4, -1), x.shape[0], axis=0),
            jnp.broadcast_to(r, (4 * x.shape[0], r.shape[0])),
            jnp.tile(x, (4, 1)),
        ],
        -1,
    )
    min_pre = jnp.min(u @ p["dec"][0]["w"] + p["dec"][0]["b"])
    return {
        "g": g,
        "sigma": sigma,
        "a": a,
        "mu_c": mu_c,
        "s_c": s_c,
        "mu_ct": mu_ct,
        "s_ct": s_ct,
        "min_pre": min_pre,
    }


def kl_diag(mu_q, v_q, mu_p, v_p):
    """NumPy: KL(N(μ_q, diag v_q) ‖ N(μ_p, diag v_p)), summed over the last axis."""
    return np.sum(0.5 * np.log(v_p / v_q) + (v_q + (mu_q - mu_p) ** 2) / (2 * v_p) - 0.5, -1)


def closed_forms(q, y, tgt):
    """NumPy float64: exact ELBO, log-likelihood, KL of one task from :func:`exact_bounds`."""
    t = np.asarray(tgt)
    yt = np.asarray(y)[t, 0]
    g, s2 = np.asarray(q["g"])[t], np.asarray(q["sigma"])[t] ** 2
    a = np.asarray(q["a"])[t]
    mu_c, v_c = np.asarray(q["mu_c"]), np.asarray(q["s_c"]) ** 2
    mu_ct, v_ct = np.asarray(q["mu_ct"]), np.asarray(q["s_ct"]) ** 2
    cov = np.diag(s2) + (a * v_c) @ a.T
    d = yt - g - a @ mu_c
    _, logdet = np.linalg.slogdet(cov)
    loglik = -0.5 * (d @ np.linalg.solve(cov, d) + logdet + len(d) * np.log(2 * np.pi))
    kl = kl_diag(mu_ct, v_ct, mu_c, v_c)
    e = yt - g - a @ mu_ct
    spread = np.einsum("ij,j,ij->i", a, v_ct, a)  # a_i^T Σ_CT a_i
    rec = np.sum(-0.5 * np.log(2 * np.pi * s2) - (e**2 + spread) / (2 * s2))
    return rec - kl, loglik, kl
