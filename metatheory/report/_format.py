"""Text for LaTeX: escaping of the ledger's plain text and one formatter for every number.

Every number the report writes goes through :func:`fmt` (a float) or :func:`readable` (a plain
string from a check, whose Python number formats such as ``1.4e-15`` become
``1.4\\times10^{-15}``), so no ``e+04`` reaches the paper.
"""

from __future__ import annotations

import math
import re

_TEX_ESC = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}
_UNICODE = {
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "ρ": r"$\rho$",
    "δ": r"$\delta$",
    "λ": r"$\lambda$",
    "θ": r"$\theta$",
    "φ": r"$\phi$",
    "σ": r"$\sigma$",
    "κ": r"$\kappa$",
    "∇": r"$\nabla$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "×": r"$\times$",
    "±": r"$\pm$",
    "→": r"$\to$",
    "√": r"$\surd$",
    "‖": r"$\|$",
    "²": r"$^2$",
    "…": r"\dots{}",
    "−": "-",
    "∈": r"$\in$",
    "∋": r"$\ni$",
    "≈": r"$\approx$",
    "∞": r"$\infty$",
    "–": "--",
    "—": "---",
    "·": r"$\cdot$",
    "Σ": r"$\Sigma$",
    "𝒫": r"$\mathcal{P}$",
    "𝒬": r"$\mathcal{Q}$",
    "½": r"$\frac12$",
    "Δ": r"$\Delta$",
    "Λ": r"$\Lambda$",
    "ᵀ": r"$^\top$",
    "∂": r"$\partial$",
    "∏": r"$\prod$",
    "∝": r"$\propto$",
    "μ": r"$\mu$",
    "ε": r"$\varepsilon$",
    "η": r"$\eta$",
    "π": r"$\pi$",
    "τ": r"$\tau$",
    "ν": r"$\nu$",
    "ω": r"$\omega$",
    "ψ": r"$\psi$",
    "ξ": r"$\xi$",
    "ζ": r"$\zeta$",
    "χ": r"$\chi$",
    "γ": r"$\gamma$",
    "Γ": r"$\Gamma$",
    "Φ": r"$\Phi$",
    "Ψ": r"$\Psi$",
    "Ω": r"$\Omega$",
    "Θ": r"$\Theta$",
    "Π": r"$\Pi$",
    "ℓ": r"$\ell$",
    "≠": r"$\ne$",
    "≲": r"$\lesssim$",
    "≳": r"$\gtrsim$",
    "≪": r"$\ll$",
    "≫": r"$\gg$",
    "∼": r"$\sim$",
    "≡": r"$\equiv$",
    "∑": r"$\sum$",
    "∫": r"$\int$",
    "∀": r"$\forall$",
    "∩": r"$\cap$",
    "∪": r"$\cup$",
    "⊆": r"$\subseteq$",
    "∘": r"$\circ$",
    "⊗": r"$\otimes$",
    "⊙": r"$\odot$",
    "⟨": r"$\langle$",
    "⟩": r"$\rangle$",
    "↔": r"$\leftrightarrow$",
    "⇒": r"$\Rightarrow$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "⌈": r"$\lceil$",
    "⌉": r"$\rceil$",
    "⌊": r"$\lfloor$",
    "⌋": r"$\rfloor$",
    "⊤": r"$^\top$",
    "′": r"$'$",
    "°": r"$^\circ$",
    "÷": r"$\div$",
    "¹": r"$^1$",
    "³": r"$^3$",
    "⁴": r"$^4$",
    "⁻": r"$^-$",
    "ⁿ": r"$^n$",
    "₀": r"$_0$",
    "₁": r"$_1$",
    "₂": r"$_2$",
    "₃": r"$_3$",
    "₄": r"$_4$",
    "ᵢ": r"$_i$",
    "ₙ": r"$_n$",
    "\u0302": r"\^{}",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "\u00a0": "~",
}


_TILDE = "\u0303"  # combining tilde: "σ̃" is σ followed by it


def tex_escape(s: str) -> str:
    """Escape text for LaTeX, mapping the Greek and maths symbols used in the ledger (a letter
    with a combining tilde becomes ``\tilde``). A character without a mapping becomes ``?``:
    a test keeps every character of the committed ledgers mapped."""
    out = []
    for ch in str(s):
        if ch == _TILDE and out:
            prev = out.pop()
            body = prev[1:-1] if prev.startswith("$") and prev.endswith("$") else prev
            out.append(rf"$\tilde{{{body}}}$")
            continue
        out.append(_TEX_ESC.get(ch) or _UNICODE.get(ch) or (ch if ord(ch) < 128 else "?"))
    return "".join(out)


