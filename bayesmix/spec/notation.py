"""The model of a ModelSpec in mathematical notation (as ``brms::make_stancode`` shows Stan
code): the likelihood, the link, the linear predictor, the random effects' distribution and
every prior with its parameters and where it came from."""

from __future__ import annotations

__all__ = ["model_code"]

_LIKELIHOOD = {
    "gaussian": "y_i ~ Normal(μ_i, σ{w})",
    "bernoulli": "y_i ~ Bernoulli(μ_i)",
    "binomial": "y_i ~ Binomial(n_i, μ_i)",
    "poisson": "y_i ~ Poisson(μ_i)",
    "negbinomial": "y_i ~ NegativeBinomial(μ_i, φ)        Var(y_i) = μ_i + μ_i²/φ",
    "negbinomial1": "y_i ~ NegativeBinomial1(μ_i, φ)       Var(y_i) = μ_i (1 + φ)",
    "gamma": "y_i ~ Gamma(shape φ, mean μ_i)        Var(y_i) = μ_i²/φ",
    "beta": "y_i ~ Beta(mean μ_i, precision φ)     Var(y_i) = μ_i (1 − μ_i)/(1 + φ)",
    "student_t": "y_i ~ StudentT(ν, μ_i, σ)",
    "lognormal": "log y_i ~ Normal(μ_i, σ)",
    "ordinal": "P(y_i ≤ k) = F(α_k − η_i), k = 1 … K − 1    (F: {cdf})",
    "zero_inflated_poisson": "y_i ~ π_i δ₀ + (1 − π_i) Poisson(μ_i)",
    "zero_inflated_negbinomial": "y_i ~ π_i δ₀ + (1 − π_i) NegativeBinomial(μ_i, φ)",
}
_LINK = {"identity": "μ_i = η_i", "log": "log μ_i = η_i", "logit": "logit μ_i = η_i",
         "probit": "Φ⁻¹(μ_i) = η_i", "cloglog": "log(−log(1 − μ_i)) = η_i",
         "inverse": "1/μ_i = η_i"}


def _column(name: str) -> str:
    return "" if name == "(Intercept)" else f" {name}_i"


def model_code(spec) -> str:
    """The model in mathematical notation, one statement per line."""
    design = spec.design
    fam = design.family
    lines = [f"Model: {design.formula}   ({fam.name}, {fam.link.name} link)"]
    lik = _LIKELIHOOD[fam.name].format(w=" / √w_i" if design.weights is not None else "",
                                       cdf="logistic" if fam.link.name == "logit"
                                       else "standard normal")
    if design.weights is not None and fam.name != "gaussian":
        lik += "   (log-likelihood of row i multiplied by its weight w_i)"
    lines.append("  " + lik)
    if fam.name != "ordinal":
        lines.append("  " + _LINK[fam.link.name])
    terms = [f"β[{name}]{_column(name)}" for name in design.x_names]
    for t in design.terms:
        for c, col in enumerate(t.columns):
            terms.append(f"b[{t.label}, {t.group}[i], {col}]{_column(col)}")
    if design.offset is not None:
        terms.append("offset_i")
    lines.append("  η_i = " + (" + ".join(terms) if terms else "0"))
    if design.X_zi is not None:
        zi = " + ".join(f"γ[{name}]{_column(name)}" for name in design.zi_names)
        lines.append(f"  logit π_i = {zi}")
    for t in design.terms:
        where = f"for each of the {t.m} levels of {t.group}"
        if t.r == 1:
            lines.append(f"  b[{t.label}, ·, {t.columns[0]}] ~ Normal(0, sd({t.columns[0]}|"
                         f"{t.label})), {where}")
        elif t.correlated:
            lines.append(f"  b[{t.label}, ·, ·] ~ MultivariateNormal(0, D R D), D = "
                         f"diag(sd(·|{t.label})), R the correlation matrix, {where}")
        else:
            lines.append(f"  b[{t.label}, ·, c] ~ Normal(0, sd(c|{t.label})) independently "
                         f"(||), {where}")
    if spec.blme is not None:
        lines.append(f"  priors: flat, with blme's penalties {spec.blme.describe()}")
        return "\n".join(lines)
    lines.append("  priors:")
    for name, prior in spec.priors.items():
        label = _prior_label(name, design)
        lines.append(f"    {label} ~ {prior}   [{spec.sources[name]}]")
    return "\n".join(lines)


def _prior_label(name: str, design) -> str:
    if name in design.x_names:
        return f"β[{name}]"
    if name.startswith("zi_"):
        return f"γ[{name[3:]}]"
    if name.startswith("cor("):
        return f"R[{name[4:-1]}]"
    if name == "cutpoints":
        return "α_k (each)"
    return {"sigma": "σ", "phi": "φ", "nu": "ν"}.get(name, name)
