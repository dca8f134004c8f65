"""Model matrices through formulaic, with R's conventions for names and contrasts.

formulaic does the work (parsing, transforms, treatment contrasts with the Categorical's first
category as reference). This module only adapts it to what lme4 users expect:

- column names as R writes them (``(Intercept)``, ``periodb``, ``x:fa``, ``I(age^2)``);
- ``^`` inside ``I()`` means a power, as in R (Python would read it as XOR);
- ordered Categoricals get orthogonal polynomial contrasts (``.L``, ``.Q``, ...) as R's
  ordered factors do;
- R's common transforms (``log``, ``exp``, ``sqrt``, ...) and ``np`` resolve by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from formulaic import model_matrix
from formulaic.errors import FormulaicError

from ..errors import DataError, FormulaError

__all__ = ["ModelColumns", "model_columns", "evaluate", "columns_used", "default_context"]

_IDENT = re.compile(r"`([^`]+)`|((?:[^\W\d]|\.)[\w.]*)")


def default_context() -> dict[str, Any]:
    """Names every formula can use: NumPy and R's elementary transforms."""
    ctx: dict[str, Any] = {"np": np, "numpy": np}
    for name in ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs", "sin", "cos"):
        ctx[name] = getattr(np, name)
    return ctx


@dataclass(frozen=True)
class ModelColumns:
    """A model matrix with R-style column names and what is needed to rebuild it on new data.

    Attributes
    ----------
    values : ndarray, shape (n, k)
    names : tuple of str
        R-style column names.
    term_columns : tuple of (str, tuple of int)
        For each formula term (in formulaic's order), its label and its column indices.
    spec : formulaic.ModelSpec
        Replays the same encoding (levels, stateful transforms such as ``scale``) on new data.
    rhs : str
        The right-hand side, for messages.
    columns : tuple of str
        The data columns it uses.
    levels : mapping column → tuple
        The levels of every categorical column used (categories of a Categorical, else the
        sorted distinct values), as fitted.
    what : str
        What the columns are ("fixed effects", ...), for messages.
    ordered : tuple of str
        The categorical columns that were ordered factors (polynomial contrasts).
    """

    values: np.ndarray
    names: tuple[str, ...]
    term_columns: tuple[tuple[str, tuple[int, ...]], ...]
    spec: Any
    rhs: str = ""
    columns: tuple[str, ...] = ()
    levels: Mapping[str, tuple] | None = None
    what: str = "fixed effects"
    ordered: tuple[str, ...] = ()

    def on(self, data: pd.DataFrame, context: Mapping[str, Any] | None = None) -> np.ndarray:
        """This encoding evaluated on other rows (levels and ``scale`` centres kept).

        A column the encoding uses must be present; a categorical column's values must be
        fitted levels, matched by their text (``1`` matches the level ``"1"``, as R's
        ``predict`` matches factor labels); anything else is a DataError naming the column
        and the unseen levels (never the reference level in their place).
        """
        missing = [c for c in self.columns if c not in data.columns]
        if missing:
            raise DataError(
                f"new data lacks the column(s) {', '.join(map(repr, missing))} used by the "
                f"{self.what} '{self.rhs}'"
            )
        data = _r_logicals(data, self.columns)
        _check_values(data, self.columns, self.levels or {}, self.what)
        data = _with_fitted_levels(data, self.levels or {}, self.what)
        try:
            mm = self.spec.get_model_matrix(data, context=_context(context))
        except FormulaicError as exc:
            raise DataError(f"cannot rebuild model columns on new data: {_clean(exc)}") from None
        return np.asarray(mm, dtype=float)


def _r_logicals(data: pd.DataFrame, columns) -> pd.DataFrame:
    """Logical columns as R's factors FALSE/TRUE (a column ``flagTRUE``, and both levels
    without an intercept, as R's model.matrix)."""
    logical = [c for c in columns if pd.api.types.is_bool_dtype(data[c].dtype)]
    if not logical:
        return data
    return data.assign(**{c: pd.Categorical(np.where(data[c].to_numpy(), "TRUE", "FALSE"),
                                            categories=["FALSE", "TRUE"]) for c in logical})


_NUMERIC_NAME = re.compile(r"`([0-9][^`]*)`")


def _quote_numeric_names(text: str, data: pd.DataFrame) -> str:
    """```1``` → ``Q('1')``: formulaic reads a backticked number as the literal."""
    return _NUMERIC_NAME.sub(
        lambda m: f"Q({m.group(1)!r})" if m.group(1) in data.columns else m.group(0), text)


_COMPARISON = re.compile(r"^I\(.*(?:[<>]=?|==|!=).*\)$")


def _logical_name(name: str, values: np.ndarray) -> str:
    """R's name of a logical expression's column: ``I(week > 2)TRUE``."""
    if _COMPARISON.match(name) and np.all((values == 0) | (values == 1)):
        return name + "TRUE"
    return name


