"""The citation map: every claim cites works that exist in paper/refs.bib."""

import re
from pathlib import Path

from metatheory.report.bibliography import AUTHOR_YEAR, CITES, cite_source

REFS = Path(__file__).resolve().parents[1] / "paper" / "refs.bib"

# The 28 claims of the ledger (families G, H, C, P, B, M, S).
CLAIM_IDS = (
    [f"G{i}" for i in range(1, 10)]
    + ["H1", "H2"]
    + [f"C{i}" for i in range(1, 6)]
    + [f"P{i}" for i in range(1, 6)]
    + ["B1", "B2", "M1", "M2", "M3", "S1", "S2"]
)


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", REFS.read_text(), flags=re.MULTILINE))


def test_every_claim_has_citations():
    assert len(CLAIM_IDS) == 28
    assert set(CITES) == set(CLAIM_IDS)
    assert all(CITES[c] for c in CLAIM_IDS)


def test_every_cited_key_is_in_refs_bib():
    keys = _bib_keys()
    assert len(keys) >= 20
    cited = {k for ks in CITES.values() for k in ks}
    assert cited <= keys, sorted(cited - keys)
    assert set(AUTHOR_YEAR) <= keys, sorted(set(AUTHOR_YEAR) - keys)


def test_registered_claims_are_mapped():
    from metatheory import claims

    assert set(claims.ids()) <= set(CITES)


def test_cite_source_replaces_author_year_and_drops_notes():
    tex = cite_source("G1", "Finn et al. 2017, Sec. 2.2; chain rule")
    assert tex == r"\citet{finn2017maml}, Sec. 2.2; chain rule"
    tex = cite_source("B2", "Garnelo et al. 2018a,b; Kim et al. 2019")
    assert tex == r"\citet{garnelo2018conditional,garnelo2018neural}; \citet{kim2019attentive}"
    tex = cite_source("C2", "Recursion of the FMO Lemma 4.2 argument; CLAIMS.md C2")
    assert "CLAIMS" not in tex and tex.endswith(r"\citet{fallah2020convergence}")
    tex = cite_source("H1", "Grant et al. 2018, Sec. 3.1 (after Santos 1996)")
    assert tex == r"\citet{grant2018recasting}, Sec. 3.1 (after \citet{santos1996equivalence})"
    assert cite_source("Z9", "a_b") == r"a\_b"
