"""The ``metatheory`` command: exit codes, one-line errors, --version, output paths checked
before any work, the PDF build status, ``bound`` help/JSON, cached replays, table width."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from metatheory import __version__, cli, report, stats
from metatheory.bounds import CALCULATORS
from metatheory.claims import Verdict


def _fake_verdicts(cached=False):
    v = Verdict(
        verdict="holds",
        predicted="(I − αH_0)…(I − αH_{N−1})∇L_Q(θ_N) " * 2,
        measured="closed-form rel err 3.1e-16; finite differences 2.2e-9 " * 2,
        tolerance="1e-10 relative (float64 roundoff × N)",
        id="G1",
        seconds=12.3,
        cached=cached,
    )
    return [v]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"metatheory {__version__}"


def test_ctrl_c_is_one_line_exit_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_list", interrupted)
    assert cli.main(["list"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "metatheory: interrupted"


def test_broken_pipe_no_traceback():
    code = "from metatheory.cli import main; import sys; sys.exit(main(['list']))"
    proc = subprocess.run(
        f'{sys.executable} -c "{code}" | true',  # the reader exits before any output
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("cmd", ["verify", "reproduce", "calibrate"])
def test_output_path_checked_before_any_work(monkeypatch, tmp_path, capsys, cmd):
    ran = []
    monkeypatch.setattr(cli, "_run_claims", lambda *a, **k: ran.append(1) or [])
    monkeypatch.setattr(cli, "_generate", lambda *a, **k: ran.append(1) or ([], None))
    for bad in (tmp_path, tmp_path / "missing" / "x.json"):
        argv = [cmd, "G1", "--json", str(bad)] if cmd != "reproduce" else [cmd, "--json", str(bad)]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--json" in err[0]
    assert not ran
    assert not (tmp_path / "missing").exists()  # no directories created


def test_paper_without_latexmk_exits_nonzero_with_a_clear_last_line(monkeypatch, tmp_path, capsys):
    (tmp_path / "main.tex").write_text("\\documentclass{article}")
    monkeypatch.setattr(cli, "_run_claims", lambda *a, **k: _fake_verdicts())
    monkeypatch.setattr(report, "write_generated", lambda *a, **k: None)
    monkeypatch.setattr(report, "write_paper_from_results", lambda *a, **k: _fake_verdicts())
    monkeypatch.setattr(report, "build_pdf", lambda paper: None)
    assert cli.main(["paper", "--paper-dir", str(tmp_path)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("metatheory paper: PDF not built: latexmk not found")
    assert "lmodern" in last
    out = tmp_path / "ledger.json"
    assert cli.main(["reproduce", "--paper-dir", str(tmp_path), "--json", str(out)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("metatheory reproduce: PDF not built")
    assert json.loads(out.read_text())[0]["id"] == "G1"


def test_paper_with_failing_latexmk_exits_nonzero(monkeypatch, tmp_path, capsys):
    (tmp_path / "main.tex").write_text("x")
    monkeypatch.setattr(cli, "_run_claims", lambda *a, **k: _fake_verdicts())
    monkeypatch.setattr(report, "write_generated", lambda *a, **k: None)
    monkeypatch.setattr(report, "write_paper_from_results", lambda *a, **k: _fake_verdicts())

    def fails(paper):
        raise RuntimeError("latexmk failed in paper:\n! Undefined control sequence.")

    monkeypatch.setattr(report, "build_pdf", fails)
    assert cli.main(["paper", "--paper-dir", str(tmp_path)]) == 1
    assert "PDF not built: latexmk failed" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("name", sorted(CALCULATORS))
def test_bound_help_describes_every_argument(name, capsys):
    with pytest.raises(SystemExit):
        cli.main(["bound", name, "--help"])
    out = capsys.readouterr().out
    assert ":math:" not in out and "``" not in out and "\\" not in out
    import inspect

    for pname in inspect.signature(CALCULATORS[name]).parameters:
        flag = "\n  --" + pname.replace("_", "-") + " "
        block = out[out.index(flag) + 3 :].split("\n  --")[0]
        assert len(block.split(None, 2)) > 2, f"{name} --{pname} has no description"
        if pname != "psd":
            assert "in [" in block or "in (" in block, f"{name} --{pname}: no range"


def test_bound_prints_names_and_json(capsys):
    args = ["bound", "fmo-smoothness", "--L", "1", "--rho", "2", "--alpha", "0.1"]
    assert cli.main([*args, "--grad-norm", "3"]) == 0
    assert capsys.readouterr().out.strip() == "fmo_smoothness = 5.2"
    assert cli.main([*args, "--grad-norm", "3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["calculator"] == "fmo-smoothness" and d["result"]["fmo_smoothness"] == 5.2
    assert d["arguments"]["alpha"] == 0.1
    am = "--emp-risk 0.1 --n-tasks 10 --m 100 --kl-hyper 5 --kl-task 20 --delta 0.1".split()
    assert cli.main(["bound", "amit-meir", *am, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["result"]) == {"total", "empirical", "task_term", "meta_term"}


def test_table_fits_100_columns_and_marks_cached():
    text = report.format_table(_fake_verdicts(cached=True))
    assert max(len(x) for x in text.splitlines()) <= 100
    assert "cached" in text and "12.3" not in text
    text = report.format_table(_fake_verdicts(cached=False))
    assert "12.3" in text and "cached" not in text
    assert max(len(x) for x in report.format_table(_fake_verdicts(), width=80).splitlines()) <= 80


def test_mean_ci_of_infinite_samples_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = stats.mean_ci([1.0, np.inf, 2.0])
        assert ci.estimate == ci.low == ci.high == np.inf
        ci = stats.mean_ci([np.inf, -np.inf])
        assert np.isnan(ci.estimate)


def test_no_warnings_from_a_bound_run():
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "metatheory.cli", "bound", "fomaml-bias"]
        + "--alpha 1 --L 1000 --G 1 --n-steps 1000".split(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fomaml_bias_bound = inf" and proc.stderr == ""


# ------------------------------------------------------------------ bound: help, values, JSON

HELP_FORMULAS = {
    "maml-smoothness": "(1 + alpha L)^(2N)L + (rho G/L)(1 + alpha L)^(N - 1)((1 + alpha L)^N - 1)",
    "grant-precision": "lambda = h r^N/(1 - r^N), r = 1 - alpha h",
    "pentina-lampert": "lambda = n sqrt(m_bar) (task level)",
    "amit-meir": "sqrt((KL(Q||P) + ln(2n/delta))/(2(n - 1)))",
}
"""Golden plain-text formulas: each help text shows its calculator's formula readably."""


