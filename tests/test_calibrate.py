"""Calibration: rates, intervals, resume from cache, and seeds sharded over forced host
devices giving the same results as unsharded."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from metatheory import calibrate, claims, experiments, parallel
from metatheory.claims import Check, Mutant, Verdict


def _core(config, key):
    return {"x": jax.random.normal(key, (config,)).mean()}


def _finish(config, out):
    return float(out["x"])


_vm = experiments.vmappable(_core, _finish)


def _offset(x):
    return x


@pytest.fixture
def fake_stat_claim(monkeypatch):
    claims.ids()
    reg = dict(claims.REGISTRY)
    monkeypatch.setattr(claims, "REGISTRY", reg)

    def check(r):
        z = _offset(r) * 8.0  # mean of 64 standard normals: sd 1/8
        return Verdict.of([Check("z", abs(z) <= 2.576, f"{z:.2f}", "|z| ≤ 2.576", level=0.01)])

    reg["Z7"] = claims.Claim(
        id="Z7",
        name="fake_z",
        family="fake",
        statement="mean 0",
        source="none",
        expected_="holds",
        check=check,
        experiment=_vm,
        presets={"quick": 64, "full": 64},
        seed=907,
        statistical=True,
        mutants=(
            Mutant("shift", "mean shifted by 1", f"{__name__}:_offset", lambda f: lambda x: x + 1),
            Mutant(
                "tiny", "mean shifted by 0.01", f"{__name__}:_offset", lambda f: lambda x: x + 0.01
            ),
        ),
    )
    return reg


def test_rates_and_resume(fake_stat_claim, tmp_path):
    row = calibrate.calibrate_claim("Z7", seeds=20, cache_dir=tmp_path)
    assert row["false_alarm"]["n"] == 20 and row["false_alarm"]["k"] <= 2
    shift, tiny = row["mutants"]
    assert shift["power"]["k"] == 20  # a shift of 8 standard errors is always caught
    assert tiny["power"]["k"] <= 3  # 0.08 standard errors: no power, honestly reported
    lo, hi = shift["power"]["ci"]
    assert lo > 0.8 and hi == 1.0
    assert row["design_level"] == pytest.approx(0.01)
    n_files = len(list((tmp_path / "calibration").iterdir()))
    again = calibrate.calibrate_claim("Z7", seeds=20, cache_dir=tmp_path)
    assert again["false_alarm"] == row["false_alarm"]
    assert len(list((tmp_path / "calibration").iterdir())) == n_files


def test_json_schema(fake_stat_claim, tmp_path):
    p = tmp_path / "c.json"
    calibrate.calibrate(["Z7"], seeds=3, json_path=p)
    (row,) = json.loads(p.read_text())
    assert {"id", "seeds", "false_alarm", "design_level", "mutants"} <= set(row)
    assert {"k", "n"} <= set(row["false_alarm"])
    assert {"name", "description", "power"} <= set(row["mutants"][0])


def test_first_seed_takes_later_seeds(fake_stat_claim, tmp_path):
    """``first_seed`` continues the claim's seed sequence: seeds 2, 3 of a 2-seed run from 2 are
    the last two of a 4-seed run from 0, and the row records where it started."""
    four = calibrate.calibrate_claim("Z7", seeds=4, cache_dir=tmp_path)
    later = calibrate.calibrate_claim("Z7", seeds=2, first_seed=2)
    assert later["first_seed"] == 2 and four["first_seed"] == 0
    runs = calibrate._runs("Z7", "quick", None, [claims.calibration_seed("Z7", i) for i in (2, 3)],
                           tmp_path)  # fmt: skip
    assert later["false_alarm"]["k"] == sum(r["verdict"] == "fails" for r in runs)
    with pytest.raises(ValueError, match="first_seed"):
        calibrate.calibrate_claim("Z7", seeds=2, first_seed=-1)


def test_map_seeds_vmapped_equals_loop():
    seeds = [3, 5, 8]
    batched = experiments.map_seeds(_vm, 16, seeds)
    looped = [_finish(16, _core(16, jax.random.key(s))) for s in seeds]
    assert jnp.allclose(jnp.array(batched), jnp.array(looped), rtol=1e-6)


def test_seeds_sharded_over_four_devices_equal_unsharded():
    code = textwrap.dedent(
        """
        import jax, json
        import numpy as np
        from metatheory import experiments, parallel
        assert len(jax.devices()) == 4
        def core(config, key):
            return {"x": jax.random.normal(key, (config,)).sum()}
        def finish(config, out):
            return float(out["x"])
        vm = experiments.vmappable(core, finish)
        seeds = list(range(10))  # 10 is not a multiple of 4: padding is exercised
        sharded = experiments.map_seeds(vm, 32, seeds)
        single = experiments.map_seeds(vm, 32, seeds, mesh=parallel.seed_mesh(jax.devices()[:1]))
        print(json.dumps([sharded, single]))
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    sharded, single = json.loads(out.stdout.strip().splitlines()[-1])
    assert sharded == pytest.approx(single, rel=1e-6, abs=1e-6)


