"""Ledger row G8 ``learned_step_sizes``: differentiating through the inner optimizer, and
learned per-parameter step sizes (Meta-SGD).

The exact part (autodiff against the closed form of ∂L_Q/∂α) is deterministic. The training
part is statistical: the share of held-out tasks on which one model beats another, with its
Clopper–Pearson interval (tasks are iid given the trained models; the training seeds' noise is
not in the interval, which is why the calibration over fresh seeds is the honest false-alarm
measure).
"""

from __future__ import annotations

import numpy as np

from metatheory import mutants, stats
from metatheory.bounds import fomaml as bounds
from metatheory.claims import Check, Mutant, Summary, Verdict, claim
from metatheory.claims.fomaml._common import LINEAR_TOL
from metatheory.experiments import fomaml as ex
from metatheory.tasks import sinusoid

LEVEL = 1e-3
"""Tail probability of G8's two-sided intervals: each one-sided comparison has false-alarm
probability LEVEL / 2 = 5e-4 when its noise model (iid held-out tasks) holds."""

# --------------------------------------------------------------------------- mutants

_ALPHA_GRAD = "metatheory.bounds.fomaml:meta_sgd_alpha_gradient"


def _wrong_alpha_grad(transposed: bool, extra_power: int):
    """``make`` of a mutant of the ∂L_Q/∂α closed form: the Jacobian ``(I − HA)`` (or its
    transpose ``(I − AH)``) raised to ``N − 1 − j + extra_power``."""

    def make(orig):
        def wrong(theta0, h_s, b_s, h_q, b_q, alpha, n_steps):
            th = np.asarray(theta0, np.float64)
            a = np.broadcast_to(np.asarray(alpha, np.float64), th.shape)
            gs = []
            for _ in range(int(n_steps)):
                gs.append(np.asarray(h_s) @ th - b_s)
                th = th - a * gs[-1]
            v = np.asarray(h_q) @ th - b_q
            ha = a[:, None] * np.asarray(h_s) if transposed else np.asarray(h_s) * a[None, :]
            m = np.eye(th.size) - ha
            power = int(n_steps) - 1 + extra_power
            total = -sum(g * (np.linalg.matrix_power(m, power - j) @ v) for j, g in enumerate(gs))
            return total.sum() if np.ndim(alpha) == 0 else total

        return wrong

    return make


def _alpha_grad_exponent() -> Mutant:
    """Off-by-one in the power of the later-step Jacobians: (I − HA)^{N−j}."""
    return Mutant(
        "alpha-gradient-exponent",
        "∂L_Q/∂α closed form with (I − HA)^{N−j} (one factor too many)",
        _ALPHA_GRAD,
        _wrong_alpha_grad(transposed=False, extra_power=1),
    )


def _alpha_grad_transposed() -> Mutant:
    """(I − AH) for (I − HA): the transposed Jacobian (equal for a scalar step)."""
    return Mutant(
        "alpha-gradient-transposed",
        "∂L_Q/∂α closed form with (I − AH) for (I − HA) (the Jacobian transposed)",
        _ALPHA_GRAD,
        _wrong_alpha_grad(transposed=True, extra_power=0),
    )


# --------------------------------------------------------------------------- G8


def alpha_gradient_errors(r: ex.LearnedStepSizesResult):
    """Per N: max rel. err of the autodiff ∂L_Q/∂α against the calculator's closed form, for a
    scalar step and a per-parameter one."""
    es, ev = [], []
    for i, n in enumerate(r.n_inner):
        s_err, v_err = [], []
        for t in range(r.theta0.shape[1]):
            args = (r.theta0[i, t], r.h_s[i, t], r.b_s[i, t], r.h_q[i, t], r.b_q[i, t])
            cs = bounds.meta_sgd_alpha_gradient(*args, r.alpha_scalar[i, t], int(n))
            cv = bounds.meta_sgd_alpha_gradient(*args, r.alpha_vector[i, t], int(n))
            s_err.append(abs(r.grad_scalar[i, t] - cs) / abs(cs))
            v_err.append(np.linalg.norm(r.grad_vector[i, t] - cv) / np.linalg.norm(cv))
        es.append(max(s_err))
        ev.append(max(v_err))
    return np.array(es), np.array(ev)


def _share(better) -> stats.Interval:
    """Share of held-out tasks where ``better`` holds, with its Clopper–Pearson interval at the
    tail probability ``LEVEL`` (``LEVEL / 2`` on each side)."""
    better = np.asarray(better, bool).ravel()
    k, n = int(better.sum()), better.size
    low, high = stats.clopper_pearson(k, n, level=LEVEL)
    return stats.Interval(k / n, low, high, LEVEL, n)


