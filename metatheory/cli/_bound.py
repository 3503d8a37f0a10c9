"""``metatheory bound NAME``: one subcommand per calculator of :mod:`metatheory.bounds`, its
help written from the calculator's docstring with the formulas in plain text."""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re

from metatheory.cli._errors import _Parser, _Usage

_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)
"""A negative number as ``float`` reads it (``-1e5``, ``-.5``, ``-inf``): a value, not a flag."""


class _BoundParser(_Parser):
    """A ``bound NAME`` parser: negative numbers are values (``--kl -1e5`` reaches the
    calculator, which names the range), and an unknown flag is reported with the command."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._negative_number_matcher = _NUMBER

    def parse_known_args(self, args=None, namespace=None):
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra


_GREEK = (
    "alpha beta gamma delta epsilon eta theta kappa lambda mu nu rho sigma tau phi psi "
    "omega Delta Sigma Lambda Phi"
).split()
_WORDS = {
    "le": "<=",
    "ge": ">=",
    "leq": "<=",
    "geq": ">=",
    "cdot": "*",
    "odot": "*",
    "times": "x",
    "nabla": "grad ",
    "infty": "inf",
    "to": " → ",
    "rightarrow": " → ",
    "sim": " ~ ",
    "in": " in ",
    "sum": "sum ",
    "sup": "sup",
    "max": "max",
    "min": "min",
    "ln": "ln ",
    "log": "log ",
    "exp": "exp ",
    "lceil": "ceil(",
    "rceil": ")",
    "|": "||",
    "{": "(",
    "}": ")",
    "_": "_",
}
_DROP = {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "displaystyle"}


def _arg(s: str, i: int) -> tuple[str, int]:
    """The argument of a TeX command at ``s[i:]``: a braced group or one character."""
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        return "", i
    if s[i] != "{":
        if s[i] == "\\":
            m = re.match(r"\\([A-Za-z]+)", s[i:])
            if m:
                return s[i : i + len(m.group(0))], i + len(m.group(0))
        return s[i], i + 1
    depth = 0
    for j in range(i, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return s[i + 1 : j], j + 1
    return s[i + 1 :], len(s)


def _group(t: str) -> str:
    """Parenthesise a converted operand unless it is one symbol or already bracketed."""
    t = t.strip()
    if re.fullmatch(r"[\w.]+", t) or (t.startswith("(") and t.endswith(")") and "(" not in t[1:]):
        return t
    return f"({t})"


def _tex(s: str) -> str:
    r"""Inline TeX (the subset used in the calculators' docstrings) as readable plain text:
    ``\frac{a}{b}`` -> ``(a)/(b)``, ``x^{N-1}`` -> ``x^(N-1)``, ``\sqrt{\bar m}`` ->
    ``sqrt(m_bar)``, ``\hat\theta`` -> ``theta_hat``, Greek letters by name."""
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            name, i = m.group(1), i + len(m.group(0))
            if name in ("frac", "tfrac", "dfrac"):
                a, i = _arg(s, i)
                b, i = _arg(s, i)
                frac = f"{_group(_tex(a))}/{_group(_tex(b))}"
                prev = "".join(out).rstrip()[-1:]
                nxt = s[i:].lstrip()[:1]
                glued = prev.isalnum() or prev == ")" or nxt in tuple("(^\\") or nxt.isalnum()
                out.append(f"\0({frac})\0" if glued else f"\0{frac}\0")
            elif name == "sqrt":
                a, i = _arg(s, i)
                out.append(f"\0sqrt({_tex(a).strip()})")
            elif name in ("hat", "bar", "overline", "tilde"):
                a, i = _arg(s, i)
                out.append(f"{_tex(a).strip()}_{'bar' if name == 'overline' else name}")
            elif name in ("mathrm", "text", "mathcal", "mathbf", "operatorname"):
                a, i = _arg(s, i)
                out.append(_tex(a))
            elif name == "underbrace":
                a, i = _arg(s, i)
                label = ""
                if i < len(s) and s[i] == "_":
                    label, i = _arg(s, i + 1)
                out.append(f"[{_tex(a).strip()}]" + (f" ({_tex(label).strip()})" if label else ""))
            elif name in _GREEK:
                out.append(f" {name} ")
            elif name in _WORDS:
                w = _WORDS[name]
                out.append(f"\0{w.strip()}" if w.strip().isalpha() else w)
            elif name in _DROP or name in (",", ";", "!", " ", "quad", "qquad"):
                out.append(" ")
            else:
                out.append(name)
        elif ch in "^_":
            a, i = _arg(s, i + 1)
            a = _tex(a).strip()
            one = re.fullmatch(r"\w" if ch == "^" else r"\w+", a) or a in _GREEK
            out.append(ch + (a if one else f"({a})"))
        elif ch in "{}":
            i += 1
        else:
            out.append(ch)
            i += 1
    text = "".join(out).replace("\0", " ")
    text = re.sub(r"\s*([+=<>]|<=|>=|-)\s*", r" \1 ", text)  # spaced binary operators
    text = re.sub(r"\s*([/^_*])\s*", r"\1", text).replace("*", " * ")
    text = re.sub(r"\b(sqrt|ln|log|exp|max|min|sup|ceil) +\(", r"\1(", text)
    text = re.sub(r"([(\[]) ([+-]) ", r"\1\2", text)  # a leading sign
    text = re.sub(r"\s+", " ", text).replace("( ", "(").replace(" )", ")")
    text = text.replace("< =", "<=").replace("> =", ">=").replace(" ,", ",")
    return re.sub(r"\|\|\s+grad", "||grad", text).strip()


def _plain(text: str) -> str:
    """reST/Sphinx markup to plain text: roles, inline and display math, literals."""
    text = re.sub(r":math:`([^`]*)`", lambda m: _tex(m.group(1)), text)
    text = re.sub(r"\.\. math::\s*(.*)", lambda m: "\n\n    " + _tex(m.group(1)), text, flags=re.S)
    text = re.sub(r":(?:func|class|mod|data|attr|meth):`~?([^`]*)`", r"\1", text)
    text = text.replace("``", "")
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n\n")]
    return "\n\n".join(ln for ln in lines if ln).strip()


def _doc_parts(fn) -> tuple[str, dict[str, str]]:
    """``(description, {argument: meaning and range})`` from a calculator's docstring: the
    first paragraph, and the lines of its ``Args:`` section."""
    import textwrap

    doc = inspect.getdoc(fn) or ""
    paras = doc.split("\n\n")
    # the first paragraph, and the next ones up to the first that holds a formula
    shown = []
    for p in paras[:4]:
        if p.startswith(("Args:", "Returns:", "Example")) or "\nArgs:" in p:
            break
        shown.append(p)
        if (":math:" in p or ".. math::" in p) and not p.rstrip().endswith(":"):
            break
    head = "\n\n".join(shown)
    desc = "\n\n".join(
        p if p.startswith("    ") else textwrap.fill(p, 79) for p in _plain(head).split("\n\n")
    )
    args: dict[str, str] = {}
    m = re.search(r"^Args:\n((?:[ \t]+.*\n?)+)", doc, flags=re.M)
    if m:
        cur = None
        for line in m.group(1).splitlines():
            head = re.match(r"\s{2,4}(\w+):\s*(.*)", line)
            if head:
                cur = head.group(1)
                args[cur] = head.group(2)
            elif cur:
                args[cur] += " " + line.strip()
        args = {k: _plain(v) for k, v in args.items()}
    return desc, args


def add_bound_parsers(sub) -> None:
    from metatheory import bounds

    p = sub.add_parser("bound", help="evaluate a calculator from metatheory.bounds")
    bsub = p.add_subparsers(dest="name", metavar="NAME", parser_class=_BoundParser)
    bsub.required = True
    for name, fn in sorted(bounds.CALCULATORS.items()):
        desc, meaning = _doc_parts(fn)
        bp = bsub.add_parser(
            name,
            help=desc.split(". ")[0].split("\n")[0],
            description=f"{desc}\n\n(metatheory.bounds.{fn.__name__})",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for pname, par in inspect.signature(fn).parameters.items():
            flag = "--" + pname.replace("_", "-")
            hlp = meaning.get(pname, "")
            if isinstance(par.default, bool):
                bp.add_argument(flag, action="store_true", dest=pname, help=hlp)
            else:
                required = par.default is inspect.Parameter.empty
                if not required and "default" not in hlp:
                    hlp = f"{hlp} (default {par.default})".strip()
                bp.add_argument(
                    flag,
                    type=float,
                    required=required,
                    dest=pname,
                    metavar="V",
                    default=None if required else par.default,
                    help=hlp + (" [required]" if required else ""),
                )
        bp.add_argument("--json", action="store_true", help="print the result as JSON")
        bp.set_defaults(_fn=fn)


def cmd_bound(args) -> int:
    import numpy as np

    fn = args._fn
    kw = {k: getattr(args, k) for k in inspect.signature(fn).parameters}
    try:
        res = fn(**kw)
    except ValueError as e:
        raise _Usage(f"metatheory bound {args.name}: {e}") from e
    if isinstance(res, dict):
        fields = res
    else:
        fields = res._asdict() if hasattr(res, "_asdict") else {fn.__name__: res}
    values = {k: np.asarray(v).tolist() for k, v in fields.items()}
    if args.json:
        doc = {"calculator": args.name, "arguments": _strict(kw), "result": _strict(values)}
        print(json.dumps(doc, allow_nan=False))
        return 0
    width = max(len(k) for k in values)
    for k, v in values.items():
        print(f"{k:{width}s} = {v:.12g}" if isinstance(v, float) else f"{k:{width}s} = {v}")
    return 0


def _strict(x):
    """Non-finite floats as the strings ``"inf"``, ``"-inf"``, ``"nan"`` (standard JSON has no
    Infinity or NaN; ``float(s)`` reads each back)."""
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_strict(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x
