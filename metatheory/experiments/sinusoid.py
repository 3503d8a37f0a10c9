r"""G9: Finn et al. (2017)'s sinusoid benchmark, reproduced with MAML, first-order MAML,
Reptile and two baselines.

Setup (Finn et al. 2017, Sec. 5.1 and App. C.1): tasks ``y = A sin(x - phi)``,
``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``, ``x ~ U[-5, 5]``; a 1-40-40-1 ReLU MLP; MSE; ``K``
support and ``K`` query points per task; one inner gradient step with ``alpha = 0.01`` during
meta-training; meta-batch 25; Adam with ``beta = 1e-3``. Baselines:

* ``pretrained``: the same network trained with Adam (``beta``) on the pooled points of the
  same meta-batches (regression to a random sinusoid; Finn's baseline);
* ``naive``: the tutorial's baseline (seed text 000): Adam with learning rate 0.01 on 256
  tasks x 1 point per step for 1000 steps;
* ``untrained``: the network at Finn's initialization (a reference, not trained at all).

Meta-SGD (Li et al. 2017; :mod:`metatheory.learners.meta_sgd`) learns a per-parameter step
size together with the initialization (started at ``alpha``); it adapts at test time with its
learned step sizes, every other model with ``alpha``.

Evaluation, identical for every model: on ``n_eval`` held-out tasks (one fixed key shared by
all models, so comparisons are paired) take ``K`` support points, run plain gradient descent
with ``alpha`` and record the MSE on ``n_query_eval`` fresh points after every step
``0..max_eval_steps``. A second, independent set of evaluation tasks re-evaluates MAML (the
null comparison of the negative control). Meta-training runs as ``lax.scan`` over meta-steps
inside one jitted call per chunk, sampling the tasks from ``fold_in(key, step)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metatheory import nets
from metatheory.learners.meta_sgd import make_meta_sgd_step, meta_sgd_init
from metatheory.learners.train import make_meta_step
from metatheory.tasks import sinusoid

__all__ = [
    "SinusoidConfig",
    "QUICK",
    "FULL",
    "MODELS",
    "SinusoidResult",
    "run",
    "finn_init",
    "train_meta",
    "train_pooled",
    "adapt_curves",
]

MODELS = ("untrained", "naive", "pretrained", "maml", "fomaml", "reptile", "metasgd")
"""Models evaluated for every ``K``; MAML trained with ``n_inner_sens`` inner steps is added
for the inner-step sensitivity study (largest ``K`` only)."""


@dataclass(frozen=True)
class SinusoidConfig:
    k_shots: tuple[int, ...] = (5, 10)
    sizes: tuple[int, ...] = (1, 40, 40, 1)
    alpha: float = 0.01  # inner step size, training and test time (Finn et al.)
    beta: float = 1e-3  # Adam step size of the outer loop and of the pretrained baseline
    meta_batch: int = 25
    n_inner: int = 1  # inner steps during meta-training
    n_iters: int = 70_000  # meta-iterations (Finn et al.: 70k)
    reptile_inner: int = 5  # Reptile needs k > 1 inner steps (k = 1 is pooled SGD)
    naive_lr: float = 0.01
    naive_iters: int = 1000
    naive_tasks: int = 256
    n_inner_sens: int = 5  # a second MAML trained with this many steps (sensitivity)
    sens_iters: int = 20_000
    n_eval: int = 600
    n_query_eval: int = 100
    max_eval_steps: int = 10  # >= 2 * n_inner_sens: test-time N from 0 to 2x training N
    chunk: int = 1000  # meta-steps per jitted lax.scan call
    log_every: int = 100  # meta-loss curve: mean over windows of this many steps
    n_examples: int = 3  # example tasks whose predicted curves are kept for the figures
    n_grid: int = 200


QUICK = SinusoidConfig(n_iters=4000, sens_iters=2000, naive_iters=500, chunk=500, log_every=50)
FULL = SinusoidConfig()


@dataclass
class SinusoidResult:
    k_shots: np.ndarray  # (nK,)
    models: tuple[str, ...]
    mse: np.ndarray  # (nK, n_models, max_eval_steps + 1, n_eval): query MSE per task and step
    mse_null: np.ndarray  # (nK, max_eval_steps + 1, n_eval): MAML on independent eval tasks
    sens_mse: np.ndarray  # (max_eval_steps + 1, n_eval): MAML trained with n_inner_sens, K max
    sens_n_inner: int
    loss_curves: np.ndarray  # (nK, n_trained, n_iters // log_every): training loss
    loss_models: tuple[str, ...]
    grid: np.ndarray  # (n_grid,)
    example_amp: np.ndarray  # (n_examples,)
    example_phase: np.ndarray
    example_x: np.ndarray  # (n_examples, K_max) support inputs (the first K are used)
    example_pred: np.ndarray  # (nK, n_models, n_examples, max_eval_steps + 1, n_grid)
    sample_amp: np.ndarray  # a few tasks of the family, for the "tasks sampled" figure
    sample_phase: np.ndarray
    n_iters: int
    config: SinusoidConfig


def finn_init(key: jax.Array, sizes: tuple[int, ...], std: float = 0.01) -> list[dict]:
    """Finn et al.'s initialization of the MLP: weights from a normal with standard deviation
    ``std`` truncated at two standard deviations, zero biases (their ``construct_fc_weights``).
    He-scaled weights give the loss a curvature at which ``alpha = 0.01`` diverges."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": std * jax.random.truncated_normal(kk, -2.0, 2.0, (n_in, n_out), jnp.float32),
            "b": jnp.zeros((n_out,), jnp.float32),
        }
        for kk, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def _pooled_loss(params, x, y):
    return nets.mse_loss(params, x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]))


