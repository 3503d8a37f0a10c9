r"""Compute and memory of one meta step against the number of inner steps ``N`` (G5, G6).

Every number except wall time comes from XLA's compiled program, so it is deterministic:
``jax.jit(step).lower(*args).compile()`` gives ``cost_analysis()["flops"]`` (G5) and
``memory_analysis()`` (G6: temp, argument and output buffer sizes). The step is a full meta
step on the sinusoid MLP 1-40-40-1 with a batch of ``B`` tasks of ``K`` support and ``K``
query points: meta-gradient plus the SGD update ``theta - beta g``. The unit of G5's cost
model is the FLOP count of a plain SGD step (one forward+backward pass over the ``B K``
support points plus the update).

Variants (G6): ``maml`` and ``fomaml`` (:mod:`metatheory.learners.maml`, an unrolled Python
loop); ``maml_ckpt``: the same loop with each inner step under ``jax.checkpoint``;
``maml_scan`` and ``maml_scan_ckpt``: the inner loop as ``lax.scan`` without and with
``jax.checkpoint`` on its body; ``imaml``: :func:`metatheory.imaml_meta_gradient` running
exactly ``N`` L-BFGS iterations, compiled once with ``N`` as a runtime argument (one program
serves every ``N``); ``imaml_static``: the same with ``N`` a compile-time constant. XLA counts
the body of a loop (``scan``, ``while``) once, so FLOPs are measured on unrolled variants only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from metatheory import nets, stats
from metatheory.learners.imaml import batched_imaml_meta_gradient
from metatheory.learners.maml import batched_maml_meta_gradient
from metatheory.tasks import sinusoid

__all__ = [
    "CostConfig",
    "QUICK",
    "FULL",
    "VARIANTS",
    "CostResult",
    "cost_sweep",
    "MemoryResult",
    "memory_sweep",
    "compiled_stats",
    "meta_step",
]

VARIANTS = (
    "sgd",
    "maml",
    "fomaml",
    "maml_ckpt",
    "maml_scan",
    "maml_scan_ckpt",
    "imaml",
    "imaml_static",
)


@dataclass(frozen=True)
class CostConfig:
    n_inner: tuple[int, ...] = (1, 2, 3, 5)  # FLOPs and memory
    time_n_inner: tuple[int, ...] = (1, 5)  # wall time (noisy: supporting evidence)
    time_repeats: int = 7
    sizes: tuple[int, ...] = (1, 40, 40, 1)
    n_tasks: int = 25
    k_shot: int = 10
    alpha: float = 0.01
    beta: float = 1e-3
    lam: float = 1.0  # iMAML proximal strength
    cg_maxiter: int = 10  # iMAML CG iterations (memory does not depend on it)


QUICK = CostConfig()
FULL = CostConfig(n_inner=tuple(range(1, 11)), time_n_inner=tuple(range(1, 11)), time_repeats=41)


def _sgd_update(params, g, beta):
    return jax.tree_util.tree_map(lambda p, d: p - beta * d, params, g)


def _scan_meta_gradient(params, supports, queries, *, alpha, n_inner, checkpoint):
    """MAML with the inner loop as ``lax.scan`` (optionally ``jax.checkpoint`` on the body)."""

    def inner_step(p, x, y):
        g = jax.grad(nets.mse_loss)(p, x, y)
        return jax.tree_util.tree_map(lambda a, b: a - alpha * b, p, g)

    step = jax.checkpoint(inner_step) if checkpoint else inner_step

    def task(p, s, q):
        p, _ = jax.lax.scan(lambda c, _: (step(c, *s), None), p, None, length=n_inner)
        return nets.mse_loss(p, *q)

    return jax.grad(lambda p: jnp.mean(jax.vmap(task, (None, 0, 0))(p, supports, queries)))(params)


def _ckpt_meta_gradient(params, supports, queries, *, alpha, n_inner):
    """MAML with the library's unrolled loop, each inner step under ``jax.checkpoint``."""

    @jax.checkpoint
    def inner_step(p, x, y):
        g = jax.grad(nets.mse_loss)(p, x, y)
        return jax.tree_util.tree_map(lambda a, b: a - alpha * b, p, g)

    def task(p, s, q):
        for _ in range(n_inner):
            p = inner_step(p, *s)
        return nets.mse_loss(p, *q)

    return jax.grad(lambda p: jnp.mean(jax.vmap(task, (None, 0, 0))(p, supports, queries)))(params)


