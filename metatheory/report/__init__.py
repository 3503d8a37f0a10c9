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
    "latex_macros",
    "fmt",
    "write_equation",
    "savefig",
    "write_generated",
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
                "expected": c.expected,
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


def format_table(verdicts) -> str:
    """The ledger as a plain-text table (the same rows as :func:`ledger_rows`); long cells wrap."""
    import textwrap

    widths = {
        "id": 3,
        "statement": 34,
        "predicted": 24,
        "measured": 30,
        "tolerance": 18,
        "verdict": 21,
        "seconds": 7,
    }
    head = "  ".join(c.ljust(widths[c]) for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in ledger_rows(verdicts):
        cells = {
            c: textwrap.wrap(str(r[c] if c != "seconds" else f"{r[c]:.1f}"), widths[c]) or [""]
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
}


def tex_escape(s: str) -> str:
    """Escape text for LaTeX, mapping the Greek and maths symbols used in the ledger."""
    out = []
    for ch in str(s):
        out.append(_TEX_ESC.get(ch) or _UNICODE.get(ch) or (ch if ord(ch) < 128 else "?"))
    return "".join(out)


def latex_ledger(verdicts) -> str:
    """The ledger as a ``longtable`` (columns id, statement, predicted, measured, tolerance,
    verdict, seconds)."""
    return latex_ledger_rows(ledger_rows(verdicts))


def latex_ledger_rows(rows) -> str:
    """:func:`latex_ledger` from JSON rows (those of :func:`ledger_rows`)."""
    lines = [
        r"\begin{longtable}{@{}l p{0.22\linewidth} p{0.15\linewidth} p{0.26\linewidth}"
        r" p{0.13\linewidth} l r@{}}",
        r"\toprule",
        r"ID & Statement & Predicted & Measured & Tolerance & Verdict & s \\",
        r"\midrule\endhead",
    ]
    for r in rows:
        cells = [r["id"], r["statement"], r["predicted"], r["measured"], r["tolerance"]]
        cells = [tex_escape(x) for x in cells]
        verdict = r"\verdict{" + r["verdict"] + "}"
        lines.append(" & ".join([*cells, verdict, f"{r['seconds']:.1f}"]) + r" \\")
    lines += [r"\bottomrule", r"\end{longtable}"]
    return "\n".join(lines) + "\n"


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


def write_generated(verdicts, outdir: Path, full_rows=None) -> list[Path]:
    """Rewrite ``outdir``: ledger.json, ledger.tex, macros.tex, and each claim's render.

    ``full_rows`` (the JSON ledger of a ``--full`` run) adds ``ledger-full.tex`` and
    ``macros-full.tex`` (``\\mtfull{ID.name}``), so the paper can quote paper-scale numbers
    beside the run it was built from."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for stale in ("ledger-full.tex", "macros-full.tex"):
        (outdir / stale).unlink(missing_ok=True)
    write_json(verdicts, outdir / "ledger.json")
    (outdir / "ledger.tex").write_text(latex_ledger(verdicts))
    (outdir / "macros.tex").write_text(latex_macros(verdicts))
    if full_rows:
        (outdir / "ledger-full.tex").write_text(latex_ledger_rows(full_rows))
        (outdir / "macros-full.tex").write_text(latex_macros_rows(full_rows, prefix="mtfull"))
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