def test_compiler_options_reach_the_top_level_jit_only():
    """``vmappable(..., compiler_options=)`` runs alone and under map_seeds's vmap (JAX refuses
    the options on a nested jit), with the numbers of the default options up to the last
    float32 bits (the optimization level may reorder a reduction)."""
    opt = experiments.vmappable(_core, _finish, compiler_options=experiments.LONG_RUNNING)
    assert opt.compiler_options == experiments.LONG_RUNNING
    key = jax.random.key(3)
    assert opt(64, key) == pytest.approx(_vm(64, key), rel=1e-6)
    got, want = experiments.map_seeds(opt, 64, [1, 2]), experiments.map_seeds(_vm, 64, [1, 2])
    assert got == pytest.approx(want, rel=1e-6)


def test_caching_sets_and_restores_the_xla_cache(tmp_path):
    """A disk cache also keeps XLA's compiled programs (``dir/xla``) unless a compilation cache
    is configured already; the setting is restored when the block ends."""
    before = jax.config.jax_compilation_cache_dir
    with experiments.caching(tmp_path):
        inside = jax.config.jax_compilation_cache_dir
        jax.jit(lambda x: jnp.sin(x) * 3.0 + x)(jnp.arange(5.0)).block_until_ready()
    assert jax.config.jax_compilation_cache_dir == before
    assert inside == (before or str(tmp_path / "xla"))
    with experiments.caching(None):
        assert jax.config.jax_compilation_cache_dir == before


def test_rows_resume_and_record_their_preset(fake_stat_claim, tmp_path):
    """Rows stream into the JSON file with their preset and the check's source hash; a second
    call with the same request keeps the row (no task runs), another seed count recomputes."""
    p, ran = tmp_path / "c.json", []
    (row,) = calibrate.calibrate(["Z7"], seeds=4, json_path=p, block=3,
                                 on_task=lambda t, r: ran.append(t))  # fmt: skip
    assert row["preset"] == "quick" and row["workers"] == ["local"] and row["jobs"] == 1
    assert len(ran) == 1 + 3 * 2  # design, then 2 blocks (3 + 1 seeds) x (true + 2 mutants)
    assert json.loads(p.read_text()) == [row]
    again = calibrate.calibrate(["Z7"], seeds=4, json_path=p, on_task=lambda t, r: ran.append(t))
    assert again == [row] and len(ran) == 7
    calibrate.calibrate(["Z7"], seeds=2, json_path=p, on_task=lambda t, r: ran.append(t))
    assert len(ran) > 7 and json.loads(p.read_text())[0]["seeds"] == 2


def test_blocks_do_not_change_the_rows(fake_stat_claim):
    """A seed's verdict depends on the claim, preset and seed only, not on how seeds are
    split into tasks."""
    one = calibrate.calibrate_claim("Z7", seeds=5, block=5)
    two = calibrate.calibrate_claim("Z7", seeds=5, block=2)
    for r in (one, two):
        for k in ("seconds", "started", "finished"):
            del r[k]
    assert one == two
    with pytest.raises(ValueError, match="block"):
        calibrate.claim_tasks("Z7", "quick", [1, 2], block=0)


def test_committed_rows_are_quick_rows():
    """Every committed calibration row names the preset it ran at."""
    path = Path(__file__).resolve().parents[1] / "paper" / "results" / "calibration.json"
    rows = json.loads(path.read_text())
    assert {r["id"] for r in rows} <= set(claims.ids())
    assert all(r["preset"] in claims.PRESETS for r in rows)
    with pytest.raises(ValueError, match="jobs"):
        calibrate.calibrate(["C2"], jobs=0)


