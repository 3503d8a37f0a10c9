"""The ledger machinery, the report writers and the CLI (fast: only fake claims are run)."""

import json

import jax
import numpy as np
import pytest

from metatheory import claims, experiments, report
from metatheory.claims import Check, Mutant, Verdict
from metatheory.cli import main


def _cfg():
    return {"quick": 1.0, "full": 2.0}


@experiments.experiment
def _fake_experiment(config, key):
    return float(config) + float(jax.random.uniform(key))


def _scale(x):
    return x


@pytest.fixture
def fake_claims(monkeypatch):
    """Two throwaway claims in a private copy of the registry."""
    claims.ids()  # load the real families first
    reg = dict(claims.REGISTRY)
    monkeypatch.setattr(claims, "REGISTRY", reg)
    mutants = [
        Mutant("double", "scale doubled", f"{__name__}:_scale", lambda f: lambda x: 2 * f(x)),
        Mutant("neg", "sign flipped", f"{__name__}:_scale", lambda f: lambda x: -f(x)),
    ]

    def good(r):
        ok = 1.0 <= _scale(r) <= 2.0
        return Verdict.of(
            [
                Check("range", ok, f"{r:.3f}", "in [1, 2]"),
                Check("control: 0", not (1.0 <= 0.0 <= 2.0), "0 rejected", control=True),
            ],
            predicted="p",
            numbers={"x": 1.5e-12, "name": "a_b"},
        )

    def blind(r):
        return Verdict.of(
            [Check("range", True, "m", "t"), Check("control: passes", False, control=True)]
        )

    common = dict(
        family="fake",
        source="nowhere",
        expected_="holds",
        experiment=_fake_experiment,
        presets=_cfg(),
        mutants=tuple(mutants),
    )
    reg["Z1"] = claims.Claim(
        id="Z1", name="fake_good", statement="A fake claim.", check=good, seed=901, **common
    )
    reg["Z2"] = claims.Claim(
        id="Z2", name="fake_blind", statement="Blind.", check=blind, seed=902, **common
    )
    return reg


def test_unknown_claim_and_verdict_are_rejected():
    with pytest.raises(KeyError, match="unknown claim"):
        claims.get("Q99")
    with pytest.raises(ValueError, match="verdict"):
        Verdict("maybe")
    with pytest.raises(ValueError, match="preset"):
        claims.run("G1", "medium")
    with pytest.raises(ValueError, match="sub-check"):
        Verdict.of([])
    with pytest.raises(ValueError, match="not a control"):
        Verdict.of([Check("c", True, control=True)])


def test_claim_declaration_is_validated():
    kw = dict(name="n", statement="s", source="s", presets=_cfg(), seed=1)
    m = Mutant("m", "d", f"{__name__}:_scale", lambda f: f)
    with pytest.raises(ValueError, match="two mutants"):
        claims.claim("Z9", experiment=_fake_experiment, mutants=[m], **kw)
    with pytest.raises(ValueError, match="presets"):
        claims.claim("Z9", experiment=_fake_experiment, mutants=[m, m], **{**kw, "presets": {}})
    with pytest.raises(TypeError, match="experiment"):
        claims.claim(
            "Z9", experiment=lambda c, k: 0, mutants=[m, Mutant("n", "d", m.target, m.make)], **kw
        )


def test_failed_control_or_subcheck_turns_verdict_into_fails(fake_claims):
    v = claims.run("Z1")
    assert v.verdict == "holds" and v.control_rejected and v.failed == []
    v = claims.run("Z2")
    assert v.verdict == "fails" and v.failed == ["control: passes"]


def test_mutants_are_patched_in_and_restored(fake_claims):
    assert claims.run("Z1", mutant="double").verdict == "fails"  # 2(1 + u) > 2
    assert claims.run("Z1", mutant="neg").verdict == "fails"
    assert claims.run("Z1").verdict == "holds"
    assert _scale(1.0) == 1.0


def test_seed_draws_a_fresh_instance(fake_claims):
    v1, v2 = claims.run("Z1", seed=1), claims.run("Z1", seed=2)
    assert (v1.seed, v2.seed, claims.run("Z1").seed) == (1, 2, 901)
    assert v1.measured != v2.measured


