r"""Conditional and latent neural processes as pure functions over pytrees (claim B2).

**CNP** (Garnelo et al. 2018a): context pairs are embedded, ``r_i = h([x_i, y_i])``, and
mean-pooled, ``r = (1/|C|) Σ_i r_i``; a decoder ``g([r, x_*])`` outputs the mean and the
standard deviation ``σ = σ_min + (1 - σ_min) softplus(·)`` of a Gaussian predictive. It is
trained by minimizing the negative log-likelihood of the targets.

**Latent NP** (Garnelo et al. 2018b; with the deterministic path of Kim et al. 2019): a
latent encoder maps the mean-pooled ``s_i = h_z([x_i, y_i])`` to a diagonal Gaussian
``q(z|·)``; the decoder sees ``[z, r, x_*]``. It maximizes the ELBO

.. math:: \mathcal{L} = \mathbb{E}_{q(z|C\cup T)} \sum_{i\in T} \log p(y_i|z, x_i, r_C)
          - \mathrm{KL}\big(q(z|C\cup T)\,\|\,q(z|C)\big),

i.e. minimizes :math:`-\mathcal{L}/|T|` (reparameterized, one sample per task). The
conditional prior ``q(z|C)`` is the model's prior, so the log-likelihood
``log p(y_T|x_T, C) = log E_{q(z|C)} p(y_T|z)`` is estimated by importance sampling with
proposal ``q(z|C∪T)``: :math:`\log \frac1K\sum_k p(y_T|z_k) q(z_k|C)/q(z_k|C\cup T)`, whose
expectation lies between the ELBO (``K = 1``) and the log-likelihood (Burda et al. 2016).

Contexts are given as a boolean mask over a task's points, so one compiled function handles
every context size (an empty context pools to zero). Everything is batched over tasks with
``vmap``; networks are :mod:`metatheory.nets` MLPs.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from metatheory import nets
from metatheory.learners.train import make_scan_train
from metatheory.tasks.gp import gaussian_log_density

__all__ = [
    "NPConfig",
    "init_cnp",
    "init_lnp",
    "masked_mean",
    "cnp_predict",
    "cnp_loss",
    "latent_q",
    "lnp_decode",
    "gaussian_kl",
    "lnp_elbo",
    "lnp_loss",
    "lnp_log_likelihood_is",
    "lnp_predict",
    "lnp_marginal_log_density",
    "init_acnp",
    "attend",
    "make_np_train",
]

SIGMA_MIN = 0.01
"""Floor of the predictive standard deviation: keeps the likelihood bounded early in training;
ten times below the GP tasks' noise (0.1), so it does not bind at the optimum."""


@dataclass(frozen=True)
class NPConfig:
    hidden: int = 64
    r_dim: int = 64
    z_dim: int = 16
    depth: int = 2  # hidden layers per MLP
    x_dim: int = 1
    y_dim: int = 1


def _mlp(key, n_in, n_out, cfg):
    return nets.init(key, (n_in, *([cfg.hidden] * cfg.depth), n_out))


def init_cnp(key: jax.Array, cfg: NPConfig = NPConfig()) -> dict:
    """CNP parameters: context encoder ``[x, y] -> r`` and decoder ``[r, x] -> (μ, σ)``."""
    ke, kd = jax.random.split(key)
    return {
        "enc": _mlp(ke, cfg.x_dim + cfg.y_dim, cfg.r_dim, cfg),
        "dec": _mlp(kd, cfg.r_dim + cfg.x_dim, 2 * cfg.y_dim, cfg),
    }


def init_acnp(key: jax.Array, cfg: NPConfig = NPConfig()) -> dict:
    """Attentive CNP: the CNP plus a shared query/key embedding ``x -> R^{r_dim}``."""
    k1, k2 = jax.random.split(key)
    return {**init_cnp(k1, cfg), "query": _mlp(k2, cfg.x_dim, cfg.r_dim, cfg)}


def init_lnp(key: jax.Array, cfg: NPConfig = NPConfig()) -> dict:
    """Latent NP: deterministic encoder, latent encoder ``-> (μ_z, σ_z)``, decoder."""
    ke, kz, kd = jax.random.split(key, 3)
    return {
        "enc": _mlp(ke, cfg.x_dim + cfg.y_dim, cfg.r_dim, cfg),
        "lat": _mlp(kz, cfg.x_dim + cfg.y_dim, 2 * cfg.z_dim, cfg),
        "dec": _mlp(kd, cfg.z_dim + cfg.r_dim + cfg.x_dim, 2 * cfg.y_dim, cfg),
    }


def masked_mean(h, mask):
    """``Σ_i m_i h_i / max(Σ_i m_i, 1)`` over the points axis of ``h (n, k)``."""
    m = mask.astype(h.dtype)[:, None]
    return jnp.sum(h * m, axis=0) / jnp.maximum(jnp.sum(m), 1.0)