def _scan_train(step, params, opt_state, sample, key, n_iters, chunk, log_every):
    """Run ``n_iters`` of ``step(params, opt_state, batch) -> (params, opt_state, loss)``
    as jitted ``lax.scan`` chunks; batch ``i`` is ``sample(fold_in(key, i))``."""
    chunk = min(chunk, n_iters)
    if n_iters % chunk or chunk % log_every:
        raise ValueError(f"n_iters={n_iters} must be a multiple of chunk={chunk}, ... log_every")

    @jax.jit
    def run_chunk(params, opt_state, start):
        def body(carry, i):
            p, s = carry
            p, s, loss = step(p, s, sample(jax.random.fold_in(key, i)))
            return (p, s), loss

        (params, opt_state), losses = jax.lax.scan(
            body, (params, opt_state), start + jnp.arange(chunk)
        )
        return params, opt_state, losses.reshape(-1, log_every).mean(axis=1)

    curves = []
    for start in range(0, n_iters, chunk):
        params, opt_state, c = run_chunk(params, opt_state, start)
        curves.append(c)
    return params, np.asarray(jnp.concatenate(curves))


def train_meta(config: SinusoidConfig, key, k: int, method: str, n_inner: int, n_iters: int):
    """Meta-train from Finn's init: MAML / FOMAML / Reptile / Meta-SGD (``"metasgd"``) with
    Adam(beta), meta-batch ``meta_batch`` of ``K``-shot tasks. Returns ``(params, loss_curve)``;
    for Meta-SGD ``params`` is ``{"params": theta, "alpha": per-parameter step sizes}``."""
    c = config
    k_init, k_data = jax.random.split(key)
    params = finn_init(k_init, c.sizes)
    opt = optax.adam(c.beta)
    if method == "metasgd":
        params = meta_sgd_init(params, c.alpha)
        meta_step = make_meta_sgd_step(nets.mse_loss, opt, n_inner=n_inner)
    else:
        meta_step = make_meta_step(
            nets.mse_loss, opt, alpha=c.alpha, n_inner=n_inner, method=method
        )

    def step(p, s, batch):
        return meta_step(p, s, *batch)

    def sample(kk):
        return sinusoid.sample_batch(kk, c.meta_batch, k, k)

    return _scan_train(
        step, params, opt.init(params), sample, k_data, n_iters, c.chunk, c.log_every
    )


def train_pooled(
    config: SinusoidConfig, key, *, n_tasks: int, n_points: int, lr: float, n_iters: int
):
    """Regression on the pooled points of ``n_tasks`` random sinusoids per step (Adam(lr))."""
    c = config
    k_init, k_data = jax.random.split(key)
    params = finn_init(k_init, c.sizes)
    opt = optax.adam(lr)

    def step(p, s, batch):
        loss, g = jax.value_and_grad(_pooled_loss)(p, *batch[0])
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def sample(kk):
        return sinusoid.sample_batch(kk, n_tasks, n_points, 1)

    chunk = min(c.chunk, n_iters)
    log_every = min(c.log_every, chunk)
    return _scan_train(step, params, opt.init(params), sample, k_data, n_iters, chunk, log_every)


def adapt_curves(params, x_s, y_s, x_q, *, alpha, n_steps: int):
    """Predictions on ``x_q`` after ``0..n_steps`` plain GD steps on ``(x_s, y_s)``, one task:
    shape ``(n_steps + 1, *x_q.shape[:-1])``. ``alpha`` is a scalar or a pytree like ``params``
    (Meta-SGD's per-parameter step sizes)."""
    if jax.tree_util.tree_structure(alpha) != jax.tree_util.tree_structure(params):
        alpha = jax.tree_util.tree_map(lambda p: alpha, params)

    def body(p, _):
        g = jax.grad(nets.mse_loss)(p, x_s, y_s)
        p2 = jax.tree_util.tree_map(lambda a, b, lr: a - lr * b, p, g, alpha)
        return p2, nets.apply(p, x_q)[..., 0]

    p_end, preds = jax.lax.scan(body, params, None, length=n_steps)
    return jnp.concatenate([preds, nets.apply(p_end, x_q)[None, ..., 0]])


