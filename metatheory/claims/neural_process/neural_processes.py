"""Ledger row B2 ``neural_processes``: conditional and latent neural processes trained on GP
tasks, against the GP oracle (Garnelo et al. 2018a,b; Kim et al. 2019), and the LNP's ELBO and
importance-weighted estimators (Burda et al. 2016) on a linear-Gaussian LNP."""

from __future__ import annotations

import numpy as np

from metatheory import stats
from metatheory.claims import Check, Summary, Verdict, claim
from metatheory.claims.neural_process._common import (
    _cnp_sigma_as_variance,
    _iwae_mean_log_weights,
    _kl_swapped,
)
from metatheory.experiments import neural_process as ex

FLAT_TOL = 1e-5
"""B2: |ELBO estimate − closed form| per target on the linear-Gaussian LNP whose decoder ignores z
(no Monte Carlo error): float32 rounding of ~20 log-densities of size ~1 and of a KL of ~0.1 nats
is ≤ ~1e-6 per target (measured ≤ 2e-7). A KL with swapped arguments moves a task's ELBO by
|KL(q_C‖q_CT) − KL(q_CT‖q_C)|, third order in their difference yet ≥ 5e-3 per target on the worst
task of every draw measured: the check takes the maximum over tasks."""
IWAE_SHARE = 0.5
"""B2 (ours): IWAE(K_max) must close more than half of the exact gap g = log p − ELBO, task by
task, on the tasks with g ≤ ½ log K_max (the through-origin slope of IWAE(K_max) − ELBO on g,
one-sided lower limit at LEVEL / 2). By Burda et al. (2016, Thm 1) IWAE(K) rises from the
ELBO (K = 1) to log p as K grows; its deficit is ≈ Var(w/p)/2K, which for log-normal weights is
(e^{2g} − 1)/2K: at most ½ nat, and under a fifth of g, when g ≤ ½ log K, so the share there is
≳ 0.8 (≈ 0.97 measured), while an estimator that averages the log-weights stays at the ELBO
(share ≈ 0); 1/2 separates the two. On a task with g ≫ log K no K-sample estimate can close
the gap (its rise above the ELBO grows like log K), so the tasks are selected by the exact g, a
closed form, not by a noisy estimate."""
LEVEL = 1e-4
"""B2: tail probability of every paired interval over held-out tasks (1e-4 false alarm for a
two-sided test, 5e-5 one-sided): with its 13 statistical sub-checks B2's designed level is
0.95e-3 (claims.CLAIM_LEVEL)."""
TREND_LEVEL = 1e-4
"""B2: the mean per-step training loss of the last window must lie below that of the second
window: a Welch interval of the difference (tail 1e-4) above 0 (false alarm 5e-5, one-sided).
Every step draws fresh tasks, so given the trajectory the per-step losses are independent."""
GAP_FRACTION = 0.5
"""B2 (our criterion, not the sources'): "within a stated gap of the oracle" is read as closing
at least half of the held-out NLL distance from the context-blind GP prior to the exact GP
posterior, averaged over contexts of 1–25 points: nearer the oracle than the prior. Judged
per task by a paired interval, at the plateau of training."""
PLATEAU_FRACTION = 0.2
"""B2: the NLL's mean per-task slope per added context point for n ≥ 15 must be flatter than a
fifth of the slope for n ≤ 4 (lower end of its interval): diminishing returns once the context
covers the input range (≈ 4/0.6 ≈ 7 lengthscales). The exact GP's own ratio is ≈ 0.05."""
PREACTIVATION_MARGIN = 0.0
"""B2: the linear-Gaussian LNP is exact only while every decoder ReLU is in its linear regime
(pre-activations > 0 at μ ± 8σ of both latent distributions)."""

MODELS = ("cnp", "lnp")
"""The claimed models; an attentive CNP (full preset) is measured beside them."""


