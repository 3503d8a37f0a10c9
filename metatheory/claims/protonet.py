"""Ledger rows of the metric lens: M1 (prototypes are linear classifiers), M2 (the mean is the
Bregman-optimal centre), M3 (prototypical and matching networks on 5-way 5-shot clusters)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from metatheory import stats
from metatheory.claims import Check, Summary, Verdict, claim, fmt_num
from metatheory.experiments import protonet as ex
from metatheory.mutants import Mutant
from metatheory.symbolic.protonet import test_value

# --------------------------------------------------------------------------- tolerances

PROB_TOL = 1e-12
"""M1, float64: two softmaxes of logits that differ by a per-row constant agree to rounding
(~1e-16 per logit of size ≤ 1e2, a few ulps after exponentiation); 1e-12 is generous, while
a wrong weight, bias or distance changes probabilities by O(1e-2) or more."""
QUOTED_TOL = 5e-7
"""M1: the test value is quoted to six decimals, (0.982014, 0.017986): half a unit in the last
digit."""
SYM_TOL = 1e-20
"""M2: sympy's stationary point and the mean, both evaluated to 30 significant digits at
rational points, agree to ~1e-29; 1e-20 only absorbs the evaluation."""
MIN_TOL = 1e-6
"""M2: L-BFGS-B with gtol 1e-12 on an objective of curvature ~n/μ² stops within ~1e-8
relative of the stationary point; 1e-6 leaves a margin and is far below the mean–median gap of
skewed data (≥ 0.05, the L1 control)."""
GRAD_TOL = 1e-12
"""M2: the gradient of Σ D_φ(x_i, μ) at the mean is −φ''(μ) Σ(x_i − μ), zero up to float64
rounding of the sum (relative to the gradient at the start point, ~1e-15)."""
ACC_MARGIN = 0.05
"""M3 (our criterion, not the sources'): "as well as the nearest-centroid rule" is read as an
equivalence margin of 5 accuracy points on held-out queries, judged by the lower end of a
paired interval over episodes."""
NLL_MARGIN = 0.01
"""M3 (our criterion): the prototypical network's held-out cross-entropy is at most 0.01 nats
per query above that of the Bayes posterior predictive given the support
(:func:`metatheory.tasks.clusters.predictive_logits`; ≈ 0.58 nats here), judged by the upper
end of a paired interval (an equivalence test). By M1 a protonet with a linear embedding
computes that predictive exactly, so the margin only absorbs optimization error; a probability
off by ~1% on the true class costs 0.01 nats."""
LEVEL = 5e-4
"""Tail probability of every M3 interval, each used one-sided: 2.5e-4 false alarm per sub-check
under the claim, 7.5e-4 for the three (claims.CLAIM_LEVEL)."""

IDENTITY_TEST = ((1, 0), (0, 3), (1, 1))  # c0, c1, x of the test value


# --------------------------------------------------------------------------- mutants

_PN = "metatheory.learners.protonet"


def _bias_sign() -> Mutant:
    def make(orig):
        def wrong(c):
            w, b = orig(c)
            return w, -b

        return wrong

    return Mutant("linear-bias-sign", "linear head with b_k = +‖c_k‖²", f"{_PN}:linear_head", make)


def _weight_no_two() -> Mutant:
    def make(orig):
        def wrong(c):
            w, b = orig(c)
            return 0.5 * w, b

        return wrong

    return Mutant(
        "linear-weight-no-2",
        "linear head with w_k = c_k (factor 2 lost)",
        f"{_PN}:linear_head",
        make,
    )


def _unsquared() -> Mutant:
    def make(orig):
        def wrong(params, xs, ys, xq, n_way):
            d2 = -orig(params, xs, ys, xq, n_way)
            return -jnp.sqrt(d2 + 1e-12)

        return wrong

    return Mutant(
        "proto-unsquared",
        "protonet logits −‖f(x) − c_k‖ (distance not squared)",
        f"{_PN}:proto_logits",
        make,
    )


def _prototype_sum() -> Mutant:
    def make(orig):
        def wrong(emb, labels, n_way):
            return jax.nn.one_hot(labels, n_way, dtype=emb.dtype).T @ emb

        return wrong

    return Mutant(
        "prototype-sum", "prototypes are class sums, not means", f"{_PN}:prototypes", make
    )


def _prototype_median() -> Mutant:
    def make(orig):
        def wrong(emb, labels, n_way):
            mask = labels[None, :] == jnp.arange(n_way)[:, None]  # (K, n)
            vals = jnp.where(mask[:, :, None], emb[None], jnp.nan)
            return jnp.nanmedian(vals, axis=1)

        return wrong

    return Mutant(
        "prototype-median",
        "prototypes are coordinatewise class medians, not means",
        f"{_PN}:prototypes",
        make,
    )


def _bregman_swapped() -> Mutant:
    return Mutant(
        "bregman-args-swapped",
        "D_φ(μ, x) for D_φ(x, μ) (arguments swapped)",
        "metatheory.symbolic.protonet:bregman",
        lambda orig: lambda phi, x, mu: orig(phi, mu, x),
    )


# --------------------------------------------------------------------------- M1


@claim(
    "M1",
    name="protonet_linear",
    statement="Softmax over −‖f(x) − c_k‖² equals a linear classifier with w_k = 2c_k, "
    "b_k = −‖c_k‖².",
    latex=r"$\mathrm{softmax}_k(-\|f(x)-c_k\|^2) = \mathrm{softmax}_k(w_k^\top f(x) + b_k)$, "
    r"$w_k = 2c_k$, $b_k = -\|c_k\|^2$",
    source="Snell et al. 2017, Sec. 2.4",
    evidence="identity",
    cites=["snell2017prototypical"],
    experiment=ex.linear_equivalence,
    presets=ex.PROTONET_LINEAR_PRESETS,
    seed=82,
    mutants=[_bias_sign(), _weight_no_two(), _unsquared()],
)
def check_m1(r: ex.ProtonetLinearResult) -> Verdict:
    """Exact in float64: sympy's expansion, the test value through the learner's distance
    logits and through its linear head, and random MLP-embedded episodes."""
    exact = np.array([float(sp.N(p, 17)) for p in test_value(*IDENTITY_TEST)])
    quoted = np.array([0.982014, 0.017986])
    err_dist = float(np.max(np.abs(r.p_test_dist - exact)))
    err_lin = float(np.max(np.abs(r.p_test_linear - exact)))
    ctl_test = float(np.max(np.abs(r.p_test_control - exact)))
    return Verdict.of(
        [
            Check(
                "sympy",
                r.sympy_expansion == "0" and r.sympy_softmax == "0",
                f"residuals {r.sympy_expansion}, {r.sympy_softmax}",
                "simplify to 0",
            ),
            Check(
                "test value (distance)",
                err_dist <= PROB_TOL and np.max(np.abs(r.p_test_dist - quoted)) <= QUOTED_TOL,
                f"p = ({r.p_test_dist[0]:.6f}, {r.p_test_dist[1]:.6f})",
                f"exact ±{PROB_TOL:g}; quoted ±{QUOTED_TOL:g}",
            ),
            Check.at_most(
                "test value (linear head)",
                err_lin,
                PROB_TOL,
                what=f"p = ({r.p_test_linear[0]:.6f}, {r.p_test_linear[1]:.6f}); |p − exact| ",
                digits=2,
            ),
            Check.at_most(
                "episodes",
                max(r.err_prob, r.err_shift),
                PROB_TOL,
                what=f"max |Δp| {fmt_num(r.err_prob, 2)}, logit shift spread "
                f"{fmt_num(r.err_shift, 2)}; larger ",
                digits=2,
            ),
            Check(
                "control: b_k = +‖c_k‖²",
                r.err_control > PROB_TOL and ctl_test > QUOTED_TOL,
                f"p_0 = {r.p_test_control[0]:.2g}, max |Δp| {r.err_control:.2g}",
                control=True,
            ),
        ],
        predicted="p = (0.982014, 0.017986) both ways; equal softmaxes on every episode",
        numbers={
            "pzero": r.p_test_dist[0],
            "pone": r.p_test_dist[1],
            "linpzero": r.p_test_linear[0],
            "err": r.err_prob,
            "shift": r.err_shift,
            "controlpzero": r.p_test_control[0],
            "control": r.err_control,
        },
        evidence=r,
        summary=Summary.identity(
            max(err_dist, err_lin, r.err_prob, r.err_shift), r.n_episodes, what="episodes"
        ),
    )


# --------------------------------------------------------------------------- M2


@claim(
    "M2",
    name="bregman_mean",
    statement="The mean minimizes Σ_i D_φ(x_i, μ) for squared Euclidean, generalized KL and "
    "Itakura–Saito; for L1 the minimizer is the median.",
    latex=r"$\arg\min_\mu \sum_i D_\phi(x_i,\mu) = \frac1n\sum_i x_i$",
    source="Banerjee et al. 2005, Prop. 1; Snell et al. 2017, Sec. 2.3",
    evidence="identity",
    cites=["banerjee2005bregman", "snell2017prototypical"],
    experiment=ex.bregman_centres,
    presets=ex.BREGMAN_MEAN_PRESETS,
    seed=83,
    mutants=[_bregman_swapped(), _prototype_median(), _prototype_sum()],
)
def check_m2(r: ex.BregmanMeanResult) -> Verdict:
    """Exact: sympy's stationary points; float64 L-BFGS minimizers against the prototype of
    :func:`metatheory.learners.protonet.prototypes` (the centre a protonet uses)."""
    names = dict(zip(r.names, range(len(r.names)), strict=True))
    return Verdict.of(
        [
            Check(
                "sympy",
                r.symbolic_condition == "0" and bool(np.all(r.symbolic_err <= SYM_TOL)),
                f"condition residual {r.symbolic_condition}; "
                f"max |stationary − mean| {np.max(r.symbolic_err):.1e}",
                f"0; ≤ {SYM_TOL:g}",
            ),
            Check.at_most(
                "minimizer = prototype",
                np.max(r.err_min),
                MIN_TOL,
                what=f"max rel. err ({len(r.names)} divergences) ",
                digits=2,
            ),
            Check.at_most("gradient at prototype", np.max(r.grad_at_centre), GRAD_TOL, digits=2),
            Check(
                "control: L1 (median) and Σ D(μ, x_i)",
                r.l1_vs_median <= MIN_TOL
                and r.l1_vs_centre > MIN_TOL
                and r.l1_subgrad_at_centre >= 1
                and bool(np.all(r.err_reverse[1:] > MIN_TOL)),
                f"L1 argmin vs median {r.l1_vs_median:.1e}, vs mean ≥ {r.l1_vs_centre:.2f}; "
                f"reversed KL/IS ≥ {np.min(r.err_reverse[1:]):.2f}",
                control=True,
            ),
        ],
        predicted="argmin_μ Σ D_φ(x_i, μ) = mean; ∇ = 0 at the mean",
        numbers={
            "err": float(np.max(r.err_min)),
            "errsq": r.err_min[names["sqeuclid"]],
            "errkl": r.err_min[names["genkl"]],
            "erris": r.err_min[names["itakurasaito"]],
            "grad": float(np.max(r.grad_at_centre)),
            "revkl": r.err_reverse[names["genkl"]],
            "revis": r.err_reverse[names["itakurasaito"]],
            "lmedian": r.l1_vs_median,
            "lmean": r.l1_vs_centre,
            "subgrad": r.l1_subgrad_at_centre,
        },
        evidence=r,
        summary=Summary.identity(
            float(np.max(r.err_min)),
            r.n_datasets * len(r.names),
            what="minimizations (data sets × divergences)",
        ),
    )


# --------------------------------------------------------------------------- M3


@claim(
    "M3",
    name="protonet_clusters",
    statement="On 5-way 5-shot 2-D Gaussian clusters, prototypical and matching networks trained "
    "over episodes classify held-out queries as well as the nearest-centroid (plug-in Bayes) "
    "rule; the prototypical network's probabilities match its Bayes posterior predictive.",
    latex=r"$\mathrm{acc}(\text{net}) \ge \mathrm{acc}(\text{nearest centroid}) - 0.05$; "
    r"$\mathrm{CE}(\text{protonet}) \le \mathrm{CE}(\text{Bayes predictive}) + 0.01$",
    source="Snell et al. 2017; Vinyals et al. 2016",
    evidence="bound",
    cites=["snell2017prototypical", "vinyals2016matching"],
    experiment=ex.clusters_experiment,
    presets=ex.PROTONET_CLUSTERS_PRESETS,
    seed=84,
    statistical=True,
    mutants=[_prototype_sum(), _unsquared()],
)
def check_m3(r: ex.ProtonetClustersResult) -> Verdict:
    """Paired intervals (tail LEVEL) over held-out episodes (the trained networks fixed), each an
    equivalence test against our stated margin: the accuracy difference to the nearest-centroid
    rule must exceed −ACC_MARGIN, the cross-entropy excess over the Bayes predictive must stay
    below NLL_MARGIN. Calibrated over 50 seeds, each training both networks afresh."""
    d = {
        n: stats.mean_ci(r.acc[n] - r.acc["centroid"], level=LEVEL)
        for n in ("proto", "matching", "control")
    }
    excess = stats.mean_ci(r.nll["proto"] - r.nll["predictive"], level=LEVEL)
    ci = r.ci
    chance = 1.0 / r.n_way
    return Verdict.of(
        [
            Check.ci_above("protonet accuracy", d["proto"], -ACC_MARGIN),
            Check.ci_above("matching accuracy", d["matching"], -ACC_MARGIN),
            Check.ci_below("protonet cross-entropy", excess, NLL_MARGIN),
            Check.at_most(
                "control: permuted support labels",
                d["control"].low,
                -ACC_MARGIN,
                what=f"accuracy {ci['control']} (chance {chance:.2f}); − centroid, lower limit ",
                control=True,
            ),
        ],
        predicted=f"accuracy ≥ nearest centroid − {ACC_MARGIN}; protonet CE ≤ Bayes + {NLL_MARGIN}",
        measured=f"proto {ci['proto']}, matching {ci['matching']}, centroid "
        f"{ci['centroid'].estimate:.3f}, Bayes {ci['bayes'].estimate:.3f} ({len(r.acc['proto'])} "
        f"episodes); CE excess {excess.estimate:+.4f}",
        numbers={
            "proto": ci["proto"].estimate,
            "protolow": ci["proto"].low,
            "protohigh": ci["proto"].high,
            "matching": ci["matching"].estimate,
            "matchinglow": ci["matching"].low,
            "matchinghigh": ci["matching"].high,
            "centroid": ci["centroid"].estimate,
            "bayes": ci["bayes"].estimate,
            "control": ci["control"].estimate,
            "controlhigh": ci["control"].high,
            "diffproto": d["proto"].estimate,
            "diffprotolow": d["proto"].low,
            "diffmatching": d["matching"].estimate,
            "diffmatchinglow": d["matching"].low,
            "ceexcess": excess.estimate,
            "ceexcesshigh": excess.high,
            "cebayes": float(np.mean(r.nll["predictive"])),
            "tasks": len(r.acc["proto"]),
        },
        evidence=r,
        summary=Summary.bound(
            len(r.acc["proto"]),
            max(
                -d["proto"].low / ACC_MARGIN,
                -d["matching"].low / ACC_MARGIN,
                excess.high / NLL_MARGIN,
            ),
            what="held-out episodes (accuracy deficit ≤ 0.05, cross-entropy excess ≤ 0.01 nats)",
        ),
    )