def _check_values(data: pd.DataFrame, columns, levels, what: str) -> None:
    """Missing values, and text in a column that was numeric when fitting, are named."""
    for c in columns:
        col = data[c]
        missing = col.isna().to_numpy()
        if missing.any():
            raise DataError(
                f"column {c!r} of the new data has missing values ({int(missing.sum())} "
                f"rows, first row {data.index[int(np.argmax(missing))]!r}); the {what} need "
                "a value in every row — drop or fill those rows")
        if c not in levels and _is_categorical(col):
            bad = col[pd.to_numeric(col, errors="coerce").isna()]
            example = bad.iloc[0] if len(bad) else col.iloc[0]
            raise DataError(
                f"column {c!r} was numeric when fitting but the new data has "
                f"{col.dtype} values such as {example!r}; convert it to numbers")


def _is_categorical(column: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(column.dtype)
                and not pd.api.types.is_bool_dtype(column.dtype))


def _levels_of(data: pd.DataFrame, columns) -> dict[str, tuple]:
    out = {}
    for c in columns:
        col = data[c]
        if not _is_categorical(col):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[c] = tuple(col.cat.categories)
        else:
            values = pd.unique(col.dropna())
            try:
                values = sorted(values)
            except TypeError:
                values = sorted(values, key=str)
            out[c] = tuple(values)
    return out


def _with_fitted_levels(data: pd.DataFrame, levels: Mapping[str, tuple],
                        what: str) -> pd.DataFrame:
    """``data`` with every categorical column as a Categorical of its fitted levels."""
    replaced = {}
    for c, fitted in levels.items():
        col = data[c]
        by_label = {str(v): v for v in fitted}
        labels = col.astype(object).where(col.notna(), None)
        text = labels.map(lambda v: None if v is None else str(v))
        unseen = pd.unique(text[text.notna() & ~text.isin(list(by_label))])
        if len(unseen):
            shown = ", ".join(map(repr, unseen[:10])) + (" …" if len(unseen) > 10 else "")
            raise DataError(
                f"column {c!r} of the new data has level(s) {shown} not seen when fitting "
                f"(the {what} know {', '.join(map(repr, list(by_label)[:20]))}); a fixed "
                "effect has no estimate for an unseen level — drop or recode those rows"
            )
        replaced[c] = pd.Categorical(text.map(by_label), categories=list(fitted),
                                     ordered=isinstance(col.dtype, pd.CategoricalDtype)
                                     and col.dtype.ordered)
    if not replaced:
        return data
    out = data.copy()
    for c, v in replaced.items():
        out[c] = pd.Series(v, index=data.index)
    return out


def _context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    ctx = default_context()
    if context:
        ctx.update(context)
    return ctx


def _clean(exc: Exception) -> str:
    """formulaic's message without its terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m|⧛|⧚", "", str(exc)).strip()


def columns_used(expr: str, data: pd.DataFrame) -> list[str]:
    """Data columns that an expression refers to (identifiers not followed by a call)."""
    used = []
    for m in _IDENT.finditer(expr):
        name = m.group(1) or m.group(2)
        after = expr[m.end() :].lstrip()
        if after.startswith("(") and m.group(2):
            continue
        if name in data.columns and name not in used:
            used.append(name)
    return used


def _r_powers(expr: str) -> str:
    """``^`` → ``**`` inside ``I(...)``: R's power operator in Python syntax."""
    out, i = [], 0
    for m in re.finditer(r"\bI\s*\(", expr):
        start = m.end()
        depth, j = 1, start
        while j < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[j], 0)
            j += 1
        out.append(expr[i:start])
        out.append(expr[start:j].replace("^", "**"))
        i = j
    out.append(expr[i:])
    return "".join(out)


def _poly_for_ordered(expr: str, data: pd.DataFrame) -> str:
    """Wrap bare ordered-factor names at the top level in ``C(name, contr.poly)``."""
    out, i, depth = [], 0, 0
    for m in _IDENT.finditer(expr):
        seg = expr[i : m.start()]
        depth += seg.count("(") - seg.count(")")
        out.append(seg)
        name = m.group(1) or m.group(2)
        column = data[name] if name in data.columns else None
        is_ordered = (
            isinstance(getattr(column, "dtype", None), pd.CategoricalDtype)
            and column.dtype.ordered
        )
        if depth == 0 and is_ordered and not expr[m.end() :].lstrip().startswith("("):
            out.append(f"C({m.group(0)}, contr.poly)")
        else:
            out.append(m.group(0))
        i = m.end()
    out.append(expr[i:])
    return "".join(out)


_POLY = re.compile(r"C\((`?[^,()]+`?), contr\.poly\)\[(\.[LQC]|\^\d+)\]")
_LEVEL = re.compile(r"\[(?:T\.)?([^\[\]]*)\]")


def r_name(name: str) -> str:
    """A formulaic column name written as R would write it."""
    if name == "Intercept":
        return "(Intercept)"
    name = re.sub(r"Q\('([^']*)'\)", r"\1", name)
    name = _POLY.sub(lambda m: m.group(1).strip("`") + m.group(2), name)
    name = _LEVEL.sub(lambda m: m.group(1), name)
    return name.replace(" ** ", "^").replace("**", "^")


