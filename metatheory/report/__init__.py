"""From verdicts to what a reader sees: the terminal table, the JSON ledger, and
``paper/generated/`` (ledger table, LaTeX macros of measured numbers, equations, figures).

Nothing in ``paper/generated/`` is edited by hand: ``write_generated`` rewrites it all from
the same verdicts (and evidence) that the verifications assert.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from metatheory import claims  # noqa: E402
from metatheory.report._format import fmt, readable, tex_escape  # noqa: E402
from metatheory.report.calibration import (  # noqa: E402
    calibration_summary,
    latex_calibration,
    latex_calibration_macros,
    read_calibration,
    timed_runs,
)
from metatheory.report.ledger import (  # noqa: E402
    COLUMNS,
    format_table,
    latex_ledger,
    latex_ledger_rows,
    ledger_rows,
    write_json,
)
from metatheory.report.macros import (  # noqa: E402
    latex_macros,
    latex_macros_rows,
    latex_run_info,
    write_equation,
)

__all__ = [
    "COLUMNS",
    "readable",
    "tex_escape",
    "timed_runs",
    "latex_run_info",
    "latex_macros_rows",
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


PAPER_DIR = Path(__file__).resolve().parents[2] / "paper"
"""The repository's paper, whose sections say at what width each figure is included."""


def savefig(fig, outdir: Path, name: str) -> Path:
    """Save ``fig`` as ``<name>.pdf`` (for the paper) and ``<name>.png`` (for a quick look),
    with every legend text and tick label at least :data:`figures.MIN_PT` points at the width
    the paper includes it (:func:`figures.make_legible`); the printed sizes are recorded in
    ``outdir/figures.json``."""
    from metatheory.report import figures

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paper = outdir.parent if (outdir.parent / "sections").is_dir() else PAPER_DIR
    fraction = figures.included_fractions(paper).get(name, figures.DEFAULT_FRACTION)
    figures.make_legible(fig, fraction)
    record = figures.font_record(fig, fraction)
    fig.savefig(outdir / f"{name}.pdf", bbox_inches="tight")
    fig.savefig(outdir / f"{name}.png", bbox_inches="tight", dpi=110)
    plt.close(fig)
    index = outdir / "figures.json"
    known = json.loads(index.read_text()) if index.exists() else {}
    known[name] = record
    index.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
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
        "figures.json",
    ):
        (outdir / stale).unlink(missing_ok=True)
    write_json(verdicts, outdir / "ledger.json")
    (outdir / "ledger.tex").write_text(
        latex_ledger_rows(
            ledger_rows(verdicts),
            caption="The ledger of the run this document was built from: each claim's "
            "statement and source, what was predicted, what each sub-check measured with its "
            "tolerance in brackets, and the verdict.",
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
