"""Which works each claim rests on: BibTeX keys of ``paper/refs.bib`` per claim id.

:data:`CITES` lists, for every claim, the works its ``source`` names (the statement's
origin first). :func:`cite_source` turns a claim's plain-text source ("Finn et al. 2017,
Sec. 2.2; chain rule") into LaTeX with natbib citations ("\\citet{finn2017maml}, Sec. 2.2;
chain rule"), which the appendix ledger prints.
"""

from __future__ import annotations

import re

__all__ = ["CITES", "AUTHOR_YEAR", "cite_source"]

CITES: dict[str, list[str]] = {
    # gradient lens
    "G1": ["finn2017maml"],
    "G2": ["finn2017maml", "nichol2018reptile"],
    "G3": ["finn2017maml", "nichol2018reptile"],
    "G4": ["nichol2018reptile"],
    "G5": ["finn2017maml", "rajeswaran2019imaml"],
    "G6": ["rajeswaran2019imaml", "bradbury2018jax"],
    "G7": ["rajeswaran2019imaml", "shewchuk1994cg"],
    "G8": ["li2017metasgd", "finn2017maml"],
    "G9": ["finn2017maml"],
    # hierarchical Bayes
    "H1": ["grant2018recasting", "santos1996equivalence"],
    "H2": ["grant2018recasting"],
    # convergence theory
    "C1": ["fallah2020convergence"],
    "C2": ["fallah2020convergence"],
    "C3": ["fallah2020convergence"],
    "C4": ["fallah2020convergence"],
    "C5": ["fallah2020convergence"],
    "C6": ["ji2022multistep", "fallah2020convergence"],
    "C7": ["fallah2020convergence"],
    # PAC-Bayes
    "P1": ["mcallester1999averaging", "maurer2004note", "amit2018meta", "pentina2014lifelong"],
    "P2": ["amit2018meta"],
    "P3": ["amit2018meta", "pentina2014lifelong"],
    "P4": ["dziugaite2017nonvacuous", "amit2018meta"],
    "P5": ["amit2018meta", "pentina2014lifelong"],
    # neural processes
    "B1": ["rasmussen2006gp", "garnelo2018conditional"],
    "B2": ["garnelo2018conditional", "garnelo2018neural", "kim2019attentive"],
    # prototypes
    "M1": ["snell2017prototypical"],
    "M2": ["banerjee2005bregman", "snell2017prototypical"],
    "M3": ["snell2017prototypical", "vinyals2016matching"],
    # systems
    "S1": ["pearlmutter1994fast"],
    "S2": ["bradbury2018jax"],
}
"""Claim id -> BibTeX keys (all present in ``paper/refs.bib``; tests/test_bibliography.py)."""

AUTHOR_YEAR: dict[str, tuple[str, str]] = {
    "finn2017maml": ("Finn", "2017"),
    "nichol2018reptile": ("Nichol", "2018"),
    "rajeswaran2019imaml": ("Rajeswaran", "2019"),
    "grant2018recasting": ("Grant", "2018"),
    "santos1996equivalence": ("Santos", "1996"),
    "fallah2020convergence": ("Fallah", "2020"),
    "ji2022multistep": ("Ji", "2022"),
    "li2017metasgd": ("Li", "2017"),
    "mcallester1999averaging": ("McAllester", "1999"),
    "maurer2004note": ("Maurer", "2004"),
    "amit2018meta": ("Amit", "2018"),
    "pentina2014lifelong": ("Pentina", "2014"),
    "dziugaite2017nonvacuous": ("Dziugaite", "2017"),
    "rasmussen2006gp": ("Rasmussen", "2006"),
    "garnelo2018conditional": ("Garnelo", "2018"),
    "garnelo2018neural": ("Garnelo", "2018"),
    "kim2019attentive": ("Kim", "2019"),
    "snell2017prototypical": ("Snell", "2017"),
    "vinyals2016matching": ("Vinyals", "2016"),
    "banerjee2005bregman": ("Banerjee", "2005"),
    "pearlmutter1994fast": ("Pearlmutter", "1994"),
    "shewchuk1994cg": ("Shewchuk", "1994"),
    "bradbury2018jax": ("Bradbury", "2018"),
}
"""Key -> (first author's surname, year): how a plain-text source names the work."""

# Parts of a source that point outside the repository (working notes); never typeset.
_NOT_TYPESET = re.compile(r"CLAIMS|DESIGN|\.md\b|seed text", re.IGNORECASE)


def _pattern(key: str) -> re.Pattern:
    surname, year = AUTHOR_YEAR[key]
    # "Finn et al. 2017", "Amit & Meir 2018", "Fallah, Mokhtari, Ozdaglar 2020", "2018a,b"
    return re.compile(rf"\b{re.escape(surname)}\b[^;\d()]{{0,40}}?{year}[a-z]?(?:,[a-z]\b)?")


def cite_source(cid: str, source: str, escape=None) -> str:
    r"""``source`` with every "Author ... Year" of a work in ``CITES[cid]`` replaced by
    ``\citet{key}`` (works sharing author and year cited together), the rest escaped by
    ``escape``; works of ``CITES[cid]`` the text does not name are appended. Parts that refer
    to files outside the repository are dropped. An unknown ``cid`` gives the escaped text."""
    if escape is None:
        from metatheory.report import tex_escape as escape
    keys = [k for k in CITES.get(cid, []) if k in AUTHOR_YEAR]
    parts = [p.strip() for p in str(source).split(";")]
    parts = [p for p in parts if p and not _NOT_TYPESET.search(p)]
    cited: set[str] = set()
    out = []
    for part in parts:
        spans: dict[tuple[int, int], list[str]] = {}
        for k in keys:
            if k in cited:
                continue
            m = _pattern(k).search(part)
            if m:
                spans.setdefault(m.span(), []).append(k)
        # keep non-overlapping matches, earliest first
        pieces, pos = [], 0
        for (a, b), ks in sorted(spans.items()):
            if a < pos:
                continue
            pieces.append(escape(part[pos:a]))
            pieces.append(r"\citet{" + ",".join(ks) + "}")
            cited.update(ks)
            pos = b
        pieces.append(escape(part[pos:]))
        out.append("".join(pieces).strip())
    rest = [k for k in CITES.get(cid, []) if k not in cited]
    if rest:
        out.append(r"\citet{" + ",".join(rest) + "}")
    return "; ".join(x for x in out if x)