def _gaussian_head(out):
    mean, raw = jnp.split(out, 2, axis=-1)
    return mean[..., 0], SIGMA_MIN + (1 - SIGMA_MIN) * jax.nn.softplus(raw[..., 0])


def _encode(enc_params, x, y, mask):
    return masked_mean(nets.apply(enc_params, jnp.concatenate([x, y], -1)), mask)


def attend(params, x, y, mask, x_t):
    r"""Cross-attention of the targets on the context (Kim et al. 2019): per target,
    :math:`r_* = \sum_i \mathrm{softmax}_i(q(x_*)\cdot k(x_i)/\sqrt{d})\, h([x_i, y_i])` over the
    masked points (``r_* = 0`` for an empty context). Shape ``(n_t, r_dim)``."""
    values = nets.apply(params["enc"], jnp.concatenate([x, y], -1))
    q, k = nets.apply(params["query"], x_t), nets.apply(params["query"], x)
    logits = q @ k.T / jnp.sqrt(q.shape[-1])
    logits = jnp.where(mask[None, :], logits, -1e30)
    w = jnp.exp(logits - jnp.max(logits, axis=1, keepdims=True)) * mask[None, :]
    w = w / jnp.maximum(jnp.sum(w, axis=1, keepdims=True), 1e-30)
    return w @ values


def _context_repr(params, x, y, mask, x_t):
    """Mean-pooled ``r`` broadcast to the targets, or the attended ``r_*`` for an ANP."""
    if "query" in params:
        return attend(params, x, y, mask, x_t)
    r = _encode(params["enc"], x, y, mask)
    return jnp.broadcast_to(r, (x_t.shape[0], r.shape[0]))


def cnp_predict(params, x, y, mask, x_t):
    """Predictive mean and std ``(n_t,)`` of one task; context = the masked points of ``x, y``."""
    inp = jnp.concatenate([_context_repr(params, x, y, mask, x_t), x_t], -1)
    return _gaussian_head(nets.apply(params["dec"], inp))


def cnp_loss(params, x, y, mask, x_t, y_t):
    """Mean negative log-likelihood per target point of one task."""
    mu, sigma = cnp_predict(params, x, y, mask, x_t)
    return -jnp.mean(gaussian_log_density(y_t[:, 0], mu, sigma**2))


def latent_q(params, x, y, mask):
    """``(μ_z, σ_z)`` of ``q(z | masked points)``; ``σ_z = 0.1 + 0.9 sigmoid(·)`` (Le et al.)."""
    out = nets.apply(params["lat"], jnp.concatenate([x, y], -1))
    s = masked_mean(out, mask)
    mu, raw = jnp.split(s, 2)
    return mu, 0.1 + 0.9 * jax.nn.sigmoid(raw)


def lnp_decode(params, z, r, x_t):
    """Decoder ``[z, r, x_*] -> (μ, σ)`` for target inputs ``x_t (n_t, d)``."""
    n = x_t.shape[0]
    inp = jnp.concatenate(
        [jnp.broadcast_to(z, (n, z.shape[0])), jnp.broadcast_to(r, (n, r.shape[0])), x_t], -1
    )
    return _gaussian_head(nets.apply(params["dec"], inp))


def gaussian_kl(mu_q, sigma_q, mu_p, sigma_p):
    r"""``KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²))`` summed over dimensions (diagonal Gaussians):
    :math:`\sum \log(σ_p/σ_q) + (σ_q^2 + (μ_q-μ_p)^2)/(2σ_p^2) - 1/2`."""
    return jnp.sum(
        jnp.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5
    )


def _log_normal(z, mu, sigma):
    return jnp.sum(gaussian_log_density(z, mu, sigma**2))


def lnp_elbo(params, key, x, y, ctx_mask, tgt_mask, n_samples: int = 1, leak: bool = False):
    """ELBO of one task: ``E_{q(z|C∪T)} Σ_{i∈T} log p(y_i|z, x_i, r_C) − KL(q(z|C∪T)‖q(z|C))``.

    ``ctx_mask`` and ``tgt_mask`` select ``C`` and ``T`` among the task's points; the expectation
    is a mean over ``n_samples`` reparameterized draws. ``leak=True`` is a deliberate bug for
    the negative control only: the deterministic path also encodes the targets (``r_{C∪T}``),
    so the "bound" sees ``y_T`` and is no longer a lower bound.
    """
    r = _encode(params["enc"], x, y, jnp.logical_or(ctx_mask, tgt_mask) if leak else ctx_mask)
    mu_ct, sig_ct = latent_q(params, x, y, jnp.logical_or(ctx_mask, tgt_mask))
    mu_c, sig_c = latent_q(params, x, y, ctx_mask)
    eps = jax.random.normal(key, (n_samples, mu_ct.shape[0]), mu_ct.dtype)
    tm = tgt_mask.astype(y.dtype)

    def loglik(e):
        mu, sigma = lnp_decode(params, mu_ct + sig_ct * e, r, x)
        return jnp.sum(tm * gaussian_log_density(y[:, 0], mu, sigma**2))

    rec = jnp.mean(jax.vmap(loglik)(eps))
    return rec - gaussian_kl(mu_ct, sig_ct, mu_c, sig_c)


