"""M1 in float64: a prototypical network's distance logits against its linear head
(``w_k = 2c_k``, ``b_k = −‖c_k‖²``; Snell et al. 2017, Sec. 2.4), at the quoted test value and on
random episodes embedded by an MLP, and sympy's expansion of the squared distance."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from metatheory.experiments import experiment
from metatheory.experiments.protonet._common import IDENTITY, softmax
from metatheory.learners import protonet as pn
from metatheory.symbolic import protonet as sym

__all__ = [
    "ProtonetLinearConfig",
    "PROTONET_LINEAR_PRESETS",
    "ProtonetLinearResult",
    "linear_equivalence",
]


@dataclass(frozen=True)
class ProtonetLinearConfig:
    test_prototypes: tuple = ((1.0, 0.0), (0.0, 3.0))  # c_0, c_1 of the test value
    test_query: tuple = (1.0, 1.0)
    n_episodes: int = 16
    n_way: int = 5
    k_shot: int = 5
    n_query: int = 40
    sizes: tuple[int, ...] = (2, 32, 32, 8)  # an (untrained) embedding network


PROTONET_LINEAR_PRESETS = {
    "quick": ProtonetLinearConfig(),
    "full": ProtonetLinearConfig(n_episodes=256),
}


@dataclass(frozen=True, kw_only=True)
class ProtonetLinearResult:
    p_test_dist: np.ndarray  # softmax(-||x - c_k||^2) at the test value (protonet logits)
    p_test_linear: np.ndarray  # softmax(w_k.x + b_k) with (w, b) from the linear head
    p_test_control: np.ndarray  # with the wrong bias b_k = +||c_k||^2
    err_prob: float  # max |p_dist - p_linear| over random episodes (embedded by an MLP)
    err_shift: float  # max over queries of the spread over k of (dist - linear) logits + ||f||^2
    err_control: float  # max |p_dist - p_control| over the same episodes
    sympy_expansion: str  # residual of -||x-c||^2 - (2c.x - ||c||^2 - ||x||^2), simplified
    sympy_softmax: str  # residual of the two softmaxes, simplified
    n_episodes: int


@experiment
def linear_equivalence(config: ProtonetLinearConfig, key: jax.Array) -> ProtonetLinearResult:
    """M1 in float64: the test value through the learner (identity embedding) and random
    episodes through an MLP embedding; the protonet's distance logits against the logits of
    its linear head, and sympy's expansion of the squared distance."""
    c = config
    expansion, softmax_res = sym.derive_linear(2, 2)
    with jax.enable_x64(True):
        cp = jnp.asarray(c.test_prototypes, jnp.float64)
        x = jnp.asarray([c.test_query], jnp.float64)
        labels = jnp.arange(cp.shape[0])
        dist = pn.proto_logits(IDENTITY, cp, labels, x, cp.shape[0])[0]
        lin = pn.linear_logits(IDENTITY, cp, labels, x, cp.shape[0])[0]
        wrong = 2 * cp @ x[0] + jnp.sum(cp**2, -1)  # the control: bias with the wrong sign

        kp, kd = jax.random.split(key)
        params = pn.init(kp, c.sizes)  # float64 under enable_x64
        n_s = c.n_way * c.k_shot
        xs = jax.random.normal(kd, (c.n_episodes, n_s + c.n_query, c.sizes[0]), jnp.float64)
        ys = jnp.tile(jnp.arange(c.n_way), c.k_shot)

        def logits(xe):
            f = pn.embed(params, xe)
            proto = pn.prototypes(f[:n_s], ys, c.n_way)
            d = pn.proto_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            li = pn.linear_logits(params, xe[:n_s], ys, xe[n_s:], c.n_way)
            bad = f[n_s:] @ (2 * proto).T + jnp.sum(proto**2, -1)
            return d, li, bad, jnp.sum(f[n_s:] ** 2, -1)

        d, li, bad, fsq = (np.asarray(a) for a in jax.jit(jax.vmap(logits))(xs))
        dist, lin, wrong = (np.asarray(a) for a in (dist, lin, wrong))
    shift = d - li + fsq[..., None]  # zero when -||f - c||^2 = 2c.f - ||c||^2 - ||f||^2
    spread = shift.max(-1) - shift.min(-1)
    return ProtonetLinearResult(
        p_test_dist=softmax(dist),
        p_test_linear=softmax(lin),
        p_test_control=softmax(wrong),
        err_prob=float(np.max(np.abs(softmax(d) - softmax(li)))),
        err_shift=float(np.max(spread) / np.max(np.abs(d))),
        err_control=float(np.max(np.abs(softmax(d) - softmax(bad)))),
        sympy_expansion=str(expansion),
        sympy_softmax=str(softmax_res),
        n_episodes=c.n_episodes,
    )
