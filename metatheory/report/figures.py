"""Legible figures: every legend text, tick label and label at least :data:`MIN_PT` points as
printed.

A figure is saved with a tight bounding box and included in the paper by ``\\mtfigure`` at a
fraction of ``\\linewidth``; LaTeX scales it by (included width) / (saved width), and a font of
``s`` points prints at ``s`` times that scale. :func:`make_legible` raises every legend text and
tick label below the minimum to it (at the width the paper includes the figure), and
:func:`font_record` states the printed sizes, which ``savefig`` writes to ``figures.json``.
"""

from __future__ import annotations

import re
from pathlib import Path

MIN_PT = 7.0
"""Smallest printed size of a legend text or tick label, in points."""

LINEWIDTH_IN = (210.0 - 2 * 22.0) / 25.4
"""``\\linewidth`` of ``paper/main.tex`` in inches (A4, 2.2 cm margins, one column)."""

DEFAULT_FRACTION = 0.7
"""The width of ``\\mtfigure`` without its optional argument, as a fraction of the line."""

PAD_IN = 0.1
"""Matplotlib's ``savefig.pad_inches`` around a tight bounding box."""

_MTFIGURE = re.compile(r"\\mtfigure(?:\[([^\]]*)\])?\{([^}]+)\}")


def _fraction(arg: str | None) -> float:
    if not arg:
        return DEFAULT_FRACTION
    m = re.fullmatch(r"\s*([0-9.]*)\s*\\(?:line|text)width\s*", arg)
    if not m:
        raise ValueError(f"mtfigure width: expected a fraction of \\linewidth, got {arg!r}")
    return float(m.group(1) or 1.0)


def included_fractions(paper_dir: Path) -> dict[str, float]:
    """``{figure name: width as a fraction of the line}`` of every ``\\mtfigure`` in
    ``paper_dir/main.tex`` and ``paper_dir/sections/*.tex``."""
    paper_dir = Path(paper_dir)
    files = [paper_dir / "main.tex", *sorted((paper_dir / "sections").glob("*.tex"))]
    out: dict[str, float] = {}
    for f in files:
        if f.exists():
            text = "\n".join(line.split("%")[0] for line in f.read_text().splitlines())
            for m in _MTFIGURE.finditer(text):
                out[m.group(2)] = _fraction(m.group(1))
    return out


def _texts(fig):
    """(kind, Text) for every visible, non-empty tick label, legend text and label (axis
    labels, titles, annotations) of ``fig``."""
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for t in axis.get_ticklabels(which="both"):
                if t.get_visible() and t.get_text():
                    out.append(("tick", t))
        for t in (ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title):
            if t.get_visible() and t.get_text():
                out.append(("label", t))
        out += [("label", t) for t in ax.texts if t.get_visible() and t.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        out.append(("label", fig._suptitle))
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for leg in legends:
        if leg is not None and leg.get_visible():
            out += [("legend", t) for t in leg.get_texts() if t.get_text()]
            if leg.get_title() is not None and leg.get_title().get_text():
                out.append(("legend", leg.get_title()))
    return out


def saved_width_in(fig) -> float:
    """The width of ``fig`` saved with ``bbox_inches="tight"``, in inches (laid out without
    rasterizing: the text extents come from the same renderer ``savefig`` uses)."""
    fig.draw_without_rendering()
    bbox = fig.get_tightbbox(fig.canvas.get_renderer())
    return float(bbox.width) + 2 * PAD_IN


def make_legible(fig, fraction: float, min_pt: float = MIN_PT) -> float:
    """Raise every tick label, legend text and label of ``fig`` that would print below ``min_pt``
    (the figure included at ``fraction`` of the line) to ``min_pt`` plus a margin; the tight
    box grows with the fonts, so this repeats until it holds. Returns the final scale."""
    if not 0 < fraction <= 1.5:
        raise ValueError(f"fraction: expected a width in (0, 1.5] of the line, got {fraction}")
    scale = fraction * LINEWIDTH_IN / saved_width_in(fig)
    for _ in range(10):
        small = [t for _, t in _texts(fig) if t.get_fontsize() * scale < min_pt]
        if not small:
            break
        for t in small:
            t.set_fontsize(1.05 * min_pt / scale)
        scale = fraction * LINEWIDTH_IN / saved_width_in(fig)
    return scale


def font_record(fig, fraction: float) -> dict:
    """The printed sizes of ``fig`` included at ``fraction`` of the line: its saved width,
    the scale, and the smallest printed tick label and legend text (points; ``None`` if none)."""
    width = saved_width_in(fig)
    scale = fraction * LINEWIDTH_IN / width
    sizes: dict[str, list[float]] = {"tick": [], "legend": [], "label": []}
    for kind, t in _texts(fig):
        sizes[kind].append(t.get_fontsize() * scale)
    return {
        "fraction": fraction,
        "saved_width_in": round(width, 4),
        "scale": round(scale, 4),
        "min_tick_pt": round(min(sizes["tick"]), 3) if sizes["tick"] else None,
        "min_legend_pt": round(min(sizes["legend"]), 3) if sizes["legend"] else None,
        "min_label_pt": round(min(sizes["label"]), 3) if sizes["label"] else None,
    }
