"""The ledger: one JSON-ready row per verdict, the terminal table, and the LaTeX
``longtable`` of the paper's appendix (statements typeset from each claim's ``latex``, the
evidence with :func:`metatheory.report._format.readable`)."""

from __future__ import annotations

import json
from pathlib import Path

from metatheory import claims
from metatheory.report._format import _P, _tex_breakable, readable, tex_escape

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
        # the claim's evidence kind and the verdict's summary, where the claim declares them
        for key, value in (
            ("evidence", getattr(c, "evidence", None)),
            ("summary", getattr(v, "summary", None)),
        ):
            if value:
                rows[-1][key] = str(value)
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


def latex_ledger(verdicts) -> str:
    """The ledger as a ``longtable`` (see :func:`latex_ledger_rows`)."""
    return latex_ledger_rows(ledger_rows(verdicts))


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


_LEDGER_COLS = (0.05, 0.21, 0.58, 0.095)
"""Column widths (fractions of the line) of the ledger: id, source, evidence, verdict; with
4pt column separation they fill about 99% of the line."""


def _check_name(name: str) -> str:
    """A sub-check's name as words: a slug (``psd-bound-attained``) with its hyphens as spaces."""
    name = str(name)
    return name.replace("-", " ") if " " not in name else name


def _evidence_tex(r: dict) -> str:
    """What was predicted, then each sub-check with what it measured beside its own tolerance
    (a row without ``checks`` gives the measured and tolerance strings as they are)."""
    out = r"\emph{Predicted:} " + _tex_breakable(r.get("predicted", ""))
    if r.get("summary"):
        out = r"\emph{Summary:} " + _tex_breakable(r["summary"]) + r"\newline" + out
    checks = r.get("checks") or []
    if not checks:
        return (
            out
            + r"\newline\emph{Measured:} "
            + _tex_breakable(r.get("measured", ""))
            + r"\newline\emph{Tolerance:} "
            + _tex_breakable(r.get("tolerance", ""))
        )
    for k in checks:
        name = _check_name(k.get("name", ""))
        if k.get("control") and not name.lower().startswith("control"):
            name = "control: " + name
        line = r"\newline\emph{" + readable(name) + ":} " + _tex_breakable(k.get("measured", ""))
        tol = str(k.get("tolerance") or "").strip()
        if tol:
            line += r" \,[" + _tex_breakable(tol) + "]"
        out += line
    return out


def latex_ledger_rows(rows, caption: str | None = None, label: str | None = None) -> str:
    r""":func:`latex_ledger` from JSON rows (those of :func:`ledger_rows`): a ``longtable``
    that fits the text width. Each claim takes two rows: its typeset statement across the
    table, then its source (with ``\citet`` from the claim's ``cites``), what was
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
    head = r"ID & Source & Predicted; each sub-check: measured [tolerance] & Verdict \\"
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
        evidence = _evidence_tex(r)
        verdict = _verdict_tex(r["verdict"])
        if r.get("evidence"):
            verdict += r"\newline{\footnotesize " + tex_escape(r["evidence"]) + "}"
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
