"""The citation map: every claim cites works that exist in paper/refs.bib."""

import re
from pathlib import Path

from metatheory.report.bibliography import AUTHOR_YEAR, CITES, cite_source

REFS = Path(__file__).resolve().parents[1] / "paper" / "refs.bib"

# The 30 claims of the ledger (families G, H, C, P, B, M, S).
CLAIM_IDS = (
    [f"G{i}" for i in range(1, 10)]
    + ["H1", "H2"]
    + [f"C{i}" for i in range(1, 8)]
    + [f"P{i}" for i in range(1, 6)]
    + ["B1", "B2", "M1", "M2", "M3", "S1", "S2"]
)


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", REFS.read_text(), flags=re.MULTILINE))


def test_every_claim_has_citations():
    assert len(CLAIM_IDS) == 30
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


def _cal_row(cid, k_fa=0, n=50, powers=((50, 50),)):
    from metatheory.stats import clopper_pearson

    def kn(k, n):
        lo, hi = clopper_pearson(k, n, level=0.95)
        return {"k": k, "n": n, "ci": [float(lo), float(hi)]}

    return {
        "id": cid,
        "seeds": n,
        "preset": "quick",
        "statistical": True,
        "expected": "holds",
        "false_alarm": kn(k_fa, n),
        "design_level": 0.002,
        "mutants": [
            {"name": f"bug_{i}", "description": "", "target": "", "power": kn(k, m)}
            for i, (k, m) in enumerate(powers)
        ],
        "seconds": 1.0,
    }


def test_latex_calibration_and_write_generated(tmp_path):
    import json

    from metatheory import report

    rows = [_cal_row("S1", powers=((50, 50), (10, 50))), _cal_row("G1", k_fa=1)]
    tex = report.latex_calibration(rows)
    assert r"\label{tab:calibration}" in tex and r"\begin{longtable}" in tex
    assert tex.index("G1") < tex.index("S1")  # ledger order
    assert r"0/50 [0.00,\,0.07]" in tex and r"bug\_\allowbreak{}1" in tex
    assert r"\csname mt@cal.mutants\endcsname{3}" in tex
    assert r"\csname mt@cal.G1.fa\endcsname{1/50 [" in tex
    assert r"\csname mt@cal.S1.bug_1\endcsname{10/50}" in tex
    assert report.calibration_summary(rows)["weak"] == 1
    assert "wallminutes" not in report.calibration_summary(rows)  # no timed run among the rows
    timed = [{**rows[0], "started": 100.0, "finished": 3700.0, "jobs": 2, "run": 99.0},
             {**rows[1], "started": 200.0, "finished": 7300.0, "jobs": 2, "run": 99.0}]  # fmt: skip
    summary = report.calibration_summary(timed)
    assert (summary["timed"], summary["wallminutes"], summary["jobs"]) == (2, "120", 2)
    # a later run of one claim on fresh seeds: its own run, marked, not part of the span
    rerun = [timed[0], {**timed[1], "started": 9000.0, "finished": 9600.0, "first_seed": 50,
                        "run": 8999.0}]  # fmt: skip
    summary = report.calibration_summary(rerun)
    assert (summary["timed"], summary["wallminutes"], summary["timedelsewhere"]) == (1, "60", 1)
    assert summary["fresh"] == 1 and r"50$^\dagger$" in report.latex_calibration(rerun)
    results = tmp_path / "results"
    results.mkdir()
    (results / "calibration-systems.json").write_text(json.dumps(rows[:1]))
    (results / "calibration-maml.json").write_text(json.dumps(rows[1:]))
    assert [r["id"] for r in report.read_calibration(results)] == ["G1", "S1"]
    report.write_generated([], tmp_path / "generated")
    assert "tab:calibration" in (tmp_path / "generated" / "calibration.tex").read_text()


def test_ledger_rows_typeset_statement_and_citation():
    from metatheory import report

    row = {
        "id": "G1",
        "statement": "plain text",
        "latex": r"$\nabla L$",
        "predicted": "a_b",
        "measured": "1e-15",
        "tolerance": "1e-10",
        "verdict": "holds-with-correction",
        "expected": "holds-with-correction",
        "seconds": 1.0,
        "source": "Finn et al. 2017, Sec. 2.2",
    }
    tex = report.latex_ledger_rows([row])
    assert r"$\nabla L$" in tex and "plain text" not in tex
    assert r"\citet{finn2017maml}, Sec. 2.2" in tex
    assert r"\verdict{holds-\allowbreak{}with-\allowbreak{}correction}" in tex
    assert "expected" not in tex
    tex = report.latex_ledger_rows([{**row, "id": "Z9", "latex": "", "verdict": "fails"}])
    assert "plain text" in tex and r"(expected \verdict" in tex


def test_every_character_of_the_ledgers_is_typeset():
    """No character of the committed paper-scale ledger or of a claim's plain text falls back
    to ``?`` in LaTeX (e.g. ``∋``, or the combining tilde of ``σ̃``)."""
    import json
    from pathlib import Path

    from metatheory import claims, report

    rows = json.loads((Path(__file__).parents[1] / "paper/results/ledger-full.json").read_text())
    texts = [v for r in rows for v in r.values() if isinstance(v, str)]
    texts += [t for c in claims.ids() for t in (claims.get(c).statement, claims.get(c).source)]
    bad = {t for t in texts if "?" in report.tex_escape(t) and "?" not in t}
    assert not bad
    assert report.tex_escape("σ̃ ∋") == r"$\tilde{\sigma}$ $\ni$"
