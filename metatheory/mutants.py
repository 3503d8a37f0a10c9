"""Mutants: plausible bugs patched into the public code, which a claim's check must reject.

A :class:`Mutant` names a public function by ``"module:attr"`` (a calculator in
:mod:`metatheory.bounds`, a learner in :mod:`metatheory.learners`, a task family's closed form)
and a ``make(original) -> replacement``. :func:`mutated` swaps the replacement in for every
reference to the original in every loaded ``metatheory`` module (so modules that imported it
by name see it too, and so do module-level dicts such as ``bounds.CALCULATORS``), clears JAX's
compilation caches so no stale trace of the true code survives, and restores everything on
exit. The check then runs its normal path against the wrong code.

References bound at import time by other means (``functools.partial`` or ``jax.jit`` of the
function stored in a module global, default arguments) are not reached: call public
functions through their module globals at run time.

This module imports nothing else from ``metatheory``: experiments ask it which mutant is
active (:func:`active`); a subprocess receives the active mutant pickled (its ``make`` a
module-level function), without the claim registry.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

import jax

__all__ = ["Mutant", "mutated", "active", "true_object", "bound_terms"]

_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("metatheory_mutant", default=None)

_TRUE: dict[int, object] = {}
"""``id(replacement) -> true object`` for the mutant patched in now (see :func:`true_object`)."""


def true_object(value):
    """``value``, or the true object it replaces while a mutant is patched in. Code that reads
    module globals to find what an experiment depends on (the experiment cache's key) must
    see the true code: a mutant's replacement lives in another module, and a walk through it
    would miss the module the mutant patches and take its result for the true one."""
    return _TRUE.get(id(value), value)


def active() -> Mutant | None:
    """The mutant patched in right now (``None`` with the true code)."""
    return _ACTIVE.get()


@dataclass(frozen=True)
class Mutant:
    """A plausible bug: ``target`` (``"package.module:function"``) replaced by ``make(orig)``."""

    name: str
    description: str
    target: str
    make: Callable[[Callable], Callable]

    def __post_init__(self):
        if ":" not in self.target:
            raise ValueError(f"target must be 'module:attr', got {self.target!r}")
        if not self.name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"mutant name must be a slug, got {self.name!r}")

    @property
    def module(self) -> str:
        """The module that defines the patched function."""
        return self.target.split(":")[0]

    @property
    def attr(self) -> str:
        return self.target.split(":")[1]


def bound_terms(name, description, target, task=None, meta=None) -> Mutant:
    """A mutant of a meta-learning bound calculator ``target``, called as ``(emp_risk,
    n_tasks, m, kl_hyper, kl_task, delta)`` and returning ``(total, empirical, task_term,
    meta_term)``: its task and/or meta term rewritten by ``task(term, n_tasks, m)`` and
    ``meta(term, n_tasks, m)``, the total summed again."""

    def make(orig):
        @functools.wraps(orig)
        def bound(emp_risk, n_tasks, m, kl_hyper, kl_task, delta):
            b = orig(emp_risk, n_tasks, m, kl_hyper, kl_task, delta)
            t = b.task_term if task is None else task(b.task_term, n_tasks, m)
            mt = b.meta_term if meta is None else meta(b.meta_term, n_tasks, m)
            return type(b)(b.empirical + t + mt, b.empirical, t, mt)

        return bound

    return Mutant(name, description, target, make)


def _patch_everywhere(orig, new, home: str) -> list[tuple]:
    undo = []
    for mname, mod in list(sys.modules.items()):
        if mod is None or not (mname.startswith("metatheory") or mname == home):
            continue
        for k, v in list(vars(mod).items()):
            if v is orig:
                setattr(mod, k, new)
                undo.append((mod, k, orig))
            elif isinstance(v, dict) and not k.startswith("__"):
                for dk, dv in list(v.items()):
                    if dv is orig:
                        v[dk] = new
                        undo.append((v, dk, orig))
    return undo


def _restore(undo) -> None:
    for obj, k, orig in reversed(undo):
        if isinstance(obj, dict):
            obj[k] = orig
        else:
            setattr(obj, k, orig)


@contextlib.contextmanager
def mutated(mutant: Mutant | None):
    """Run the block with ``mutant`` patched in everywhere (a no-op for ``None``)."""
    if mutant is None or _ACTIVE.get() is mutant:
        yield
        return
    if _ACTIVE.get() is not None:
        raise RuntimeError("mutants do not nest")

    mod = importlib.import_module(mutant.module)
    orig = getattr(mod, mutant.attr)
    new = mutant.make(orig)
    undo = _patch_everywhere(orig, new, mutant.module)
    _TRUE[id(new)] = orig
    token = _ACTIVE.set(mutant)
    jax.clear_caches()
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        _restore(undo)
        _TRUE.pop(id(new), None)
        jax.clear_caches()


# ----------------------------------------------------------------------------------------
# A catalogue of learner mutants shared by several families. Each wraps or re-states
# ``metatheory.learners.maml.inner_adapt``, through which every MAML-family learner adapts.

_INNER = "metatheory.learners.maml:inner_adapt"


def _simple_inner(
    loss_fn,
    params,
    support,
    *,
    alpha,
    n_inner,
    first_order=False,
    truncate=None,
    per_step=False,
    sign=1.0,
    keep_first=False,
    **_,
):
    """The plain inner loop with the Hessian term's sign set by ``sign`` (−1 flips it): the
    step is ``θ − α(g if sign = 1 else 2·sg(g) − g)``, equal in value, with derivative
    ``I − sign·αH``. ``keep_first`` differentiates the first ``truncate`` steps instead of
    the last ones."""
    n_diff = 0 if first_order else (n_inner if truncate is None else int(truncate))
    x, y = support
    grad_fn = jax.grad(loss_fn)
    for j in range(n_inner):
        xj, yj = (x[j], y[j]) if per_step else (x, y)
        g = grad_fn(params, xj, yj)
        frozen = j >= n_diff if keep_first else j < n_inner - n_diff
        if frozen:
            g = jax.lax.stop_gradient(g)
        elif sign < 0:
            g = jax.tree_util.tree_map(lambda a: 2 * jax.lax.stop_gradient(a) - a, g)
        if jax.tree_util.tree_structure(alpha) == jax.tree_util.tree_structure(params):
            params = jax.tree_util.tree_map(lambda p, d, a: p - a * d, params, g, alpha)
        else:
            params = jax.tree_util.tree_map(lambda p, d: p - alpha * d, params, g)
    return params


def maml_hessian_sign() -> Mutant:
    """(I + αH_j) for (I − αH_j): the Hessian term of the meta-gradient with the wrong sign."""
    return Mutant(
        "hessian-sign",
        "meta-gradient with (I+αH) for (I−αH): Hessian term sign-flipped",
        _INNER,
        lambda orig: lambda *a, **kw: _simple_inner(*a, **{**kw, "sign": -1.0}),
    )


def maml_truncate_first() -> Mutant:
    """Truncation that keeps the first k factors of the product instead of the last k."""
    return Mutant(
        "truncate-first",
        "truncation differentiates the first k inner steps, not the last k",
        _INNER,
        lambda orig: lambda *a, **kw: _simple_inner(*a, **{**kw, "keep_first": True}),
    )


def maml_first_order() -> Mutant:
    """First-order MAML where the full meta-gradient is claimed (Hessian term dropped)."""
    return Mutant(
        "first-order",
        "Hessian term dropped: FOMAML where MAML is claimed",
        _INNER,
        lambda orig: lambda *a, **kw: orig(*a, **{**kw, "first_order": True, "truncate": None}),
    )


def maml_off_by_one(delta: int = -1) -> Mutant:
    """N + ``delta`` inner steps where N are asked for."""

    def make(orig):
        def wrong(*a, n_inner, **kw):
            n = max(int(n_inner) + delta, 0)
            if kw.get("truncate") is not None:
                kw["truncate"] = min(int(kw["truncate"]), n)
            return orig(*a, n_inner=n, **kw)

        return wrong

    word = f"plus{delta}" if delta > 0 else f"minus{-delta}"
    return Mutant(f"inner-steps-{word}", f"off-by-one: N{delta:+d} inner steps", _INNER, make)


def maml_alpha_scaled(factor: float) -> Mutant:
    """The inner step size ``factor × α`` (a wrong inner α)."""
    return Mutant(
        f"inner-alpha-x{factor:g}".replace(".", "p"),
        f"wrong inner step size: {factor:g}α",
        _INNER,
        lambda orig: (
            lambda *a, alpha, **kw: orig(
                *a, alpha=jax.tree_util.tree_map(lambda t: factor * t, alpha), **kw
            )
        ),
    )
