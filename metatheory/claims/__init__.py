"""The ledger: every claim id -> statement, source, experiment, check, mutants and verdict.

A claim is declared, not hand-run. Each family module of this package (one stem per family:
``claims/fmo.py`` ↔ ``experiments/fmo.py`` ↔ ``report/fmo.py`` ↔ ``verifications/test_fmo.py``
↔ ``paper/sections/fmo.tex``) registers its claims with :func:`claim`::

    @claim("C4", name="maml_rate", statement=..., latex=..., source=...,
           experiment=ex.rate, presets=ex.RATE_PRESETS, seed=13, mutants=[...])
    def check_c4(r: ex.RateResult) -> Verdict:
        return Verdict.of([Check(...), Check(..., control=True)], predicted=..., ...)

:func:`run` calls ``experiment(presets[preset], jax.random.key(seed))`` and then the check;
another seed draws a fresh problem instance and data. A verdict is built from named
sub-checks (:class:`Check`): it is ``fails`` when any sub-check fails, and the failing names
say which part. Controls are sub-checks too: a control passes when the same criterion rejects
a wrong variant of the claim. Each :class:`~metatheory.mutants.Mutant` patches the public code
under test; the check must then return ``fails`` (``metatheory calibrate`` measures how often).

Verdicts: ``holds``; ``holds-with-correction`` (true once a stated correction is made);
``refuted`` (the source's claim is wrong and the numbers show it); ``fails`` (our check did
not confirm what we expect: a defect, or a mutant caught).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax

from metatheory import experiments as _experiments
from metatheory.mutants import Mutant, mutated

__all__ = [
    "CLAIM_LEVEL",
    "VERDICTS",
    "PRESETS",
    "EVIDENCE_KINDS",
    "Check",
    "Summary",
    "Verdict",
    "Claim",
    "Mutant",
    "claim",
    "get",
    "ids",
    "run",
    "mutant_names",
    "mutant_pairs",
    "calibration_seed",
    "REGISTRY",
]

VERDICTS = ("holds", "holds-with-correction", "refuted", "fails")
EVIDENCE_KINDS = ("identity", "bound", "rate", "comparison")
"""What a claim's evidence can show: an equality to a tolerance (``identity``), an inequality
not violated (``bound``), a fitted exponent or scaling (``rate``), one method better on a
share of tasks (``comparison``). The words of every verdict sentence follow the kind."""
PRESETS = ("quick", "full")
_FAMILY_ORDER = "GHCPBMS"
CLAIM_LEVEL = 1e-3
"""Largest designed false-alarm probability of a statistical check (:attr:`Verdict.design_level`,
Bonferroni over its sub-checks). At 1e-3 a true claim fails one of 50 calibration runs with
probability ≤ 5%. Intervals at such levels are t-intervals (of means, or of a near-normal
statistic with a bootstrap standard error): a few thousand percentile resamples cannot resolve
tails of 1e-4."""


@dataclass(frozen=True)
class Check:
    """One named sub-check of a verdict.

    ``passed``: the criterion is met (for a control: the wrong variant is rejected).
    ``level``: the designed false-alarm probability of this sub-check under the true claim
    (0 for a deterministic comparison against a rounding-error tolerance).
    """

    name: str
    passed: bool
    measured: str = ""
    tolerance: str = ""
    level: float = 0.0
    control: bool = False

    def __post_init__(self):
        object.__setattr__(self, "passed", bool(self.passed))
        if not 0.0 <= self.level < 1.0:
            raise ValueError(f"level must be in [0, 1), got {self.level!r}")


def fmt_num(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, in plain text (``3.3e+04`` becomes ``3.3×10^4``)."""
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return {True: "∞", False: "−∞"}[x > 0] if math.isinf(x) else "nan"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        return f"{mant}×10^{int(exp)}"
    return s


def _interval_text(ci) -> str:
    return f"{fmt_num(ci.estimate, 4)} [{fmt_num(ci.low, 4)}, {fmt_num(ci.high, 4)}]"


