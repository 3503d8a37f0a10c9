"""The verdict vocabulary: Check builders at their boundaries and the levels they read, the
Summary sentences of each evidence kind, frozen verdicts, and a claim whose summary is of
another kind than it declares."""

import dataclasses
import math
import re

import jax
import numpy as np
import pytest

from metatheory import claims, experiments, stats
from metatheory.claims import Check, Mutant, Summary, Verdict, fmt_num

CI = stats.Interval(estimate=0.0, low=-1.0, high=1.0, level=0.01, n=20)
EPS = 1e-12


# ---------------------------------------------------------------- deterministic comparisons


@pytest.mark.parametrize(
    ("builder", "inside", "outside", "sign"),
    [(Check.at_most, 2.0, 2.0 + EPS, "≤"), (Check.at_least, 2.0, 2.0 - EPS, "≥")],
)
def test_threshold_builders_pass_at_the_bound_and_fail_beyond(builder, inside, outside, sign):
    ok, bad = builder("x", inside, 2.0), builder("x", outside, 2.0)
    assert ok.passed and not bad.passed
    assert ok.tolerance == f"{sign} 2" and ok.measured == "2"
    assert (ok.level, ok.control) == (0.0, False)
    designed = builder("x", inside, 2.0, level=1e-4, what="ratio ")
    assert designed.level == 1e-4 and designed.measured == "ratio 2"
    assert builder("c", outside, 2.0, control=True).control


# ---------------------------------------------------------------- interval builders


def test_ci_contains_is_inclusive_and_reads_the_interval_level():
    assert Check.ci_contains("c", CI, 1.0).passed and Check.ci_contains("c", CI, -1.0).passed
    assert not Check.ci_contains("c", CI, 1.0 + EPS).passed
    assert not Check.ci_contains("c", CI, -1.0 - EPS).passed
    c = Check.ci_contains("c", CI, 0.5)
    assert c.level == CI.level == 0.01  # two-sided: the interval's whole tail
    assert c.tolerance == "99% CI ∋ 0.5" and c.measured == "0 [−1, 1]"
    assert Check.ci_contains("c", CI, 5.0, control=True).level == 0.0


@pytest.mark.parametrize(
    ("builder", "edge", "beyond", "inside"),
    [(Check.ci_above, -1.0, -1.0 - EPS, 0.0), (Check.ci_below, 1.0, 1.0 + EPS, 0.0)],
)
def test_one_sided_builders_are_strict_and_read_half_the_level(builder, edge, beyond, inside):
    """``low > t`` / ``high < t``: a limit equal to the threshold fails; the test is one-sided,
    so its false-alarm level is half the interval's two-sided tail."""
    assert builder("c", CI, beyond).passed
    assert not builder("c", CI, edge).passed
    assert not builder("c", CI, inside).passed
    assert builder("c", CI, beyond).level == CI.level / 2 == 0.005
    assert builder("c", CI, inside, control=True).level == 0.0


def test_design_level_sums_main_checks_and_ignores_controls():
    v = Verdict.of(
        [
            Check.ci_contains("slope", CI, 0.0),
            Check.ci_above("lower", CI, -2.0),
            Check.ci_below("control", CI, 0.5, control=True),
        ]
    )
    assert v.design_level == pytest.approx(0.01 + 0.005)
    assert v.verdict == "fails" and v.failed == ["control"]


# ---------------------------------------------------------------- intervals and numbers


def test_interval_level_is_the_tail_probability():
    s = np.array([1.0, 2.0, 4.0, 4.5, 6.0])
    ci = stats.mean_ci(s, level=0.05)
    assert ci.level == 0.05 and ci.confidence == pytest.approx(0.95)
    narrow = stats.mean_ci(s, level=0.2)  # a larger tail probability: a narrower interval
    assert narrow.low > ci.low and narrow.high < ci.high
    fit = stats.linear_fit(np.arange(6.0), np.arange(6.0) ** 1.1, level=1e-3)
    assert fit.level == 1e-3 and Check.ci_contains("s", fit, 1.0).level == 1e-3
    for bad in (0.0, 0.5, 1.0):
        with pytest.raises(ValueError, match="level"):
            stats.mean_ci(s, level=bad)


def _parse(text: str) -> float:
    return float(text.replace("−", "-").replace("×10^", "e"))


