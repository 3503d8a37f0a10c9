"""The ledger machinery, the report writers and the CLI (fast: no real claim is run)."""

import json

import pytest

from metatheory import claims, report
from metatheory.claims import Verdict
from metatheory.cli import main


@pytest.fixture
def fake_claims(monkeypatch):
    """Two throwaway claims in a private copy of the registry."""
    claims.ids()  # load the real families first
    reg = dict(claims.REGISTRY)
    monkeypatch.setattr(claims, "REGISTRY", reg)

    def good(preset):
        return Verdict(
            "Z1",
            "holds",
            "p",
            "m 1.0",
            "t",
            "wrong exponent",
            True,
            numbers={"x": 1.5e-12, "name": "a_b"},
        )

    def blind(preset):
        return Verdict("Z2", "holds", "p", "m", "t", "a control that passed", False)

    reg["Z1"] = claims.Claim("Z1", "fake_good", "fake", "A fake claim.", "nowhere", "holds", good)
    reg["Z2"] = claims.Claim("Z2", "fake_blind", "fake", "Blind.", "nowhere", "holds", blind)
    return reg


def test_every_registered_claim_is_well_formed():
    for cid in claims.ids():
        c = claims.get(cid)
        assert c.statement and c.source and c.stem
        assert c.expected in claims.VERDICTS[:3]
    assert {"G1", "G2", "S1"} <= set(claims.ids())


def test_unknown_claim_and_verdict_are_rejected():
    with pytest.raises(KeyError, match="unknown claim"):
        claims.get("Q99")
    with pytest.raises(ValueError, match="verdict"):
        Verdict("G1", "maybe", "", "", "", "", True)
    with pytest.raises(ValueError, match="preset"):
        claims.run("G1", "medium")


def test_unrejected_control_turns_verdict_into_fails(fake_claims):
    assert claims.run("Z1").verdict == "holds"
    v = claims.run("Z2")
    assert v.verdict == "fails" and "control" in v.note


def test_cache_reuses_a_finished_run(fake_claims, tmp_path):
    v1 = claims.run("Z1", cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    v2 = claims.run("Z1", cache_dir=tmp_path)
    assert v2.seconds == v1.seconds


def test_json_rows_equal_table_rows(fake_claims, tmp_path):
    vs = [claims.run("Z1"), claims.run("Z2")]
    report.write_json(vs, tmp_path / "l.json")
    rows = json.loads((tmp_path / "l.json").read_text())
    assert [r["id"] for r in rows] == ["Z1", "Z2"]
    assert set(report.COLUMNS) <= set(rows[0])
    table = report.format_table(vs)
    for r in rows:
        assert r["verdict"] in table and r["id"] in table


def test_latex_writers_escape_and_format(fake_claims):
    vs = [claims.run("Z1")]
    tex = report.latex_ledger(vs)
    assert r"\verdict{holds}" in tex
    macros = report.latex_macros(vs)
    assert r"mt@Z1.x\endcsname{\ensuremath{1.500\times 10^{-12}}}" in macros
    assert r"a\_b" in macros
    assert report.tex_escape("α ≤ 1 & 50%") == r"$\alpha$ $\le$ 1 \& 50\%"
    assert report.fmt(0.25) == "0.25"
    assert report.fmt(float("inf")) == r"\ensuremath{\infty}"


def test_cli_bad_input_exits_2_with_one_line(capsys):
    assert main(["verify", "Q99"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown claim" in err and "\n" not in err
    assert main(["frobnicate"]) == 2
    assert main(["verify", "--full", "--json"]) == 2
    assert main(["paper", "--paper-dir", "/nonexistent"]) == 2
    assert main(["bound"]) == 2


def test_cli_verify_writes_json_and_exit_code(fake_claims, tmp_path, capsys):
    assert main(["verify", "Z1", "--json", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())[0]["verdict"] == "holds"
    assert main(["verify", "z2"]) == 1  # a 'fails' verdict is never the expected one
    assert "Z2" in capsys.readouterr().out


def test_cli_list(capsys):
    assert main(["list"]) == 0
    assert "G1" in capsys.readouterr().out