def meta_step(variant: str, config: CostConfig, n_inner):
    """``step(params, supports, queries) -> params`` of one variant (not yet jitted); for
    ``imaml`` the step takes ``n_inner`` as a fourth, runtime argument."""
    c = config

    def grad_of(params, s, q, n_inner=n_inner):
        if variant == "sgd":
            batch_loss = lambda p: jnp.mean(jax.vmap(nets.mse_loss, (None, 0, 0))(p, *s))
            return jax.grad(batch_loss)(params)
        if variant in ("maml", "fomaml"):
            return batched_maml_meta_gradient(
                nets.mse_loss,
                params,
                s,
                q,
                alpha=c.alpha,
                n_inner=n_inner,
                first_order=variant == "fomaml",
            )
        if variant == "maml_ckpt":
            return _ckpt_meta_gradient(params, s, q, alpha=c.alpha, n_inner=n_inner)
        if variant in ("maml_scan", "maml_scan_ckpt"):
            return _scan_meta_gradient(
                params,
                s,
                q,
                alpha=c.alpha,
                n_inner=n_inner,
                checkpoint=variant == "maml_scan_ckpt",
            )
        if variant in ("imaml", "imaml_static"):
            return batched_imaml_meta_gradient(
                nets.mse_loss,
                params,
                s,
                q,
                lam=c.lam,
                inner_tol=0.0,
                inner_maxiter=n_inner,
                cg_tol=0.0,
                cg_maxiter=c.cg_maxiter,
            )
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")

    if variant == "imaml":
        return lambda params, s, q, n: _sgd_update(params, grad_of(params, s, q, n), c.beta)
    return lambda params, s, q: _sgd_update(params, grad_of(params, s, q), c.beta)


def compiled_stats(fn, *args) -> dict:
    """FLOPs, bytes accessed and buffer sizes of XLA's compiled ``jit(fn)(*args)``."""
    compiled = jax.jit(fn).lower(*args).compile()
    ca = compiled.cost_analysis()
    ca = ca[0] if isinstance(ca, list | tuple) else ca
    ma = compiled.memory_analysis()
    return {
        "compiled": compiled,
        "flops": float(ca.get("flops", np.nan)),
        "bytes": float(ca.get("bytes accessed", np.nan)),
        "temp": float(ma.temp_size_in_bytes),
        "argument": float(ma.argument_size_in_bytes),
        "output": float(ma.output_size_in_bytes),
        "alias": float(ma.alias_size_in_bytes),
    }


def _round_robin_times(compiled: dict, args, repeats: int) -> dict:
    """Wall time of each compiled program, run in turn ``repeats`` times (so that the load of a
    shared machine falls on all of them alike): ``{name: array of seconds}``."""
    for c in compiled.values():
        jax.block_until_ready(c(*args))  # warm-up
    out = {k: [] for k in compiled}
    for _ in range(repeats):
        for k, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(*args))
            out[k].append(time.perf_counter() - t0)
    return {k: np.array(v) for k, v in out.items()}


def _setup(config: CostConfig, key):
    kp, kd = jax.random.split(key)
    params = nets.init(kp, config.sizes)
    s, q = sinusoid.sample_batch(kd, config.n_tasks, config.k_shot, config.k_shot)
    return params, s, q


_CACHE: dict = {}


def _stats(config: CostConfig, key, variant: str, n: int) -> dict:
    """Compiled statistics of one (variant, N), memoized per config and key in this process
    (G5, G6 and G7 share the compilations)."""
    dynamic = variant == "imaml"
    ck = (config, tuple(np.asarray(jax.random.key_data(key)).ravel().tolist()), variant)
    ck = ck if dynamic else (*ck, n)
    if ck not in _CACHE:
        args = _setup(config, key)
        if dynamic:  # N is a runtime argument: one compiled program for every N
            _CACHE[ck] = compiled_stats(meta_step(variant, config, None), *args, jnp.int32(1))
        else:
            _CACHE[ck] = compiled_stats(meta_step(variant, config, n), *args)
    return _CACHE[ck]


