"""The fixed covariance of the random effects: from the user's input to one Σ_k per term.

Accepted forms (see :class:`~bayesmix.backends.map.options.MapOptions`): a dict from term
label or grouping factor to a matrix, a ``varcorr()``-shaped table, or another Fit. Whatever
the form, the result is checked against the design: every term has a covariance, of its size,
in its column order, symmetric and positive semi-definite; nothing refers to a term the model
does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from ...design import Design, ReTerm
from ...design.reterm import psd_cholesky
from ...errors import OptionsError
from ...results import Fit, naming

__all__ = ["FixedCovariance", "resolve_covariance"]

# Relative tolerances for symmetry and for negative eigenvalues (round-off of a matrix that
# was computed as S Sᵀ or printed to ~15 digits stays far inside these).
_SYM_TOL = 1e-8
_PSD_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class FixedCovariance:
    """Σ_k per term (design order), the factors T_k with Σ_k = T_k T_kᵀ, σ (the Gaussian
    families), and the family's other parameters held fixed (φ; σ and ν of Student-t), by
    name in :attr:`Family.kernel_parameters` order; a zero-inflated family's coefficients γ
    held fixed too (``zi_coef``)."""

    covariances: tuple[np.ndarray, ...]
    factors: tuple[np.ndarray, ...]
    sigma: float | None
    family_params: dict | None = None
    zi_coef: np.ndarray | None = None


def _describe_terms(design: Design) -> str:
    return "; ".join(f"{t.label} [{', '.join(t.columns)}]" for t in design.terms)


def _as_named(term: ReTerm, value, source: str) -> np.ndarray:
    """A covariance given for ``term`` as an r × r array in the term's column order."""
    if isinstance(value, pd.DataFrame):
        rows, cols = [str(c) for c in value.index], [str(c) for c in value.columns]
        want = list(term.columns)
        if sorted(rows) != sorted(want) or sorted(cols) != sorted(want):
            raise OptionsError(
                f"covariance for term {term.label!r} is labelled {cols} but the term's "
                f"columns are {want}; label the matrix with those names (or pass a plain "
                "array in that order)"
            )
        value = value.set_axis(rows, axis=0).set_axis(cols, axis=1).loc[want, want]
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise OptionsError(
            f"covariance for term {term.label!r} must be a numeric {term.r}×{term.r} matrix, "
            f"not {type(value).__name__}"
        ) from None
    if arr.ndim == 0 and term.r == 1:
        arr = arr.reshape(1, 1)
    if arr.shape != (term.r, term.r):
        raise OptionsError(
            f"covariance for term {term.label!r} ({source}) has shape {arr.shape} but the term "
            f"has {term.r} column(s) [{', '.join(term.columns)}]; give a {term.r}×{term.r} "
            "matrix in that column order"
        )
    return arr


def _check(term: ReTerm, cov: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(cov)):
        raise OptionsError(
            f"covariance for term {term.label!r} has non-finite entries; give finite variances"
        )
    scale = max(float(np.max(np.abs(cov))), np.finfo(float).tiny)
    asym = np.max(np.abs(cov - cov.T))
    if asym > _SYM_TOL * scale:
        a, b = np.unravel_index(np.argmax(np.abs(cov - cov.T)), cov.shape)
        raise OptionsError(
            f"covariance for term {term.label!r} is not symmetric (entry [{a},{b}] = "
            f"{cov[a, b]:.6g} but [{b},{a}] = {cov[b, a]:.6g}); pass a symmetric matrix "
            "such as (S + S.T) / 2"
        )
    cov = (cov + cov.T) / 2
    low = float(np.linalg.eigvalsh(cov)[0])
    if low < -_PSD_TOL * scale:
        raise OptionsError(
            f"covariance for term {term.label!r} [{', '.join(term.columns)}] is not positive "
            f"semi-definite (smallest eigenvalue {low:.3g}); a covariance matrix needs "
            "non-negative variances and correlations in [-1, 1] — check the values and the "
            "column order"
        )
    if term.structure == "diagonal" and np.any(cov[~np.eye(term.r, dtype=bool)] != 0):
        raise OptionsError(
            f"term {term.label!r} is uncorrelated (written with ||) but its covariance has "
            "non-zero off-diagonal entries; zero them, or write the term with | to estimate "
            "correlations"
        )
    return cov