def _check_builders(cls):
    """Attach the builders (kept outside the class body so that the dataclass stays small)."""

    def at_most(name, value, bound, *, what="", control=False, level=0.0, digits=3):
        """``value ≤ bound`` (a deterministic comparison unless ``level`` says otherwise)."""
        return cls(
            name,
            bool(value <= bound),
            f"{what}{fmt_num(value, digits)}",
            f"≤ {fmt_num(bound, digits)}",
            level=level,
            control=control,
        )

    def at_least(name, value, bound, *, what="", control=False, level=0.0, digits=3):
        """``value ≥ bound``."""
        return cls(
            name,
            bool(value >= bound),
            f"{what}{fmt_num(value, digits)}",
            f"≥ {fmt_num(bound, digits)}",
            level=level,
            control=control,
        )

    def ci_contains(name, ci, value, *, control=False):
        """The interval contains ``value`` (an equality; level = the interval's tail)."""
        return cls(
            name,
            ci.contains(value),
            _interval_text(ci),
            f"{fmt_num(ci.confidence * 100, 4)}% CI ∋ {fmt_num(value, 4)}",
            level=0.0 if control else ci.level,
            control=control,
        )

    def ci_above(name, ci, threshold, *, control=False):
        """The interval's lower limit exceeds ``threshold`` (one-sided: level = tail / 2)."""
        return cls(
            name,
            bool(ci.low > threshold),
            _interval_text(ci),
            f"{fmt_num(ci.confidence * 100, 4)}% CI lower limit > {fmt_num(threshold, 4)}",
            level=0.0 if control else ci.level / 2,
            control=control,
        )

    def ci_below(name, ci, threshold, *, control=False):
        """The interval's upper limit is below ``threshold`` (one-sided: level = tail / 2)."""
        return cls(
            name,
            bool(ci.high < threshold),
            _interval_text(ci),
            f"{fmt_num(ci.confidence * 100, 4)}% CI upper limit < {fmt_num(threshold, 4)}",
            level=0.0 if control else ci.level / 2,
            control=control,
        )

    for fn in (at_most, at_least, ci_contains, ci_above, ci_below):
        setattr(cls, fn.__name__, staticmethod(fn))
    return cls


_check_builders(Check)


@dataclass(frozen=True)
class Summary:
    """What the evidence shows, in the words its kind allows (see :data:`EVIDENCE_KINDS`).

    Build it with :meth:`identity`, :meth:`bound`, :meth:`rate` or :meth:`comparison`; its
    ``text`` is the verdict sentence of the ledger, the CLI and the paper."""

    kind: str
    text: str

    def __post_init__(self):
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"kind must be one of {EVIDENCE_KINDS}, got {self.kind!r}")

    @classmethod
    def identity(cls, max_error: float, n: int, *, what: str = "instances") -> Summary:
        """ "verified to 3e-13 on 200 instances" (the largest error over ``n`` instances)."""
        return cls("identity", f"verified to {fmt_num(max_error, 2)} on {n:,} {what}")

    @classmethod
    def bound(cls, n: int, tightest: float, *, what: str = "draws") -> Summary:
        """ "not violated on 4,000 draws; tightest at 0.27 of the bound"."""
        return cls(
            "bound",
            f"not violated on {n:,} {what}; tightest at {fmt_num(tightest, 2)} of the bound",
        )

    @classmethod
    def rate(cls, ci, *, what: str = "exponent") -> Summary:
        """ "exponent −0.5025 [−0.5164, −0.4887]" (a fitted exponent or scaling)."""
        return cls("rate", f"{what} {_interval_text(ci)}")

    @classmethod
    def comparison(cls, low: float, high: float, *, what: str, over: str = "tasks") -> Summary:
        """ "MAML better on 94–99% of tasks" (a share and its interval, in percent)."""
        lo, hi = round(100 * low), round(100 * high)
        share = f"{lo}%" if lo == hi else f"{lo}–{hi}%"
        return cls("comparison", f"{what} on {share} of {over}")