def lnp_loss(params, key, x, y, ctx_mask, tgt_mask):
    """Negative ELBO per target point: the quantity minimized in training."""
    return -lnp_elbo(params, key, x, y, ctx_mask, tgt_mask) / jnp.maximum(jnp.sum(tgt_mask), 1)


def lnp_log_likelihood_is(params, key, x, y, ctx_mask, tgt_mask, n_samples: int = 256):
    r"""Importance-sampled ``log p(y_T | x_T, C)``:
    :math:`\log\frac1K\sum_k p(y_T|z_k)\,q(z_k|C)/q(z_k|C\cup T)`, ``z_k ~ q(z|C∪T)``."""
    r = _encode(params["enc"], x, y, ctx_mask)
    mu_ct, sig_ct = latent_q(params, x, y, jnp.logical_or(ctx_mask, tgt_mask))
    mu_c, sig_c = latent_q(params, x, y, ctx_mask)
    eps = jax.random.normal(key, (n_samples, mu_ct.shape[0]), mu_ct.dtype)
    tm = tgt_mask.astype(y.dtype)

    def log_w(e):
        z = mu_ct + sig_ct * e
        mu, sigma = lnp_decode(params, z, r, x)
        ll = jnp.sum(tm * gaussian_log_density(y[:, 0], mu, sigma**2))
        return ll + _log_normal(z, mu_c, sig_c) - _log_normal(z, mu_ct, sig_ct)

    lw = jax.vmap(log_w)(eps)
    return jax.nn.logsumexp(lw) - jnp.log(n_samples)


def lnp_predict(params, key, x, y, mask, x_t, n_samples: int = 64):
    """Samples of the predictive ``(μ, σ)`` at ``x_t``, ``z ~ q(z|C)``: shapes ``(S, n_t)``."""
    r = _encode(params["enc"], x, y, mask)
    mu_c, sig_c = latent_q(params, x, y, mask)
    eps = jax.random.normal(key, (n_samples, mu_c.shape[0]), mu_c.dtype)
    return jax.vmap(lambda e: lnp_decode(params, mu_c + sig_c * e, r, x_t))(eps)


def lnp_marginal_log_density(params, key, x, y, mask, x_t, y_t, n_samples: int = 64):
    """Pointwise ``log p(y_* | x_*, C) = log E_{q(z|C)} N(y_*; μ_z, σ_z²)`` by Monte Carlo over
    ``n_samples`` draws of ``z``, shape ``(n_t,)``: comparable with a CNP's and the GP's
    marginal predictive densities."""
    mu, sigma = lnp_predict(params, key, x, y, mask, x_t, n_samples)
    logp = gaussian_log_density(y_t[None, :, 0], mu, sigma**2)
    return jax.nn.logsumexp(logp, axis=0) - jnp.log(n_samples)


def make_np_train(model: str, sample_batch, optimizer: optax.GradientTransformation, sign=1.0):
    """``train(params, key, n_steps) -> (params, losses)``: ``lax.scan`` over Adam steps.

    ``sample_batch(key) -> (x, y, ctx_mask)`` draws a fresh batch of tasks each step; the
    targets are all of a task's points (Garnelo et al. 2018). ``model`` is ``"cnp"`` or
    ``"lnp"``. The loss (negative log-likelihood, or negative ELBO) is *minimized*;
    ``sign = -1`` ascends it instead, only for the negative control of B2.
    """
    if model not in ("cnp", "lnp"):
        raise ValueError(f"model must be 'cnp' or 'lnp', got {model!r}")

    def batch_loss(params, key):
        kb, kz = jax.random.split(key)
        x, y, ctx = sample_batch(kb)
        tgt = jnp.ones(ctx.shape, bool)
        if model == "cnp":
            per_task = jax.vmap(cnp_loss, (None, 0, 0, 0, 0, 0))(params, x, y, ctx, x, y)
        else:
            keys = jax.random.split(kz, x.shape[0])
            per_task = jax.vmap(lnp_loss, (None, 0, 0, 0, 0, 0))(params, keys, x, y, ctx, tgt)
        return jnp.mean(per_task)

    return make_scan_train(batch_loss, optimizer, sign=sign)
