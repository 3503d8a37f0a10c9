r"""G9: Finn et al. (2017)'s sinusoid benchmark, MAML against the pretrained baseline.

Setup (Finn, Abbeel, Levine 2017, Sec. 5.1): tasks ``y = A sin(x - phi)``,
``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``, ``x ~ U[-5, 5]``; a 1-40-40-1 ReLU MLP at Finn's
initialization; MSE; one model meta-trained with ``K = 10`` support and ``K`` query points per
task, one inner gradient step ``alpha = 0.01``, meta-batch 25, Adam ``beta = 1e-3``; at test
time "a single meta-learned model" is fine-tuned on ``K = 5`` and ``K = 10`` points (their
App. C.1, Table 2, reports the ``K = 5`` numbers).

Models, each trained from ``n_seeds`` independent training seeds (vmapped):

* ``maml`` (and, in the full preset, ``fomaml``; ``reptile`` is also supported), meta-trained with
  :func:`metatheory.learners.train.make_meta_step`;
* ``pretrained``: the same network trained with Adam(``beta``) on the pooled points of the same
  meta-batches (Finn's "pretraining on all tasks").

Evaluation, identical for every model and seed, on ``n_eval`` held-out tasks (one key shared by
every model and seed, so differences are paired per task): ``K`` support points (the first ``K``
of ``max(k_eval)``, so the ``K`` are nested), plain gradient descent through
:func:`metatheory.learners.maml.inner_adapt`, the MSE on ``n_query`` fresh points after every
step ``0..max_steps``. The meta-learners adapt with their training ``alpha`` (Finn's protocol).
The pretrained baseline adapts with a step size tuned per training seed, ``K`` and number of
steps on ``n_val`` separate validation tasks over the grid ``baseline_alphas`` (Finn: "using an
automatically tuned step size"); a fixed ``alpha`` made it worse with adaptation at ``K = 5``.

Uncertainty: a crossed (two-way) bootstrap over training seeds and held-out tasks. The same
resampled seeds and tasks are used for every model, step and ``K``, so the replicate means of
two models subtract to replicates of their paired per-task difference.

The experiment is :func:`~metatheory.experiments.vmappable`: the core (training and evaluation)
is pure JAX in the key, so calibration seeds run as one vmapped program.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import nets
from metatheory.experiments import vmappable
from metatheory.experiments.sinusoid._common import (
    adapt_predictions,
    crossed_bootstrap,
    draw_counts,
    evaluate,
    per_k,
    stack_models,
)
from metatheory.learners import train as train_learner
from metatheory.tasks import sinusoid

__all__ = [
    "SinusoidBenchmarkConfig",
    "SINUSOID_BENCHMARK_PRESETS",
    "SinusoidBenchmarkResult",
    "benchmark",
    "benchmark_core",
    "benchmark_finish",
]


@dataclass(frozen=True)
class SinusoidBenchmarkConfig:
    n_seeds: int = 4  # independent training seeds per model
    k_train: int = 10  # Finn et al.: one model meta-trained with K = 10
    k_eval: tuple[int, ...] = (5, 10)  # test-time shots (Table 2 of App. C.1 is K = 5)
    sizes: tuple[int, ...] = (1, 40, 40, 1)
    init_std: float = 0.01  # Finn et al.'s weight scale
    alpha: float = 0.01  # inner step size, training and test time (Finn et al.)
    beta: float = 1e-3  # Adam step of the outer loop and of the pretrained baseline
    meta_batch: int = 25
    n_inner: int = 1  # inner steps during meta-training
    n_iters: int = 70_000  # meta-iterations (Finn et al.: 70k)
    extra_methods: tuple[str, ...] = ("fomaml",)  # also "reptile"
    reptile_inner: int = 5  # Reptile with one step is pooled SGD
    baseline_alphas: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.04)
    n_val: int = 200  # validation tasks for the baseline's step size
    n_eval: int = 600  # held-out test tasks
    n_closed: int = 5000  # tasks for the closed-form checks of the family
    n_query: int = 50
    max_steps: int = 10
    log_every: int = 500  # training-loss curve: means over windows of this many steps
    n_boot: int = 4000  # bootstrap resamples
    n_examples: int = 2  # example tasks whose predicted curves are kept for the figures
    n_grid: int = 128
    n_quad: int = 2001  # grid of the trapezoid rule for E_x (f(x) - m(x))^2
    fast_compile: bool = False  # compile with FAST_COMPILE (short runs)
    compare_published: bool = True  # judge the published K = 5 numbers (full scale only)


SINUSOID_BENCHMARK_PRESETS = {
    "quick": SinusoidBenchmarkConfig(
        n_seeds=3,
        k_train=5,
        init_std=0.1,
        n_iters=1500,
        beta=0.003,
        meta_batch=10,
        extra_methods=(),
        baseline_alphas=(0.002, 0.005, 0.01, 0.02),
        n_val=50,
        n_eval=200,
        n_closed=2000,
        n_query=25,
        log_every=100,
        n_boot=2000,
        n_quad=501,
        fast_compile=True,
        compare_published=False,
    ),
    "full": SinusoidBenchmarkConfig(),
}
"""The full preset is Finn et al.'s setting. The quick one (CI) trains for 1,500 meta-steps with
three changes that make so short a run reliable on every seed: weights of scale 0.1 (from
Finn's 0.01 init, some seeds are still on the initial plateau, predicting about zero, after
1,500 steps), meta-training with ``K = 5`` (a net meta-trained this briefly with ``K = 10``
has curvature at which ``alpha = 0.01`` diverges on some 5-point support sets) and
Adam ``beta = 3e-3`` with meta-batch 10."""


@dataclass(frozen=True, kw_only=True)
class SinusoidBenchmarkResult:
    config: SinusoidBenchmarkConfig
    models: tuple[str, ...]  # meta-learners, then "pretrained"
    mse: np.ndarray  # (n_models, n_seeds, nK, max_steps + 1, n_eval): query MSE per task
    boot: np.ndarray  # (n_models, nK, max_steps + 1, n_boot): crossed-bootstrap replicate means
    pre_alpha: np.ndarray  # (n_seeds, nK, max_steps + 1): the baseline's tuned step size
    pre_grid: np.ndarray  # (n_seeds, nK, n_alphas, max_steps + 1): baseline test MSE per step
    pre_on_grid: np.ndarray  # (n_seeds, n_quad): the pretrained nets on quad_x (no adaptation)
    quad_x: np.ndarray  # (n_quad,) uniform grid over the input range
    support_x: np.ndarray  # (n_eval, max K) held-out support inputs (the first K are used)
    support_y: np.ndarray
    query_x: np.ndarray  # (n_eval, n_query)
    query_y: np.ndarray
    closed_x: np.ndarray  # (n_closed, n_query) query points of tasks kept for the closed forms
    closed_y: np.ndarray
    params0: dict  # model -> seed-0 parameters (list of {"w", "b"}), for the reference
    loss_curves: np.ndarray  # (n_models, n_seeds, n_iters // log_every): training loss
    grid: np.ndarray  # (n_grid,)
    example_amp: np.ndarray  # (n_examples,)
    example_phase: np.ndarray
    example_x: np.ndarray  # (n_examples, max K) support inputs (the first K are used)
    example_pred: np.ndarray  # (n_models, nK, n_examples, max_steps + 1, n_grid), seed 0
    sample_amp: np.ndarray  # a few tasks of the family, for the "tasks" figure
    sample_phase: np.ndarray
    boot_counts: tuple | None = None  # (seed, task) draw counts of the crossed bootstrap


def _train(config: SinusoidBenchmarkConfig, key, models: tuple[str, ...]):
    """Train ``models`` from Finn's init on the same meta-batches, in one ``lax.scan``: the
    meta-learners (``maml``, ``fomaml``, ``reptile``) with
    :func:`~metatheory.learners.train.make_meta_step`, ``pretrained`` with Adam on the pooled
    support and query points of each meta-batch. Returns ``{model: (params, loss curve)}``."""
    c = config
    k_data = jax.random.fold_in(key, len(models))
    opt = optax.adam(c.beta)

    def pooled_step(p, s, supp, query):
        x = jnp.concatenate([supp[0], query[0]], axis=1).reshape(-1, 1)
        y = jnp.concatenate([supp[1], query[1]], axis=1).reshape(-1, 1)
        loss, g = jax.value_and_grad(nets.mse_loss)(p, x, y)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    steps = {
        m: pooled_step
        if m == "pretrained"
        else train_learner.make_meta_step(
            nets.mse_loss,
            opt,
            alpha=c.alpha,
            n_inner=c.reptile_inner if m == "reptile" else c.n_inner,
            method=m,
        )
        for m in models
    }
    init = {}
    for j, m in enumerate(models):
        p = nets.finn_init(jax.random.fold_in(key, j), c.sizes, c.init_std)
        init[m] = (p, opt.init(p))

    def body(carry, i):
        supp, query = sinusoid.sample_batch(
            jax.random.fold_in(k_data, i), c.meta_batch, c.k_train, c.k_train
        )
        new, losses = {}, {}
        for m in models:
            p, s, losses[m] = steps[m](*carry[m], supp, query)
            new[m] = (p, s)
        return new, losses

    final, losses = jax.lax.scan(body, init, jnp.arange(c.n_iters))
    return {m: (final[m][0], losses[m].reshape(-1, c.log_every).mean(axis=1)) for m in models}


def _core(c: SinusoidBenchmarkConfig, key: jax.Array) -> dict:
    k_train, k_val, k_test, k_ex, k_sample, k_boot, k_closed = jax.random.split(key, 7)
    methods = ("maml", *c.extra_methods)
    models = (*methods, "pretrained")
    kmax, n_steps, n_k = max(c.k_eval), c.max_steps, len(c.k_eval)

    trained = jax.vmap(lambda kk: _train(c, kk, models))(jax.random.split(k_train, c.n_seeds))
    params = {m: trained[m][0] for m in models}  # leading seed axis
    val = sinusoid.sample_batch(k_val, c.n_val, kmax, c.n_query)
    test = sinusoid.sample_batch(k_test, c.n_eval, kmax, c.n_query)
    # tasks for the closed-form checks of the family (no model is evaluated on them)
    _, closed = sinusoid.sample_batch(k_closed, c.n_closed, 1, c.n_query)

    # one batch of evaluation jobs per seed: each meta-learner with its training alpha, the
    # baseline with every step size of the grid; validation and test tasks together
    n_m, n_a = len(methods), len(c.baseline_alphas)
    alphas = jnp.asarray(c.baseline_alphas, jnp.float32)
    job_alpha = jnp.concatenate([jnp.full((n_m,), c.alpha, jnp.float32), alphas])
    both = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), val, test)
    bx, by = per_k(both[0], c.k_eval)

    def jobs(seed_params):
        stack = [seed_params[m] for m in methods] + [seed_params["pretrained"]] * n_a
        return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *stack)

    curves = jax.vmap(  # seeds
        lambda q: jax.vmap(  # jobs
            lambda p, a: jax.vmap(  # K
                lambda x, y: evaluate(p, a, x, y, *both[1], n_steps)
            )(bx, by)
        )(q, job_alpha)
    )(jax.vmap(jobs)(params))  # (n_seeds, n_jobs, nK, n_val + n_eval, steps + 1)
    meta = jnp.moveaxis(curves[:, :n_m, :, c.n_val :], 1, 0)
    grid_mse = curves[:, n_m:]  # (n_seeds, n_alphas, nK, n_val + n_eval, steps + 1)
    best = jnp.argmin(grid_mse[..., : c.n_val, :].mean(axis=3), axis=1)  # (n_seeds, nK, steps+1)
    t_grid = grid_mse[..., c.n_val :, :]
    pre = jnp.take_along_axis(t_grid, best[:, None, :, None, :], axis=1)[:, 0]
    mse = jnp.concatenate([meta, pre[None]])  # (n_models, n_seeds, nK, n_eval, steps + 1)
    pre_alpha = alphas[best]

    # the pretrained nets on a fine grid: the check integrates (f - m)^2 against the closed form
    fam = sinusoid.FINN
    xg = jnp.linspace(*fam.x_range, c.n_quad)
    f_x = jax.vmap(lambda p: nets.apply(p, xg[:, None])[:, 0])(params["pretrained"])

    # example predictions (seed 0) and a few tasks of the family, for the figures
    grid = jnp.linspace(*fam.x_range, c.n_grid)[:, None]
    ex_amp, ex_phase = sinusoid.sample_tasks(k_ex, c.n_examples)
    ex_x, ex_y = sinusoid.sample_points(jax.random.fold_in(k_ex, 1), ex_amp, ex_phase, kmax)
    ex_sx, ex_sy = per_k((ex_x, ex_y), c.k_eval)
    first = jax.tree_util.tree_map(lambda a: a[0], params)
    ex_alpha = jnp.stack([jnp.full((n_k,), c.alpha)] * len(methods) + [pre_alpha[0, :, -1]])
    example = jax.vmap(  # models
        lambda p, al: jax.vmap(  # K
            lambda a, xs, ys: jax.vmap(  # examples
                lambda x1, y1: adapt_predictions(p, x1, y1, grid, alpha=a, n_steps=n_steps)
            )(xs, ys)
        )(al, ex_sx, ex_sy)
    )(stack_models(first, models), ex_alpha)
    s_amp, s_phase = sinusoid.sample_tasks(k_sample, 6)
    return {
        "mse": jnp.swapaxes(mse, -1, -2),  # (n_models, n_seeds, nK, steps + 1, n_eval)
        "pre_alpha": pre_alpha,
        "pre_grid": jnp.swapaxes(t_grid.mean(axis=3), 1, 2),  # (n_seeds, nK, n_alphas, steps+1)
        "pre_on_grid": f_x,
        "quad_x": xg,
        "support": test[0],
        "query": test[1],
        "closed": closed,
        "params0": first,
        "curves": jnp.stack([trained[m][1] for m in models]),
        "grid": grid[:, 0],
        "ex_amp": ex_amp,
        "ex_phase": ex_phase,
        "ex_x": ex_x[..., 0],
        "example": example,
        "s_amp": s_amp,
        "s_phase": s_phase,
        "boot_seeds": draw_counts(jax.random.fold_in(k_boot, 0), c.n_boot, c.n_seeds),
        "boot_tasks": draw_counts(jax.random.fold_in(k_boot, 1), c.n_boot, c.n_eval),
    }


FAST_COMPILE = {"xla_backend_optimization_level": 1, "xla_cpu_use_fusion_emitters": False}
"""XLA options of the quick preset: on CPU they cut compile + run of its one program by ~25%
(compiling, not running, dominates a short run)."""
_core_fast = jax.jit(_core, static_argnums=0, compiler_options=FAST_COMPILE)
_core_opt = jax.jit(_core, static_argnums=0)


def benchmark_core(config: SinusoidBenchmarkConfig, key: jax.Array) -> dict:
    """Train every model for every training seed, tune the baseline's step on validation tasks,
    evaluate on the held-out tasks: one compiled program, pure JAX in ``key``. The quick
    preset compiles with :data:`FAST_COMPILE` where the backend knows those options."""
    c = config
    if c.n_iters % c.log_every:
        raise ValueError(f"n_iters={c.n_iters} must be a multiple of log_every={c.log_every}")
    if any(max(c.k_eval) % k for k in c.k_eval):
        raise ValueError(f"every K of k_eval={c.k_eval} must divide max(k_eval)")
    if isinstance(key, jax.core.Tracer):  # inside another transformation (a seed sweep)
        return _core(c, key)
    if c.fast_compile:
        try:
            return _core_fast(c, key)
        except jax.errors.JaxRuntimeError as e:  # another backend: no such compile option
            if "compile option" not in str(e):
                raise
    return _core_opt(c, key)


def benchmark_finish(config: SinusoidBenchmarkConfig, out: dict) -> SinusoidBenchmarkResult:
    c = config
    out = jax.tree_util.tree_map(np.asarray, out)
    models = ("maml", *c.extra_methods, "pretrained")
    mse = out["mse"].astype(np.float64)
    # (n_models, n_seeds, nK, steps, n_eval) -> bootstrap over (seeds, tasks)
    with np.errstate(invalid="ignore", over="ignore"):  # a diverged adaptation stays inf/nan
        boot = crossed_bootstrap(np.moveaxis(mse, 1, 3), out["boot_seeds"], out["boot_tasks"])
    return SinusoidBenchmarkResult(
        config=c,
        models=models,
        mse=mse,
        boot=boot,
        pre_alpha=out["pre_alpha"],
        pre_grid=out["pre_grid"],
        pre_on_grid=out["pre_on_grid"].astype(np.float64),
        quad_x=out["quad_x"].astype(np.float64),
        support_x=out["support"][0][..., 0],
        support_y=out["support"][1][..., 0],
        query_x=out["query"][0][..., 0],
        query_y=out["query"][1][..., 0],
        closed_x=out["closed"][0][..., 0],
        closed_y=out["closed"][1][..., 0],
        params0={m: out["params0"][m] for m in models},
        loss_curves=out["curves"],
        grid=out["grid"],
        example_amp=out["ex_amp"],
        example_phase=out["ex_phase"],
        example_x=out["ex_x"],
        example_pred=out["example"],
        sample_amp=out["s_amp"],
        sample_phase=out["s_phase"],
        boot_counts=(out["boot_seeds"], out["boot_tasks"]),
    )


benchmark = vmappable(benchmark_core, benchmark_finish)
"""G9: :func:`benchmark_core` then :func:`benchmark_finish` (an experiment; vmappable)."""