@dataclass(frozen=True)
class Verdict:
    """What one check measured. ``numbers`` become LaTeX macros ``\\mtval{ID.name}``;
    ``evidence`` (the experiment's result, not serialized to JSON) feeds figures and tests."""

    verdict: str
    checks: tuple[Check, ...] = ()
    predicted: str = ""
    measured: str = ""
    tolerance: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    evidence: Any = None
    summary: Summary | None = None
    id: str = ""
    seconds: float = 0.0
    preset: str = "quick"
    seed: int | None = None
    mutant: str | None = None
    cached: bool = False

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @classmethod
    def of(
        cls,
        checks: Sequence[Check],
        *,
        outcome: str = "holds",
        predicted: str = "",
        measured: str = "",
        tolerance: str = "",
        numbers: dict | None = None,
        note: str = "",
        evidence: Any = None,
        summary: Summary | None = None,
    ) -> Verdict:
        """``fails`` if any sub-check fails, else ``outcome`` (the verdict the check supports:
        ``holds``, ``holds-with-correction`` or ``refuted``)."""
        checks = tuple(checks)
        if not checks:
            raise ValueError("a verdict needs at least one sub-check")
        if outcome not in VERDICTS[:3]:
            raise ValueError(f"outcome must be one of {VERDICTS[:3]}, got {outcome!r}")
        main = [c for c in checks if not c.control]
        if not main:
            raise ValueError("a verdict needs at least one sub-check that is not a control")
        ok = all(c.passed for c in checks)
        return cls(
            verdict=outcome if ok else "fails",
            checks=checks,
            predicted=predicted,
            measured=measured or "; ".join(f"{c.name}: {c.measured}" for c in main if c.measured),
            tolerance=tolerance or "; ".join(f"{c.tolerance}" for c in main if c.tolerance),
            numbers=dict(numbers or {}),
            note=note,
            evidence=evidence,
            summary=summary,
        )

    @property
    def failed(self) -> list[str]:
        """Names of the sub-checks that failed (which part of the verdict broke)."""
        return [c.name for c in self.checks if not c.passed]

    @property
    def controls(self) -> list[Check]:
        return [c for c in self.checks if c.control]

    @property
    def control(self) -> str:
        """The controls in words (one per control sub-check)."""
        return "; ".join(f"{c.name}: {c.measured}" if c.measured else c.name for c in self.controls)

    @property
    def control_rejected(self) -> bool:
        """Every control's wrong variant was rejected."""
        return all(c.passed for c in self.controls)

    @property
    def design_level(self) -> float:
        """Designed false-alarm probability of the whole check: Bonferroni over sub-checks."""
        return min(1.0, sum(c.level for c in self.checks if not c.control))


@dataclass(frozen=True)
class Claim:
    id: str
    name: str
    family: str
    statement: str
    source: str
    expected_: str | Callable[[], str] | dict
    check: Callable[[Any], Verdict]
    experiment: Callable
    presets: dict
    seed: int
    mutants: tuple[Mutant, ...]
    latex: str = ""
    statistical: bool = False
    evidence: str = ""
    cites: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        """The verdict the evidence of the quick preset supports on this machine."""
        return self.expected_for("quick")

    def expected_for(self, preset: str) -> str:
        """The verdict the evidence of ``preset`` supports on this machine (it may depend on
        the backend, or on the scale: a correction may show only at paper scale)."""
        e = self.expected_
        e = e[preset] if isinstance(e, dict) else e
        e = e() if callable(e) else e
        if e not in VERDICTS[:3]:
            raise ValueError(f"expected verdict of {self.id} must be one of {VERDICTS[:3]}")
        return e

    def mutant(self, name: str) -> Mutant:
        for m in self.mutants:
            if m.name == name:
                return m
        raise KeyError(f"{self.id} has no mutant {name!r}; known: {mutant_names(self.id)}")


REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    *,
    name: str,
    statement: str,
    source: str,
    experiment: Callable,
    presets: dict,
    seed: int,
    mutants: Sequence[Mutant],
    latex: str = "",
    expected: str | Callable[[], str] | dict = "holds",
    statistical: bool = False,
    evidence: str = "",
    cites: Sequence[str] = (),
):
    """Register the decorated ``check(result) -> Verdict`` as claim ``id``.

    ``experiment(presets[preset], jax.random.key(seed))`` produces the result; ``expected``
    is the verdict the evidence supports (a callable when it depends on the backend, a dict
    ``{"quick": ..., "full": ...}`` when it depends on the scale);
    ``statistical`` marks checks whose false-alarm rate is not zero by design (calibrated
    over ≥ 50 seeds). ``mutants``: at least two plausible bugs the check must reject.
    ``evidence``: what the check can show, one of :data:`EVIDENCE_KINDS`; the check's
    :class:`Summary` must be of that kind. ``cites``: the BibTeX keys (``paper/refs.bib``) of
    the claim's sources.
    """
    if isinstance(expected, dict) and set(expected) != set(PRESETS):
        raise ValueError(f"expected per preset must name {PRESETS}, got {sorted(expected)}")
    if not callable(expected) and not isinstance(expected, dict) and expected not in VERDICTS[:3]:
        raise ValueError(f"expected must be one of {VERDICTS[:3]}, got {expected!r}")
    missing = [p for p in PRESETS if p not in presets]
    if missing:
        raise ValueError(f"claim {id}: presets must define {PRESETS}, missing {missing}")
    if len(mutants) < 2:
        raise ValueError(f"claim {id}: declare at least two mutants, got {len(mutants)}")
    if len({m.name for m in mutants}) != len(mutants):
        raise ValueError(f"claim {id}: mutant names must be unique")
    if evidence and evidence not in EVIDENCE_KINDS:
        raise ValueError(f"claim {id}: evidence must be one of {EVIDENCE_KINDS}, got {evidence!r}")
    if not getattr(experiment, "is_experiment", False):
        raise TypeError(f"claim {id}: decorate {experiment!r} with experiments.experiment")

    def deco(fn):
        if id in REGISTRY:
            raise ValueError(f"claim {id} registered twice")
        # the family stem: claims/<stem>.py, or a module of the package claims/<stem>/
        mod = fn.__module__
        inside = mod.startswith(f"{__name__}.")
        family = mod[len(__name__) + 1 :].split(".")[0] if inside else mod.rsplit(".", 1)[-1]
        REGISTRY[id] = Claim(
            id=id,
            name=name,
            family=family,
            statement=statement,
            source=source,
            expected_=expected,
            check=fn,
            experiment=experiment,
            presets=dict(presets),
            seed=int(seed),
            mutants=tuple(mutants),
            latex=latex,
            statistical=statistical,
            evidence=evidence,
            cites=tuple(cites),
        )
        return fn

    return deco


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.walk_packages(__path__, f"{__name__}."):
            if not any(part.startswith("_") for part in mod.name.split(".")):
                importlib.import_module(mod.name)
        _loaded = True


