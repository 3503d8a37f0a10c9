"""From verdicts to what a reader sees: the terminal table, the JSON ledger, and
``paper/generated/`` (ledger table, LaTeX macros of measured numbers, equations, figures).

Nothing in ``paper/generated/`` is edited by hand: ``write_generated`` rewrites it all from
the same verdicts (and evidence) that the verifications assert.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from metatheory import claims  # noqa: E402

__all__ = [
    "ledger_rows",
    "format_table",
    "write_json",
    "latex_ledger",
    "latex_ledger_rows",
    "latex_calibration",
    "latex_calibration_macros",
    "calibration_summary",
    "read_calibration",
    "latex_macros",
    "fmt",
    "write_equation",
    "savefig",
    "write_generated",
    "store_results",
    "load_results",
    "write_paper_from_results",
    "build_pdf",
    "plt",
]

COLUMNS = ("id", "statement", "predicted", "measured", "tolerance", "verdict", "seconds")


def ledger_rows(verdicts) -> list[dict]:
    """One JSON-ready dict per verdict: the table's columns plus source, control, note."""
    rows = []
    for v in verdicts:
        c = claims.get(v.id)
        rows.append(
            {
                "id": v.id,
                "family": c.family,
                "name": c.name,
                "statement": c.statement,
                "predicted": v.predicted,
                "measured": v.measured,
                "tolerance": v.tolerance,
                "verdict": v.verdict,
                "expected": c.expected_for(v.preset),
                "seconds": round(float(v.seconds), 3),
                "source": c.source,
                "control": v.control,
                "control_rejected": bool(v.control_rejected),
                "checks": [
                    {
                        "name": k.name,
                        "passed": k.passed,
                        "measured": k.measured,
                        "tolerance": k.tolerance,
                        "level": k.level,
                        "control": k.control,
                    }
                    for k in v.checks
                ],
                "design_level": v.design_level,
                "seed": v.seed,
                "latex": c.latex,
                "preset": v.preset,
                "note": v.note,
                "numbers": {k: _jsonable(x) for k, x in v.numbers.items()},
            }
        )
    return rows


def _jsonable(x):
    if isinstance(x, str | bool | int) or x is None:
        return x
    return float(x)