def context_slopes(nll, sizes, first, last, level=LEVEL):
    """Mean per-task least-squares slopes of the NLL per added context point for n ≤ ``first``
    and n ≥ ``last``, each with its interval over tasks (paired: task offsets cancel)."""
    sizes = np.asarray(sizes, np.float64)
    out = []
    for sel in (sizes <= first, sizes >= last):
        xs = sizes[sel] - sizes[sel].mean()
        slopes = (nll[:, sel] - nll[:, sel].mean(1, keepdims=True)) @ xs / (xs @ xs)
        out.append(stats.mean_ci(slopes, level=level))
    return tuple(out)


def _falls_and_plateaus(a, b) -> bool:
    return a.high < 0 and b.low >= PLATEAU_FRACTION * a.estimate


def _prior_excess(nll, r):
    """Per task: prior NLL − model NLL over contexts of ≥ 1 point (> 0: beats the prior)."""
    sel = r.context_sizes >= 1
    return (r.prior_nll[:, None] - nll)[:, sel].mean(1)


def _gap(nll, r):
    return ex.gap_statistic(nll, r.gp_nll, r.prior_nll, r.context_sizes)


@claim(
    "B2",
    name="neural_processes",
    statement="CNP and latent NP trained on GP tasks: the training loss decreases; held-out NLL "
    "closes at least half of the prior-to-oracle gap at the plateau of training; NLL falls "
    "with context size and plateaus; the LNP's ELBO and importance-weighted log-likelihood "
    "estimators are exact on a linear-Gaussian LNP.",
    latex=r"$\mathcal{L} = \mathbb{E}_{q(z|C\cup T)}\sum_{i\in T}\log p(y_i|z,x_i) - "
    r"\mathrm{KL}(q(z|C\cup T)\,\|\,q(z|C))$; "
    r"$\frac{\mathrm{NLL}_{\text{prior}}-\mathrm{NLL}}{\mathrm{NLL}_{\text{prior}}-"
    r"\mathrm{NLL}_{\text{GP}}} \ge \tfrac12$",
    source="Garnelo et al. 2018a,b; Kim et al. 2019; Burda et al. 2016",
    evidence="comparison",
    cites=[
        "garnelo2018conditional",
        "garnelo2018neural",
        "kim2019attentive",
        "burda2016importance",
    ],
    experiment=ex.neural_processes,
    presets=ex.NEURAL_PROCESSES_PRESETS,
    seed=81,
    statistical=True,
    mutants=[_cnp_sigma_as_variance(), _iwae_mean_log_weights(), _kl_swapped()],
)
def check_b2(r: ex.NeuralProcessesResult) -> Verdict:
    """Sub-checks per claimed model (CNP, LNP) and on the LNP's estimators.

    The gap is judged where the evidence can judge it. The closed share rises with training
    and, since every step sees fresh tasks, more steps cannot make it worse in expectation; so
    the share at the last checkpoint is a lower bound of its plateau. The paper preset
    (30,000 steps, ``judge_plateau``) requires that bound to clear GAP_FRACTION; the quick
    preset (1,600 steps) is far from the plateau and judges only that the model beats the
    prior. (Its rise between checkpoints, ~0.1 nats per target, is recorded but not judged:
    per-task differences between two trained networks have a standard deviation of ~0.25
    nats, so a few hundred tasks cannot resolve it at LEVEL.)

    The LNP's estimators are checked against closed forms on a linear-Gaussian LNP: the ELBO
    (Monte Carlo) and IWAE(1) against the exact ELBO, IWAE(K) non-decreasing in K, IWAE(K_max)
    closing most of the exact gap log p − ELBO task by task, and IWAE(K_max) against the exact
    log-likelihood (bias ≈ Var(w)/2K, ≪ the interval here); and, on the same LNP with a decoder
    that ignores z, the ELBO estimate against its closed form task by task to float32 rounding
    (no Monte Carlo error there, so the KL term is checked exactly)."""
    sizes = r.context_sizes
    checks, numbers, shares = [], {}, []
    models = [m for m in MODELS if m in r.nll]
    for m in models:
        final = r.nll[m][-1]
        a, b = context_slopes(final, sizes, 4, 15)
        drop = stats.welch_ci(*r.loss_ends[m], level=TREND_LEVEL)
        checks.append(Check.ci_above(f"{m}: training loss decreases", drop, 0.0))
        checks.append(
            Check(
                f"{m}: NLL falls with context and plateaus",
                _falls_and_plateaus(a, b),
                f"slope n ≤ 4 {a}; n ≥ 15 {b}",
                f"< 0; ≥ {PLATEAU_FRACTION} × initial",
                level=LEVEL,
            )
        )
        if r.judge_plateau:
            g = stats.mean_ci(_gap(final, r), level=LEVEL)
            checks.append(Check.ci_above(f"{m}: gap at the plateau", g, 0.0))
            better = _gap(final, r) > 0
        else:
            beat = stats.mean_ci(_prior_excess(final, r), level=LEVEL)
            checks.append(Check.ci_above(f"{m}: beats the prior", beat, 0.0))
            better = _prior_excess(final, r) > 0
        shares.append(stats.clopper_pearson(int(better.sum()), better.size, level=LEVEL))
        numbers |= {
            f"{m}slope": r.trend[m].estimate,
            f"{m}drop": drop.estimate,
            f"{m}recovery": float(r.closed[m][-1]),
            f"{m}recoveryfirst": float(r.closed[m][0]),
            f"{m}gain": float(r.closed[m][-1] - r.closed[m][len(r.closed[m]) // 2 - 1]),
            f"{m}first": a.estimate,
            f"{m}last": b.estimate,
            f"{m}ratio": b.estimate / a.estimate,
            f"{m}final": float(final[:, -1].mean()),
        }
    for m in r.nll:
        if m not in models:
            numbers[f"{m}recovery"] = float(r.closed[m][-1])

    bd = r.bounds
    elbo = stats.mean_ci(bd.elbo_mc - bd.elbo_exact, level=LEVEL)
    iw1 = stats.mean_ci(bd.iwae[0] - bd.elbo_exact, level=LEVEL)
    iwk = stats.mean_ci(bd.iwae[-1] - bd.loglik_exact, level=LEVEL)
    steps = [
        stats.mean_ci(hi - lo, level=LEVEL) for lo, hi in zip(bd.iwae, bd.iwae[1:], strict=False)
    ]
    flat_err = float(np.max(np.abs(bd.flat_elbo_mc - bd.flat_elbo_exact)))
    flat_ctl = float(np.max(np.abs(bd.flat_elbo_mc - (bd.flat_elbo_exact - bd.flat_kl_reverse))))
    gap = bd.loglik_exact - bd.elbo_exact
    near = gap <= 0.5 * np.log(bd.ks[-1])  # where K_max samples can close the gap
    iw_share = stats.ratio_ci(gap[near], (bd.iwae[-1] - bd.elbo_exact)[near], level=LEVEL)
    elbo_share = stats.ratio_ci(gap[near], (bd.elbo_mc - bd.elbo_exact)[near], level=LEVEL)
    checks += [
        Check.at_least(
            "linear-Gaussian LNP: decoder linear",
            bd.min_preactivation,
            PREACTIVATION_MARGIN,
            what="min pre-activation ",
        ),
        Check.ci_contains("ELBO = closed form", elbo, 0.0),
        Check.at_most(
            "ELBO = closed form, z-free decoder",
            flat_err,
            FLAT_TOL,
            what=f"max |MC − exact| per target ({len(bd.flat_elbo_mc)} tasks) ",
            digits=2,
        ),
        Check.ci_contains("IWAE(1) = closed-form ELBO", iw1, 0.0),
        Check(
            "IWAE(K) non-decreasing in K",
            all(s.high >= 0 for s in steps),
            ", ".join(
                f"K {k}→{k2}: {s}" for k, k2, s in zip(bd.ks, bd.ks[1:], steps, strict=False)
            ),
            f"no interval (tail {LEVEL:g}) below 0",
            level=LEVEL / 2 * len(steps),
        ),
        Check.ci_above(f"IWAE({bd.ks[-1]}) closes the ELBO gap", iw_share, IWAE_SHARE),
        Check.ci_contains(f"IWAE({bd.ks[-1]}) = exact log-likelihood", iwk, 0.0),
    ]

    # controls, each through the same test as the claim
    checks += [
        Check(
            "control: untrained CNP; GP with ℓ×3",
            not stats.mean_ci(_gap(r.untrained_nll, r), level=LEVEL).low > 0
            and not stats.mean_ci(_gap(r.wrong_gp_nll, r), level=LEVEL).low > 0
            and not stats.mean_ci(_prior_excess(r.untrained_nll, r), level=LEVEL).low > 0,
            "closed share "
            f"{ex.closed_share(r.untrained_nll, r.gp_nll, r.prior_nll, sizes):.2f} (untrained), "
            f"{ex.closed_share(r.wrong_gp_nll, r.gp_nll, r.prior_nll, sizes):.2f} (ℓ×3)",
            control=True,
        ),
        Check.at_least(
            "control: the closed form with the KL swapped",
            flat_ctl,
            FLAT_TOL,
            what="max |MC − swapped closed form| per target ",
            control=True,
            digits=2,
        ),
        Check.at_most(
            "control: the ELBO in place of IWAE",
            elbo_share.low,
            IWAE_SHARE,
            what=f"share {elbo_share} of log p − ELBO; lower limit ",
            control=True,
        ),
    ]
    share = ", ".join(f"{m.upper()} {r.closed[m][-1]:.2f}" for m in r.nll)
    numbers |= {
        "gpfinal": float(r.gp_nll[:, -1].mean()),
        "priornll": float(r.prior_nll.mean()),
        "steps": int(r.checkpoints[-1]),
        "halfsteps": int(r.checkpoints[len(r.checkpoints) // 2 - 1]),
        "tasks": int(r.gp_nll.shape[0]),
        "untrained": ex.closed_share(r.untrained_nll, r.gp_nll, r.prior_nll, sizes),
        "wrong": ex.closed_share(r.wrong_gp_nll, r.gp_nll, r.prior_nll, sizes),
        "elbogap": float(np.mean(bd.loglik_exact - bd.elbo_exact)),
        "elbomc": elbo.estimate,
        "iwaeone": iw1.estimate,
        "iwaemax": iwk.estimate,
        "iwaemaxhw": (iwk.high - iwk.low) / 2,
        "flaterr": flat_err,
        "flatcontrol": flat_ctl,
        "iwaeshare": iw_share.estimate,
        "iwaesharelo": iw_share.low,
        "iwaenear": int(near.sum()),
        "gapmax": float(gap.max()),
        "kmax": int(bd.ks[-1]),
    }
    what = "at the plateau" if r.judge_plateau else "trend (quick: plateau not reached)"
    return Verdict.of(
        checks,
        predicted=f"loss falls; NLL closes ≥ {GAP_FRACTION} of the prior-to-oracle gap at the "
        "plateau; NLL falls and plateaus in n; estimators exact on a linear-Gaussian LNP",
        measured=f"closed share {share} after {r.checkpoints[-1]} steps ({what}); "
        f"IWAE({bd.ks[-1]}) − log p = {iwk}; ELBO MC − exact = {elbo}",
        numbers=numbers,
        evidence=r,
        summary=Summary.comparison(
            min(lo for lo, _ in shares),
            max(hi for _, hi in shares),
            what=f"{' and '.join(m.upper() for m in models)} "
            + (
                "closer to the GP oracle than to the prior"
                if r.judge_plateau
                else "better than the GP prior"
            ),
            over="held-out tasks",
        ),
    )