def _from_mapping(design: Design, cov: Mapping) -> dict[str, np.ndarray]:
    labels = {t.label: t for t in design.terms}
    by_group: dict[str, list[ReTerm]] = {}
    for t in design.terms:
        by_group.setdefault(t.group, []).append(t)
    out: dict[str, np.ndarray] = {}
    unknown = []
    for key, value in cov.items():
        key_s = str(key)
        if key_s in labels:
            out[key_s] = _as_named(labels[key_s], value, f"key {key_s!r}")
        elif key_s in by_group:
            terms = by_group[key_s]
            if len(terms) == 1:
                out[terms[0].label] = _as_named(terms[0], value, f"key {key_s!r}")
            else:
                out.update(_split(terms, value, key_s))
        else:
            unknown.append(key_s)
    if unknown:
        raise OptionsError(
            f"covariance refers to unknown group(s) {', '.join(map(repr, unknown))}; the "
            f"model's random terms are: {_describe_terms(design)}"
        )
    return out


def _split(terms: list[ReTerm], value, key: str) -> dict[str, np.ndarray]:
    """One matrix for several terms on the same factor: their blocks, independent."""
    size = sum(t.r for t in terms)
    arr = np.asarray(value, dtype=float)
    cols = [c for t in terms for c in t.columns]
    if arr.shape != (size, size):
        raise OptionsError(
            f"group {key!r} has {len(terms)} terms ({', '.join(t.label for t in terms)}); give "
            f"each its own entry by label, or one {size}×{size} matrix over {cols}"
        )
    out, start = {}, 0
    mask = np.ones((size, size), dtype=bool)
    for t in terms:
        out[t.label] = arr[start:start + t.r, start:start + t.r]
        mask[start:start + t.r, start:start + t.r] = False
        start += t.r
    if np.any(arr[mask] != 0):
        raise OptionsError(
            f"the terms {', '.join(t.label for t in terms)} of group {key!r} are independent "
            "in this model, but the covariance couples them; zero the off-diagonal blocks or "
            "give each term by label"
        )
    return out


_PARAM_KINDS = ("sigma", "phi", "nu")


def _from_varcorr(design: Design, table: pd.DataFrame) -> tuple[dict, dict]:
    need = {"group", "term", "term2", "kind", "estimate"}
    if not need <= set(table.columns):
        raise OptionsError(
            "a covariance DataFrame must be shaped like Fit.varcorr(): columns "
            f"{sorted(need)}; it has {list(table.columns)}"
        )
    params: dict[str, float] = {}
    sds: dict[str, dict[str, float]] = {}
    cors: dict[str, dict[tuple[str, str], float]] = {}
    for row in table.itertuples(index=False):
        kind = row.kind
        if kind in _PARAM_KINDS:
            params[kind] = float(row.estimate)
        elif kind == "sd":
            sds.setdefault(str(row.group), {})[str(row.term)] = float(row.estimate)
        elif kind == "cor":
            cors.setdefault(str(row.group), {})[(str(row.term), str(row.term2))] = float(
                row.estimate
            )
        else:
            raise OptionsError(f"unknown kind {kind!r} in the covariance table; use sd, cor, "
                               "sigma, phi, nu")
    out = {}
    for group, sd in sds.items():
        names = list(sd)
        R = np.eye(len(names))
        for (a, b), value in cors.get(group, {}).items():
            if a not in sd or b not in sd:
                raise OptionsError(
                    f"the covariance table has a correlation of {a!r} and {b!r} in group "
                    f"{group!r} without both SDs"
                )
            i, j = names.index(a), names.index(b)
            R[i, j] = R[j, i] = value
        s = np.array([sd[nm] for nm in names])
        out[group] = pd.DataFrame(R * np.outer(s, s), index=names, columns=names)
    extra = set(cors) - set(sds)
    if extra:
        raise OptionsError(f"the covariance table has correlations but no SDs for {sorted(extra)}")
    return out, params


