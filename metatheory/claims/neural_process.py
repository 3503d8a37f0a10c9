"""Ledger rows of the Bayesian lens: B1 (the exact GP posterior predictive is the oracle) and
B2 (conditional and latent neural processes trained on GP tasks, against that oracle)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metatheory import nets, stats
from metatheory.claims import Check, Verdict, claim
from metatheory.experiments import neural_process as ex
from metatheory.learners import neural_process as npl
from metatheory.mutants import Mutant
from metatheory.tasks import gp

# --------------------------------------------------------------------------- tolerances

ORACLE_TOL = 1e-9
"""B1, float64 (:func:`~metatheory.numerics.rel_err_max`): κ(K_CC + σ_n²I) ≤ 1 + n s²/σ_n²
≈ 6e3 at n = 60 (2e4 at n = 200), so a backward-stable solve is accurate to ~κε ≈ 1e-12;
the variance s² − k_*ᵀ(K+σ²I)⁻¹k_* cancels down to ≥ σ_n², which amplifies relative errors by
≤ (s² + σ_n²)/σ_n² = 101: ~1e-10. 1e-9 keeps a margin and is far below the control (σ_n² left
out of the variance: ≥ 1e-2)."""
Z2_LEVEL = 0.999
"""B1: the 99.9% t-interval of E[z²] over held-out targets must contain 1 (false alarm 0.1%)."""
TREND_LEVEL = 1 - 1e-4
"""B2: the mean per-step training loss of the last window must lie below that of the second
window: a 99.99% Welch interval of the difference above 0 (false alarm 5e-5, one-sided).
Every step draws fresh tasks, so given the trajectory the per-step losses are independent.
(The first calibration judged the fitted slope of the window means against log(step), whose
interval ignores the windows' serial correlation: 1 false alarm in 50 runs.)"""
FLAT_TOL = 1e-5
"""B2: |ELBO estimate − closed form| per target on the linear-Gaussian LNP whose decoder ignores z
(no Monte Carlo error): float32 rounding of ~20 log-densities of size ~1 and of a KL of ~0.1 nats
is ≤ ~1e-6 per target (measured ≤ 2e-7). A KL with swapped arguments moves a task's ELBO by
|KL(q_C‖q_CT) − KL(q_CT‖q_C)|, third order in their difference yet ≥ 5e-3 per target on the worst
task of every draw measured: the check takes the maximum over tasks."""
IWAE_SHARE = 0.5
"""B2 (ours): IWAE(K_max) must close more than half of the exact gap g = log p − ELBO, task by
task, on the tasks with g ≤ ½ log K_max (the through-origin slope of IWAE(K_max) − ELBO on g,
lower 99.995% limit). By Burda et al. (2016, Thm 1) IWAE(K) rises from the ELBO (K = 1) to
log p as K grows; its deficit is ≈ Var(w/p)/2K, which for log-normal weights is
(e^{2g} − 1)/2K: at most ½ nat, and under a fifth of g, when g ≤ ½ log K, so the share there is
≳ 0.8 (≈ 0.97 measured), while an estimator that averages the log-weights stays at the ELBO
(share ≈ 0); 1/2 separates the two. On a task with g ≫ log K no K-sample estimate can close
the gap (its rise above the ELBO grows like log K): the first version used every task and
failed a true claim on a draw whose worst tasks had g = 4–8 nats (share 0.54, lower limit
0.47), so the gap is bounded by the exact g, a closed form, not by a noisy estimate."""
LEVEL = 1 - 1e-4
"""B2: level of every paired interval over held-out tasks (1e-4 false alarm for a two-sided
test, 5e-5 one-sided): with its 13 statistical sub-checks B2's designed level is 0.95e-3
(claims.CLAIM_LEVEL)."""
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

# --------------------------------------------------------------------------- mutants

_GP = "metatheory.tasks.gp"
_NPL = "metatheory.learners.neural_process"


def _lengthscale_squared() -> Mutant:
    return Mutant(
        "rbf-lengthscale-squared-twice",
        "RBF kernel exp(−d²/2ℓ⁴): the lengthscale squared twice",
        f"{_GP}:rbf_kernel",
        lambda orig: (
            lambda x1, x2, lengthscale, variance=1.0: orig(x1, x2, lengthscale**2, variance)
        ),
    )


def _missing_half() -> Mutant:
    return Mutant(
        "rbf-missing-half",
        "RBF kernel exp(−d²/ℓ²): the ½ in the exponent missing",
        f"{_GP}:rbf_kernel",
        lambda orig: (
            lambda x1, x2, lengthscale, variance=1.0: orig(
                x1, x2, lengthscale / jnp.sqrt(2.0), variance
            )
        ),
    )


def _noise_off_diagonal() -> Mutant:
    def make(orig):
        def wrong(x_c, y_c, x_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
            mean, var = orig(x_c, y_c, x_t, lengthscale, variance=variance, noise=0.0, mask=mask)
            return mean, var + noise**2

        return wrong

    return Mutant(
        "noise-dropped-from-diagonal",
        "predictive with K_CC⁻¹ for (K_CC + σ_n²I)⁻¹ (σ_n² kept only in the variance)",
        f"{_GP}:posterior_predictive",
        make,
    )


def _variance_no_reduction() -> Mutant:
    def make(orig):
        def wrong(x_c, y_c, x_t, lengthscale, *, variance=1.0, noise=0.1, mask=None):
            mean, var = orig(x_c, y_c, x_t, lengthscale, variance=variance, noise=noise, mask=mask)
            return mean, jnp.full_like(var, variance + noise**2)

        return wrong

    return Mutant(
        "variance-missing-reduction",
        "predictive variance s² + σ_n² without the −k_*ᵀ(K+σ_n²I)⁻¹k_* term",
        f"{_GP}:posterior_predictive",
        make,
    )


def _cnp_sigma_as_variance() -> Mutant:
    def make(orig):
        def wrong(params, x, y, mask, x_t, y_t):
            mu, sigma = npl.cnp_predict(params, x, y, mask, x_t)
            return -jnp.mean(gp.gaussian_log_density(y_t[:, 0], mu, sigma))

        return wrong

    return Mutant(
        "cnp-sigma-as-variance",
        "CNP trained with the predicted σ used as the variance (σ for σ²)",
        f"{_NPL}:cnp_loss",
        make,
    )


def _kl_swapped() -> Mutant:
    """Not declared: the quick check does not catch it (power 0/10 in calibration). On the
    linear-Gaussian LNP, KL(q(z|C∪T) ‖ q(z|C)) is only ~0.1–0.5 nats per task and nearly
    symmetric, so swapping its arguments moves the ELBO by less than its Monte Carlo
    interval. A stronger check needs a latent encoder whose two distributions differ more
    (at the cost of a larger IWAE bias at K = 256)."""
    return Mutant(
        "lnp-kl-swapped",
        "LNP ELBO with KL(q(z|C) ‖ q(z|C∪T)) for KL(q(z|C∪T) ‖ q(z|C))",
        f"{_NPL}:gaussian_kl",
        lambda orig: lambda mu_q, sigma_q, mu_p, sigma_p: orig(mu_p, sigma_p, mu_q, sigma_q),
    )


def _iwae_mean_log_weights() -> Mutant:
    def make(orig):
        def wrong(params, key, x, y, ctx_mask, tgt_mask, n_samples=256):
            both = jnp.logical_or(ctx_mask, tgt_mask)
            r = npl.masked_mean(nets.apply(params["enc"], jnp.concatenate([x, y], -1)), ctx_mask)
            mu_ct, sig_ct = npl.latent_q(params, x, y, both)
            mu_c, sig_c = npl.latent_q(params, x, y, ctx_mask)
            eps = jax.random.normal(key, (n_samples, mu_ct.shape[0]), mu_ct.dtype)
            tm = tgt_mask.astype(y.dtype)
            lognorm = lambda z, m, s: jnp.sum(gp.gaussian_log_density(z, m, s**2))

            def log_w(e):
                z = mu_ct + sig_ct * e
                mu, sigma = npl.lnp_decode(params, z, r, x)
                ll = jnp.sum(tm * gp.gaussian_log_density(y[:, 0], mu, sigma**2))
                return ll + lognorm(z, mu_c, sig_c) - lognorm(z, mu_ct, sig_ct)

            return jnp.mean(jax.vmap(log_w)(eps))

        return wrong

    return Mutant(
        "iwae-mean-log-weights",
        "importance-weighted log-likelihood as the mean of log weights (log-mean-exp lost)",
        f"{_NPL}:lnp_log_likelihood_is",
        make,
    )


def _kl_swapped() -> Mutant:
    return Mutant(
        "elbo-kl-swapped",
        "the ELBO's KL with its arguments swapped: KL(q(z|C) ‖ q(z|C∪T))",
        f"{_NPL}:gaussian_kl",
        lambda orig: lambda mu_q, sigma_q, mu_p, sigma_p: orig(mu_p, sigma_p, mu_q, sigma_q),
    )


# --------------------------------------------------------------------------- B1


@claim(
    "B1",
    name="gp_oracle",
    statement="The exact GP posterior predictive (RBF kernel, Cholesky) is the reference "
    "predictive of the GP task family.",
    latex=r"$\mu_* = K_{*C}(K_{CC}+\sigma_n^2I)^{-1}y_C$, "
    r"$\sigma_*^2 = k_{**} - K_{*C}(K_{CC}+\sigma_n^2I)^{-1}K_{C*} + \sigma_n^2$",
    source="Rasmussen & Williams 2006, Eq. 2.23-2.24; Garnelo et al. 2018",
    experiment=ex.gp_oracle,
    presets=ex.ORACLE_PRESETS,
    seed=80,
    statistical=True,
    mutants=[
        _lengthscale_squared(),
        _missing_half(),
        _noise_off_diagonal(),
        _variance_no_reduction(),
    ],
)
def check_b1(r: ex.OracleResult) -> Verdict:
    """Exact agreement with an independent float64 computation (dense inverse, scipy solve,
    NumPy joint density) of the textbook formula, and calibration on tasks drawn from the
    family: held-out targets have E[z²] = 1 (99.9% interval)."""
    worst = max(
        r.err_mean.max(),
        r.err_var.max(),
        r.err_logpdf.max(),
        r.err_solve.max(),
        r.err_mask,
        r.err_joint,
    )
    return Verdict.of(
        [
            Check(
                "mean and variance",
                max(r.err_mean.max(), r.err_var.max(), r.err_solve.max()) <= ORACLE_TOL,
                f"{r.err_mean.max():.1e} (mean), {r.err_var.max():.1e} (var), "
                f"{r.err_solve.max():.1e} (scipy)",
                f"rel_err_max ≤ {ORACLE_TOL:g}",
            ),
            Check(
                "densities and mask",
                max(r.err_logpdf.max(), r.err_mask, r.err_joint) <= ORACLE_TOL,
                f"{r.err_logpdf.max():.1e} (pointwise), {r.err_joint:.1e} (joint), "
                f"{r.err_mask:.1e} (mask)",
                f"≤ {ORACLE_TOL:g}",
            ),
            Check(
                "calibrated",
                r.z2.low <= 1.0 <= r.z2.high,
                f"E[z²] = {r.z2}",
                f"{Z2_LEVEL:.1%} CI ∋ 1",
                level=1 - Z2_LEVEL,
            ),
            Check(
                "control: σ_n² left out; noise/3",
                r.control_err.min() > ORACLE_TOL
                and not (r.z2_control.low <= 1.0 <= r.z2_control.high),
                f"rel. err ≥ {r.control_err.min():.2g}; E[z²] = {r.z2_control}",
                control=True,
            ),
        ],
        predicted="Cholesky = dense inverse = solve (float64); E[z²] = 1 on held-out targets",
        measured=f"max rel. err {worst:.1e} (n ≤ {r.context_sizes.max()}); E[z²] = {r.z2}",
        numbers={
            "err": worst,
            "errmean": r.err_mean.max(),
            "errvar": r.err_var.max(),
            "errjoint": r.err_joint,
            "nmax": int(r.context_sizes.max()),
            "ztwo": r.z2.mean,
            "ztwolow": r.z2.low,
            "ztwohigh": r.z2.high,
            "control": r.control_err.min(),
            "ztwocontrol": r.z2_control.mean,
        },
        evidence=r,
    )


# --------------------------------------------------------------------------- B2


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
    return a.high < 0 and b.low >= PLATEAU_FRACTION * a.mean


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
    experiment=ex.neural_processes,
    presets=ex.NP_PRESETS,
    seed=81,
    statistical=True,
    mutants=[_cnp_sigma_as_variance(), _iwae_mean_log_weights(), _kl_swapped()],
)
def check_b2(r: ex.NPResult) -> Verdict:
    """Sub-checks per claimed model (CNP, LNP) and on the LNP's estimators.

    The gap is judged where the evidence can judge it. The closed share rises with training
    and, since every step sees fresh tasks, more steps cannot make it worse in expectation; so
    the share at the last checkpoint is a lower bound of its plateau. The paper preset
    (30,000 steps, ``judge_plateau``) requires that bound to clear GAP_FRACTION; the quick
    preset (1,600 steps) is far from the plateau and judges only that the model beats the
    prior. (Its rise between checkpoints, ~0.1 nats per target, is recorded but not judged:
    per-task differences between two trained networks have a standard deviation of ~0.25
    nats, so 128 tasks cannot resolve it at 99.99%.)

    The LNP's estimators are checked against closed forms on a linear-Gaussian LNP: the ELBO
    (Monte Carlo) and IWAE(1) against the exact ELBO, IWAE(K) non-decreasing in K, IWAE(K_max)
    closing most of the exact gap log p − ELBO task by task, and IWAE(K_max) against the exact
    log-likelihood (bias ≈ Var(w)/2K, ≪ the interval here); and, on the same LNP with a decoder
    that ignores z, the ELBO estimate against its closed form task by task to float32 rounding
    (no Monte Carlo error there, so the KL term is checked exactly)."""
    sizes = r.context_sizes
    checks, numbers = [], {}
    models = [m for m in MODELS if m in r.nll]
    for m in models:
        final = r.nll[m][-1]
        a, b = context_slopes(final, sizes, 4, 15)
        drop = stats.welch_ci(*r.loss_ends[m], level=TREND_LEVEL)
        checks.append(
            Check(
                f"{m}: training loss decreases",
                drop.low > 0,
                f"second − last window {drop} per step (log-step slope {r.trend[m].slope:.3f})",
                f"Welch {TREND_LEVEL:.2%} CI > 0",
                level=(1 - TREND_LEVEL) / 2,
            )
        )
        checks.append(
            Check(
                f"{m}: NLL falls with context and plateaus",
                _falls_and_plateaus(a, b),
                f"slope n ≤ 4 {a}; n ≥ 15 {b}",
                f"< 0; ≥ {PLATEAU_FRACTION} × initial",
                level=1 - LEVEL,
            )
        )
        if r.judge_plateau:
            g = stats.mean_ci(_gap(final, r), level=LEVEL)
            checks.append(
                Check(
                    f"{m}: gap at the plateau",
                    g.low > 0,
                    f"closed share {r.closed[m][-1]:.2f} at {r.checkpoints[-1]} steps",
                    f"≥ {GAP_FRACTION} (paired {LEVEL:.2%} CI)",
                    level=(1 - LEVEL) / 2,
                )
            )
        else:
            beat = stats.mean_ci(_prior_excess(final, r), level=LEVEL)
            checks.append(
                Check(
                    f"{m}: beats the prior",
                    beat.low > 0,
                    f"{beat} nats/target; closed share {r.closed[m][0]:.2f} → "
                    f"{r.closed[m][-1]:.2f} ({r.checkpoints[0]} → {r.checkpoints[-1]} steps)",
                    f"paired {LEVEL:.2%} CI > 0",
                    level=(1 - LEVEL) / 2,
                )
            )
        numbers |= {
            f"{m}slope": r.trend[m].slope,
            f"{m}drop": drop.mean,
            f"{m}recovery": float(r.closed[m][-1]),
            f"{m}recoveryfirst": float(r.closed[m][0]),
            f"{m}gain": float(r.closed[m][-1] - r.closed[m][len(r.closed[m]) // 2 - 1]),
            f"{m}first": a.mean,
            f"{m}last": b.mean,
            f"{m}ratio": b.mean / a.mean,
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
        Check(
            "linear-Gaussian LNP: decoder linear",
            bd.min_preactivation > PREACTIVATION_MARGIN,
            f"min pre-activation {bd.min_preactivation:.1f}",
            "> 0",
        ),
        Check(
            "ELBO = closed form",
            elbo.low <= 0 <= elbo.high,
            f"MC − exact {elbo}",
            f"{LEVEL:.2%} CI ∋ 0",
            level=1 - LEVEL,
        ),
        Check(
            "ELBO = closed form, z-free decoder",
            flat_err <= FLAT_TOL,
            f"max |MC − exact| {flat_err:.1e} per target ({len(bd.flat_elbo_mc)} tasks)",
            f"≤ {FLAT_TOL:g} (float32)",
        ),
        Check(
            "IWAE(1) = closed-form ELBO",
            iw1.low <= 0 <= iw1.high,
            f"{iw1}",
            f"{LEVEL:.2%} CI ∋ 0",
            level=1 - LEVEL,
        ),
        Check(
            "IWAE(K) non-decreasing in K",
            all(s.high >= 0 for s in steps),
            ", ".join(
                f"K {k}→{k2}: {s}" for k, k2, s in zip(bd.ks, bd.ks[1:], steps, strict=False)
            ),
            f"no {LEVEL:.2%} CI < 0",
            level=(1 - LEVEL) / 2 * len(steps),
        ),
        Check(
            f"IWAE({bd.ks[-1]}) closes the ELBO gap",
            iw_share.low > IWAE_SHARE,
            f"share {iw_share} of g = log p − ELBO ({near.sum()}/{near.size} tasks with "
            f"g ≤ ½ log {bd.ks[-1]})",
            f"> {IWAE_SHARE} ({LEVEL:.2%} CI)",
            level=(1 - LEVEL) / 2,
        ),
        Check(
            f"IWAE({bd.ks[-1]}) = exact log-likelihood",
            iwk.low <= 0 <= iwk.high,
            f"{iwk}",
            f"{LEVEL:.2%} CI ∋ 0",
            level=1 - LEVEL,
        ),
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
        Check(
            "control: the closed form with the KL swapped",
            flat_ctl > FLAT_TOL,
            f"max |MC − swapped closed form| {flat_ctl:.1e} per target",
            control=True,
        ),
        Check(
            "control: the ELBO in place of IWAE",
            not elbo_share.low > IWAE_SHARE,
            f"share {elbo_share} of log p − ELBO",
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
        "elbomc": elbo.mean,
        "iwaeone": iw1.mean,
        "iwaemax": iwk.mean,
        "iwaemaxhw": (iwk.high - iwk.low) / 2,
        "flaterr": flat_err,
        "flatcontrol": flat_ctl,
        "iwaeshare": iw_share.mean,
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
    )
