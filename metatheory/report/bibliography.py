"""Which works each claim rests on: the BibTeX keys of ``paper/refs.bib`` it cites.

A claim declares its works once, ``@claim(..., cites=[keys])`` (its ``source``'s origin
first); :func:`cites` reads them from the registry. :func:`cite_source` turns a claim's
plain-text source ("Finn et al. 2017, Sec. 2.2; chain rule") into LaTeX with natbib citations
("\\citet{finn2017maml}, Sec. 2.2; chain rule"), which the appendix ledger prints.
"""

from __future__ import annotations

import re

__all__ = ["cites", "AUTHOR_YEAR", "cite_source"]

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
    "burda2016importance": ("Burda", "2016"),
    "snell2017prototypical": ("Snell", "2017"),
    "vinyals2016matching": ("Vinyals", "2016"),
    "banerjee2005bregman": ("Banerjee", "2005"),
    "pearlmutter1994fast": ("Pearlmutter", "1994"),
    "shewchuk1994cg": ("Shewchuk", "1994"),
    "bradbury2018jax": ("Bradbury", "2018"),
}
"""Key -> (first author's surname, year): how a plain-text source names the work."""


def cites(cid: str) -> tuple[str, ...]:
    """The BibTeX keys claim ``cid`` declares (``@claim(cites=...)``); ``()`` for an id that is
    not registered."""
    from metatheory import claims

    try:
        declared = claims.get(cid).cites
    except KeyError:
        return ()
    return tuple(declared)


def _pattern(key: str) -> re.Pattern:
    surname, year = AUTHOR_YEAR[key]
    # "Finn et al. 2017", "Amit & Meir 2018", "Fallah, Mokhtari, Ozdaglar 2020", "2018a,b"
    return re.compile(rf"\b{re.escape(surname)}\b[^;\d()]{{0,40}}?{year}[a-z]?(?:,[a-z]\b)?")


def cite_source(cid: str, source: str, escape=None) -> str:
    r"""``source`` with every "Author ... Year" of a work in :func:`cites` of ``cid`` replaced
    by ``\citet{key}`` (works sharing author and year cited together), the rest escaped by
    ``escape``; cited works the text does not name are appended. An unknown ``cid`` gives the
    escaped text."""
    if escape is None:
        from metatheory.report import tex_escape as escape
    declared = cites(cid)
    keys = [k for k in declared if k in AUTHOR_YEAR]
    parts = [p.strip() for p in str(source).split(";")]
    parts = [p for p in parts if p]
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
    rest = [k for k in declared if k not in cited]
    if rest:
        out.append(r"\citet{" + ",".join(rest) + "}")
    return "; ".join(x for x in out if x)
