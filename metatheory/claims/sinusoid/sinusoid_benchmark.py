r"""G9 ``sinusoid_benchmark``: Finn et al. (2017)'s sinusoid benchmark, MAML against the
pretrained baseline, on held-out tasks of Finn's family (``A ~ U[0.1, 5]``, ``φ ~ U[0, π]``,
``x ~ U[-5, 5]``; Finn, Abbeel, Levine 2017, Sec. 5.1, App. C.1):

1. **maml-beats-pretrained**: MAML's query MSE is below the pretrained baseline's (its test-time
   step tuned per seed, ``K`` and step count on validation tasks) on most (training seed, task)
   pairs after 1, 5 and 10 steps, ``K = 5, 10``: one-sided lower limits of the share above 1/2
   (crossed bootstrap over seeds and tasks; family level :data:`BEATS_LEVEL`). Shares, not mean
   differences: where test-time descent overshoots the per-task differences are heavy-tailed,
   and a share is bounded.
2. **maml-improves-with-steps**: one step lowers MAML's MSE on most tasks at every ``K``, further
   steps (1 → 10) at ``K = 10``; the same share test (:data:`IMPROVE_LEVEL`).
3. **closed-form-tasks**: the pooled predictor :math:`-(2E[A]/\pi)\cos x` and the zero predictor
   score their closed-form MSEs (3.0057, 4.2517): t-intervals over tasks (:data:`CLOSED_LEVEL`).
4. **pretrained-is-pooled-optimum**: :math:`E(f-y)^2 = E_x(f-m)^2 + \mathrm{MSE}(m)` for every
   pretrained net :math:`f` before adaptation, :math:`m` the closed form.
5. **reference**: the stored MSEs are reproduced by an independent float64 gradient descent.

Published comparison (App. C.1, Table 2, ``K = 5``: MAML 0.67 / 0.38 / 0.35, "pretrain on all
tasks" 2.41 / 2.23 / 2.19 after 1 / 5 / 10 steps), at the full preset only: a published value
(± 0.005) inside our interval at :data:`CURVE_LEVEL` is *reproduced*, below it *missed*, above
it *beaten*. A missed MAML value, or MAML's test-time descent diverging (MSE above
:data:`DIVERGED`) after 5 or 10 steps, gives ``holds-with-correction``. A mean over (seed, task)
runs of which some diverged is reported as "diverged in k of n runs", never as a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from metatheory import mutants, stats
from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.sinusoid._common import (
    excess,
    median,
    np_gd,
    np_mse,
    np_params,
    share_better,
)
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
CURVE_LEVEL = 0.05
"""Tail probability of the intervals shown in the table and figures and used for the published
comparison."""
DIVERGED = 1e3
"""A query MSE above this (over 200 times the zero predictor's 4.25), or not finite, means the
test-time gradient descent diverged on that (seed, task) run."""
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
class SinusoidBenchmarkEvidence:
    """The experiment's result and what the check derived from it, for tests and figures."""

    result: ex.SinusoidBenchmarkResult
    curve: np.ndarray  # (n_models, nK, steps + 1, 3): mean, low, high (tail CURVE_LEVEL)
    median: np.ndarray  # (n_models, nK, steps + 1): median over seeds and tasks
    diverged: np.ndarray  # (n_models, nK, steps + 1): fraction of (seed, task) with MSE > DIVERGED
    ref_err: float
    ref_err_control: float
    excess: np.ndarray  # (n_seeds,) E_x (f - m)^2 of each pretrained net
    pooled_hat: tuple[float, float, float]  # MSE of the closed-form pooled predictor on tasks
    zero_hat: tuple[float, float, float]
    identity_hat: tuple[float, float, float]
    published: dict  # (model, step) -> "reproduced" | "missed" | "beaten"


def _reference(r: ex.SinusoidBenchmarkResult, alpha_scale: float = 1.0) -> float:
    """Max relative disagreement between the stored MSEs (seed 0, first ``REF_TASKS`` tasks)
    and the float64 reference, for MAML at ``α`` and the baseline at its tuned step."""
    c = r.config
    worst = 0.0
    for model in ("maml", "pretrained"):
        im = r.models.index(model)
        p0 = np_params(r.params0[model])
        for ik, k in enumerate(c.k_eval):
            for s in CHECK_STEPS:
                a = c.alpha if model == "maml" else float(r.pre_alpha[0, ik, s])
                for t in range(REF_TASKS):
                    xs, ys = (
                        r.support_x[t, :k].astype(np.float64),
                        r.support_y[t, :k].astype(np.float64),
                    )
                    p = np_gd(p0, xs, ys, alpha_scale * a, s)
                    ref = np_mse(
                        p, r.query_x[t].astype(np.float64), r.query_y[t].astype(np.float64)
                    )
                    got = float(r.mse[im, 0, ik, s, t])
                    worst = max(worst, abs(got - ref) / (abs(ref) + 1e-3))
    return worst


@claim(
    "G9",
    name="sinusoid_benchmark",
    statement="On Finn et al.'s sinusoid tasks MAML beats the pretrained baseline (step tuned) "
    "on most tasks after 1, 5 and 10 steps (published K=5 MSE 0.67/0.38/0.35 vs 2.41/2.23/2.19).",
    latex=r"$P_{\text{task}}\bigl(\mathrm{MSE}_{\mathrm{MAML}}(s) < "
    r"\mathrm{MSE}_{\mathrm{pretrained}}(s)\bigr) > \tfrac12$, "
    r"$s = 1, 5, 10$ test-time steps, $K = 5, 10$",
    source="Finn, Abbeel, Levine 2017, Sec. 5.1, App. C.1 (Table 2)",
    evidence="comparison",
    cites=["finn2017maml"],
    experiment=ex.benchmark,
    presets=ex.SINUSOID_BENCHMARK_PRESETS,
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
def check_g9(r: ex.SinusoidBenchmarkResult) -> Verdict:
    c = r.config
    ks = [int(k) for k in c.k_eval]
    im, ip = r.models.index("maml"), r.models.index("pretrained")
    boot = r.boot  # (n_models, nK, steps + 1, n_boot): replicate means, for the curves

    # 1. MAML beats the tuned baseline on most tasks: crossed-bootstrap share of paired wins
    n_cmp = len(ks) * len(CHECK_STEPS)
    beats, beats_txt, reversed_, beat_shares, beat_lows = True, [], False, [], []
    for ik, k in enumerate(ks):
        for s in CHECK_STEPS:
            share, lo, hi = share_better(r, r.mse[im, :, ik, s], r.mse[ip, :, ik, s],
                                         BEATS_LEVEL / n_cmp)  # fmt: skip
            beats &= lo > 0.5
            reversed_ |= hi < 0.5
            beat_shares.append(share)
            beat_lows.append(lo)
            beats_txt.append(f"K={k} s={s}: {share:.0%} (≥ {lo:.0%})")

    # 2. MAML improves with steps on most tasks
    pairs = [(ik, k, s0, s1) for ik, k in enumerate(ks) for s0, s1 in IMPROVE_STEPS
             if s0 == 0 or k == max(ks)]  # fmt: skip
    n_imp = len(pairs)
    improves, improve_txt = True, []
    for ik, k, s0, s1 in pairs:
        share, lo, _ = share_better(r, r.mse[im, :, ik, s1], r.mse[im, :, ik, s0],
                                    IMPROVE_LEVEL / n_imp)  # fmt: skip
        improves &= lo > 0.5
        improve_txt.append(f"K={k} {s0}→{s1}: {share:.0%} (≥ {lo:.0%})")

    # 3. closed forms of the task distribution on the held-out tasks (t-intervals over tasks)
    tail = CLOSED_LEVEL / 3
    pooled, zero = tasks.pooled_mse(), tasks.zero_mse()
    m_q = tasks.pooled_mean(r.closed_x)
    pooled_ci = stats.mean_ci(np.mean((m_q - r.closed_y) ** 2, axis=1), level=tail)
    zero_ci = stats.mean_ci(np.mean(r.closed_y.astype(np.float64) ** 2, axis=1), level=tail)

    # 4. the pretrained nets before adaptation: MSE = E_x (f - m)^2 + MSE(m)
    gap = excess(r)
    ident = r.mse[ip, :, 0, 0, :] - gap[:, None]  # (n_seeds, n_eval)
    identity_ci = (
        stats.mean_ci(ident.mean(axis=0), level=tail)
        if np.all(np.isfinite(ident))
        else stats.Interval(np.nan, np.nan, np.nan, tail, ident.shape[1])
    )

    # 5. the independent reference
    ref_err = _reference(r)
    ref_control = _reference(r, alpha_scale=0.5)

    # curves with their intervals, and the published comparison (K = 5)
    coverage = 1 - CURVE_LEVEL
    lo_q, hi_q = (1 - coverage) / 2, (1 + coverage) / 2
    with np.errstate(invalid="ignore"):  # a diverged adaptation: inf and nan replicates
        curve = np.stack(
            [r.mse.mean(axis=(1, 4)), *np.quantile(boot, [lo_q, hi_q], axis=-1)], axis=-1
        )  # (n_models, nK, steps + 1, 3)
    n_div = np.sum(~(r.mse < DIVERGED), axis=(1, 4))  # (n_models, nK, steps + 1)
    n_runs = r.mse.shape[1] * r.mse.shape[4]
    diverged = n_div / n_runs

    def runs_diverged(j, ik, s) -> str:
        return f"diverged in {n_div[j, ik, s]:,} of {n_runs:,} runs"

    def mean_text(j, ik, s) -> str:
        """The mean MSE, or how many runs diverged (no mean beside a diverged run)."""
        return runs_diverged(j, ik, s) if n_div[j, ik, s] else f"{curve[j, ik, s, 0]:.2f}"

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
                        if n_div[j, ik5, s] == 0
                        else f"{runs_diverged(j, ik5, s)} (median "
                        f"{median(r.mse[j, :, ik5, s]):.2f})"
                    )
                    missed.append(f"{s} step{'s' if s > 1 else ''}: {ours} vs {pub}")
    judged = c.compare_published
    later_diverged = bool(np.any(n_div[im][:, list(CHECK_STEPS[1:])] > 0))
    outcome = "holds-with-correction" if judged and (missed or later_diverged) else "holds"

    numbers = {
        "neval": c.n_eval,
        "nval": c.n_val,
        "seeds": c.n_seeds,
        "iters": f"{c.n_iters:,}",
        "pooled": pooled,
        "zero": zero,
        "pooledhat": pooled_ci.estimate,
        "zerohat": zero_ci.estimate,
        "identityhat": identity_ci.estimate,
        "excess": float(np.mean(gap)),
        "referr": ref_err,
        "referrcontrol": ref_control,
    }
    for j, model in enumerate(r.models):
        for ik, k in enumerate(ks):
            for s in (0, *CHECK_STEPS):
                for tag, x in zip(("", "lo", "hi"), curve[j, ik, s], strict=True):
                    # a mean over runs of which some diverged is stated, not printed as a number
                    numbers[f"{model}k{k}s{s}{tag}"] = (
                        runs_diverged(j, ik, s) if n_div[j, ik, s] else x
                    )
    for ik, k in enumerate(ks):
        for s in CHECK_STEPS:
            numbers[f"prealphak{k}s{s}"] = float(np.median(r.pre_alpha[:, ik, s]))
            numbers[f"mamlk{k}s{s}div"] = float(diverged[im, ik, s])
            numbers[f"mamlk{k}s{s}med"] = median(r.mse[im, :, ik, s])
            numbers[f"pretrainedk{k}s{s}med"] = median(r.mse[ip, :, ik, s])
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
            f"{c.alpha:g} diverges (MSE > {DIVERGED:g}): "
            + ", ".join(
                f"K={k} after {s} steps {runs_diverged(im, ik, s)}"
                for ik, k in enumerate(ks)
                for s in CHECK_STEPS[1:]
                if n_div[im, ik, s] > 0
            )
            + " (seed × task), so no mean is stated there (the shares above compare it with the "
            "baseline task by task); medians "
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
                pooled_ci.contains(pooled) and zero_ci.contains(zero),
                f"pooled predictor {pooled_ci} vs {pooled:.4f}; zero {zero_ci} vs {zero:.4f}",
                f"t-intervals (tail {tail:.1e} each) contain the closed forms",
                level=pooled_ci.level + zero_ci.level,
            ),
            Check.ci_contains("pretrained-is-pooled-optimum", identity_ci, pooled),
            Check.at_most(
                "reference", ref_err, REF_TOL, what="relative to the float64 reference ", digits=2
            ),
            Check(
                "control: pretrained beats MAML",
                not reversed_,
                "the same test finds no comparison with MAML better on under half the tasks",
                control=True,
            ),
            Check(
                "control: pooled optimum is zero",
                not pooled_ci.contains(zero),
                f"the pooled predictor's interval excludes the zero predictor's {zero:.3f}",
                control=True,
            ),
            Check.at_least(
                "control: reference at α/2", ref_control, REF_TOL, control=True, digits=2
            ),
        ],
        outcome=outcome,
        predicted="MAML better than the tuned pretrained net on most tasks after 1, 5, 10 steps "
        "(K=5, 10); MAML improves with steps on most tasks; closed forms of the task family; "
        "reference reproduced"
        + (f"; published K=5 MAML {fmt(map(str, PUBLISHED_MAML))}" if judged else ""),
        measured="; ".join(
            f"K={k}: MAML {fmt(mean_text(im, ik, s) for s in CHECK_STEPS)} vs "
            f"pretrained {fmt(mean_text(ip, ik, s) for s in CHECK_STEPS)}"
            for ik, k in enumerate(ks)
        )
        + f" ({c.n_seeds} seeds × {c.n_eval} tasks, {c.n_iters:,} meta-steps)",
        numbers=numbers,
        note=note,
        evidence=SinusoidBenchmarkEvidence(
            result=r,
            curve=curve,
            median=np.median(np.where(np.isfinite(r.mse), r.mse, np.inf), axis=(1, 4)),
            diverged=diverged,
            ref_err=ref_err,
            ref_err_control=ref_control,
            excess=gap,
            pooled_hat=(pooled_ci.estimate, pooled_ci.low, pooled_ci.high),
            zero_hat=(zero_ci.estimate, zero_ci.low, zero_ci.high),
            identity_hat=(identity_ci.estimate, identity_ci.low, identity_ci.high),
            published=published,
        ),
        summary=Summary.comparison(
            min(beat_lows),
            max(beat_shares),
            what="MAML better than the tuned pretrained baseline",
            over="(seed, task) pairs at 1, 5, 10 steps",
        ),
    )