def _tex_breakable(s: str) -> str:
    """:func:`readable`, with line-break opportunities after ``_``, ``/`` and ``=`` (long
    identifiers and ratios in narrow columns)."""
    out = readable(s)
    for a in (r"\_", "/", "="):
        out = out.replace(a, a + r"\allowbreak{}")
    return out


def _sci(x: float, digits: int) -> str:
    """``m\\times10^{e}`` (no ``\\ensuremath``) with trailing zeros of ``m`` dropped."""
    m, e = f"{x:.{max(digits - 1, 0)}e}".split("e")
    if "." in m:
        m = m.rstrip("0").rstrip(".")
    if m in ("1", "-1"):
        return ("-" if m == "-1" else "") + rf"10^{{{int(e)}}}"
    return rf"{m}\times10^{{{int(e)}}}"


def fmt(x, digits: int = 4) -> str:
    """A number as LaTeX text: an integer below :math:`10^6` in full (thin-spaced thousands),
    other values plain in :math:`[10^{-3}, 10^4)` with ``digits`` significant digits, else
    :math:`m\\times10^{e}`; never Python's ``1e+04``."""
    if isinstance(x, str):
        return readable(x, maths=False)
    if isinstance(x, bool):
        return "yes" if x else "no"
    x = float(x)
    if not math.isfinite(x):
        return r"\ensuremath{\infty}" if x > 0 else (r"\ensuremath{-\infty}" if x < 0 else "NaN")
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e6:
        s = f"{int(x):,}"
        return s.replace(",", "{,}") if abs(x) >= 1e4 else s.replace(",", "")
    if 1e-3 <= abs(x) < 1e4:
        s = f"{x:.{digits}g}"
        if "e" not in s:
            return s
    return r"\ensuremath{" + _sci(x, digits) + "}"


_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")

_IDENTIFIERS = {
    "rel_err_norm": "relative error",
    "rel_err_max": "largest relative error",
    "rel_err": "relative error",
    "P('tasks',)": "the task axis",
    'P("tasks",)': "the task axis",
    "L_Q(θ0)": "L_Q(θ₀)",
    "L_Q(theta0)": "L_Q(θ₀)",
}


_LETTER = "A-Za-zα-ωΑ-Ω"
_MATH = re.compile(
    rf"(?P<num>(?<![\w.])-?\d+(?:\.\d+)?[eE][+-]?\d+(?![\w.]))"
    rf"|(?P<sub>(?<![A-Za-z0-9_])[{_LETTER}]_(?:\{{[^}}]*\}}|[A-Za-z0-9]+))"
    rf"|(?P<sup>\^(?:\([^)]*\)|[−-]?[A-Za-z0-9]+))"
)


def _in_math(s: str) -> str:
    """Plain text as the body of a maths group (Greek letters without their ``$``)."""
    return tex_escape(s).replace("$", " ").strip()


def _number(text: str) -> str:
    mant, exp = re.split("[eE]", text)
    mant = "" if mant in ("1", "1.0") else mant
    return r"\ensuremath{" + (mant + r"\times" if mant else "") + rf"10^{{{int(exp)}}}" + "}"


def readable(s: str, maths: bool = True) -> str:
    """A check's plain-text string as LaTeX text: identifiers mapped to words (``rel_err_norm``
    to "relative error", ``True``/``False`` to yes/no), Python number formats (``3.0e-15``) to
    :math:`3.0\\times10^{-15}`, and with ``maths`` a subscript ``L_Q`` or a power ``^N``,
    ``^(N-1)`` typeset as such; everything else through :func:`tex_escape`."""
    s = str(s)
    for k, v in _IDENTIFIERS.items():
        s = s.replace(k, v)
    s = re.sub(r"\bTrue\b", "yes", s)
    s = re.sub(r"\bFalse\b", "no", s)
    parts = []
    last = 0
    for m in _MATH.finditer(s):
        kind = m.lastgroup
        if kind != "num" and not maths:
            continue
        parts.append(tex_escape(s[last : m.start()]))
        text = m.group()
        if kind == "num":
            parts.append(_number(text))
        elif kind == "sub":
            base, sub = text.split("_", 1)
            sub = sub[1:-1] if sub.startswith("{") else sub
            parts.append(rf"\ensuremath{{{_in_math(base)}_{{{_in_math(sub)}}}}}")
        else:
            body = text[1:]
            body = body[1:-1] if body.startswith("(") else body
            parts.append(rf"\ensuremath{{^{{{_in_math(body)}}}}}")
        last = m.end()
    parts.append(tex_escape(s[last:]))
    return "".join(parts)


_P = r">{\raggedright\arraybackslash}p"
"""A ragged-right paragraph column of a given width (``_P + "{0.3\\linewidth}"``)."""
