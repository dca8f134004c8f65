"""Rows to predict and parameter values to predict them with: the parts every prediction,
simulation and posterior-predictive draw shares.

:func:`encode_rows` turns the fitted rows or new data into X, the random terms kept
(``include_random``), the zero-inflation columns and, per term, which rows belong to levels
not seen when fitting. :class:`ParameterDraws` holds parameter values as (S, ...) arrays —
the posterior draws, or the estimates at the mode as S = 1 — and
:meth:`ParameterDraws.eta` forms η = offset + Xβ + Σ_k X_k b_k for one of them, an unseen
level's b being 0 (``new_levels="population"``) or drawn from N(0, Σ_k) of that draw
(``"sample"``, brms's ``sample_new_levels="gaussian"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design import new_data
from ..errors import BayesmixError, DataError
from . import naming

__all__ = ["Rows", "encode_rows", "require_trials", "ParameterDraws", "NEW_LEVELS"]

NEW_LEVELS = ("population", "sample", "error")


@dataclass(frozen=True, eq=False)
class Rows:
    """Encoded rows. ``terms``: (term index, codes, columns, new-level codes, unseen count)
    for each random term kept."""

    X: np.ndarray
    offset: np.ndarray | None
    index: pd.Index
    X_zi: np.ndarray | None
    terms: tuple
    trials: np.ndarray | None
    weights: np.ndarray | None

    @property
    def n(self) -> int:
        return self.X.shape[0]


def _kept_terms(design, include_random) -> list[int]:
    """Indices of the random terms ``include_random`` keeps: all (True), none (False), or
    those whose grouping factors a formula such as ``"(1 | Subject)"`` names."""
    if include_random is True:
        return list(range(len(design.terms)))
    if include_random is False or include_random is None:
        return []
    if not isinstance(include_random, str):
        raise BayesmixError(
            f"include_random must be True, False or a formula of the terms to keep such as "
            f"'(1 | Subject)', not {include_random!r}")
    from ..formula.parser import parse_formula

    text = include_random.strip().lstrip("~").strip()
    try:
        parsed = parse_formula(f"y__ ~ 1 + {text}")
    except Exception as exc:
        raise BayesmixError(f"cannot read include_random={include_random!r}: {exc}") from None
    if not parsed.random:
        raise BayesmixError(
            f"include_random={include_random!r} names no random term; write them as in the "
            "model formula, e.g. '(1 | Subject)', or pass True / False")
    groups = {t.group for t in design.terms} | {t.label for t in design.terms}
    kept = []
    for term in parsed.random:
        name = term.group
        matches = [k for k, t in enumerate(design.terms) if t.group == name or t.label == name]
        if not matches:
            raise BayesmixError(
                f"include_random names the grouping factor {name!r}, which the model does not "
                f"have; its terms: {', '.join(sorted(groups))}")
        kept += [k for k in matches if k not in kept]
    return sorted(kept)


def encode_rows(fit, newdata: pd.DataFrame | None, include_random, new_levels: str) -> Rows:
    """The fitted rows (``newdata=None``) or ``newdata`` encoded with the fit's design."""
    if new_levels not in NEW_LEVELS:
        raise BayesmixError(f"new_levels must be one of {NEW_LEVELS}, not {new_levels!r}")
    design = fit.design
    kept = _kept_terms(design, include_random)
    if newdata is None:
        terms = tuple((k, design.terms[k].codes, design.terms[k].X, None, 0) for k in kept)
        return Rows(design.X, design.offset, design.rows, design.X_zi, terms,
                    design.trials, design.weights)
    nd = new_data(design, newdata, allow_new_levels=new_levels != "error")
    if new_levels == "population":
        counts = [(design.terms[k].label, len(nd.new_levels[design.terms[k].label]),
                   int(np.sum(nd.codes[design.terms[k].label] < 0))) for k in kept]
        counts = [c for c in counts if c[1]]
        if counts:
            import warnings

            from ..errors import BayesmixWarning

            detail = "; ".join(f"{rows} rows of {levels} new levels of {label!r}"
                               for label, levels, rows in counts)
            warnings.warn(
                f"{detail} are predicted at the population value (b = 0); "
                "new_levels='sample' draws their effects from the fitted covariance, "
                "'error' refuses them", BayesmixWarning, stacklevel=4)
    terms = []
    for k in kept:
        label = design.terms[k].label
        unseen = len(nd.new_levels[label])
        terms.append((k, nd.codes[label], nd.term_X[label],
                      nd.new_codes[label] if new_levels == "sample" and unseen else None,
                      unseen if new_levels == "sample" else 0))
    trials = None
    if design.family.name == "binomial" and design.trials is not None:
        trials = _new_trials(design, newdata)
    return Rows(nd.X, nd.offset, nd.rows, nd.X_zi, tuple(terms), trials, None)


def require_trials(fit, rows: Rows) -> None:
    """New binomial observations need their trials (the columns of ``cbind(s, f)``)."""
    design = fit.design
    if design.family.name == "binomial" and design.trials is not None and rows.trials is None:
        raise BayesmixError(
            f"new binomial observations need their number of trials: the new data must hold "
            f"the columns of the response {design.parsed.response!r}; kind='response' "
            "predicts the probability without them")


