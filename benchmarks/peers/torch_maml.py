"""The peer: the same MAML meta-step written with ``torch.func`` the way the sources write it
(``functional_call`` + ``grad`` for the inner loop, ``vmap`` over tasks, the outer
``loss.backward()`` unwinding the second-order chain, ``torch.optim.Adam``).

Workload (identical to the JAX one): 1-40-40-1 ReLU MLP, meta-batch B = 25, K = 10 support and
10 query points per task, N = 5 inner steps with alpha = 0.01, Adam(1e-3), float32.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap


def make_torch_step(*, n_inner: int = 5, alpha: float = 0.01, first_order: bool = False):
    """``(step, batch)``: ``step(*batch)`` runs one meta-step in place and returns the loss."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )
    params = dict(model.named_parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss(p, x, y):
        return F.mse_loss(functional_call(model, p, (x,)), y)

    def task_meta_loss(p, xs, ys, xq, yq):
        for _ in range(n_inner):
            g = grad(loss)(p, xs, ys)
            if first_order:
                g = {k: v.detach() for k, v in g.items()}
            p = {k: p[k] - alpha * g[k] for k in p}
        return loss(p, xq, yq)

    batched_meta_loss = vmap(task_meta_loss, in_dims=(None, 0, 0, 0, 0))

    def step(xs, ys, xq, yq):
        opt.zero_grad()
        meta_loss = batched_meta_loss(params, xs, ys, xq, yq).mean()
        meta_loss.backward()
        opt.step()
        return meta_loss.detach()

    gen = torch.Generator().manual_seed(0)
    amp = torch.rand(25, 1, 1, generator=gen) * 4.9 + 0.1
    phase = torch.rand(25, 1, 1, generator=gen) * torch.pi
    xs = torch.rand(25, 10, 1, generator=gen) * 10 - 5
    xq = torch.rand(25, 10, 1, generator=gen) * 10 - 5
    batch = (xs, amp * torch.sin(xs - phase), xq, amp * torch.sin(xq - phase))
    return step, batch


def best_threads(step, batch, *, seconds: float = 2.0) -> dict:
    """:func:`steps_per_second` with 1 and with all intra-op threads; the faster one (small
    ops often run faster single-threaded, especially on a loaded machine)."""
    n_all = torch.get_num_threads()
    runs = []
    for n in sorted({1, n_all}):
        torch.set_num_threads(n)
        runs.append(steps_per_second(step, batch, seconds=seconds / 2))
    torch.set_num_threads(n_all)
    return max(runs, key=lambda r: r["steps_per_s"])


def steps_per_second(step, batch, *, seconds: float = 2.0, repeats: int = 3) -> dict:
    """Best-of-``repeats`` throughput over runs of about ``seconds``: wall and CPU time."""
    step(*batch)
    n = 1
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        step(*batch)
        n += 1
    per = max((time.perf_counter() - t0) / n, 1e-6)
    n = max(1, int(seconds / repeats / per))
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            step(*batch)
        wall.append(n / (time.perf_counter() - t))
        cpu.append(n / max(time.process_time() - c, 1e-9))
    return {
        "steps_per_s": max(wall),
        "steps_per_cpu_s": max(cpu),
        "threads": torch.get_num_threads(),
    }