def test_experiment_cache_reuses_a_finished_run(fake_claims, tmp_path):
    with experiments.caching(tmp_path) as store:
        claims.run("Z1")
        assert store["computed"] == 1
        v = claims.run("Z1")
        assert store["computed"] == 1 and v.cached
    assert len(list((tmp_path / "experiments").iterdir())) == 1
    with experiments.caching(tmp_path) as store:  # a new process would read it from disk
        assert claims.run("Z1").cached and store["computed"] == 0


def test_json_rows_equal_table_rows(fake_claims, tmp_path):
    vs = [claims.run("Z1"), claims.run("Z2")]
    report.write_json(vs, tmp_path / "l.json")
    rows = json.loads((tmp_path / "l.json").read_text())
    assert [r["id"] for r in rows] == ["Z1", "Z2"]
    assert set(report.COLUMNS) <= set(rows[0])
    assert [c["name"] for c in rows[1]["checks"]] == ["range", "control: passes"]
    table = report.format_table(vs)
    for r in rows:
        assert r["verdict"] in table and r["id"] in table


def test_latex_writers_escape_and_format(fake_claims):
    vs = [claims.run("Z1")]
    tex = report.latex_ledger(vs)
    assert r"\verdict{holds}" in tex
    macros = report.latex_macros(vs)
    assert r"mt@Z1.x\endcsname{\ensuremath{1.5\times10^{-12}}}" in macros
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
    assert main(["calibrate", "G1", "--seeds", "0"]) == 2
    assert main(["calibrate", "G1", "--first-seed", "-1"]) == 2
    assert "--first-seed must be >= 0" in capsys.readouterr().err


def test_cli_verify_writes_json_and_exit_code(fake_claims, tmp_path, capsys):
    assert main(["verify", "Z1", "--json", str(tmp_path / "a.json")]) == 0
    assert json.loads((tmp_path / "a.json").read_text())[0]["verdict"] == "holds"
    assert main(["verify", "z2"]) == 1  # a 'fails' verdict is never the expected one
    assert "Z2" in capsys.readouterr().out


def test_cli_list(capsys):
    assert main(["list"]) == 0
    assert "G1" in capsys.readouterr().out


def test_cli_list_json_declares_evidence_and_cites(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == claims.ids()
    for r in rows:
        c = claims.get(r["id"])
        assert r["evidence"] == c.evidence and r["cites"] == list(c.cites)
        assert r["evidence"] in ("", *claims.EVIDENCE_KINDS)
        assert r["mutants"] == claims.mutant_names(r["id"]) and len(r["mutants"]) >= 2


def test_numbers_are_finite_floats(fake_claims):
    assert np.isfinite(claims.run("Z1").numbers["x"])


def test_cache_entry_of_the_wrong_type_is_recomputed(fake_claims, tmp_path):
    import pickle

    with experiments.caching(tmp_path):
        want = claims.run("Z1").measured
    (entry,) = (tmp_path / "experiments").iterdir()
    for junk in (pickle.dumps(None), pickle.dumps({"result": 1}), b"\x80truncated"):
        entry.write_bytes(junk)
        with experiments.caching(tmp_path) as store:
            v = claims.run("Z1")
            assert not v.cached and store["computed"] == 1 and v.measured == want
        with experiments.caching(tmp_path) as store:  # rewritten: read back from disk
            assert claims.run("Z1").cached and store["computed"] == 0


def test_unwritable_experiment_cache_warns_and_keeps_memory(fake_claims, tmp_path):
    blocker = tmp_path / "experiments"
    blocker.write_text("a file where the folder should be")
    with pytest.warns(RuntimeWarning, match="memory only"):
        with experiments.caching(tmp_path) as store:
            claims.run("Z1")
            assert claims.run("Z1").cached and store["computed"] == 1


def test_damaged_xla_cache_entries_are_removed(tmp_path, capsys):
    from jax._src.compilation_cache import compress_executable

    xla = tmp_path / "xla"
    xla.mkdir()
    blob = compress_executable(bytes(range(256)) * 64)  # an entry as JAX writes it
    for name in ("jit_a", "jit_b", "jit_c"):
        (xla / f"{name}-cache").write_bytes(blob)
    assert experiments.repair_xla_cache(xla) == 0  # intact entries stay
    (xla / "jit_b-cache").write_bytes(blob[: len(blob) // 2])  # truncated
    (xla / "jit_b-atime").write_bytes(b"12345678")
    with experiments.caching(tmp_path):  # checked when the cache is opened
        pass
    assert sorted(f.name for f in xla.glob("jit_*")) == ["jit_a-cache", "jit_c-cache"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "removed 1 damaged XLA cache entries" in err[0]
