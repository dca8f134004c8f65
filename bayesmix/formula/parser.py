"""Parse lme4 formula syntax into its response, fixed part, offsets and random terms.

Only the bar syntax is ours: ``(expr | g)``, ``(expr || g)``, ``g1:g2`` and ``g1/g2`` grouping
factors, ``offset(...)`` and ``cbind(...)``. Everything else (the fixed part and the left-hand
side of each bar) is handed to formulaic as text, so its full syntax (``a*b``, ``a:b``, ``C()``,
``I()``, ``scale()``, ...) applies unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import FormulaError

__all__ = ["RandomTermSpec", "ParsedFormula", "parse_formula"]

# Column names as R and Python write them, Unicode letters included (``受试者``, ``lot.é``).
_NAME = re.compile(r"`[^`]+`|(?:[^\W\d]|\.)[\w.]*")


@dataclass(frozen=True)
class RandomTermSpec:
    """One ``(expr | factors)`` term as written (after ``/`` expansion).

    Attributes
    ----------
    expr : str
        The left of the bar, a formulaic right-hand side (``"1 + Days"``, ``"0 + x"``).
    factors : tuple of str
        Names of the grouping variables whose interaction defines the groups, outermost
        first as lme4 names them (``("cask", "batch")`` for ``cask:batch``).
    independent : bool
        True for ``||`` (no correlations between the term's components).
    position : int
        Character offset of the term in the formula, for error messages.
    """

    expr: str
    factors: tuple[str, ...]
    independent: bool
    position: int

    @property
    def group(self) -> str:
        """The grouping factor's name, lme4 style (``"Subject"``, ``"cask:batch"``)."""
        return ":".join(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into the parts each builder consumes.

    Attributes
    ----------
    formula : str
        The formula as given.
    response : str
        The left-hand side text (``"Reaction"``, ``"cbind(incidence, size - incidence)"``).
    response_args : tuple of str or None
        The two arguments of ``cbind(successes, failures)``, else None.
    fixed : str
        Right-hand side of the fixed part for formulaic, offsets removed (``"1"`` if empty).
    offsets : tuple of str
        Expressions inside ``offset(...)`` terms.
    random : tuple of RandomTermSpec
        Random terms in formula order.
    """

    formula: str
    response: str
    response_args: tuple[str, str] | None
    fixed: str
    offsets: tuple[str, ...]
    random: tuple[RandomTermSpec, ...]


def _scan(text: str, formula: str, base: int) -> list[tuple[int, str, int]]:
    """Characters of ``text`` outside quotes, each with its paren depth: (pos, char, depth).

    Raises FormulaError on unbalanced parentheses or an unterminated quote, pointing at it.
    """
    out = []
    depth = 0
    opened: list[int] = []
    quote = None
    quote_at = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "`'\"":
            quote, quote_at = ch, i
            continue
        if ch == "(":
            out.append((i, ch, depth))
            opened.append(i)
            depth += 1
            continue
        if ch == ")":
            if depth == 0:
                raise FormulaError("unmatched ')'", formula, base + i)
            depth -= 1
            opened.pop()
        out.append((i, ch, depth))
    if quote:
        raise FormulaError(f"unterminated {quote}", formula, base + quote_at)
    if opened:
        raise FormulaError("'(' is never closed", formula, base + opened[-1])
    return out


def _split_top(text: str, formula: str, base: int, seps: str) -> list[tuple[int, str, str]]:
    """Split ``text`` at top-level characters in ``seps``: [(start, sep_before, piece)]."""
    pieces = []
    start, sep = 0, ""
    for i, ch, depth in _scan(text, formula, base):
        if depth == 0 and ch in seps:
            pieces.append((start, sep, text[start:i]))
            start, sep = i + 1, ch
    pieces.append((start, sep, text[start:]))
    return pieces


def _outer_parens(piece: str) -> bool:
    """Whether ``piece`` (stripped) is one parenthesised group ``( ... )``."""
    s = piece.strip()
    if not (s.startswith("(") and s.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(s) - 1:
            return False
    return True


def _has_top_bar(text: str, formula: str, base: int) -> bool:
    return any(ch == "|" and d == 0 for _, ch, d in _scan(text, formula, base))


def _parse_factors(text: str, formula: str, base: int) -> list[tuple[str, ...]]:
    """Grouping factors of ``a``, ``a:b``, ``a/b``, ``a/b/c`` → list of factor tuples.

    lme4 expands ``a/b/c`` into ``a``, ``b:a`` and ``c:b:a`` (inner factor first).
    """
    s = text.strip().replace("(", " ").replace(")", " ")
    if not s:
        raise FormulaError("missing grouping factor after '|'", formula, base + len(text))
    nested = []
    for part in s.split("/"):
        names = []
        for name in part.split(":"):
            name = name.strip()
            if not _NAME.fullmatch(name):
                at = base + max(text.find(name), 0)
                raise FormulaError(
                    f"grouping factor {name!r} is not a column name; write the factor as a "
                    "column name, an interaction 'a:b' or a nesting 'a/b'",
                    formula,
                    at,
                )
            names.append(name.strip("`"))
        nested.append(tuple(names))
    expanded = []
    for k in range(len(nested)):
        factors: tuple[str, ...] = ()
        for level in reversed(nested[: k + 1]):
            factors += level
        expanded.append(factors)
    return expanded


def _parse_random(piece: str, formula: str, base: int) -> list[RandomTermSpec]:
    inner_start = piece.index("(") + 1
    inner = piece[inner_start : piece.rindex(")")]
    ibase = base + inner_start
    bars = [i for i, ch, d in _scan(inner, formula, ibase) if ch == "|" and d == 0]
    if len(bars) == 2 and bars[1] == bars[0] + 1:
        independent, lhs, rhs = True, inner[: bars[0]], inner[bars[1] + 1 :]
        rhs_base = ibase + bars[1] + 1
    elif len(bars) == 1:
        independent, lhs, rhs = False, inner[: bars[0]], inner[bars[0] + 1 :]
        rhs_base = ibase + bars[0] + 1
    else:
        raise FormulaError(
            "a random-effect term takes one '|' (or '||'): write (expr | group)",
            formula,
            ibase + bars[-1],
        )
    if not lhs.strip():
        raise FormulaError(
            "nothing to the left of '|': write (1 | g) for a random intercept",
            formula,
            ibase,
        )
    return [
        RandomTermSpec(" ".join(lhs.split()), factors, independent, base)
        for factors in _parse_factors(rhs, formula, rhs_base)
    ]


def _call_args(piece: str, name: str) -> list[str] | None:
    """Arguments of ``name(...)`` if ``piece`` is exactly that call, else None."""
    s = piece.strip()
    m = re.fullmatch(rf"{name}\s*\((.*)\)", s, flags=re.S)
    if not m or not _outer_parens(s[s.index("(") :]):
        return None
    inner = m.group(1)
    return [p for _, _, p in _split_top(inner, inner, 0, ",")]


def parse_formula(formula: str) -> ParsedFormula:
    """Parse an lme4-style formula.

    Parameters
    ----------
    formula : str
        For example ``"y ~ 1 + x + (1 + x | g) + (1 | h)"``; random terms must be
        parenthesised summands of the right-hand side.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        With the position of the problem marked under the formula.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError("the formula must be a non-empty string such as 'y ~ x + (1 | g)'")
    tildes = [i for i, ch, d in _scan(formula, formula, 0) if ch == "~"]
    if not tildes:
        raise FormulaError(
            "the formula has no '~': write 'response ~ predictors'", formula, len(formula)
        )
    if len(tildes) > 1:
        raise FormulaError("the formula has more than one '~'", formula, tildes[1])
    at = tildes[0]
    response = formula[:at].strip()
    if not response:
        raise FormulaError("the formula has no response left of '~'", formula, at)
    cbind = _call_args(response, "cbind")
    if cbind is not None and len(cbind) != 2:
        raise FormulaError(
            "cbind() takes two arguments: cbind(successes, failures)", formula, 0
        )

    rhs = formula[at + 1 :]
    base = at + 1
    fixed, offsets, random = [], [], []
    for start, sign, piece in _split_top(rhs, formula, base, "+-"):
        pos = base + start + (len(piece) - len(piece.lstrip()))
        if not piece.strip():
            if sign == "" and start == 0 and rhs[start:].lstrip().startswith("-"):
                continue  # leading unary minus: '~ -1 + x'
            raise FormulaError("empty term", formula, pos)
        if _outer_parens(piece) and _has_top_bar(piece.strip()[1:-1], formula, pos + 1):
            if sign == "-":
                raise FormulaError("a random-effect term cannot be subtracted", formula, pos)
            random.extend(_parse_random(piece.strip(), formula, pos))
            continue
        if _has_top_bar(piece, formula, pos):
            raise FormulaError(
                "random-effect terms must be in parentheses: write (expr | group)",
                formula,
                pos,
            )
        off = _call_args(piece, "offset")
        if off is not None:
            if sign == "-" or len(off) != 1:
                raise FormulaError("write an offset as '+ offset(expr)'", formula, pos)
            offsets.append(off[0].strip())
            continue
        fixed.append(f"{sign} {piece.strip()}" if sign else piece.strip())

    fixed_text = " ".join(fixed).strip()
    if fixed_text.startswith("+"):
        fixed_text = fixed_text[1:].strip()
    if not fixed_text:
        fixed_text = "1"
    elif fixed_text.startswith("-"):
        fixed_text = "1 " + fixed_text
    return ParsedFormula(
        formula=formula,
        response=response,
        response_args=(cbind[0].strip(), cbind[1].strip()) if cbind else None,
        fixed=fixed_text,
        offsets=tuple(offsets),
        random=tuple(random),
    )