@pytest.mark.parametrize("name", sorted(HELP_FORMULAS))
def test_bound_help_shows_readable_formula(name, capsys):
    with pytest.raises(SystemExit):
        cli.main(["bound", name, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    assert HELP_FORMULAS[name] in text
    assert "see above" not in text and "^N-1" not in text and "nsqrt" not in text


@pytest.mark.parametrize("value", ["-1e5", "-100000", "-.5", "-inf"])
def test_bound_negative_value_reaches_the_range_check(value, capsys):
    args = ["bound", "mcallester", "--emp-risk", "0.1", "--m", "100", "--delta", "0.05"]
    assert cli.main([*args, "--kl", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("metatheory bound mcallester: kl must be in [0") and "\n" not in err


def test_bound_unknown_flag_names_the_subcommand(capsys):
    args = ["bound", "mcallester", "--emp-risk", "0.1", "--kl", "1", "--m", "100"]
    assert cli.main([*args, "--delta", "0.05", "--foo", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "metatheory bound mcallester: unrecognized arguments: --foo 1"


def test_bound_json_is_standard_with_infinite_values(capsys):
    args = ["bound", "mcallester", "--emp-risk", "0.1", "--kl", "inf", "--m", "100"]
    assert cli.main([*args, "--delta", "0.05", "--json"]) == 0
    out = capsys.readouterr().out

    def reject(token):
        raise ValueError(token)

    d = json.loads(out, parse_constant=reject)  # strict: no Infinity/NaN tokens
    assert d["result"]["mcallester_bound"] == "inf" and d["arguments"]["kl"] == "inf"
    assert float(d["result"]["mcallester_bound"]) == np.inf


def test_bound_dict_result(capsys):
    assert cli.main(["bound", "maml-step-cost", "--n-inner", "5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["result"]
    assert d["maml"] == 16 and d["fomaml"] == 6  # (1 + 2) 5 + 1 and 5 + 1


# ------------------------------------------------------------------ verify: ids, cache, --json


def test_duplicate_ids_run_once_with_a_note(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cli, "_run_claims", lambda ids, *a, **k: seen.append(ids) or [])
    monkeypatch.setattr(report, "format_table", lambda v: "")
    assert cli.main(["verify", "G1", "g1", "G1", "H1"]) == 0
    assert seen == [["G1", "H1"]]
    err = capsys.readouterr().err
    assert err.count("running it once") == 2


@pytest.mark.parametrize("kind", ["file", "readonly"])
def test_unusable_cache_is_refused_before_any_work(monkeypatch, tmp_path, capsys, kind):
    import os

    cache = tmp_path / "cache"
    if kind == "file":
        cache.write_text("not a directory")
    else:
        cache.mkdir()
        cache.chmod(0o500)
        if os.access(cache, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
    monkeypatch.setattr(cli, "CACHE", cache)
    ran = []
    monkeypatch.setattr(cli, "_run_claims", lambda *a, **k: ran.append(1) or [])
    try:
        assert cli.main(["verify", "H1", "--cache"]) == 2
    finally:
        cache.chmod(0o700) if cache.is_dir() else None
    err = capsys.readouterr().err.strip().splitlines()
    assert not ran and len(err) == 1 and str(cache) in err[0]


def test_unusable_cache_check_default_argument_is_the_cache(monkeypatch, tmp_path):
    cache = tmp_path / "c"
    cache.write_text("x")
    with pytest.raises(cli._Usage, match="not a directory"):
        cli._check_cache("verify", cache)
    cli._check_cache("verify", tmp_path / "fresh")  # creatable: accepted


def test_json_write_failure_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_run_claims", lambda *a, **k: _fake_verdicts())

    def full(verdicts, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_json", full)
    assert cli.main(["verify", "G1", "--json", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"metatheory verify: --json {tmp_path / 'x.json'}: No space left on device"


def test_table_keeps_identifiers_whole():
    v = _fake_verdicts()[0]
    v = type(v)(**{**v.__dict__, "tolerance": "rel_err_norm below 1e-10 (see rel_err_norm)"})
    for width in (100, 80):
        text = report.format_table([v], width=width)
        assert text.count("rel_err_norm") == 2, text
        assert max(len(x) for x in text.splitlines()) <= width


def test_read_only_cache_is_refused_even_as_root(monkeypatch, tmp_path):
    import os

    cache = tmp_path / "cache"
    cache.mkdir()
    real = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, m: False if Path(p) == cache else real(p, m))
    with pytest.raises(cli._Usage, match="not writable"):
        cli._check_cache("verify", cache)