def _from_fit(fit: Fit) -> tuple[dict, dict]:
    if fit.estimates is not None:
        return _from_varcorr(fit.design, fit.varcorr())
    post = fit.idata.posterior
    out = {}
    for t in fit.design.terms:
        sd = post[naming.sd_var(t.label)].values.reshape(-1, t.r)
        if t.correlated:
            R = post[naming.cor_var(t.label)].values.reshape(-1, t.r, t.r)
        else:
            R = np.broadcast_to(np.eye(t.r), (sd.shape[0], t.r, t.r))
        cov = (sd[:, :, None] * R * sd[:, None, :]).mean(axis=0)
        out[t.label] = pd.DataFrame(cov, index=list(t.columns), columns=list(t.columns))
    params = {}
    if naming.SIGMA in post:
        params["sigma"] = float(np.sqrt(np.mean(post[naming.SIGMA].values ** 2)))
    for name in ("phi", "nu"):
        if name in post:
            params[name] = float(np.mean(post[name].values))
    return out, params


def resolve_covariance(design: Design, covariance, sigma: float | None,
                       family_params: Mapping[str, float] | None = None,
                       zi_coef=None) -> FixedCovariance:
    """:func:`_resolve` with a zero-inflated family's coefficients (:func:`_zi_coef`)."""
    import dataclasses

    fixed = _resolve(design, covariance, sigma, family_params)
    return dataclasses.replace(fixed, zi_coef=_zi_coef(design, covariance, zi_coef))


def _zi_coef(design: Design, covariance, zi_coef) -> np.ndarray | None:
    """γ from the ``zi_coef`` option (by name or in order), else from a covariance Fit of
    the same zero-inflation formula (its estimates, or posterior means)."""
    names = list(design.zi_names)
    if not names:
        if zi_coef is not None:
            raise OptionsError(
                f"zi_coef applies to zero-inflated families (zi=...), not {design.family.name}"
                " — drop zi_coef=...")
        return None
    if zi_coef is None and isinstance(covariance, Fit) and covariance.design.zi_names:
        if list(covariance.design.zi_names) != names:
            raise OptionsError(
                f"the covariance Fit's zero-inflation columns {list(covariance.design.zi_names)}"
                f" differ from this model's {names}; pass zi_coef={{...}}")
        est = covariance.estimates
        return (np.array(est.zi_coef, dtype=float) if est is not None else
                covariance.idata.posterior[naming.BETA_ZI].values.reshape(-1, len(names))
                .mean(axis=0))
    example = "{" + ", ".join(f"{n!r}: ..." for n in names) + "}"
    if zi_coef is None:
        raise OptionsError(
            f"the zero-inflation coefficients must be held fixed in the 'map' backend, as the "
            f"covariance: pass zi_coef={example}, or covariance= a Fit of the same model")
    if isinstance(zi_coef, Mapping):
        unknown = sorted(set(zi_coef) - set(names))
        missing = [n for n in names if n not in zi_coef]
        if unknown or missing:
            raise OptionsError(
                f"zi_coef needs exactly the zero-inflation columns {names} "
                f"(unknown: {unknown}, missing: {missing})")
        values = [zi_coef[n] for n in names]
    else:
        values = list(np.ravel(np.asarray(zi_coef, dtype=object)))
        if len(values) != len(names):
            raise OptionsError(f"zi_coef has {len(values)} values for the {len(names)} "
                               f"zero-inflation columns {names}; pass zi_coef={example}")
    try:
        gamma = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise OptionsError(f"zi_coef must hold numbers, not {values!r}") from None
    if not np.all(np.isfinite(gamma)):
        raise OptionsError(f"zi_coef must be finite, not {values!r}")
    return gamma