def format_table(verdicts, width: int = 100) -> str:
    """The ledger as a plain-text table (the same rows as :func:`ledger_rows`) at most
    ``width`` columns wide; long cells wrap. A verdict replayed from the cache shows
    ``cached`` instead of its (old) seconds."""
    import textwrap

    base = {
        "id": 3,
        "statement": 22,
        "predicted": 16,
        "measured": 19,
        "tolerance": 12,
        "verdict": 10,
        "seconds": 7,
    }
    gaps = 2 * (len(COLUMNS) - 1)
    flex = ("statement", "predicted", "measured", "tolerance")
    fixed = sum(w for c, w in base.items() if c not in flex)
    room = max(width - gaps - fixed, 4 * len(flex))
    total = sum(base[c] for c in flex)
    widths = dict(base)
    for c in flex:
        widths[c] = max(4, base[c] * room // total)
    # a column is at least as wide as its longest word (an identifier such as rel_err_norm is
    # never broken), taking the room from the other flexible columns
    rows = ledger_rows(verdicts)
    longest = {c: max([len(w) for r in rows for w in str(r[c]).split()] + [4]) for c in flex}
    for c in flex:
        need = min(longest[c], room // 2) - widths[c]
        while need > 0:
            donors = [d for d in flex if d != c and widths[d] > max(longest[d], 4)]
            if not donors:
                break
            d = max(donors, key=lambda d: widths[d] - longest[d])
            widths[d] -= 1
            widths[c] += 1
            need -= 1
    head = "  ".join(c[: widths[c]].ljust(widths[c]) for c in COLUMNS).rstrip()
    lines = [head, "-" * min(width, len(head))]
    for v, r in zip(verdicts, rows, strict=True):
        secs = "cached" if getattr(v, "cached", False) else f"{r['seconds']:.1f}"
        cells = {
            c: textwrap.wrap(
                str(r[c] if c != "seconds" else secs),
                widths[c],
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [""]
            for c in COLUMNS
        }
        for i in range(max(len(x) for x in cells.values())):
            parts = [(cells[c][i] if i < len(cells[c]) else "").ljust(widths[c]) for c in COLUMNS]
            lines.append("  ".join(parts).rstrip())
        lines.append("")
    return "\n".join(lines)


def write_json(verdicts, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(ledger_rows(verdicts), indent=2) + "\n")


_TEX_ESC = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}
_UNICODE = {
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "ρ": r"$\rho$",
    "δ": r"$\delta$",
    "λ": r"$\lambda$",
    "θ": r"$\theta$",
    "φ": r"$\phi$",
    "σ": r"$\sigma$",
    "κ": r"$\kappa$",
    "∇": r"$\nabla$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "×": r"$\times$",
    "±": r"$\pm$",
    "→": r"$\to$",
    "√": r"$\surd$",
    "‖": r"$\|$",
    "²": r"$^2$",
    "…": r"\dots{}",
    "−": "-",
    "∈": r"$\in$",
    "∋": r"$\ni$",
    "≈": r"$\approx$",
    "∞": r"$\infty$",
    "–": "--",
    "—": "---",
    "·": r"$\cdot$",
    "Σ": r"$\Sigma$",
    "½": r"$\frac12$",
    "Δ": r"$\Delta$",
    "Λ": r"$\Lambda$",
    "ᵀ": r"$^\top$",
    "∂": r"$\partial$",
    "∏": r"$\prod$",
    "∝": r"$\propto$",
    "μ": r"$\mu$",
    "ε": r"$\varepsilon$",
    "η": r"$\eta$",
    "π": r"$\pi$",
    "τ": r"$\tau$",
    "ν": r"$\nu$",
    "ω": r"$\omega$",
    "ψ": r"$\psi$",
    "ξ": r"$\xi$",
    "ζ": r"$\zeta$",
    "χ": r"$\chi$",
    "γ": r"$\gamma$",
    "Γ": r"$\Gamma$",
    "Φ": r"$\Phi$",
    "Ψ": r"$\Psi$",
    "Ω": r"$\Omega$",
    "Θ": r"$\Theta$",
    "Π": r"$\Pi$",
    "ℓ": r"$\ell$",
    "≠": r"$\ne$",
    "≲": r"$\lesssim$",
    "≳": r"$\gtrsim$",
    "≪": r"$\ll$",
    "≫": r"$\gg$",
    "∼": r"$\sim$",
    "≡": r"$\equiv$",
    "∑": r"$\sum$",
    "∫": r"$\int$",
    "∀": r"$\forall$",
    "∩": r"$\cap$",
    "∪": r"$\cup$",
    "⊆": r"$\subseteq$",
    "∘": r"$\circ$",
    "⊗": r"$\otimes$",
    "⊙": r"$\odot$",
    "⟨": r"$\langle$",
    "⟩": r"$\rangle$",
    "↔": r"$\leftrightarrow$",
    "⇒": r"$\Rightarrow$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "⌈": r"$\lceil$",
    "⌉": r"$\rceil$",
    "⌊": r"$\lfloor$",
    "⌋": r"$\rfloor$",
    "⊤": r"$^\top$",
    "′": r"$'$",
    "°": r"$^\circ$",
    "÷": r"$\div$",
    "¹": r"$^1$",
    "³": r"$^3$",
    "⁴": r"$^4$",
    "⁻": r"$^-$",
    "ⁿ": r"$^n$",
    "₀": r"$_0$",
    "₁": r"$_1$",
    "₂": r"$_2$",
    "₃": r"$_3$",
    "₄": r"$_4$",
    "ᵢ": r"$_i$",
    "ₙ": r"$_n$",
    "\u0302": r"\^{}",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "\u00a0": "~",
}


_TILDE = "\u0303"  # combining tilde: "σ̃" is σ followed by it


def tex_escape(s: str) -> str:
    """Escape text for LaTeX, mapping the Greek and maths symbols used in the ledger (a letter
    with a combining tilde becomes ``\tilde``). A character without a mapping becomes ``?``:
    a test keeps every character of the committed ledgers mapped."""
    out = []
    for ch in str(s):
        if ch == _TILDE and out:
            prev = out.pop()
            body = prev[1:-1] if prev.startswith("$") and prev.endswith("$") else prev
            out.append(rf"$\tilde{{{body}}}$")
            continue
        out.append(_TEX_ESC.get(ch) or _UNICODE.get(ch) or (ch if ord(ch) < 128 else "?"))
    return "".join(out)


def latex_ledger(verdicts) -> str:
    """The ledger as a ``longtable`` (see :func:`latex_ledger_rows`)."""
    return latex_ledger_rows(ledger_rows(verdicts))


def _tex_breakable(s: str) -> str:
    """:func:`tex_escape`, with line-break opportunities after ``_``, ``/`` and ``=`` (long
    identifiers and ratios in narrow columns)."""
    out = tex_escape(s)
    for a in (r"\_", "/", "="):
        out = out.replace(a, a + r"\allowbreak{}")
    return out


def _verdict_tex(v: str) -> str:
    return r"\verdict{" + str(v).replace("-", r"-\allowbreak{}") + "}"


def _statement_tex(r: dict) -> str:
    """A row's typeset statement: its ``latex`` (or the registered claim's), else the
    escaped plain-text statement."""
    tex = r.get("latex") or ""
    if not tex:
        try:
            tex = claims.get(r["id"]).latex or ""
        except Exception:  # a row of a claim that is not registered (an older ledger)
            tex = ""
    return tex if tex.strip() else tex_escape(r.get("statement", ""))


_P = r">{\raggedright\arraybackslash}p"
_LEDGER_COLS = (0.055, 0.28, 0.47, 0.12)
"""Column widths (fractions of the line) of the ledger: id, source, evidence, verdict; with
4pt column separation they fill 97.6% of the line."""


def latex_ledger_rows(rows, caption: str | None = None, label: str | None = None) -> str:
    r""":func:`latex_ledger` from JSON rows (those of :func:`ledger_rows`): a ``longtable``
    that fits the text width. Each claim takes two rows: its typeset statement across the
    table, then its source (with ``\citet`` from :data:`bibliography.CITES`), what was
    predicted and measured with the tolerance, and the verdict."""
    from metatheory.report.bibliography import cite_source

    w_id, w_src, w_ev, w_v = _LEDGER_COLS
    span = rf"\dimexpr{w_src + w_ev + w_v:.3f}\linewidth+16pt\relax"
    lines = [
        "% generated by metatheory.report; do not edit",
        r"{\small\setlength{\tabcolsep}{4pt}\setlength{\LTcapwidth}{\linewidth}",
        rf"\begin{{longtable}}{{@{{}}{_P}{{{w_id}\linewidth}}{_P}{{{w_src}\linewidth}}"
        rf"{_P}{{{w_ev}\linewidth}}{_P}{{{w_v}\linewidth}}@{{}}}}",
    ]
    if caption:
        lines.append(
            r"\caption{" + caption + "}" + (r"\label{" + label + "}" if label else "") + r"\\"
        )
    head = r"ID & Source & Predicted, measured, tolerance & Verdict \\"
    lines += [r"\toprule", head, r"\midrule", r"\endfirsthead"]
    lines += [r"\toprule", head, r"\midrule", r"\endhead"]
    lines += [r"\bottomrule", r"\endfoot"]
    for i, r in enumerate(rows):
        statement = _statement_tex(r)
        lines.append(
            rf"\textbf{{{tex_escape(r['id'])}}} & \multicolumn{{3}}{{{_P}{{{span}}}}}{{"
            + statement
            + r"} \\*"
        )
        evidence = (
            r"\emph{Predicted:} "
            + _tex_breakable(r.get("predicted", ""))
            + r"\newline\emph{Measured:} "
            + _tex_breakable(r.get("measured", ""))
            + r"\newline\emph{Tolerance:} "
            + _tex_breakable(r.get("tolerance", ""))
        )
        verdict = _verdict_tex(r["verdict"])
        expected = r.get("expected")
        if expected and expected != r["verdict"]:
            verdict += r"\newline(expected " + _verdict_tex(expected) + ")"
        verdict += rf"\newline{float(r.get('seconds', 0.0)):.1f}\,s"
        source = cite_source(r["id"], r.get("source", ""))
        lines.append(" & ".join(["", source, evidence, verdict]) + r" \\")
        if i < len(rows) - 1:
            lines.append(r"\midrule")
    lines += [r"\end{longtable}}"]
    return "\n".join(lines) + "\n"


_claim_key = claims.order_key  # the ledger order, defined once in claims


def _kn(d: dict) -> str:
    """``k/n [lo, hi]`` of a ``{"k", "n", "ci"}`` record."""
    lo, hi = d.get("ci", [float("nan"), float("nan")])
    return rf"{int(d['k'])}/{int(d['n'])} [{float(lo):.2f},\,{float(hi):.2f}]"


def _nseeds(x) -> int:
    return len(x) if isinstance(x, list | tuple) else int(x)


def _level(x) -> str:
    x = float(x)
    return "0" if x == 0 else fmt(x, 2)


def timed_runs(rows) -> list[list[dict]]:
    """The calibration rows that record ``started`` and ``finished``, grouped by the
    ``metatheory calibrate`` invocation that wrote them (their ``run``, its start time); rows
    without a ``run`` form one group. Largest run first."""
    groups: dict = {}
    for r in rows:
        if "started" in r and "finished" in r:
            groups.setdefault(r.get("run"), []).append(r)
    return sorted(groups.values(), key=len, reverse=True)


def calibration_summary(rows) -> dict:
    """Totals over calibration rows: claims, true-code runs, false alarms, mutants, mutants
    caught in at least 80% of their runs, mutants caught in fewer than half, claims whose
    false-alarm interval lies wholly above their designed level, and claims recalibrated on
    fresh seeds (``first_seed`` > 0); for the largest timed run (:func:`timed_runs`), how many
    claims it covers, its wall time in minutes (the span of its rows) and its number of
    processes, and how many claims were timed in other runs."""
    muts = [m for r in rows for m in r.get("mutants", [])]
    runs = timed_runs(rows)

    def rate(d):
        return d["k"] / d["n"] if d["n"] else 0.0

    wall = {}
    if runs:
        main = runs[0]
        span = max(r["finished"] for r in main) - min(r["started"] for r in main)
        wall = {
            "timed": len(main),
            "wallminutes": f"{span / 60:.0f}",
            "jobs": max(int(r.get("jobs", 1)) for r in main),
            "timedelsewhere": sum(len(g) for g in runs[1:]),
        }
    return {
        **wall,
        "claims": len(rows),
        "runs": sum(int(r["false_alarm"]["n"]) for r in rows),
        "falsealarms": sum(int(r["false_alarm"]["k"]) for r in rows),
        "mutants": len(muts),
        "caught": sum(rate(m["power"]) >= 0.8 for m in muts),
        "weak": sum(rate(m["power"]) < 0.5 for m in muts),
        "excess": sum(float(r["false_alarm"]["ci"][0]) > float(r["design_level"]) for r in rows),
        "fresh": sum(int(r.get("first_seed", 0)) > 0 for r in rows),
    }


def latex_calibration_macros(rows) -> str:
    r"""``\mtval{cal.<total>}`` for the totals of :func:`calibration_summary`, and per claim
    ``\mtval{cal.<ID>.fa}`` (false alarms, k/n with the interval), ``\mtval{cal.<ID>.level}``
    (designed level) and ``\mtval{cal.<ID>.<mutant>}`` (power, k/n). Written to
    ``generated/calibration-macros.tex``, which the preamble reads, so every section can quote
    the calibration."""
    lines = ["% generated by metatheory.report; do not edit"]

    def define(name, value):
        lines.append(rf"\expandafter\gdef\csname mt@cal.{name}\endcsname{{{value}}}")

    for k, v in calibration_summary(rows).items():
        define(k, v)
    for r in rows:
        define(f"{r['id']}.fa", _kn(r["false_alarm"]))
        define(f"{r['id']}.level", _level(r.get("design_level", 0.0)))
        define(f"{r['id']}.firstseed", int(r.get("first_seed", 0)))
        for m in r.get("mutants") or []:
            define(f"{r['id']}.{m['name']}", f"{int(m['power']['k'])}/{int(m['power']['n'])}")
    return "\n".join(lines) + "\n"


def latex_calibration(rows) -> str:
    r"""The calibration table (rows of ``paper/results/calibration.json``) as a booktabs
    ``longtable``: claim (starred when statistical), seeds, false alarms k/n with the
    Clopper--Pearson interval, designed level, and each mutant's name with its power k/n,
    preceded by :func:`latex_calibration_macros`."""
    rows = sorted(rows, key=lambda r: _claim_key(r["id"]))
    lines = [latex_calibration_macros(rows).rstrip("\n")]
    presets = sorted({str(r.get("preset", "")) for r in rows} - {""})
    preset = f" Preset: {', '.join(presets)}." if presets else ""
    caption = (
        r"Calibration of the checks over independent seeds (each a fresh problem instance and "
        r"fresh data): false alarms of the true code and power against each mutant, $k/n$ with "
        r"Clopper--Pearson 95\% intervals, beside the designed false-alarm level. "
        r"$^\ast$ statistical check; $^\dagger$ recalibrated on fresh seeds (from the $n$-th "
        r"calibration seed on) after its check changed in view of an earlier calibration." + preset
    )
    lines += [
        r"{\small\setlength{\tabcolsep}{4pt}\setlength{\LTcapwidth}{\linewidth}",
        r"\begin{longtable}{@{}l r l r " + _P + r"{0.30\linewidth} l@{}}",
        r"\caption{" + caption + r"}\label{tab:calibration}\\",
    ]
    head = r"Claim & Seeds & False alarms & Level & Mutant & Power \\"
    lines += [r"\toprule", head, r"\midrule", r"\endfirsthead"]
    lines += [r"\toprule", head, r"\midrule", r"\endhead"]
    lines += [r"\bottomrule", r"\endfoot"]
    for i, r in enumerate(rows):
        star = r"$^\ast$" if r.get("statistical") else ""
        first = [
            tex_escape(r["id"]) + star,
            str(_nseeds(r.get("seeds", r["false_alarm"]["n"])))
            + (r"$^\dagger$" if int(r.get("first_seed", 0)) > 0 else ""),
            _kn(r["false_alarm"]),
            _level(r.get("design_level", 0.0)),
        ]
        muts = r.get("mutants") or []
        if not muts:
            lines.append(" & ".join([*first, "---", "---"]) + r" \\")
        for j, m in enumerate(muts):
            cells = first if j == 0 else ["", "", "", ""]
            end = r" \\*" if j < len(muts) - 1 else r" \\"
            lines.append(" & ".join([*cells, _tex_breakable(m["name"]), _kn(m["power"])]) + end)
        if i < len(rows) - 1:
            lines.append(r"\midrule")
    lines.append(r"\end{longtable}}")
    return "\n".join(lines) + "\n"


def read_calibration(results_dir: Path) -> list[dict] | None:
    """Calibration rows from ``results_dir/calibration.json``, else merged from the
    per-family ``calibration-<family>.json`` files (a later file wins for a repeated claim);
    ``None`` when there are none."""
    results_dir = Path(results_dir)
    merged = results_dir / "calibration.json"
    files = [merged] if merged.exists() else sorted(results_dir.glob("calibration-*.json"))
    if not files:
        return None
    rows: dict[str, dict] = {}
    for f in files:
        for r in json.loads(f.read_text()):
            rows[r["id"]] = r
    return sorted(rows.values(), key=lambda r: _claim_key(r["id"]))


def fmt(x, digits: int = 4) -> str:
    """A number as LaTeX text: plain in [1e-3, 1e5), else ``m \\times 10^{e}``."""
    if isinstance(x, str):
        return tex_escape(x)
    if isinstance(x, bool):
        return "yes" if x else "no"
    x = float(x)
    if not math.isfinite(x):
        return r"\ensuremath{\infty}" if x > 0 else (r"\ensuremath{-\infty}" if x < 0 else "NaN")
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    m, e = f"{x:.{digits - 1}e}".split("e")
    return rf"\ensuremath{{{m}\times 10^{{{int(e)}}}}}"


def latex_macros(verdicts) -> str:
    r"""``\mtval{ID.name}`` for every number a check reports, plus ``ID.verdict`` etc."""
    return latex_macros_rows(ledger_rows(verdicts))


def latex_macros_rows(rows, prefix: str = "mt") -> str:
    r""":func:`latex_macros` from JSON rows; ``prefix="mtfull"`` gives ``\mtfull{ID.name}``."""
    lines = [r"% generated by metatheory.report; do not edit"]
    for r in rows:
        vals = {"verdict": r["verdict"], "seconds": f"{r['seconds']:.1f}", **r["numbers"]}
        for k, x in vals.items():
            lines.append(rf"\expandafter\def\csname {prefix}@{r['id']}.{k}\endcsname{{{fmt(x)}}}")
    return "\n".join(lines) + "\n"


def write_equation(outdir: Path, name: str, latex: str) -> Path:
    """Write ``eq-<name>.tex`` holding one display equation (``latex`` from ``sympy.latex``)."""
    p = Path(outdir) / f"eq-{name}.tex"
    p.write_text(
        "% generated by metatheory.report; do not edit\n\\begin{equation}\n"
        + latex
        + "\n\\end{equation}\n"
    )
    return p


def savefig(fig, outdir: Path, name: str) -> Path:
    """Save ``fig`` as ``<name>.pdf`` (for the paper) and ``<name>.png`` (for a quick look)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    fig.savefig(outdir / f"{name}.pdf", bbox_inches="tight")
    fig.savefig(outdir / f"{name}.png", bbox_inches="tight", dpi=110)
    plt.close(fig)
    return outdir / f"{name}.pdf"


def write_generated(verdicts, outdir: Path, full_rows=None, calibration_rows=None) -> list[Path]:
    """Rewrite ``outdir``: ledger.json, ledger.tex, macros.tex, and each claim's render.

    ``full_rows`` (the JSON ledger of a ``--full`` run) adds ``ledger-full.tex`` and
    ``macros-full.tex`` (``\\mtfull{ID.name}``), so the paper can quote paper-scale numbers
    beside the run it was built from. ``calibration_rows`` (rows of ``metatheory calibrate``)
    add ``calibration.tex``; when not given they are read from ``results/calibration.json``
    (or the per-family ``results/calibration-<family>.json``) beside ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in (
        "ledger-full.tex",
        "macros-full.tex",
        "calibration.tex",
        "calibration-macros.tex",
    ):
        (outdir / stale).unlink(missing_ok=True)
    write_json(verdicts, outdir / "ledger.json")
    (outdir / "ledger.tex").write_text(
        latex_ledger_rows(
            ledger_rows(verdicts),
            caption="The ledger of the run this document was built from: each claim's "
            "statement and source, what was predicted and measured, the tolerance and the "
            "verdict.",
            label="tab:ledger",
        )
    )
    (outdir / "macros.tex").write_text(latex_macros(verdicts))
    if full_rows:
        (outdir / "ledger-full.tex").write_text(
            latex_ledger_rows(
                full_rows,
                caption="The ledger of the paper-scale run (\\texttt{-{}-full} presets).",
                label="tab:ledger-full",
            )
        )
        (outdir / "macros-full.tex").write_text(latex_macros_rows(full_rows, prefix="mtfull"))
    if calibration_rows is None:
        calibration_rows = read_calibration(outdir.parent / "results")
    if calibration_rows:
        (outdir / "calibration.tex").write_text(latex_calibration(calibration_rows))
        (outdir / "calibration-macros.tex").write_text(latex_calibration_macros(calibration_rows))
    for v in verdicts:
        render = renderer(v.id)
        if render is not None:
            render(v, outdir)
    return sorted(outdir.iterdir())


def renderer(cid: str):
    """``render_<id>(verdict, outdir)`` from ``metatheory.report.<family>``, or ``None``."""
    import importlib

    c = claims.get(cid)
    try:
        mod = importlib.import_module(f"{__name__}.{c.family}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{c.family}":
            raise
        return None
    return getattr(mod, f"render_{c.id.lower()}", None)


def build_pdf(paper_dir: Path) -> Path | None:
    """``latexmk -pdf main.tex`` in ``paper_dir``; ``None`` when latexmk is not installed."""
    if shutil.which("latexmk") is None:
        return None
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
    proc = subprocess.run(cmd, cwd=paper_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"latexmk failed in {paper_dir}:\n{tail}")
    return Path(paper_dir) / "main.pdf"


RESULTS = Path("results")
"""Committed results of the run the paper shows, relative to the paper directory."""


def store_results(verdicts, results_dir: Path, preset: str) -> None:
    """Merge ``verdicts`` into the committed results under ``results_dir``: each claim's
    evidence (``evidence/<ID>.json`` + ``.npz``), the ledger ``ledger-<preset>.json`` and the
    run's date, machine and versions (``run-<preset>.json``, per claim). A verdict replayed from
    the experiment cache keeps the stored run's seconds and date."""
    from metatheory.report import evidence

    results_dir = Path(results_dir)
    ev_dir = results_dir / f"evidence-{preset}"
    ledger = results_dir / f"ledger-{preset}.json"
    runs = results_dir / f"run-{preset}.json"
    rows = {r["id"]: r for r in json.loads(ledger.read_text())} if ledger.exists() else {}
    info = json.loads(runs.read_text()) if runs.exists() else {}
    now = evidence.run_info(preset)
    for v, row in zip(verdicts, ledger_rows(verdicts), strict=True):
        if getattr(v, "cached", False) and v.id in rows and v.id in info:
            # a verdict re-judged from the experiment cache: the run it replays keeps its time
            row["seconds"] = rows[v.id]["seconds"]
        else:
            info[v.id] = now
        evidence.save(v, row, ev_dir)
        rows[v.id] = row
    order = {c: i for i, c in enumerate(claims.ids())}
    ledger.write_text(
        json.dumps(sorted(rows.values(), key=lambda r: order.get(r["id"], 99)), indent=1) + "\n"
    )
    runs.write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")


def load_results(results_dir: Path, preset: str = "full") -> list:
    """The stored verdicts (with evidence) of every claim in ``results_dir``."""
    from metatheory.report import evidence

    return evidence.load_all(Path(results_dir) / f"evidence-{preset}", claims.ids())


def latex_run_info(info: dict) -> str:
    r"""``\mtrun{date}``, ``\mtrun{machine}``, ``\mtrun{jax}`` … of the stored run (the range
    of dates when claims were run at different times)."""
    if not info:
        return "% no run information\n"
    dates = sorted({v["date"] for v in info.values()})
    first = next(iter(info.values()))
    vals = {
        "date": dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}",
        "machine": first["machine"],
        "backend": first["backend"],
        "python": first["python"],
        "jax": first["jax"],
        "jaxlib": first["jaxlib"],
        "numpy": first["numpy"],
        "preset": first["preset"],
        "claims": str(len(info)),
    }
    lines = [r"% generated by metatheory.report; do not edit"]
    for k, x in vals.items():
        lines.append(rf"\expandafter\def\csname mtrun@{k}\endcsname{{{tex_escape(x)}}}")
    return "\n".join(lines) + "\n"


def write_paper_from_results(paper_dir: Path, preset: str = "full") -> list:
    """Render ``paper_dir/generated`` from the committed results of the ``preset`` run: every
    figure, table and macro (``\\mtval`` and ``\\mtfull`` both quote that run). Returns the
    stored verdicts; claims without stored results are missing from the document."""
    paper_dir = Path(paper_dir)
    results = paper_dir / RESULTS
    verdicts = load_results(results, preset)
    out = paper_dir / "generated"
    write_generated(verdicts, out)
    rows = ledger_rows(verdicts)
    (out / "macros-full.tex").write_text(latex_macros_rows(rows, prefix="mtfull"))
    runs = results / f"run-{preset}.json"
    info = json.loads(runs.read_text()) if runs.exists() else {}
    (out / "run.tex").write_text(latex_run_info(info))
    return verdicts
