"""The ledger: every claim id -> statement, source, how it is checked, and its verdict.

Each family module in this package registers its claims with :func:`claim` (the check) and
optionally :func:`renders` (its figures and equations for the paper). A check is a function
``check(preset) -> Verdict`` with ``preset`` in ``{"quick", "full"}``; it runs the claim's
experiment, compares measured with predicted under a named tolerance, and runs the negative
control: a deliberately wrong variant of the claim that the same comparison must reject.

Verdicts: ``holds``; ``holds-with-correction`` (true once a stated correction is made);
``refuted`` (the source's claim is wrong and the numbers show it); ``fails`` (our check did
not confirm what we expect: a defect). A check whose control is *not* rejected is ``fails``.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
import pkgutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "VERDICTS",
    "PRESETS",
    "Verdict",
    "Claim",
    "claim",
    "renders",
    "get",
    "ids",
    "run",
    "REGISTRY",
]

VERDICTS = ("holds", "holds-with-correction", "refuted", "fails")
PRESETS = ("quick", "full")
_FAMILY_ORDER = "GHCPBMS"


@dataclass
class Verdict:
    """What one check measured. ``numbers`` become LaTeX macros ``\\mtval{ID.name}``;
    ``evidence`` (not serialized to JSON) feeds the claim's figures."""

    id: str
    verdict: str
    predicted: str
    measured: str
    tolerance: str
    control: str
    control_rejected: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    preset: str = "quick"
    evidence: Any = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    id: str
    stem: str
    family: str
    statement: str
    source: str
    expected: str
    check: Callable[[str], Verdict]
    render: Callable[[Verdict, Path], None] | None = None


REGISTRY: dict[str, Claim] = {}


def claim(id: str, *, stem: str, statement: str, source: str, expected: str = "holds"):
    """Register the decorated ``check(preset) -> Verdict`` as claim ``id``.

    ``expected`` is the verdict the evidence supports (``refuted`` for a source claim we
    show false); ``metatheory verify`` exits non-zero when any verdict differs from it.
    """
    if expected not in VERDICTS[:3]:
        raise ValueError(f"expected must be one of {VERDICTS[:3]}, got {expected!r}")

    def deco(fn):
        if id in REGISTRY:
            raise ValueError(f"claim {id} registered twice")
        family = fn.__module__.rsplit(".", 1)[-1]
        REGISTRY[id] = Claim(id, stem, family, statement, source, expected, fn)
        return fn

    return deco


def renders(id: str):
    """Register ``render(verdict, outdir)`` writing claim ``id``'s figures and equations."""

    def deco(fn):
        REGISTRY[id] = replace(REGISTRY[id], render=fn)
        return fn

    return deco


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")
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


def _fingerprint() -> str:
    """Hash of the package's source, so cached verdicts expire when the code changes."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def run(cid: str, preset: str = "quick", *, cache_dir: Path | None = None) -> Verdict:
    """Run claim ``cid``'s check; with ``cache_dir``, reuse a finished run of the same code."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    c = get(cid)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{c.id}-{preset}-{_fingerprint()}.pkl"
        if path.exists():
            return pickle.loads(path.read_bytes())
    t0 = time.perf_counter()
    v = c.check(preset)
    v.seconds = time.perf_counter() - t0
    v.preset = preset
    if v.id != c.id:
        raise RuntimeError(f"check of {c.id} returned a verdict for {v.id}")
    if not v.control_rejected and v.verdict != "fails":
        v.note = (v.note + " " if v.note else "") + "negative control was not rejected."
        v.verdict = "fails"
    if path is not None:
        try:
            blob = pickle.dumps(v)
        except (pickle.PicklingError, TypeError, AttributeError):
            return v  # evidence that cannot be pickled is simply not cached
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    return v
