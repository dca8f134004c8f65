"""The text of ``Fit.summary()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["report"]


def _fmt(table: pd.DataFrame) -> str:
    with pd.option_context("display.width", 120, "display.max_columns", 20,
                           "display.float_format", "{:.5g}".format):
        return table.to_string()


def report(fit: Fit) -> str:
    """Header, fixed effects, variance components and messages of a fit."""
    d = fit.design
    info = fit.info
    approx = fit.idata.attrs.get("approximation", "")
    lines = [
        f"{d.formula}",
        f"family: {d.family.name} ({d.family.link.name} link)   backend: {info.backend} "
        f"({info.method})" + (f"   posterior: {approx}" if approx else ""),
        f"observations: {d.n:,}   groups: "
        + ", ".join(f"{t.label} ({t.m:,})" for t in d.terms),
    ]
    if fit.loglik is not None:
        stats = f"{info.loglik_label}{' (REML)' if info.method == 'REML' else ''}: {fit.loglik:.4f}"
        if fit.aic is not None and info.method != "REML":
            stats += f"   AIC: {fit.aic:.2f}   BIC: {fit.bic:.2f}"
        lines.append(stats)
    status = {"converged": "converged",
              "warnings": "converged, with warnings (see Messages)",
              "not converged": "NOT CONVERGED (see Messages)"}[info.status]
    if info.iterations is not None:
        unit = "draws" if info.backend == "nuts" else "iterations"
        status += f"; {info.iterations} {unit}"
    if info.singular:
        status += "; singular fit (a variance on the boundary)"
    lines.append(status)
    lines += ["", "Variance components:", _fmt(fit.varcorr()), "", "Fixed effects:",
              _fmt(fit.fixef())]
    if d.X_zi is not None:
        lines += ["", f"Zero-inflation (logit π, {d.zi_formula}):", _fmt(fit.zi_fixef())]
    if d.family.name == "ordinal":
        lines += ["", "Thresholds:", _fmt(fit.thresholds())]
    from ..spec.notation import model_code

    lines += ["", model_code(fit.spec)]
    if info.messages:
        lines += ["", "Messages:"] + [f"- {m}" for m in info.messages]
    return "\n".join(lines)
