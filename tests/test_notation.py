"""bm.model_code: the model in mathematical notation, also at the end of summary()."""

import bayesmix as bm


def test_model_code_states_likelihood_link_effects_and_every_prior():
    sleep = bm.datasets.load("sleepstudy")
    spec = bm.model_spec(bm.build_design("Reaction ~ Days + (Days | Subject)", sleep),
                         {"Days": bm.Normal(10, 2)})
    text = bm.model_code(spec)
    assert "y_i ~ Normal(μ_i, σ)" in text and "μ_i = η_i" in text
    assert "β[Days] Days_i" in text and "b[Subject, Subject[i], Days] Days_i" in text
    assert "MultivariateNormal(0, D R D)" in text and "18 levels of Subject" in text
    assert "β[Days] ~ Normal(10, 2)   [user]" in text
    assert "R[Subject] ~ LKJ(2)   [default]" in text
    for name in spec.priors:
        assert str(spec.priors[name]) in text
    zinb = bm.model_code(bm.model_spec(bm.build_design(
        "count ~ mined + (1 | site)", bm.datasets.load("Salamanders"), "negbinomial",
        zi="~ mined")))
    assert "π_i δ₀ + (1 − π_i) NegativeBinomial(μ_i, φ)" in zinb
    assert "log μ_i = η_i" in zinb and "logit π_i = γ[(Intercept)] + γ[minedno]" in zinb
    probit = bm.model_code(bm.model_spec(bm.build_design(
        "rating ~ temp + (1 | judge)", bm.datasets.load("wine"), "ordinal", link="probit")))
    assert "F(α_k − η_i)" in probit and "standard normal" in probit


def test_summary_ends_with_the_model():
    fit = bm.fit("Reaction ~ Days + (1 | Subject)", bm.datasets.load("sleepstudy"),
                 priors="flat")
    assert bm.model_code(fit.spec) in fit.summary()
