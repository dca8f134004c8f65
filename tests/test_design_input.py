"""Design building: bad input gets a clear error, and the conveniences lme4 users rely on.

Every error test checks the exception type and that the message names the offending thing
(column, token, level, family) and hints at the fix.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.design import new_data
from bayesmix.errors import (
    DataError,
    FamilyError,
    FormulaError,
    MissingValuesWarning,
    RankDeficiencyWarning,
)


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "t": rng.uniform(1, 2, size=n),
            "count": rng.poisson(3, size=n),
            "flag": rng.random(n) < 0.5,
            "g": np.repeat(list("abcdef"), 10),
            "h": np.tile(list("uvw"), 20),
        }
    )


# -- formula errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "formula, fragment, column",
    [
        ("y ~ x + (1 | g", "never closed", 8),
        ("y ~ x + 1 | g", "must be in parentheses", 8),
        ("y x + (1 | g)", "no '~'", 13),
        ("y ~ x ~ z", "more than one '~'", 6),
        ("y ~ x + ( | g)", "nothing to the left of '|'", 9),
        ("y ~ x + (1 | g + h)", "not a column name", 13),
        ("y ~ x + (1 | )", "missing grouping factor", 13),
    ],
)
def test_formula_errors_point_at_the_problem(df, formula, fragment, column):
    with pytest.raises(FormulaError) as err:
        bm.build_design(formula, df)
    message = str(err.value)
    assert fragment in message
    caret_line = message.splitlines()[-1]
    assert caret_line.index("^") - 2 == column  # two spaces of indentation


def test_formulaic_syntax_error_is_ours(df):
    with pytest.raises(FormulaError, match="cannot parse"):
        bm.build_design("y ~ x * * t + (1 | g)", df)


# -- data errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "formula, name",
    [("y ~ xx + (1 | g)", "xx"), ("y ~ x + (1 + zz | g)", "zz"), ("y ~ x + (1 | gg)", "gg"),
     ("yy ~ x + (1 | g)", "yy")],
)
def test_missing_column_is_named(df, formula, name):
    with pytest.raises(DataError, match=f"'{name}'") as err:
        bm.build_design(formula, df)
    assert "available columns" in str(err.value)


def test_single_level_grouping_factor(df):
    df["one"] = "only"
    with pytest.raises(DataError, match="single level.*'only'.*at least two levels"):
        bm.build_design("y ~ x + (1 | one)", df)


def test_gaussian_one_level_per_row(df):
    df["row"] = np.arange(len(df))
    with pytest.raises(DataError, match="60 levels for 60 rows"):
        bm.build_design("y ~ x + (1 | row)", df)
    # An observation-level random effect is legal outside the Gaussian family (overdispersion).
    design = bm.build_design("count ~ x + (1 | row)", df, "poisson")
    assert design.terms[0].m == len(df)


def test_gaussian_too_many_random_effects(df):
    df["pair"] = np.repeat(np.arange(30), 2)
    with pytest.raises(DataError, match="60 random effects for 60 rows"):
        bm.build_design("y ~ x + (1 + x | pair)", df)


def test_empty_data(df):
    with pytest.raises(DataError, match="no rows"):
        bm.build_design("y ~ x + (1 | g)", df.iloc[:0])


def test_data_must_be_a_frame():
    with pytest.raises(DataError, match="DataFrame"):
        bm.build_design("y ~ x + (1 | g)", [1, 2, 3])


def test_non_finite_transform_is_named(df):
    df.loc[3, "t"] = -1.0
    with pytest.raises(DataError, match=r"log\(t\).*row 3"):
        bm.build_design("y ~ log(t) + (1 | g)", df)


# -- responses and families -------------------------------------------------------------------
def test_unknown_family_and_link(df):
    with pytest.raises(FamilyError, match="unknown family 'weibull'.*available"):
        bm.build_design("y ~ x + (1 | g)", df, "weibull")
    with pytest.raises(FamilyError, match="'poisson' does not take the 'logit' link"):
        bm.build_design("count ~ x + (1 | g)", df, "poisson", link="logit")


def test_response_the_family_cannot_take(df):
    with pytest.raises(FamilyError, match="must be 0/1.*row 0"):
        bm.build_design("y ~ x + (1 | g)", df, "bernoulli")
    with pytest.raises(FamilyError, match="non-negative integer counts"):
        bm.build_design("y ~ x + (1 | g)", df, "poisson")
    with pytest.raises(FamilyError, match="not numeric"):
        bm.build_design("g ~ x + (1 | h)", df, "gaussian")
    with pytest.raises(FamilyError, match="3 distinct values"):
        bm.build_design("h ~ x + (1 | g)", df, "bernoulli")
    with pytest.raises(FamilyError, match="use family='binomial'"):
        bm.build_design("cbind(count, count) ~ x + (1 | g)", df, "poisson")


def test_binary_responses(df):
    from_bool = bm.build_design("flag ~ x + (1 | g)", df, "bernoulli")
    df["yn"] = np.where(df["flag"], "yes", "no")
    from_str = bm.build_design("yn ~ x + (1 | g)", df, "bernoulli")
    df["cat"] = pd.Categorical(df["yn"], categories=["yes", "no"])  # success = "no"
    from_cat = bm.build_design("cat ~ x + (1 | g)", df, "bernoulli")
    np.testing.assert_array_equal(from_bool.y, df["flag"].astype(float))
    np.testing.assert_array_equal(from_str.y, from_bool.y)
    np.testing.assert_array_equal(from_cat.y, 1 - from_bool.y)
    binom = bm.build_design("flag ~ x + (1 | g)", df, "binomial")
    np.testing.assert_array_equal(binom.trials, np.ones(len(df)))


def test_ordinal_response_codes(df):
    df["rating"] = pd.Categorical(np.tile(["lo", "mid", "hi"], 20),
                                  categories=["lo", "mid", "hi", "never"], ordered=True)
    with pytest.warns(UserWarning, match="never"):
        design = bm.build_design("rating ~ x + (1 | g)", df, "ordinal")
    assert design.response_levels == ("lo", "mid", "hi")
    assert "(Intercept)" not in design.x_names  # thresholds replace the intercept
    np.testing.assert_array_equal(design.y[:3], [0, 1, 2])


# -- missing values, rank deficiency, weights -------------------------------------------------
def test_missing_values_dropped_with_count(df):
    df.loc[[1, 5], "x"] = np.nan
    df.loc[7, "g"] = None
    df.loc[9, "t"] = np.nan  # not used by the model: kept
    with pytest.warns(MissingValuesWarning, match=r"dropped 3 of 60 rows.*x \(2\).*g \(1\)"):
        design = bm.build_design("y ~ x + (1 | g)", df)
    assert design.n == 57 and design.n_dropped == 3
    assert 9 in design.rows and 5 not in design.rows
    with pytest.raises(DataError, match="3 of 60 rows have missing values"):
        bm.build_design("y ~ x + (1 | g)", df, na_action="raise")


def test_rank_deficient_columns_dropped_as_r(df):
    df["x2"] = 2 * df["x"]
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column.*x2"):
        design = bm.build_design("y ~ x + x2 + (1 | g)", df)
    assert design.x_names == ("(Intercept)", "x")


def test_weights(df):
    design = bm.build_design("y ~ x + (1 | g)", df, weights="t")
    np.testing.assert_array_equal(design.weights, df["t"])
    with pytest.raises(DataError, match="non-negative"):
        bm.build_design("y ~ x + (1 | g)", df, weights=-df["t"].to_numpy())
    with pytest.raises(DataError, match="weights column 'w' is not in the data"):
        bm.build_design("y ~ x + (1 | g)", df, weights="w")


# -- transforms, coding and immutability ------------------------------------------------------
def test_numpy_and_r_transforms_agree(df):
    a = bm.build_design("y ~ log(t) + (1 | g)", df)
    b = bm.build_design("y ~ np.log(t) + (1 | g)", df)
    np.testing.assert_allclose(a.X, b.X)
    assert b.x_names == ("(Intercept)", "np.log(t)")


def test_reference_level_follows_categorical_order(df):
    df["f"] = pd.Categorical(np.tile(["b", "a", "c"], 20), categories=["c", "a", "b"])
    design = bm.build_design("y ~ f + (1 | g)", df)
    assert design.x_names == ("(Intercept)", "fa", "fb")
    coded = bm.build_design("y ~ C(f) + (1 | g)", df)
    assert coded.x_names == ("(Intercept)", "C(f)a", "C(f)b")


def test_scale_uses_sample_sd_and_is_replayed_on_new_data(df):
    design = bm.build_design("y ~ scale(x) + (1 | g)", df)
    expected = (df["x"] - df["x"].mean()) / df["x"].std(ddof=1)
    np.testing.assert_allclose(design.X[:, 1], expected)
    nd = new_data(design, df.iloc[:5])
    np.testing.assert_allclose(nd.X[:, 1], expected[:5])


def test_new_levels_are_flagged(df):
    design = bm.build_design("y ~ x + (1 | g) + (1 | g:h)", df)
    new = df.iloc[:4].copy()
    new.loc[new.index[0], "g"] = "zz"
    nd = new_data(design, new)
    assert nd.new_levels["g"] == ["zz"]
    assert nd.codes["g"][0] == -1 and (nd.codes["g"][1:] >= 0).all()
    assert nd.new_levels["g:h"] == ["zz:u"]
    with pytest.raises(DataError, match="levels not seen when fitting: 'zz(:u)?'"):
        new_data(design, new, allow_new_levels=False)


def test_design_is_frozen(df):
    design = bm.build_design("y ~ x + (1 | g)", df)
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.X = None
    with pytest.raises(ValueError, match="read-only"):
        design.X[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        design.terms[0].codes[0] = 3


def test_lambda_and_theta_round_trip(df):
    design = bm.build_design("y ~ x + (1 + x | g) + (1 | h)", df)
    theta = np.array([1.5, -0.4, 0.7, 0.3])
    covs = [t.T(theta) @ t.T(theta).T for t in design.terms]
    np.testing.assert_allclose(design.theta_from_covariances(covs), theta)
    with pytest.raises(ValueError, match="4 entries"):
        design.Lambda(np.ones(3))


def test_no_warnings_on_clean_data(df):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bm.build_design("y ~ x + (1 + x | g) + (1 | h)", df)


def test_formula_without_random_terms(df):
    # A plain GLM design is legal (q = 0); backends that need random effects say so.
    design = bm.build_design("count ~ x", df, "poisson")
    assert design.q == 0 and design.terms == () and design.n_theta == 0
    assert design.Z.shape == (len(df), 0)
    assert design.Z_Lambda(np.zeros(0)).shape == (len(df), 0)
