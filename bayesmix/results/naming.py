"""Names, dims and coords shared by every backend's InferenceData.

=====================  ======================================  ==========================
variable               dims (after chain, draw)                meaning
=====================  ======================================  ==========================
``beta``               (``coef``,)                             fixed effects β
``sigma``              ()                                      residual SD (gaussian,
                                                               lognormal), scale (Student-t)
``phi``                ()                                      dispersion / shape /
                                                               precision (negbinomial,
                                                               negbinomial1, gamma, beta)
``nu``                 ()                                      degrees of freedom (Student-t)
``cutpoints``          (``cutpoint``,)                         ordinal thresholds α
``beta_zi``            (``zi_coef``,)                          zero-inflation coefficients
                                                               γ (logit π = X_zi γ)
``sd_<label>``         (``<label>_term``,)                     SDs of a term's columns
``cor_<label>``        (``<label>_term``, ``<label>_term2``)   correlation matrix
``b_<label>``          (``<label>_level``, ``<label>_term``)   random effects b
=====================  ======================================  ==========================

``<label>`` is :attr:`ReTerm.label` (the grouping factor's name, ``.1``-suffixed for a second
term on the same factor). ``cor_<label>`` exists only for correlated terms. The observed
response and the pointwise log-likelihood are ``y`` over ``obs``.
"""

from __future__ import annotations

import numpy as np

from ..design import Design, ReTerm

__all__ = [
    "BETA",
    "SIGMA",
    "CUTPOINTS",
    "Y",
    "COEF",
    "OBS",
    "CUTPOINT",
    "BETA_ZI",
    "ZI_COEF",
    "sd_var",
    "cor_var",
    "b_var",
    "term_dim",
    "term2_dim",
    "level_dim",
    "dims",
    "coords",
    "cutpoint_labels",
]

BETA, SIGMA, CUTPOINTS, Y = "beta", "sigma", "cutpoints", "y"
COEF, OBS, CUTPOINT = "coef", "obs", "cutpoint"
BETA_ZI, ZI_COEF = "beta_zi", "zi_coef"


def sd_var(label: str) -> str:
    return f"sd_{label}"


def cor_var(label: str) -> str:
    return f"cor_{label}"


def b_var(label: str) -> str:
    return f"b_{label}"


def term_dim(label: str) -> str:
    return f"{label}_term"


def term2_dim(label: str) -> str:
    return f"{label}_term2"


def level_dim(label: str) -> str:
    return f"{label}_level"


def cutpoint_labels(design: Design) -> list[str]:
    """``"1|2"``, ``"2|3"``, ... as R's ordinal package names thresholds."""
    levels = [str(v) for v in (design.response_levels or ())]
    return [f"{a}|{b}" for a, b in zip(levels, levels[1:])]


def dims(design: Design) -> dict[str, list[str]]:
    """Dims of every shared variable (without chain and draw)."""
    out: dict[str, list[str]] = {BETA: [COEF], Y: [OBS]}
    for name in design.family.parameters:
        out[name] = []
    if design.family.name == "ordinal":
        out[CUTPOINTS] = [CUTPOINT]
    if design.X_zi is not None:
        out[BETA_ZI] = [ZI_COEF]
    for t in design.terms:
        out[sd_var(t.label)] = [term_dim(t.label)]
        if t.correlated:
            out[cor_var(t.label)] = [term_dim(t.label), term2_dim(t.label)]
        out[b_var(t.label)] = [level_dim(t.label), term_dim(t.label)]
    return out


def _level_coords(t: ReTerm) -> np.ndarray:
    # Fixed-width strings, not objects: arviz copies coords for every variable, and copying
    # an object array of a million Python strings takes seconds.
    return np.asarray(t.levels.astype(str), dtype=str)


def coords(design: Design) -> dict[str, np.ndarray | list]:
    """Coordinates of every dim in :func:`dims`."""
    out: dict[str, np.ndarray | list] = {
        COEF: list(design.x_names),
        OBS: np.arange(design.n),
    }
    if design.family.name == "ordinal":
        out[CUTPOINT] = cutpoint_labels(design)
    if design.X_zi is not None:
        out[ZI_COEF] = list(design.zi_names)
    for t in design.terms:
        out[term_dim(t.label)] = list(t.columns)
        if t.correlated:
            out[term2_dim(t.label)] = list(t.columns)
        out[level_dim(t.label)] = _level_coords(t)
    return out
