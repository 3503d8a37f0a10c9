"""G9's reference computations: an independent float64 gradient descent on the MLP (own forward
and backward pass, own mean-squared loss), the pretrained nets' excess over the pooled optimum,
and the share of (training seed, task) pairs on which one model is better."""

from __future__ import annotations

import numpy as np
from scipy import stats as st

from metatheory.experiments import sinusoid as ex
from metatheory.tasks import sinusoid as tasks

__all__ = ["np_params", "np_forward", "np_gd", "np_mse", "excess", "median", "share_better"]


def np_params(params):
    return [
        {"w": np.asarray(p["w"], np.float64), "b": np.asarray(p["b"], np.float64)} for p in params
    ]


def np_forward(params, x):
    """The MLP in float64 numpy: ReLU hidden layers, linear output; ``x`` of shape ``(n,)``."""
    acts, pre = [x[:, None]], []
    for i, layer in enumerate(params):
        z = acts[-1] @ layer["w"] + layer["b"]
        pre.append(z)
        acts.append(np.maximum(z, 0.0) if i < len(params) - 1 else z)
    return acts, pre


def np_gd(params, xs, ys, alpha, n_steps):
    """``n_steps`` of gradient descent on the mean squared error, by hand-written backprop."""
    params = [dict(p) for p in params]
    for _ in range(n_steps):
        acts, pre = np_forward(params, xs)
        g = 2.0 * (acts[-1] - ys[:, None]) / xs.size
        grads = [None] * len(params)
        for i in reversed(range(len(params))):
            grads[i] = {"w": acts[i].T @ g, "b": g.sum(axis=0)}
            if i:
                g = (g @ params[i]["w"].T) * (pre[i - 1] > 0)
        params = [{k: p[k] - alpha * gr[k] for k in p} for p, gr in zip(params, grads, strict=True)]
    return params


def np_mse(params, xq, yq):
    return float(np.mean((np_forward(params, xq)[0][-1][:, 0] - yq) ** 2))


def excess(r: ex.SinusoidBenchmarkResult) -> np.ndarray:
    """E_x (f(x) − m(x))² of each pretrained net by the trapezoid rule, m the closed form."""
    x = r.quad_x
    sq = (r.pre_on_grid - tasks.pooled_mean(x)[None]) ** 2
    return np.trapezoid(sq, x, axis=1) / np.ptp(x)


def median(a) -> float:
    """Median over seeds and tasks, a diverged (non-finite) MSE counted as +inf."""
    a = np.asarray(a, np.float64)
    return float(np.median(np.where(np.isfinite(a), a, np.inf)))


def share_better(r: ex.SinusoidBenchmarkResult, a, b, alpha: float):
    """Share of (training seed, held-out task) pairs on which ``a`` < ``b`` (query MSEs, each
    ``(n_seeds, n_eval)``; a diverged, non-finite ``a`` is never better), with one-sided
    ``alpha`` normal limits from the crossed bootstrap's standard error (the share averages
    thousands of pairs; a few thousand percentile resamples cannot resolve tails of 1e-5):
    ``(share, low, high)``."""
    with np.errstate(invalid="ignore"):
        win = (np.asarray(a) < np.asarray(b)).astype(np.float64)
    reps = ex.crossed_bootstrap(win, *r.boot_counts)
    share = float(win.mean())
    half = float(st.norm.ppf(1 - alpha) * reps.std(ddof=1))
    return share, share - half, share + half