def model_columns(
    rhs: str,
    data: pd.DataFrame,
    context: Mapping[str, Any] | None = None,
    *,
    what: str = "fixed effects",
) -> ModelColumns:
    """Evaluate a right-hand side on ``data``.

    Parameters
    ----------
    rhs : str
        Right-hand side such as ``"1 + x*f"`` or ``"0 + Days"``.
    data : DataFrame
    context : mapping, optional
        Extra names for the formula's functions (added to :func:`default_context`).
    what : str
        Used in error messages ("fixed effects", "random term (Days | Subject)").
    """
    data = _r_logicals(data, columns_used(rhs, data))
    text = _quote_numeric_names(_poly_for_ordered(_r_powers(rhs), data), data)
    try:
        # Non-finite results (log of 0, ...) are reported by the design builder, which names
        # the column; NumPy's own RuntimeWarning would only add noise.
        with np.errstate(all="ignore"):
            mm = model_matrix(text, data, context=_context(context), na_action="ignore")
    except FormulaicError as exc:
        raise _as_our_error(exc, rhs, data, what) from None
    except (TypeError, ValueError, NameError) as exc:
        functions = _uncalled_functions(rhs, data, context)
        if functions:
            name = functions[0]
            cols = ", ".join(map(str, list(data.columns)[:30]))
            raise DataError(
                f"{name!r} in the {what} '{rhs}' is a function, not a column: call it on a "
                f"column ({name}(x)) or name a column; available columns: {cols}") from None
        raise DataError(f"cannot evaluate the {what} '{rhs}': {exc}") from None
    values = np.asarray(mm, dtype=float)
    names = tuple(_logical_name(r_name(c), values[:, k]) for k, c in enumerate(mm.columns))
    index = {c: k for k, c in enumerate(mm.columns)}
    terms = tuple(
        (str(s.term), tuple(index[c] for c in s.columns)) for s in mm.model_spec.structure
    )
    used = tuple(columns_used(rhs, data))
    ordered = tuple(c for c in used if isinstance(data[c].dtype, pd.CategoricalDtype)
                    and data[c].dtype.ordered)
    return ModelColumns(values, names, terms, mm.model_spec, rhs, used,
                        _levels_of(data, used), what, ordered)


def _uncalled_functions(rhs: str, data: pd.DataFrame, context) -> list[str]:
    """Names of the formula's functions written without a call (``y ~ exp``)."""
    ctx = _context(context)
    out = []
    for m in _IDENT.finditer(rhs):
        name = m.group(2)
        if (name and name not in data.columns and callable(ctx.get(name))
                and not rhs[m.end():].lstrip().startswith("(")):
            out.append(name)
    return out


def _as_our_error(exc: Exception, rhs: str, data: pd.DataFrame, what: str) -> Exception:
    msg = _clean(exc)
    missing = re.search(r"`([^`]+)` is not present in the dataset", msg) or re.search(
        r"name '([^']+)' is not defined", msg
    )
    if missing:
        name = missing.group(1)
        cols = ", ".join(map(str, list(data.columns)[:30]))
        return DataError(
            f"column {name!r} used in the {what} '{rhs}' is not in the data; "
            f"available columns: {cols}"
        )
    if "Syntax" in type(exc).__name__ or "Parsing" in type(exc).__name__:
        return FormulaError(f"cannot parse the {what} '{rhs}': {msg}")
    return DataError(f"cannot evaluate the {what} '{rhs}': {msg}")


def evaluate(expr: str, data: pd.DataFrame, context: Mapping[str, Any] | None = None,
             *, what: str):
    """One column from an expression: a column name gives the column itself (a pandas Series,
    dtype kept, so a Categorical response keeps its level order); an expression such as
    ``log(t)`` or ``size - incidence`` gives a float array."""
    text = expr.strip()
    if text.startswith("`") or _IDENT.fullmatch(text):
        name = text.strip("`")
        if name in data.columns:
            return data[name]
        if not (context and name in context):
            raise DataError(
                f"column {name!r} used as the {what} is not in the data; available columns: "
                + ", ".join(map(str, list(data.columns)[:30]))
            )
    cols = model_columns(f"0 + I({text})", data, context, what=what)
    if cols.values.shape[1] != 1:
        raise DataError(f"the {what} '{expr}' must give one numeric column")
    return cols.values[:, 0]


def formula_terms(rhs: str, data: pd.DataFrame) -> list[str]:
    """Labels of the terms of a right-hand side, in formulaic's order (``"1"`` = intercept).

    Labels are in formulaic's syntax, so ``model_columns("0 + " + label, data)`` rebuilds a
    term on its own.
    """
    from formulaic import Formula

    data = _r_logicals(data, columns_used(rhs, data))
    text = _quote_numeric_names(_poly_for_ordered(_r_powers(rhs), data), data)
    try:
        return [str(term) for term in Formula(text)]
    except FormulaicError as exc:
        raise FormulaError(f"cannot parse '{rhs}': {_clean(exc)}") from None