@claim(
    "G8",
    name="learned_step_sizes",
    statement="∂L_Q(θ_N)/∂α by autodiff equals its closed form on quadratic tasks; per-parameter "
    "step sizes (Meta-SGD) are trainable and beat a fixed α on most sinusoid tasks.",
    latex=r"$\frac{\partial L_Q(\theta_N)}{\partial a} = -\sum_{j<N} g_j\odot"
    r"\big((I-HA)^{N-1-j}\nabla L_Q(\theta_N)\big)$",
    source="Li et al. 2017 (Meta-SGD); Finn et al. 2017",
    experiment=ex.learned_step_sizes,
    presets=ex.LEARNED_STEP_SIZES_PRESETS,
    evidence="comparison",
    cites=["li2017metasgd", "finn2017maml"],
    seed=42,
    statistical=True,
    mutants=[
        _alpha_grad_exponent(),
        _alpha_grad_transposed(),
        mutants.maml_first_order(),
    ],
)
def check_g8(r: ex.LearnedStepSizesResult) -> Verdict:
    """The comparisons are shares of held-out tasks, not mean differences: one inner step with
    a learned per-parameter step overshoots on a few tasks, so per-task differences are
    heavy-tailed (one task can outweigh hundreds in a mean). Means are stated beside the
    shares."""
    es, ev = alpha_gradient_errors(r)
    exact = max(es.max(), ev.max())
    diff = stats.mean_ci(r.mse_fixed - r.mse_learned, level=LEVEL)
    wins = _share(r.mse_learned < r.mse_fixed)
    wins_zero = _share(r.mse_learned < r.mse_zero)
    fixed = stats.mean_ci(r.mse_fixed, level=LEVEL)
    learned = stats.mean_ci(r.mse_learned, level=LEVEL)
    zero = stats.mean_ci(r.mse_zero, level=LEVEL)
    a = r.alpha_learned
    moved = float(np.mean(np.abs(a - r.alpha_fixed) > 1e-3 * r.alpha_fixed))
    negative = float(np.mean(a < 0))
    return Verdict.of(
        [
            Check.at_most(
                "autodiff-equals-closed-form",
                exact,
                LINEAR_TOL,
                what=f"scalar and per-parameter α, N ∈ {tuple(int(n) for n in r.n_inner)}: ",
                digits=2,
            ),
            Check.ci_above("learned-beats-fixed", wins, 0.5),
            Check.ci_above("adapts-beyond-zero", wins_zero, 0.5),
            Check(
                "control: fixed beats learned",
                not _share(r.mse_fixed < r.mse_learned).low > 0.5,
                "the same test does not find the fixed step better on most tasks",
                control=True,
            ),
        ],
        predicted="autodiff = closed form; Meta-SGD's post-adaptation MSE below fixed α's and "
        "below predicting 0",
        measured=f"autodiff vs closed form {exact:.1e}; learned α better than α = "
        f"{r.alpha_fixed:g} on {wins.estimate:.1%} of tasks (≥ {wins.low:.1%}), than predicting "
        f"0 on {wins_zero.estimate:.1%} (≥ {wins_zero.low:.1%}); MSE fixed {fixed}, learned "
        f"{learned}, zero {zero}; difference {diff}",
        numbers={
            "err": exact,
            "fixed": fixed.estimate,
            "fixedlow": fixed.low,
            "fixedhigh": fixed.high,
            "learned": learned.estimate,
            "learnedlow": learned.low,
            "learnedhigh": learned.high,
            "zero": zero.estimate,
            "pooled": sinusoid.pooled_mse(),
            "diff": diff.estimate,
            "share": wins.estimate,
            "sharelow": wins.low,
            "sharezero": wins_zero.estimate,
            "difflow": diff.low,
            "diffhigh": diff.high,
            "tasks": r.mse_fixed.size,
            "seeds": r.curves.shape[1],
            "steps": r.curves.shape[2],
            "alphafixed": r.alpha_fixed,
            "alphamedian": float(np.median(a)),
            "alphalow": float(np.percentile(a, 5)),
            "alphahigh": float(np.percentile(a, 95)),
            "negative": negative,
            "moved": moved,
        },
        note=f"{negative:.0%} of the learned step sizes are negative (5th percentile "
        f"{np.percentile(a, 5):.3g}): Meta-SGD leaves α unconstrained, and a negative entry "
        "takes an ascent step on the support loss along that parameter, which the meta-objective "
        "(the query loss after adaptation) does not forbid.",
        evidence=r,
        summary=Summary.comparison(
            wins.low, wins.high, what="learned per-parameter α better than a fixed α"
        ),
    )