def _new_trials(design, data: pd.DataFrame) -> np.ndarray | None:
    """The binomial trials of new rows (``cbind(s, f)``'s s + f), when their columns are
    there; None otherwise (then only probabilities can be predicted)."""
    from ..formula.matrices import evaluate

    parsed = design.parsed
    text = parsed.response
    if not text.startswith("cbind("):
        return None
    inner = text[len("cbind("):-1]
    parts = [p.strip() for p in inner.split(",")]
    try:
        values = [np.asarray(evaluate(p, data, design.context, what="response"), float)
                  for p in parts]
    except Exception:
        return None
    return values[0] + values[1]


@dataclass(frozen=True, eq=False)
class ParameterDraws:
    """Parameter values as (S, ...) arrays: β, b and the covariance per term, the family's
    parameters, ordinal thresholds, zero-inflation coefficients."""

    beta: np.ndarray
    b: tuple
    sd: tuple
    cor: tuple
    params: dict
    cutpoints: np.ndarray | None
    zi: np.ndarray | None
    chains: int

    @property
    def S(self) -> int:
        return self.beta.shape[0]

    @classmethod
    def from_posterior(cls, fit) -> "ParameterDraws":
        post = getattr(fit.idata, "posterior", None)
        if post is None:
            raise BayesmixError(
                "this fit has no draws (it was fitted with draws=0); refit with draws=... to "
                "get intervals, draws or simulated responses")
        design = fit.design

        def flat(name):
            values = post[name].values
            return values.reshape(-1, *values.shape[2:])

        chains = post.sizes["chain"]
        b = tuple(flat(naming.b_var(t.label)) for t in design.terms)
        sd = tuple(flat(naming.sd_var(t.label)) for t in design.terms)
        cor = tuple(flat(naming.cor_var(t.label)) if t.correlated else None
                    for t in design.terms)
        params = {k: flat(k) for k in design.family.parameters}
        cut = flat(naming.CUTPOINTS) if design.family.name == "ordinal" else None
        zi = flat(naming.BETA_ZI) if design.X_zi is not None else None
        return cls(flat(naming.BETA), b, sd, cor, params, cut, zi, chains)

    @classmethod
    def from_estimates(cls, fit) -> "ParameterDraws":
        est = fit.estimates
        design = fit.design
        params = dict(est.family_params or {})
        if design.family.has_sigma and est.sigma is not None:
            params["sigma"] = est.sigma
        return cls(
            est.beta[None], tuple(est.term(t.label).b[None] for t in design.terms),
            tuple(est.term(t.label).sd[None] for t in design.terms),
            tuple(None if est.term(t.label).cor is None else est.term(t.label).cor[None]
                  for t in design.terms),
            {k: np.atleast_1d(np.asarray(v, float)) for k, v in params.items()},
            None if est.cutpoints is None else est.cutpoints[None],
            None if est.zi_coef is None else np.asarray(est.zi_coef)[None], 1)

    def take(self, s: int) -> dict:
        """The family's parameters, thresholds and zero-inflation coefficients of draw s."""
        return {"params": {k: v[s] for k, v in self.params.items()},
                "cutpoints": None if self.cutpoints is None else self.cutpoints[s],
                "zi": None if self.zi is None else self.zi[s]}

    def eta(self, rows: Rows, s: int, rng: np.random.Generator | None = None,
            fresh: bool = False) -> np.ndarray:
        """η of draw s on the rows. Unseen levels (new-level codes ≥ 0) get b drawn from
        N(0, Σ_k) of the draw; ``fresh`` draws every level's b so (lme4's ``simulate`` with
        ``use.u = FALSE``)."""
        eta = rows.X @ self.beta[s]
        if rows.offset is not None:
            eta = eta + rows.offset
        for k, codes, Xk, new_codes, n_new in rows.terms:
            sd, cor = self.sd[k][s], None if self.cor[k] is None else self.cor[k][s]
            if fresh:
                m = self.b[k].shape[1]
                b = _normal_effects(rng, m, sd, cor)
            else:
                b = self.b[k][s]
            known = codes >= 0
            eta[known] += np.einsum("ij,ij->i", Xk[known], b[codes[known]])
            if new_codes is not None and n_new:
                new_b = _normal_effects(rng, n_new, sd, cor)
                rows_new = new_codes >= 0
                eta[rows_new] += np.einsum("ij,ij->i", Xk[rows_new],
                                           new_b[new_codes[rows_new]])
        return eta

    def zeta(self, rows: Rows, s: int) -> np.ndarray | None:
        return None if self.zi is None else rows.X_zi @ self.zi[s]


def _normal_effects(rng, m: int, sd: np.ndarray, cor: np.ndarray | None) -> np.ndarray:
    """m draws of b ~ N(0, D R D), shape (m, r)."""
    if rng is None:
        raise DataError("drawing random effects needs a random generator")
    r = len(sd)
    z = rng.standard_normal((m, r))
    if cor is None:
        return z * sd
    vals, vecs = np.linalg.eigh(cor)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return (z @ root.T) * sd
