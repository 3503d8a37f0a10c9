r"""Ledger row G9: Finn et al. (2017)'s sinusoid benchmark, MAML against the pretrained baseline.

The check predicts, on held-out tasks of Finn's family (``A ~ U[0.1, 5]``, ``φ ~ U[0, π]``,
``x ~ U[-5, 5]``):

1. **maml-beats-pretrained**: MAML's query MSE is below the pretrained baseline's (its
   test-time step tuned per seed, ``K`` and step count on validation tasks) on most held-out
   tasks after 1, 5 and 10 steps, for ``K = 5`` and ``K = 10``: the share of (training seed,
   task) pairs on which MAML is better, crossed bootstrap over training seeds and tasks,
   one-sided lower limits above 1/2.
2. **maml-improves-with-steps**: one test-time step lowers MAML's MSE on most tasks at every
   ``K``, and further steps keep lowering it (1 → 10) at ``K = 10`` (Finn et al., Sec. 5.1);
   the same share test.

3. **closed-form-tasks**: the closed-form pooled predictor :math:`-(2E[A]/\pi)\cos x` and the
   zero predictor score their closed-form MSEs (3.0057 and 4.2517) on ``n_closed`` tasks drawn
   by the same sampler: this pins the task distribution (t-intervals over tasks).
4. **pretrained-is-pooled-optimum**: the identity
   :math:`E(f-y)^2 = E_x(f-m)^2 + \mathrm{MSE}(m)` holds for every pretrained net :math:`f`
   before adaptation, with :math:`E_x(f-m)^2` integrated against the closed form :math:`m`.
5. **reference**: the stored MSEs after 1, 5, 10 steps are reproduced by an independent
   float64 gradient descent (own forward and backward pass, own mean-squared loss) with the
   configured ``α`` and number of steps, for MAML and for the baseline at its tuned step.

Why shares of tasks and not mean differences: MAML adapts at test time with its training
``α``, and on a few tasks (with ``K = 5``, after 5 or 10 steps) that gradient descent overshoots
or diverges, so the per-task differences are heavy-tailed and a mean (and its bootstrap) is
dominated by one task. The first calibration, which compared means, raised 4 false alarms in 50
quick runs, every one at ``K = 5`` after 5 or 10 steps on a run where one task's MSE reached
10²–10⁸. A share is bounded, so its bootstrap is valid whatever the tail; the means are
reported beside it, and the published comparison (means) is made at paper scale.

Published comparison (Finn, Abbeel, Levine 2017, App. C.1, Table 2, "showing 5-shot mean
squared error": MAML 0.67 / 0.38 / 0.35 and "pretrain on all tasks" 2.41 / 2.23 / 2.19 after
1 / 5 / 10 steps; one model meta-trained with ``K = 10`` per their Sec. 5.1). The rule: at
``K = 5``, a published value (± 0.005, its rounding) inside our 95% crossed-bootstrap interval
is *reproduced*; below the interval, *missed* (we are worse); above it, *beaten*. Only the
full preset is compared (the quick preset trains for about 1/50 of Finn's iterations); a missed
MAML value turns the verdict into ``holds-with-correction`` with our number stated. No
uncertainty is published with Table 2, so "reproduced" means only that their number is a
plausible value of our mean.

Divergence (paper scale): if MAML's test-time gradient descent diverges (query MSE above
``DIVERGED``) on some held-out tasks after 5 or 10 steps, its mean MSE there is unbounded and
the verdict is ``holds-with-correction``: the correction states the diverged fraction and the
medians. At the quick preset it is reported, not judged.

Mutants: the inner loop with N − 1 steps and with ``α/2`` (both in training and at test time),
the phase drawn from ``[0, 2π]``, query points drawn from other tasks than the support points,
and a summed instead of averaged squared error. First-order MAML is not declared: it also
beats the pretrained baseline by a wide margin (it is trained beside MAML in the full preset;
Finn et al., Sec. 5.2, find it nearly as good as MAML on MiniImagenet), so no prediction of
this claim separates it from MAML.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from scipy import stats as st

from metatheory import mutants
from metatheory.claims import Check, Verdict, claim
from metatheory.experiments import sinusoid as ex
from metatheory.mutants import Mutant
from metatheory.tasks import sinusoid as tasks

CHECK_STEPS = (1, 5, 10)
"""Test-time gradient steps at which Finn et al. give the post-update MSE."""
IMPROVE_STEPS = ((0, 1), (1, 10))
"""MAML's MSE must drop from the first to the second step count of each pair: one step helps
at every ``K``; further steps keep helping (Finn et al., Sec. 5.1) at the largest ``K``, where
the quick preset's short training shows it on every seed (at ``K = 5`` a seed's 1 → 10 gain can
be undone by one task whose adaptation overshoots)."""
PUBLISHED_K = 5
"""Finn et al. (2017), App. C.1, Table 2: "showing 5-shot mean squared error"."""
PUBLISHED_MAML = (0.67, 0.38, 0.35)
"""Finn et al. (2017), App. C.1, Table 2: MAML after 1 / 5 / 10 steps (K = 5)."""
PUBLISHED_PRETRAINED = (2.41, 2.23, 2.19)
"""Finn et al. (2017), App. C.1, Table 2: "pretrain on all tasks" after 1 / 5 / 10 steps."""
PUBLISHED_ROUNDING = 0.005
"""The published values are rounded to two decimals."""
BEATS_LEVEL = 3e-4
"""Family-wise level of the 'beats' comparisons: each of the 2 × 3 one-sided lower limits at
3e-4/6 (Bonferroni). With IMPROVE_LEVEL and CLOSED_LEVEL the claim's level is 0.9e-3
(claims.CLAIM_LEVEL)."""
IMPROVE_LEVEL = 3e-4
"""Family-wise level of the 'improves with steps' comparisons (Bonferroni over the 3)."""
CLOSED_LEVEL = 3e-4
"""Family-wise level of the three closed-form equalities (pooled, zero, identity), each a
two-sided t-interval at 1 − 3e-4/3: a false alarm is a miscoverage of a true mean."""
CURVE_LEVEL = 0.95
"""Level of the intervals shown in the table and figures and used for the published
comparison."""
DIVERGED = 1e3
"""A query MSE above this (over 200 times the zero predictor's 4.25) means the test-time
gradient descent diverged on that task."""
REF_TASKS = 4
"""Held-out tasks recomputed by the independent reference (for each K, model and step)."""
REF_TOL = 1e-3
"""Relative agreement of the float32 evaluation with the float64 reference,
``|a − b| / (|b| + 1e-3)``: float32 rounding (6e-8 relative per operation, sums of ≤ 40 terms,
≤ 10 gradient steps of a map with ``αL < 1``) stays below 1e-5; a wrong step size (``α/2``),
one step fewer, or a summed loss change the MSE by tens of percent."""


def _phase_full_circle() -> Mutant:
    """φ ~ U[0, 2π]: 'the phase varies over a full period' misread for Finn's [0, π]."""

    def make(orig):
        def wrong(key, n_tasks, family=tasks.FINN):
            return orig(key, n_tasks, tasks.SinusoidFamily(phase_range=(0.0, 2 * np.pi)))

        return wrong

    return Mutant(
        "phase-0-2pi",
        "task sampler draws the phase from [0, 2π] instead of [0, π]",
        "metatheory.tasks.sinusoid:sample_tasks",
        make,
    )


def _query_other_tasks() -> Mutant:
    """The query set drawn from freshly sampled tasks, not from the support set's tasks."""

    def make(orig):
        def wrong(key, n_tasks, k_support, k_query, family=tasks.FINN):
            supp, _ = orig(key, n_tasks, k_support, k_query, family)
            _, query = orig(jax.random.fold_in(key, 1), n_tasks, k_support, k_query, family)
            return supp, query

        return wrong

    return Mutant(
        "query-other-tasks",
        "meta-batch sampler draws the query points from other tasks than the support points",
        "metatheory.tasks.sinusoid:sample_batch",
        make,
    )


def _mse_sum() -> Mutant:
    """Sum of squared errors where the mean is meant (the loss and its gradient K times too
    large)."""

    def make(orig):
        def wrong(params, x, y):
            return orig(params, x, y) * y.shape[-2]

        return wrong

    return Mutant(
        "mse-sum",
        "squared errors summed over the points instead of averaged",
        "metatheory.nets:mse_loss",
        make,
    )


@dataclass
class SinusoidEvidence:
    """The experiment's result and what the check derived from it, for tests and figures."""

    result: ex.SinusoidResult
    curve: np.ndarray  # (n_models, nK, steps + 1, 3): mean, low, high at CURVE_LEVEL
    median: np.ndarray  # (n_models, nK, steps + 1): median over seeds and tasks
    diverged: np.ndarray  # (n_models, nK, steps + 1): fraction of (seed, task) with MSE > DIVERGED
    ref_err: float
    ref_err_control: float
    excess: np.ndarray  # (n_seeds,) E_x (f - m)^2 of each pretrained net
    pooled_hat: tuple[float, float, float]  # MSE of the closed-form pooled predictor on tasks
    zero_hat: tuple[float, float, float]
    identity_hat: tuple[float, float, float]
    published: dict  # (model, step) -> "reproduced" | "missed" | "beaten"


def _t_interval(samples, level):
    s = np.asarray(samples, np.float64)
    half = st.t.ppf(0.5 + level / 2, s.size - 1) * s.std(ddof=1) / np.sqrt(s.size)
    return float(s.mean()), float(s.mean() - half), float(s.mean() + half)


def _np_params(params):
    return [
        {"w": np.asarray(p["w"], np.float64), "b": np.asarray(p["b"], np.float64)} for p in params
    ]


def _np_forward(params, x):
    """The MLP in float64 numpy: ReLU hidden layers, linear output; ``x`` of shape ``(n,)``."""
    acts, pre = [x[:, None]], []
    for i, layer in enumerate(params):
        z = acts[-1] @ layer["w"] + layer["b"]
        pre.append(z)
        acts.append(np.maximum(z, 0.0) if i < len(params) - 1 else z)
    return acts, pre


def _np_gd(params, xs, ys, alpha, n_steps):
    """``n_steps`` of gradient descent on the mean squared error, by hand-written backprop."""
    params = [dict(p) for p in params]
    for _ in range(n_steps):
        acts, pre = _np_forward(params, xs)
        g = 2.0 * (acts[-1] - ys[:, None]) / xs.size
        grads = [None] * len(params)
        for i in reversed(range(len(params))):
            grads[i] = {"w": acts[i].T @ g, "b": g.sum(axis=0)}
            if i:
                g = (g @ params[i]["w"].T) * (pre[i - 1] > 0)
        params = [{k: p[k] - alpha * gr[k] for k in p} for p, gr in zip(params, grads, strict=True)]
    return params


def _np_mse(params, xq, yq):
    return float(np.mean((_np_forward(params, xq)[0][-1][:, 0] - yq) ** 2))


def _reference(r: ex.SinusoidResult, alpha_scale: float = 1.0) -> float:
    """Max relative disagreement between the stored MSEs (seed 0, first ``REF_TASKS`` tasks)
    and the float64 reference, for MAML at ``α`` and the baseline at its tuned step."""
    c = r.config
    worst = 0.0
    for model in ("maml", "pretrained"):
        im = r.models.index(model)
        p0 = _np_params(r.params0[model])
        for ik, k in enumerate(c.k_eval):
            for s in CHECK_STEPS:
                a = c.alpha if model == "maml" else float(r.pre_alpha[0, ik, s])
                for t in range(REF_TASKS):
                    xs, ys = (
                        r.support_x[t, :k].astype(np.float64),
                        r.support_y[t, :k].astype(np.float64),
                    )
                    p = _np_gd(p0, xs, ys, alpha_scale * a, s)
                    ref = _np_mse(
                        p, r.query_x[t].astype(np.float64), r.query_y[t].astype(np.float64)
                    )
                    got = float(r.mse[im, 0, ik, s, t])
                    worst = max(worst, abs(got - ref) / (abs(ref) + 1e-3))
    return worst


def _excess(r: ex.SinusoidResult) -> np.ndarray:
    """E_x (f(x) − m(x))² of each pretrained net by the trapezoid rule, m the closed form."""
    x = r.quad_x
    sq = (r.pre_on_grid - tasks.pooled_mean(x)[None]) ** 2
    return np.trapezoid(sq, x, axis=1) / np.ptp(x)


def _median(a) -> float:
    """Median over seeds and tasks, a diverged (non-finite) MSE counted as +inf."""
    a = np.asarray(a, np.float64)
    return float(np.median(np.where(np.isfinite(a), a, np.inf)))


def _share_better(r: ex.SinusoidResult, a, b, alpha: float):
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


def _fmt_mse(x) -> str:
    """A mean MSE, or "diverges" when test-time descent blew it up."""
    return f"{x:.2f}" if np.isfinite(x) and x < DIVERGED else "diverges"


@claim(
    "G9",
    name="sinusoid_benchmark",
    statement="On Finn et al.'s sinusoid tasks MAML beats the pretrained baseline (step tuned) "
    "on most tasks after 1, 5 and 10 steps (published K=5 MSE 0.67/0.38/0.35 vs 2.41/2.23/2.19).",
    latex=r"$P_{\text{task}}\bigl(\mathrm{MSE}_{\mathrm{MAML}}(s) < "
    r"\mathrm{MSE}_{\mathrm{pretrained}}(s)\bigr) > \tfrac12$, "
    r"$s = 1, 5, 10$ test-time steps, $K = 5, 10$",
    source="Finn, Abbeel, Levine 2017, Sec. 5.1, App. C.1 (Table 2)",
    experiment=ex.benchmark,
    presets=ex.PRESETS,
    seed=9,
    statistical=True,
    # the published comparison is judged only at paper scale, where test-time descent with
    # Finn's alpha diverges on a few tasks (the correction); the quick preset cannot see it
    expected={"quick": "holds", "full": "holds-with-correction"},
    mutants=[
        mutants.maml_off_by_one(-1),
        mutants.maml_alpha_scaled(0.5),
        _phase_full_circle(),
        _query_other_tasks(),
        _mse_sum(),
    ],
)
def check_g9(r: ex.SinusoidResult) -> Verdict:
    c = r.config
    ks = [int(k) for k in c.k_eval]
    im, ip = r.models.index("maml"), r.models.index("pretrained")
    boot = r.boot  # (n_models, nK, steps + 1, n_boot): replicate means, for the curves

    # 1. MAML beats the tuned baseline on most tasks: crossed-bootstrap share of paired wins
    n_cmp = len(ks) * len(CHECK_STEPS)
    beats, beats_txt, reversed_ = True, [], False
    for ik, k in enumerate(ks):
        for s in CHECK_STEPS:
            share, lo, hi = _share_better(r, r.mse[im, :, ik, s], r.mse[ip, :, ik, s],
                                          BEATS_LEVEL / n_cmp)  # fmt: skip
            beats &= lo > 0.5
            reversed_ |= hi < 0.5
            beats_txt.append(f"K={k} s={s}: {share:.0%} (≥ {lo:.0%})")

    # 2. MAML improves with steps on most tasks
    pairs = [(ik, k, s0, s1) for ik, k in enumerate(ks) for s0, s1 in IMPROVE_STEPS
             if s0 == 0 or k == max(ks)]  # fmt: skip
    n_imp = len(pairs)
    improves, improve_txt = True, []
    for ik, k, s0, s1 in pairs:
        share, lo, _ = _share_better(r, r.mse[im, :, ik, s1], r.mse[im, :, ik, s0],
                                     IMPROVE_LEVEL / n_imp)  # fmt: skip
        improves &= lo > 0.5
        improve_txt.append(f"K={k} {s0}→{s1}: {share:.0%} (≥ {lo:.0%})")

    # 3. closed forms of the task distribution on the held-out tasks
    lvl = 1 - CLOSED_LEVEL / 3
    pooled, zero = tasks.pooled_mse(), tasks.zero_mse()
    m_q = tasks.pooled_mean(r.closed_x)
    pooled_hat = _t_interval(np.mean((m_q - r.closed_y) ** 2, axis=1), lvl)
    zero_hat = _t_interval(np.mean(r.closed_y.astype(np.float64) ** 2, axis=1), lvl)
    closed_ok = pooled_hat[1] <= pooled <= pooled_hat[2] and zero_hat[1] <= zero <= zero_hat[2]
    closed_control = not pooled_hat[1] <= zero <= pooled_hat[2]

    # 4. the pretrained nets before adaptation: MSE = E_x (f - m)^2 + MSE(m)
    excess = _excess(r)
    ident = r.mse[ip, :, 0, 0, :] - excess[:, None]  # (n_seeds, n_eval)
    identity_hat = (
        _t_interval(ident.mean(axis=0), lvl) if np.all(np.isfinite(ident)) else (np.nan,) * 3
    )
    identity_ok = identity_hat[1] <= pooled <= identity_hat[2]

    # 5. the independent reference
    ref_err = _reference(r)
    ref_control = _reference(r, alpha_scale=0.5)

    # curves with 95% intervals, and the published comparison (K = 5)
    lo_q, hi_q = (1 - CURVE_LEVEL) / 2, (1 + CURVE_LEVEL) / 2
    with np.errstate(invalid="ignore"):  # a diverged adaptation: inf and nan replicates
        curve = np.stack(
            [r.mse.mean(axis=(1, 4)), *np.quantile(boot, [lo_q, hi_q], axis=-1)], axis=-1
        )  # (n_models, nK, steps + 1, 3)
    diverged = np.mean(~(r.mse < DIVERGED), axis=(1, 4))  # (n_models, nK, steps + 1)
    published, missed = {}, []
    if PUBLISHED_K in ks:
        ik5 = ks.index(PUBLISHED_K)
        for model, pubs in (("maml", PUBLISHED_MAML), ("pretrained", PUBLISHED_PRETRAINED)):
            for s, pub in zip(CHECK_STEPS, pubs, strict=True):
                j = r.models.index(model)
                mean, lo, hi = curve[j, ik5, s]
                if not np.isfinite(hi) or pub + PUBLISHED_ROUNDING < lo:
                    published[model, s] = "missed"
                elif pub - PUBLISHED_ROUNDING > hi:
                    published[model, s] = "beaten"
                else:
                    published[model, s] = "reproduced"
                if model == "maml" and published[model, s] == "missed":
                    ours = (
                        f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"
                        if diverged[j, ik5, s] == 0
                        else f"unbounded (diverges on {100 * diverged[j, ik5, s]:.2g}% of tasks; "
                        f"median {_median(r.mse[j, :, ik5, s]):.2f})"
                    )
                    missed.append(f"{s} step{'s' if s > 1 else ''}: {ours} vs {pub}")
    judged = c.compare_published
    later_diverged = bool(np.any(diverged[im][:, list(CHECK_STEPS[1:])] > 0))
    outcome = "holds-with-correction" if judged and (missed or later_diverged) else "holds"

    numbers = {
        "neval": c.n_eval,
        "nval": c.n_val,
        "seeds": c.n_seeds,
        "iters": f"{c.n_iters:,}",
        "pooled": pooled,
        "zero": zero,
        "pooledhat": pooled_hat[0],
        "zerohat": zero_hat[0],
        "identityhat": identity_hat[0],
        "excess": float(np.mean(excess)),
        "referr": ref_err,
        "referrcontrol": ref_control,
    }
    for j, model in enumerate(r.models):
        for ik, k in enumerate(ks):
            for s in (0, *CHECK_STEPS):
                for tag, x in zip(("", "lo", "hi"), curve[j, ik, s], strict=True):
                    # an unbounded mean (diverged adaptation) is stated, not printed as a number
                    numbers[f"{model}k{k}s{s}{tag}"] = (
                        x if _fmt_mse(x) != "diverges" else "unbounded"
                    )
    for ik, k in enumerate(ks):
        for s in CHECK_STEPS:
            numbers[f"prealphak{k}s{s}"] = float(np.median(r.pre_alpha[:, ik, s]))
            numbers[f"mamlk{k}s{s}div"] = float(diverged[im, ik, s])
            numbers[f"mamlk{k}s{s}med"] = _median(r.mse[im, :, ik, s])
            numbers[f"pretrainedk{k}s{s}med"] = _median(r.mse[ip, :, ik, s])
    for s, pm, pp in zip(CHECK_STEPS, PUBLISHED_MAML, PUBLISHED_PRETRAINED, strict=True):
        numbers[f"pubmamls{s}"] = pm
        numbers[f"pubpres{s}"] = pp
        numbers[f"pubmamls{s}match"] = published.get(("maml", s), "n/a")
        numbers[f"pubpres{s}match"] = published.get(("pretrained", s), "n/a")

    note = (
        f"Pooled regression cannot predict 0 here: with φ ∈ [0, π] its optimum is "
        f"−(2E[A]/π)cos x, MSE {pooled:.3f} (predicting 0: {zero:.3f})."
    )
    if published:
        note += (
            " Published K=5 numbers: "
            + ", ".join(f"{m} {s}: {v}" for (m, s), v in published.items())
            + ("" if judged else " (not judged at this preset)")
            + "."
        )
    if judged and later_diverged:
        note += (
            " Correction: MAML's test-time gradient descent with alpha = "
            f"{c.alpha:g} diverges (MSE > {DIVERGED:g}) on "
            + ", ".join(
                f"{100 * diverged[im, ik, s]:.2g}% of the K={k} tasks after {s} steps"
                for ik, k in enumerate(ks)
                for s in CHECK_STEPS[1:]
                if diverged[im, ik, s] > 0
            )
            + " (seeds and tasks pooled), so its mean MSE there is unbounded, although it beats "
            "the baseline on most tasks; medians "
            + ", ".join(
                f"K={k} s={s}: {numbers[f'mamlk{k}s{s}med']:.2f} vs "
                f"{numbers[f'pretrainedk{k}s{s}med']:.2f}"
                for k in ks
                for s in CHECK_STEPS[1:]
            )
            + "."
        )
    if judged and missed:
        note += (
            (" Against the published K=5 values, ours" if later_diverged else " Correction: ours")
            + " after "
            + "; ".join(missed)
            + "."
        )
    fmt = " / ".join
    return Verdict.of(
        [
            Check(
                "maml-beats-pretrained",
                beats,
                "; ".join(beats_txt),
                f"share of tasks: bootstrap lower limits > 1/2 (family level {BEATS_LEVEL:g})",
                level=BEATS_LEVEL,
            ),
            Check(
                "maml-improves-with-steps",
                improves,
                "; ".join(improve_txt),
                f"share of tasks: lower limits > 1/2 (family level {IMPROVE_LEVEL:g})",
                level=IMPROVE_LEVEL,
            ),
            Check(
                "closed-form-tasks",
                closed_ok,
                f"pooled predictor {pooled_hat[0]:.3f} [{pooled_hat[1]:.3f}, {pooled_hat[2]:.3f}] "
                f"vs {pooled:.4f}; zero {zero_hat[0]:.3f} [{zero_hat[1]:.3f}, {zero_hat[2]:.3f}] "
                f"vs {zero:.4f}",
                f"t-intervals at {lvl:.4f} contain the closed forms",
                level=2 * CLOSED_LEVEL / 3,
            ),
            Check(
                "pretrained-is-pooled-optimum",
                identity_ok,
                f"MSE − E(f−m)² = {identity_hat[0]:.3f} [{identity_hat[1]:.3f}, "
                f"{identity_hat[2]:.3f}] vs {pooled:.4f} (E(f−m)² = {np.mean(excess):.3f})",
                f"t-interval at {lvl:.4f} contains the closed form",
                level=CLOSED_LEVEL / 3,
            ),
            Check(
                "reference",
                ref_err <= REF_TOL,
                f"{ref_err:.1e}",
                f"float64 reference, relative ≤ {REF_TOL:g}",
            ),
            Check(
                "control: pretrained beats MAML",
                not reversed_,
                "the same test finds no comparison with MAML better on under half the tasks",
                control=True,
            ),
            Check(
                "control: pooled optimum is zero",
                closed_control,
                f"the pooled predictor's interval excludes the zero predictor's {zero:.3f}",
                control=True,
            ),
            Check(
                "control: reference at α/2",
                ref_control > REF_TOL,
                f"{ref_control:.1e}",
                control=True,
            ),
        ],
        outcome=outcome,
        predicted="MAML better than the tuned pretrained net on most tasks after 1, 5, 10 steps "
        "(K=5, 10); MAML improves with steps on most tasks; closed forms of the task family; "
        "reference reproduced"
        + (f"; published K=5 MAML {fmt(map(str, PUBLISHED_MAML))}" if judged else ""),
        measured="; ".join(
            f"K={k}: MAML {fmt(_fmt_mse(curve[im, ik, s, 0]) for s in CHECK_STEPS)} vs "
            f"pretrained {fmt(_fmt_mse(curve[ip, ik, s, 0]) for s in CHECK_STEPS)}"
            for ik, k in enumerate(ks)
        )
        + f" ({c.n_seeds} seeds × {c.n_eval} tasks, {c.n_iters:,} meta-steps)",
        numbers=numbers,
        note=note,
        evidence=SinusoidEvidence(
            result=r,
            curve=curve,
            median=np.median(np.where(np.isfinite(r.mse), r.mse, np.inf), axis=(1, 4)),
            diverged=diverged,
            ref_err=ref_err,
            ref_err_control=ref_control,
            excess=excess,
            pooled_hat=pooled_hat,
            zero_hat=zero_hat,
            identity_hat=identity_hat,
            published=published,
        ),
    )
