"""G9's results table states no mean over (seed, task) runs of which some diverged."""

from types import SimpleNamespace

import numpy as np

from metatheory.report import sinusoid


def _evidence(mse):
    """Evidence as the check stores it, from per-run MSEs (models, seeds, K, steps, tasks)."""
    with np.errstate(invalid="ignore"):
        mean = mse.mean(axis=(1, 4))
    curve = np.stack([mean, 0.9 * mean, 1.1 * mean], axis=-1)
    diverged = np.mean(~(mse < 1e3), axis=(1, 4))
    median = np.median(np.where(np.isfinite(mse), mse, np.inf), axis=(1, 4))
    models = ("maml", "fomaml", "pretrained")
    result = SimpleNamespace(mse=mse, config=SimpleNamespace(k_eval=(5, 10)), models=models)
    return SimpleNamespace(result=result, curve=curve, diverged=diverged, median=median)


def test_diverged_cells_give_median_and_count_never_a_mean():
    rng = np.random.default_rng(0)
    mse = rng.uniform(0.1, 0.3, size=(3, 2, 2, 11, 50))  # 2 seeds x 50 tasks = 100 runs
    mse[0, 1, 0, 5, 7] = 5e12  # one MAML run at K=5 diverges after 5 steps: a finite, huge MSE
    mse[0, 0, 0, 10, 3] = np.inf
    ev = _evidence(mse)
    table = sinusoid.latex_table(ev)
    maml_k5 = next(line for line in table.splitlines() if line.startswith("5 & \\textbf{MAML}"))
    cells = maml_k5.rstrip(" \\").split(" & ")[2:]  # 0, 1, 5, 10 steps
    assert "div." not in cells[0] and "div." not in cells[1]
    assert cells[2] == f"{ev.median[0, 0, 5]:.2f} {{\\scriptsize median; 1 of 100 div.}}"
    assert "1 of 100 div." in cells[3]
    # the mean over the diverged runs (about 5e10) appears nowhere in the table
    assert "10^{10}" not in table and "infty" not in table