def _sort_key(cid: str):
    head, num = cid[0], cid[1:]
    return (_FAMILY_ORDER.index(head) if head in _FAMILY_ORDER else 99, int(num or 0), cid)


def ids() -> list[str]:
    """All registered claim ids in ledger order (G, H, C, P, B, M, S)."""
    _load()
    return sorted(REGISTRY, key=_sort_key)


def get(cid: str) -> Claim:
    """The registered claim ``cid`` (case-insensitive); ``KeyError`` naming the known ids."""
    _load()
    key = cid.upper()
    if key not in REGISTRY:
        raise KeyError(f"unknown claim {cid!r}; known: {', '.join(ids())}")
    return REGISTRY[key]


def mutant_names(cid: str) -> list[str]:
    """Names of the mutants claim ``cid`` declares."""
    return [m.name for m in get(cid).mutants]


def mutant_pairs(*cids: str) -> list[tuple[str, str]]:
    """``(claim id, mutant name)`` for every declared mutant of ``cids`` (for
    ``pytest.mark.parametrize``)."""
    return [(get(c).id, m) for c in cids for m in mutant_names(c)]


def calibration_seed(cid: str, i: int) -> int:
    """The ``i``-th calibration seed of claim ``cid`` (never its declared ledger seed)."""
    return get(cid).seed + 10_000 * (i + 1)


def run(
    cid: str,
    preset: str = "quick",
    *,
    seed: int | None = None,
    mutant: str | Mutant | None = None,
    cache_dir: Path | None = None,
    result: Any = None,
) -> Verdict:
    """Run claim ``cid``: its experiment at ``presets[preset]`` with ``jax.random.key(seed)``
    (default: the claim's declared seed), then its check.

    ``mutant``: run with that declared mutant patched in. ``cache_dir``: also cache experiment
    results on disk (they are always cached in memory within one process). ``result``: check
    an experiment result computed elsewhere (e.g. by a vmapped seed sweep).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    c = get(cid)
    seed = c.seed if seed is None else int(seed)
    mut = c.mutant(mutant) if isinstance(mutant, str) else mutant
    store = _experiments._CACHE.get()
    ctx = _experiments.caching(cache_dir) if store is None else _nullctx(store)
    t0 = time.perf_counter()
    with ctx as store, mutated(mut):
        computed = store["computed"]
        given = result is not None
        if result is None:
            result = c.experiment(c.presets[preset], jax.random.key(seed))
        v = c.check(result)
        cached = not given and store["computed"] == computed
    if not isinstance(v, Verdict):
        raise TypeError(f"check of {c.id} must return a Verdict, got {type(v).__name__}")
    if v.summary is not None and c.evidence and v.summary.kind != c.evidence:
        raise TypeError(
            f"{c.id} declares {c.evidence!r} evidence, its check summarised {v.summary.kind!r}"
        )
    return dataclasses.replace(
        v,
        id=c.id,
        preset=preset,
        seed=seed,
        mutant=None if mut is None else mut.name,
        seconds=time.perf_counter() - t0,
        cached=cached,
    )


class _nullctx:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        return self.store

    def __exit__(self, *exc):
        return False


_GLOBAL_STORE = None


def session_cache(directory: Path | None = None):
    """Turn on experiment caching for the rest of this process (the CLI and pytest use it)."""
    global _GLOBAL_STORE
    cm = _experiments.caching(directory)
    _GLOBAL_STORE = cm.__enter__()
    return _GLOBAL_STORE
