"""ModelSpec → pm.Model: the multilevel model in the form NUTS samples well.

η = Xβ + Σ_k (X_k ∘ b_k[codes_k]) 1 + offset. For every random term k, with D_k = diag(sd_k)
(each SD with its own prior, sampled on the log scale) and, for a correlated term, L_k the
Cholesky factor of its correlation matrix (LKJ(η), sampled through canonical partial
correlations: :mod:`bayesmix.spec.correlation`; L_k = I for ``||`` terms and single
columns), the effects b_k (m_k × r_k) are either

- non-centred: z_k ~ N(0, 1) and b_kj = D_k L_k z_kj, or
- centred: the rows of b_k ~ N(0, D_k L_k L_kᵀ D_k) directly,

chosen per term from the data (:mod:`bayesmix.backends.nuts.parameterization`). The rows reach
b_k by integer indexing with the group codes, in one pass over the rows per term
(:mod:`bayesmix.backends.nuts.grouped`); no Z matrix is formed.

The intercept is sampled at the centre of the predictors: the free variable
``Intercept_centred`` = β₀ + x̄ᵀβ with the user's prior on β₀ = ``Intercept_centred`` − x̄ᵀβ
added as a potential. The map (β₀, β) → (β₀ + x̄ᵀβ, β) has unit Jacobian, so the posterior
is exactly that of the uncentred model; the sampler just no longer sees the strong
intercept–slope correlation that uncentred predictors create.

The model holds only the free variables and the likelihood (no deterministics): SDs,
correlations and b in data scale are computed from the draws in NumPy
(:mod:`bayesmix.backends.nuts.draws`), which keeps the compiled graph small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...design import Design
from ...errors import PriorError
from ...results import naming
from ...spec import ModelSpec
from ...spec.priors import Normal, StudentT, pymc_vector_dist
from ...spec.correlation import lkj_cpc_logp, n_cpc
from .graph_inputs import data_var
from .grouped import grouped_row_dot
from .likelihood import loglik_sum
from .parameterization import choose_centred

__all__ = ["ModelLayout", "TermLayout", "build_model", "INTERCEPT", "BETA", "SIGMA",
           "CUTPOINTS"]

INTERCEPT = "Intercept_centred"
BETA = "beta"
SIGMA = "sigma"
CUTPOINTS = "cutpoints"
SLOPE_DIM = "coef"


@dataclass(frozen=True)
class TermLayout:
    """Where one random term lives in the model.

    Attributes
    ----------
    label : str
    correlated : bool
        True: ``corr`` names the term's unconstrained canonical partial correlations
        (:mod:`bayesmix.spec.correlation`).
    centred : bool
        True: ``effects`` is b itself (b_j ~ N(0, Σ)); False: ``effects`` is z with
        b_j = D L z_j.
    effects : str
        Name of the (m, r) variable.
    corr : str or None
    sd : str
        Name of the SDs (r).
    """

    label: str
    correlated: bool
    centred: bool
    effects: str
    corr: str | None
    sd: str


@dataclass(frozen=True)
class ModelLayout:
    """Names of the model's free variables and how to map them back to β.

    Attributes
    ----------
    free : tuple of str
        Names of all free random variables, in model order.
    centred : bool
        Whether the intercept is sampled as ``Intercept_centred``.
    intercept_index : int or None
        Position of ``(Intercept)`` in X's columns.
    slope_index : ndarray of int
        Positions in X of the coefficients in the ``beta`` variable.
    xbar : ndarray
        Means of those columns (the centring).
    terms : tuple of TermLayout
    family_params : tuple of str
        The family's parameters sampled (``sigma``, ``phi``, ``nu``).
    has_cutpoints : bool
    zero_inflation : bool
        Whether the zero-inflation coefficients are sampled (``beta_zi``).
    constants : dict name → float
        The family's parameters held at a value (``Constant`` priors), not sampled.
    initial : dict name → array
        Starting values (before jitter) that differ from PyMC's defaults: the centred
        intercept at its prior location, ordered cutpoints near the data's proportions.
    """

    free: tuple[str, ...]
    centred: bool
    intercept_index: int | None
    slope_index: np.ndarray
    xbar: np.ndarray
    terms: tuple[TermLayout, ...]
    family_params: tuple[str, ...]
    has_cutpoints: bool
    initial: dict
    zero_inflation: bool = False
    constants: dict = field(default_factory=dict)


def _location(prior) -> float:
    if isinstance(prior, (Normal, StudentT)):
        return float(prior.mu)
    return 0.0


def _coords(design: Design, slope_names: list[str]) -> dict:
    coords: dict = {SLOPE_DIM: slope_names}
    for t in design.terms:
        coords[naming.term_dim(t.label)] = list(t.columns)
        coords[naming.level_dim(t.label)] = [str(v) for v in t.levels]
    if design.family.name == "ordinal":
        coords[naming.CUTPOINT] = naming.cutpoint_labels(design)
    if design.X_zi is not None:
        coords[naming.ZI_COEF] = list(design.zi_names)
    return coords


def _prior_inputs(name: str, params: dict) -> dict:
    """A prior's parameters as named inputs of the graph (like the data): a model of the
    same structure compiles once, whatever its priors' values (the data-scaled defaults
    included)."""
    return {k: data_var(np.asarray(v, dtype=float), f"prior_{name}_{k}")
            for k, v in params.items()}


def _scalar_rv(name: str, prior):
    """The free variable of one scalar parameter (σ, φ, ν) with its prior; a Constant is
    the constant itself."""
    import pymc as pm

    from ...spec.priors import Constant

    if isinstance(prior, Constant) or prior.is_flat:
        return prior.to_pymc(name)
    return getattr(pm, type(prior).__name__)(name, **_prior_inputs(name, prior.params))


def _vector_rv(name: str, priors, dims, *, positive: bool):
    """One free vector RV whose elements carry their own priors."""
    import pymc as pm

    if len({type(p) for p in priors}) == 1:
        kind = type(priors[0]).__name__
        if kind == "Flat":
            return pm.Flat(name, shape=len(priors), dims=dims)
        params = {k: np.array([getattr(p, k) for p in priors]) for k in priors[0].params}
        return getattr(pm, kind)(name, **_prior_inputs(name, params), shape=len(priors),
                                 dims=dims)
    return pm.CustomDist(
        name, dist=lambda size: pymc_vector_dist(priors), signature="->(n)",
        shape=len(priors), dims=dims,
        transform=pm.distributions.transforms.log if positive else None,
        class_name="StackedPriors",
    )


def _cutpoints_init(design: Design) -> np.ndarray:
    """logit of the empirical cumulative proportions: an ordered, data-near start."""
    k = len(design.response_levels)
    counts = np.bincount(design.y.astype(np.int64), minlength=k).astype(float) + 0.5
    cum = np.cumsum(counts)[:-1] / counts.sum()
    return np.log(cum) - np.log1p(-cum)


def _mvnormal_chol_logp(value, L):
    """Row-wise log N(b_j | 0, L Lᵀ), by forward substitution (no LAPACK call, so the
    compiled model stays cacheable); the −(r/2) log 2π constant is dropped."""
    import pytensor.tensor as pt

    r = value.type.shape[-1]
    u = []
    for c in range(r):
        acc = value[..., c]
        for k in range(c):
            acc = acc - L[..., c, k] * u[k]
        u.append(acc / L[..., c, c])
    quad = sum(pt.sqr(uc) for uc in u)
    return -0.5 * quad - pt.sum(pt.log(pt.diagonal(L, axis1=-2, axis2=-1)), axis=-1)


def _term_effects(spec: ModelSpec, t, centred: bool, pm, pt):
    """Free variables of one term and b (m × r) as an expression."""
    label = t.label
    dims = (naming.level_dim(label), naming.term_dim(label))
    sd_priors = spec.sd_priors(label)
    name = f"b_{label}" if centred else f"z_{label}"
    sd_name = f"sd_{label}"
    sd = _vector_rv(sd_name, sd_priors, (naming.term_dim(label),), positive=True)
    if t.correlated:
        corr_name = f"cpc_{label}"
        u = pm.Flat(corr_name, shape=n_cpc(t.r))
        eta = data_var(np.asarray(float(spec.cor_prior(label).eta)), f"prior_cor_{label}_eta")
        L, log_p = lkj_cpc_logp(u, t.r, eta)
        pm.Potential(f"lkj_{label}", log_p)
        layout = TermLayout(label, True, centred, name, corr_name, sd_name)
        if centred:
            # Rows of T = D L as one (r, r) matrix: b_j ~ N(0, T Tᵀ).
            T = pt.stack([pt.stack([sd[c] * L[c][k] if k <= c else pt.constant(0.0)
                                    for k in range(t.r)]) for c in range(t.r)])
            b = pm.CustomDist(name, T, logp=_mvnormal_chol_logp, signature="(r,r)->(r)",
                              shape=(t.m, t.r), dims=dims, class_name="MvNormalChol")
            return layout, b
        z = pm.Normal(name, 0.0, 1.0, shape=(t.m, t.r), dims=dims)
        # b_j = D L z_j, column by column as vector operations: a dot would call BLAS, which
        # numba cannot cache on disk, and a broadcast (m, r, r) product is slower.
        cols = [sum(z[:, k] * (sd[c] * L[c][k]) for k in range(c + 1)) for c in range(t.r)]
        return layout, pt.stack(cols, axis=1)
    layout = TermLayout(label, False, centred, name, None, sd_name)
    if centred:
        return layout, pm.Normal(name, 0.0, sd[None, :], shape=(t.m, t.r), dims=dims)
    z = pm.Normal(name, 0.0, 1.0, shape=(t.m, t.r), dims=dims)
    return layout, z * sd


def _fixed_part(beta_priors, icpt, slope_index, X_slopes, xbar, initial: dict, pm, pt):
    """β's variables and Xβ: slopes on centred columns, the intercept at their centre with
    its prior on β₀ = Intercept_centred − x̄ᵀβ (a potential; unit Jacobian)."""
    eta = 0.0
    if len(slope_index):
        beta = _vector_rv(BETA, [beta_priors[j] for j in slope_index], (SLOPE_DIM,),
                          positive=False)
        # Column by column (contiguous constants, one fused elementwise loop) rather than a
        # 2-D product and reduction, which costs more per gradient on large n.
        eta = sum(data_var(X_slopes[:, j] - xbar[j], f"data_x{j}") * beta[j]
                  for j in range(len(slope_index)))
    if icpt is None:
        return eta
    prior0 = beta_priors[icpt]
    slope_locs = np.array([_location(beta_priors[j]) for j in slope_index])
    initial[INTERCEPT] = np.asarray(_location(prior0) + float(xbar @ slope_locs))
    alpha = pm.Flat(INTERCEPT)
    if not prior0.is_flat:
        beta0 = (alpha - (data_var(xbar, "data_xbar") * beta).sum() if len(slope_index)
                 else alpha)
        dist = getattr(pm, type(prior0).__name__).dist(
            **_prior_inputs(INTERCEPT, prior0.params))
        pm.Potential("intercept_prior", pm.logp(dist, beta0))
    return eta + alpha


def build_model(spec: ModelSpec, *, prior_only: bool = False,
                parameterization: str = "auto"):
    """The pm.Model of a ModelSpec and the layout of its free variables.

    Parameters
    ----------
    spec : ModelSpec
        Every prior must be proper except flat priors on fixed effects.
    prior_only : bool
        Leave the likelihood out (samples from the prior).
    parameterization : {"auto", "centred", "noncentred"}
        Form of the random effects; "auto" chooses per term
        (:func:`~bayesmix.backends.nuts.parameterization.choose_centred`; always non-centred
        when sampling the prior).

    Returns
    -------
    (pymc.Model, ModelLayout)
    """
    import pymc as pm
    import pytensor.tensor as pt

    design = spec.design
    names = list(design.x_names)
    beta_priors = spec.beta_priors()
    icpt = names.index("(Intercept)") if "(Intercept)" in names else None
    slope_index = np.array([j for j in range(len(names)) if j != icpt], dtype=np.intp)
    slope_names = [names[j] for j in slope_index]
    X_slopes = np.ascontiguousarray(design.X[:, slope_index])
    centred = icpt is not None
    xbar = X_slopes.mean(axis=0) if centred and design.n else np.zeros(len(slope_index))
    if prior_only and any(p.is_flat for p in beta_priors):
        raise PriorError(
            "prior_only=True needs proper priors on every coefficient; the flat priors on "
            + ", ".join(n for n, p in zip(names, beta_priors) if p.is_flat)
            + " have no distribution to sample from"
        )

    terms, initial = [], {}
    with pm.Model(coords=_coords(design, slope_names)) as model:
        eta = _fixed_part(beta_priors, icpt, slope_index, X_slopes, xbar, initial, pm, pt)
        if parameterization == "auto":
            centre = ({t.label: False for t in design.terms} if prior_only
                      else choose_centred(design))
        else:
            centre = {t.label: parameterization == "centred" for t in design.terms}
        for k, t in enumerate(design.terms):
            layout, b = _term_effects(spec, t, centre[t.label], pm, pt)
            terms.append(layout)
            eta = eta + grouped_row_dot(b, data_var(t.codes, f"data_codes{k}", np.int64),
                                        data_var(t.X, f"data_Z{k}"))
        if design.offset is not None:
            eta = eta + data_var(design.offset, "data_offset")
        cutpoints = None
        params = {name: _scalar_rv(name, spec.family_prior(name))
                  for name in design.family.parameters}
        sigma = params.get(SIGMA) if design.family.has_sigma else None
        if design.family.name == "ordinal":
            prior = spec.cutpoints_prior
            cutpoints = getattr(pm, type(prior).__name__)(
                CUTPOINTS, **_prior_inputs(CUTPOINTS, prior.params),
                shape=len(design.response_levels) - 1,
                dims=naming.CUTPOINT,
                transform=pm.distributions.transforms.ordered,
            )
            initial[CUTPOINTS] = _cutpoints_init(design)
        if design.X_zi is not None:
            gamma = _vector_rv(naming.BETA_ZI, spec.zi_priors(), (naming.ZI_COEF,),
                               positive=False)
            params["zeta"] = pt.dot(data_var(design.X_zi, "data_Xzi"), gamma)
        if not prior_only:
            eta_vec = eta if getattr(eta, "ndim", 0) == 1 else pt.zeros(design.n) + eta
            pm.Potential("loglik", loglik_sum(design, eta_vec, sigma, cutpoints, params))
    layout = ModelLayout(
        free=tuple(rv.name for rv in model.free_RVs),
        centred=centred,
        intercept_index=icpt,
        slope_index=slope_index,
        xbar=np.asarray(xbar, dtype=float),
        terms=tuple(terms),
        family_params=tuple(k for k in params if k != "zeta" and k not in spec.constants()),
        constants=spec.constants(),
        has_cutpoints=cutpoints is not None,
        initial=initial,
        zero_inflation=design.X_zi is not None,
    )
    return model, layout
