"""What one check of a claim reports: its named sub-checks (:class:`Check`, built by
:meth:`Check.at_most`, :meth:`Check.ci_contains`, …), the sentence its evidence allows
(:class:`Summary`) and the :class:`Verdict` that collects them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("holds", "holds-with-correction", "refuted", "fails")
EVIDENCE_KINDS = ("identity", "bound", "rate", "comparison")
"""What a claim's evidence can show: an equality to a tolerance (``identity``), an inequality
not violated (``bound``), a fitted exponent or scaling (``rate``), one method better on a
share of tasks (``comparison``). The words of every verdict sentence follow the kind."""


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
    """``x`` to ``digits`` significant digits, in plain text with a minus sign (U+2212) and
    never an exponent letter: ``-3.3e-04`` becomes ``−3.3×10^−4``."""
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return {True: "∞", False: "−∞"}[x > 0] if math.isinf(x) else "nan"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}×10^{int(exp)}"
    return s.replace("-", "−")


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