def _resolve(design: Design, covariance, sigma: float | None,
             family_params: Mapping[str, float] | None = None) -> FixedCovariance:
    """Σ_k for every term of ``design`` from the ``covariance`` option, checked, with σ and
    the family's parameters (from the options, else from a covariance Fit or table).

    Raises
    ------
    OptionsError
        A term without covariance, a matrix of the wrong size or not symmetric positive
        semi-definite, an unknown group, or a missing / superfluous σ or family parameter.
    """
    if not design.terms:
        raise OptionsError(
            "the formula has no random terms; the 'map' backend fits β and b at a fixed "
            "covariance of the random effects"
        )
    given: dict = {}
    if isinstance(covariance, Fit):
        raw, given = _from_fit(covariance)
    elif isinstance(covariance, pd.DataFrame):
        raw, given = _from_varcorr(design, covariance)
    else:
        raw = covariance
    given_sigma = given.get("sigma")
    named = _from_mapping(design, raw)
    missing = [t for t in design.terms if t.label not in named]
    if missing:
        t = missing[0]
        raise OptionsError(
            f"covariance has no entry for random term {t.label!r} "
            f"[{', '.join(t.columns)}]; add covariance[{t.label!r}] = a {t.r}×{t.r} matrix "
            f"in that column order (the model's terms: {_describe_terms(design)})"
        )
    covs = tuple(_check(t, named[t.label]) for t in design.terms)
    factors = tuple(psd_cholesky(c) for c in covs)
    fam = design.family
    if fam.kernel_parameters:
        values = _family_params(fam, given, sigma, family_params)
        return FixedCovariance(covs, factors, None, values)
    if family_params:
        raise OptionsError(
            f"family_params applies to families with a dispersion or shape parameter; the "
            f"{fam.name} family has none — drop family_params=..."
        )
    if design.family.has_sigma:
        sigma = sigma if sigma is not None else given_sigma
        if sigma is None:
            raise OptionsError(
                "the gaussian family needs the residual SD: pass sigma=..., or a covariance "
                "Fit / varcorr() table with a Residual row"
            )
        if not np.isfinite(sigma) or sigma <= 0:
            raise OptionsError(f"sigma must be a positive number, not {sigma!r}")
    elif sigma is not None:
        raise OptionsError(
            f"sigma applies to the gaussian family only; the {design.family.name} family has no "
            "residual SD — drop sigma=..."
        )
    else:
        sigma = None
    return FixedCovariance(covs, factors, None if sigma is None else float(sigma))


def _family_params(fam, given: dict, sigma, family_params) -> dict:
    """The family's parameters held fixed: ``family_params`` (and ``sigma`` for Student-t)
    over those of a covariance Fit or table; all of them positive and finite."""
    names = fam.kernel_parameters
    chosen = {k: v for k, v in given.items() if k in names}
    if sigma is not None:
        if "sigma" not in names:
            raise OptionsError(f"sigma does not apply to the {fam.name} family (its parameter "
                               f"is {', '.join(names)}): pass family_params={{...}}")
        chosen["sigma"] = sigma
    extra = sorted(set(family_params or {}) - set(names))
    if extra:
        raise OptionsError(f"family_params has {', '.join(extra)}, which the {fam.name} "
                           f"family does not have; its parameters: {', '.join(names)}")
    chosen.update(family_params or {})
    missing = [k for k in names if k not in chosen]
    if missing:
        example = ", ".join(f"{k!r}: ..." for k in names)
        raise OptionsError(
            f"the {fam.name} family's {', '.join(missing)} must be held fixed in the 'map' "
            f"backend, as the covariance: pass family_params={{{example}}}, or covariance= "
            "a Fit of the same model (e.g. from backend='laplace' on a sample)"
        )
    for k in names:
        v = chosen[k]
        if isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            raise OptionsError(f"family_params[{k!r}] must be a positive number, not {v!r}")
    return {k: float(chosen[k]) for k in names}