@dataclass
class CostResult:
    n_inner: np.ndarray
    unit_flops: float  # FLOPs of one plain SGD step: the model's unit
    flops: dict  # variant -> FLOPs per N ("maml", "fomaml", "maml_ckpt")
    time_n_inner: np.ndarray
    time_unit: float  # median wall time of the SGD step (s)
    times: dict  # variant -> median wall time per N in time_n_inner ("maml", "fomaml")
    time_ratio: np.ndarray  # median over rounds of t_MAML / t_FOMAML, per N in time_n_inner
    slope_maml: stats.SlopeFit  # FLOPs / unit against N
    slope_fomaml: stats.SlopeFit
    n_params: int


def cost_sweep(config: CostConfig, key: jax.Array) -> CostResult:
    """G5: FLOPs (deterministic) and median wall times of MAML, FOMAML and SGD against N."""
    c = config
    ns = np.array(c.n_inner)
    sgd = _stats(c, key, "sgd", 0)
    flops = {v: np.array([_stats(c, key, v, n)["flops"] for n in ns]) for v in ("maml", "fomaml")}
    flops["maml_ckpt"] = np.array([_stats(c, key, "maml_ckpt", n)["flops"] for n in ns])
    args = _setup(c, key)
    times = {"maml": [], "fomaml": [], "sgd": []}
    t_ratio = []
    for n in c.time_n_inner:
        progs = {v: _stats(c, key, v, n)["compiled"] for v in ("maml", "fomaml")}
        ts = _round_robin_times({**progs, "sgd": sgd["compiled"]}, args, c.time_repeats)
        for k in times:
            times[k].append(float(np.median(ts[k])))
        t_ratio.append(float(np.median(ts["maml"] / ts["fomaml"])))
    t_unit = float(np.median(times.pop("sgd")))
    times = {k: np.array(v) for k, v in times.items()}
    u = sgd["flops"]
    return CostResult(
        ns,
        u,
        flops,
        np.array(c.time_n_inner),
        t_unit,
        times,
        np.array(t_ratio),
        stats.linear_fit(ns, flops["maml"] / u),
        stats.linear_fit(ns, flops["fomaml"] / u),
        int(ravel_pytree(args[0])[0].size),
    )


MEMORY_VARIANTS = ("maml", "fomaml", "maml_ckpt", "maml_scan", "maml_scan_ckpt", "imaml")


@dataclass
class MemoryResult:
    n_inner: np.ndarray
    temp: dict  # variant -> compiled temp bytes per N
    argument: dict  # variant -> argument bytes per N
    output: dict  # variant -> output bytes per N
    slopes: dict  # variant -> SlopeFit of temp bytes against N, over N >= 2
    param_bytes: float  # one copy of the parameters for the whole task batch
    ckpt_flops_extra: np.ndarray  # FLOPs(maml_ckpt) / FLOPs(maml) - 1, per N


def memory_sweep(
    config: CostConfig, key: jax.Array, variants=MEMORY_VARIANTS, *, static_imaml=()
) -> MemoryResult:
    """G6: compiled memory of every variant against N; slopes fitted over ``N >= 2``.

    At ``N = 1`` no intermediate inner iterate exists, so programs hold one parameter copy
    fewer; the per-step growth the claim is about is the slope from ``N = 2`` on.
    ``static_imaml`` lists N at which iMAML is also compiled with N a constant
    (``imaml_static`` in the result, NaN elsewhere).
    """
    c = config
    ns = np.array(c.n_inner)
    out = {k: {} for k in ("temp", "argument", "output")}
    for v in variants:
        st = [_stats(c, key, v, int(n)) for n in ns]
        for k in out:
            out[k][v] = np.array([s[k] for s in st])
    if static_imaml:
        st = {int(n): _stats(c, key, "imaml_static", int(n)) for n in static_imaml}
        for k in out:
            out[k]["imaml_static"] = np.array([st[n][k] if n in st else np.nan for n in ns])
    tail = ns >= 2
    slopes = {v: stats.linear_fit(ns[tail], out["temp"][v][tail]) for v in variants}
    params = _setup(c, key)[0]
    flat = ravel_pytree(params)[0]
    extra = np.zeros(len(ns))
    if "maml_ckpt" in variants and "maml" in variants:
        f_ck = np.array([_stats(c, key, "maml_ckpt", int(n))["flops"] for n in ns])
        f_m = np.array([_stats(c, key, "maml", int(n))["flops"] for n in ns])
        extra = f_ck / f_m - 1
    return MemoryResult(
        ns,
        out["temp"],
        out["argument"],
        out["output"],
        slopes,
        float(flat.size * flat.dtype.itemsize * c.n_tasks),
        extra,
    )