def _evaluate(params, alpha, key, k, n_eval, n_query, n_steps):
    """Query MSE after ``0..n_steps`` GD steps for ``n_eval`` tasks: ``(n_steps + 1, n_eval)``."""
    (xs, ys), (xq, yq) = sinusoid.sample_batch(key, n_eval, k, n_query)
    preds = jax.vmap(lambda a, b, c: adapt_curves(params, a, b, c, alpha=alpha, n_steps=n_steps))(
        xs, ys, xq
    )  # (n_eval, n_steps + 1, n_query)
    return jnp.mean((preds - yq[:, None, :, 0]) ** 2, axis=-1).T


_evaluate_jit = jax.jit(_evaluate, static_argnums=(3, 4, 5, 6))


def run(config: SinusoidConfig, key: jax.Array) -> SinusoidResult:
    """Train every model for every ``K``, evaluate on held-out tasks, keep example curves."""
    c = config
    k_train, k_eval, k_null, k_ex, k_sample = jax.random.split(key, 5)
    grid = jnp.linspace(-5.0, 5.0, c.n_grid)[:, None]
    ex_amp, ex_phase = sinusoid.sample_tasks(k_ex, c.n_examples)
    kmax = max(c.k_shots)
    ex_x, ex_y = sinusoid.sample_points(jax.random.fold_in(k_ex, 1), ex_amp, ex_phase, kmax)
    n_steps = c.max_eval_steps
    n_trained = ("naive", "pretrained", "maml", "fomaml", "reptile", "metasgd")

    mse, mse_null, curves, ex_pred = [], [], [], []
    sens = None
    for k in c.k_shots:
        kk = jax.random.fold_in(k_train, k)
        params, curve = {}, {}
        params["untrained"] = finn_init(jax.random.fold_in(kk, 0), c.sizes)
        params["naive"], curve["naive"] = train_pooled(
            c, jax.random.fold_in(kk, 1), n_tasks=c.naive_tasks, n_points=1, lr=c.naive_lr,
            n_iters=c.naive_iters,
        )  # fmt: skip
        params["pretrained"], curve["pretrained"] = train_pooled(
            c, jax.random.fold_in(kk, 2), n_tasks=c.meta_batch, n_points=k, lr=c.beta,
            n_iters=c.n_iters,
        )  # fmt: skip
        for j, method in enumerate(("maml", "fomaml", "reptile", "metasgd")):
            n_in = c.reptile_inner if method == "reptile" else c.n_inner
            params[method], curve[method] = train_meta(
                c, jax.random.fold_in(kk, 3 + j if j < 3 else 8), k, method, n_in, c.n_iters
            )
        # every model adapts with alpha, Meta-SGD with its learned step sizes
        alphas = {m: c.alpha for m in MODELS}
        alphas["metasgd"] = params["metasgd"]["alpha"]
        params["metasgd"] = params["metasgd"]["params"]
        ev = lambda p, kk_=k_eval, a=c.alpha, k=k: _evaluate_jit(
            p, jnp.asarray(a) if np.isscalar(a) else a, kk_, k, c.n_eval, c.n_query_eval, n_steps
        )
        mse.append(np.stack([np.asarray(ev(params[m], a=alphas[m])) for m in MODELS]))
        mse_null.append(np.asarray(ev(params["maml"], k_null)))
        # the naive curve is shorter (naive_iters); pad with NaN so all curves share a length
        length = c.n_iters // c.log_every
        curves.append(
            np.stack(
                [
                    np.pad(
                        curve[m].astype(np.float64),
                        (0, length - curve[m].size),
                        constant_values=np.nan,
                    )
                    for m in n_trained
                ]
            )
        )
        adapt = jax.jit(
            jax.vmap(
                lambda p, a, xs, ys: adapt_curves(p, xs, ys, grid, alpha=a, n_steps=n_steps),
                in_axes=(None, None, 0, 0),
            )
        )
        ex_pred.append(
            np.stack(
                [np.asarray(adapt(params[m], alphas[m], ex_x[:, :k], ex_y[:, :k])) for m in MODELS]
            )
        )
        if k == kmax:
            p_sens, _ = train_meta(
                c, jax.random.fold_in(kk, 7), k, "maml", c.n_inner_sens, c.sens_iters
            )
            sens = np.asarray(ev(p_sens))

    s_amp, s_phase = sinusoid.sample_tasks(k_sample, 6)
    return SinusoidResult(
        k_shots=np.array(c.k_shots),
        models=MODELS,
        mse=np.stack(mse),
        mse_null=np.stack(mse_null),
        sens_mse=sens,
        sens_n_inner=c.n_inner_sens,
        loss_curves=np.stack(curves),
        loss_models=n_trained,
        grid=np.asarray(grid[:, 0]),
        example_amp=np.asarray(ex_amp),
        example_phase=np.asarray(ex_phase),
        example_x=np.asarray(ex_x[..., 0]),
        example_pred=np.stack(ex_pred),
        sample_amp=np.asarray(s_amp),
        sample_phase=np.asarray(s_phase),
        n_iters=c.n_iters,
        config=c,
    )
