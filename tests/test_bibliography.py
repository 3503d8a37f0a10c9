"""Citations: every claim declares works that exist in paper/refs.bib."""

import re
from pathlib import Path

import pytest

from metatheory import claims
from metatheory.report.bibliography import AUTHOR_YEAR, cite_source, cites

REFS = Path(__file__).resolve().parents[1] / "paper" / "refs.bib"
ALL = claims.ids()


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", REFS.read_text(), flags=re.MULTILINE))


@pytest.mark.parametrize("cid", ALL)
def test_every_claim_cites_works_of_refs_bib(cid):
    keys = cites(cid)
    assert keys, f"{cid} declares no cites"
    assert len(set(keys)) == len(keys), keys
    assert set(keys) <= _bib_keys(), sorted(set(keys) - _bib_keys())


def test_declared_keys_are_in_refs_bib():
    """Every key of every claim's ``cites`` and of the author-year table is a refs.bib entry."""
    bib = _bib_keys()
    declared = {k for c in ALL for k in claims.get(c).cites}
    assert declared <= bib, sorted(declared - bib)
    assert set(AUTHOR_YEAR) <= bib, sorted(set(AUTHOR_YEAR) - bib)


def test_cites_are_read_from_the_claim(monkeypatch):
    import dataclasses

    c = claims.get("G1")
    monkeypatch.setitem(claims.REGISTRY, "G1", dataclasses.replace(c, cites=("nichol2018reptile",)))
    assert cites("G1") == ("nichol2018reptile",)
    assert cites("Z9") == ()


def test_cite_source_replaces_author_year():
    tex = cite_source("G1", "Finn et al. 2017, Sec. 2.2; chain rule")
    assert tex == r"\citet{finn2017maml}, Sec. 2.2; chain rule"
    tex = cite_source("B2", "Garnelo et al. 2018a,b; Kim et al. 2019; Burda et al. 2016")
    assert tex == (
        r"\citet{garnelo2018conditional,garnelo2018neural}; \citet{kim2019attentive}; "
        r"\citet{burda2016importance}"
    )
    tex = cite_source("C2", "Recursion of the FMO Lemma 4.2 argument")
    assert tex.endswith(r"\citet{fallah2020convergence}")
    tex = cite_source("H1", "Grant et al. 2018, Sec. 3.1 (after Santos 1996)")
    assert tex == r"\citet{grant2018recasting}, Sec. 3.1 (after \citet{santos1996equivalence})"
    assert cite_source("Z9", "a_b") == r"a\_b"


def _cal_row(cid, k_fa=0, n=50, powers=((50, 50),)):
    from metatheory.stats import clopper_pearson

    def kn(k, n):
        lo, hi = clopper_pearson(k, n, level=0.05)
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
    assert summary["fresh"] == 1 and r"]$^\dagger$" in report.latex_calibration(rerun)
    results = tmp_path / "results"
    results.mkdir()
    (results / "calibration.json").write_text(json.dumps(rows))  # S1 before G1
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