def test_a_failing_task_is_one_line_and_no_row(fake_stat_claim, monkeypatch):
    """A task that raises is tried twice, then reported in one line; the claim gets no row."""
    calls = []

    def broken(r):
        calls.append(1)
        raise ValueError("broken check\nsecond line")

    monkeypatch.setitem(fake_stat_claim, "Z7", dataclasses.replace(fake_stat_claim["Z7"],
                                                                   check=broken))  # fmt: skip
    events = []
    with pytest.raises(calibrate.TaskFailed, match="Z7"):
        calibrate.calibrate(["Z7"], seeds=1, on_event=events.append)
    assert len(events) == 4 and len(calls) == 8  # design, true, 2 mutants: each tried twice
    assert all("\n" not in e and "ValueError: broken check" in e for e in events), events


def test_rows_of_both_presets_share_one_file(tmp_path):
    """A full-preset row is merged beside the quick row of the same claim, never over it."""
    path = tmp_path / "calibration.json"
    quick = {"id": "G1", "preset": "quick", "seeds": 10, "mutants": []}
    full = {"id": "G1", "preset": "full", "seeds": 10, "mutants": []}
    calibrate.write_json([quick], path)
    calibrate.write_json([full], path)
    calibrate.write_json([dict(quick, seeds=12)], path)
    rows = json.loads(path.read_text())
    assert [(r["preset"], r["seeds"]) for r in rows] == [("quick", 12), ("full", 10)]


def test_mutants_run_on_the_first_seeds_only():
    seeds = [claims.calibration_seed("G1", i) for i in range(10)]
    tasks = calibrate.claim_tasks("G1", "quick", seeds, block=4, mutant_seeds=3)
    true = [s for t in tasks if t.kind == "runs" and t.mutant is None for s in t.seeds]
    assert true == seeds
    for m in claims.mutant_names("G1"):
        assert [s for t in tasks if t.mutant == m for s in t.seeds] == seeds[:3]
    with pytest.raises(ValueError, match="mutant_seeds"):
        calibrate.claim_tasks("G1", "quick", seeds, mutant_seeds=0)


def test_seed_chunk_fits_the_budget():
    assert parallel.seed_chunk(100, 10, 1, 100) == 10  # fits: one program
    assert parallel.seed_chunk(100, 10, 1, 35) == 3  # 10 bytes a seed
    assert parallel.seed_chunk(100, 8, 4, 60) == 4  # 2 seeds a device at 50 bytes: 1 each
    assert parallel.seed_chunk(100, 10, 1, 9) == 0  # one seed does not fit
    with pytest.raises(ValueError, match="multiple"):
        parallel.seed_chunk(100, 10, 4, 60)


def test_map_seeds_in_chunks_equals_one_program(monkeypatch):
    """Under a memory budget of 1.5 seeds' program, 5 seeds run one at a time (5 chunks), with
    the numbers of one program; with no room for one seed, a ``MemoryError`` says so."""
    seeds = [3, 5, 8, 13, 21]
    whole = experiments.map_seeds(_vm, 4096, seeds)
    sizes = []
    real = parallel.seed_chunk

    def spy(need, n, n_dev, budget):
        sizes.append(real(need, n, n_dev, int(1.5 * need / n)))
        return sizes[-1]

    monkeypatch.setattr(parallel, "seed_chunk", spy)
    chunked = experiments.map_seeds(_vm, 4096, seeds)
    # float32 means of 4,096 draws summed in another order: equal to 1e-6 absolute
    assert sizes == [1] and chunked == pytest.approx(whole, abs=1e-6)
    monkeypatch.setattr(parallel, "memory_budget", lambda device=None: 0)
    monkeypatch.setattr(parallel, "seed_chunk", real)
    with pytest.raises(MemoryError, match="needs"):
        experiments.map_seeds(_vm, 4096, [34])


def test_a_task_silences_only_the_partial_read_warning(fake_stat_claim, monkeypatch):
    """A partially written XLA cache entry read inside ``experiments.caching`` (here by a
    calibration task; another worker still writing it) is not reported; any other warning is."""
    import warnings

    check = fake_stat_claim["Z7"].check

    def warns(r):
        partial = f"{experiments.PARTIAL_READ} for 'jit_x': truncated stream"
        warnings.warn(partial, UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return check(r)

    monkeypatch.setitem(fake_stat_claim, "Z7", dataclasses.replace(fake_stat_claim["Z7"],
                                                                   check=warns))  # fmt: skip
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = calibrate.run_task(calibrate.Task("Z7", "quick", "runs", None, (1,)))
    assert [str(w.message) for w in seen] == ["something else"]
    assert out["records"][0]["verdict"] == "holds"
