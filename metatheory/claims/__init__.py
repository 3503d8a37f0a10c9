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

import contextlib
import dataclasses
import importlib
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax

from metatheory import experiments as _experiments
from metatheory.claims._verdict import (
    EVIDENCE_KINDS,
    VERDICTS,
    Check,
    Summary,
    Verdict,
    fmt_num,
)
from metatheory.mutants import Mutant, mutated

__all__ = [
    "CLAIM_LEVEL",
    "VERDICTS",
    "PRESETS",
    "EVIDENCE_KINDS",
    "Check",
    "fmt_num",
    "Summary",
    "Verdict",
    "Claim",
    "Mutant",
    "claim",
    "get",
    "ids",
    "order_key",
    "run",
    "mutant_names",
    "mutant_pairs",
    "calibration_seed",
    "REGISTRY",
]

PRESETS = ("quick", "full")
_FAMILY_ORDER = "GHCPBMS"
CLAIM_LEVEL = 1e-3
"""Largest designed false-alarm probability of a statistical check (:attr:`Verdict.design_level`,
Bonferroni over its sub-checks). At 1e-3 a true claim fails one of 50 calibration runs with
probability ≤ 5%. Intervals at such levels are t-intervals (of means, or of a near-normal
statistic with a bootstrap standard error): a few thousand percentile resamples cannot resolve
tails of 1e-4."""


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


def order_key(cid: str) -> tuple:
    """Sort key of the ledger order: by family letter (G, H, C, P, B, M, S, then any other
    letter alphabetically), then by number (``G2`` before ``G10``). Every list of claims in
    the ledger, the CLI and the paper is sorted by this key."""
    head, num = cid[:1], cid[1:]
    known = _FAMILY_ORDER.find(head)
    return (
        known if known >= 0 else len(_FAMILY_ORDER),
        head,
        int(num) if num.isdigit() else 0,
        cid,
    )


def ids() -> list[str]:
    """All registered claim ids in ledger order (:func:`order_key`)."""
    _load()
    return sorted(REGISTRY, key=order_key)


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
    ctx = _experiments.caching(cache_dir) if store is None else contextlib.nullcontext(store)
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