@pytest.mark.parametrize("digits", [2, 3, 4])
def test_fmt_num_never_writes_an_exponent_letter(digits):
    """Over 400 values from 1e-300 to 1e300 of both signs: no ``e+``/``e-`` (nor any ``e``), no
    ASCII hyphen, and the text reads back to ``digits`` significant digits."""
    mags = np.asarray(jax.random.uniform(jax.random.key(digits), (200,)), dtype=np.float64)
    mags = 600 * mags - 300
    xs = np.concatenate([10.0**mags, -(10.0**mags)])
    for x in xs:
        s = fmt_num(x, digits)
        assert "e" not in s and "-" not in s, s
        assert _parse(s) == pytest.approx(x, rel=0.51 * 10.0 ** (1 - digits)), (x, s)
    assert fmt_num(3.3e4, 2) == "3.3×10^4" and fmt_num(-2.5e-7) == "−2.5×10^−7"
    assert (fmt_num(math.inf), fmt_num(-math.inf), fmt_num(math.nan)) == ("∞", "−∞", "nan")


# ---------------------------------------------------------------- summaries


def test_summary_sentences_of_each_kind():
    assert Summary.identity(3e-13, 200).text == "verified to 3×10^−13 on 200 instances"
    assert (
        Summary.bound(4000, 0.2712).text
        == "not violated on 4,000 draws; tightest at 0.27 of the bound"
    )
    fit = stats.Interval(estimate=-0.5025, low=-0.51641, high=-0.48869, level=1e-3, n=8)
    assert Summary.rate(fit).text == "exponent −0.5025 [−0.5164, −0.4887]"
    assert Summary.rate(fit, what="slope").text.startswith("slope −0.5025 [")
    share = Summary.comparison(0.942, 0.991, what="MAML better")
    assert share.text == "MAML better on 94–99% of tasks"
    assert Summary.comparison(1.0, 1.0, what="x").text == "x on 100% of tasks"
    assert {s.kind for s in (Summary.identity(0, 1), Summary.bound(1, 0), Summary.rate(fit),
                             share)} == set(claims.EVIDENCE_KINDS)  # fmt: skip
    with pytest.raises(ValueError, match="kind"):
        Summary("proof", "proved")


def test_verdict_is_frozen():
    v = Verdict.of([Check("c", True)], summary=Summary.bound(10, 0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.verdict = "refuted"
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.summary = None
    assert dataclasses.replace(v, id="Z1").summary == v.summary


# ---------------------------------------------------------------- declared evidence


@experiments.experiment
def _toy_experiment(config, key):
    return float(config) + float(jax.random.uniform(key))


def _identity(x):
    return x


@pytest.fixture
def toy_claim():
    """Claim Z8 declared through :func:`claims.claim` (``evidence="bound"``), whose check
    summarises with the kind given in ``kind``; removed from the registry afterwards."""
    claims.ids()
    kind = {"summary": Summary.bound(1, 0.5)}

    def check(r):
        return Verdict.of([Check.at_most("x", r, 2.0)], summary=kind["summary"])

    claims.claim(
        "Z8",
        name="toy_bound",
        statement="A toy bound.",
        source="derived here",
        experiment=_toy_experiment,
        presets={"quick": 1.0, "full": 1.0},
        seed=808,
        evidence="bound",
        cites=["finn2017maml"],
        mutants=[
            Mutant("double", "doubled", f"{__name__}:_identity", lambda f: lambda x: 2 * f(x)),
            Mutant("neg", "negated", f"{__name__}:_identity", lambda f: lambda x: -f(x)),
        ],
    )(check)
    try:
        yield kind
    finally:
        del claims.REGISTRY["Z8"]


def test_summary_must_be_of_the_declared_kind(toy_claim):
    v = claims.run("Z8")
    assert v.verdict == "holds" and v.summary.kind == claims.get("Z8").evidence == "bound"
    assert claims.get("Z8").cites == ("finn2017maml",)
    toy_claim["summary"] = Summary.rate(CI)
    with pytest.raises(TypeError, match=re.escape("declares 'bound' evidence")):
        claims.run("Z8")


def test_unknown_evidence_kind_is_rejected():
    with pytest.raises(ValueError, match="evidence"):
        claims.claim(
            "Z9",
            name="n",
            statement="s",
            source="s",
            experiment=_toy_experiment,
            presets={"quick": 1.0, "full": 1.0},
            seed=1,
            evidence="proof",
            mutants=[Mutant("a", "d", "m:f", _identity), Mutant("b", "d", "m:f", _identity)],
        )
