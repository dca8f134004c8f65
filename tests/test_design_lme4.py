"""The design builder against the matrices lme4 itself builds.

Two sources of truth, both produced by lme4 1.1-31:
- ``tests/reference/shared/structure/*.json`` (the team's ``../shared/reference``): classic data sets (sleepstudy, Penicillin, Pastes,
  cbpp), with lme4's Zt and Lambdat at its fitted θ;
- ``tests/reference/design_cases.json`` (from ``tests/reference/design_cases.R``): one small
  synthetic data set and one formula per syntax item, with lme4's X, Zt, Lambdat at a fixed
  θ, θ's names and bounds, the grouping levels, the offset and the response.

Z alone is not unique (lme4 lays out ``(x || g)`` as two terms, we as one diagonal term), but
Z Λ_θ Λ_θᵀ Zᵀ — the relative covariance of Zb — is, given θ in lme4's order; that is what
must agree (to rounding: 1e-12 relative).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bayesmix as bm

from conftest import REFERENCE as HERE
from conftest import SHARED_REFERENCE

SHARED = SHARED_REFERENCE / "structure"


def _sparse(trip) -> sp.csc_matrix:
    return sp.csc_matrix(
        (trip["x"], (trip["i"], trip["j"])), shape=(trip["nrow"], trip["ncol"])
    )


def _relative_cov(Zt, Lt) -> np.ndarray:
    ZL = Zt.T @ Lt.T
    return (ZL @ ZL.T).toarray()


def _ours(design, theta) -> np.ndarray:
    ZL = design.Z_Lambda(theta)
    return (ZL @ ZL.T).toarray()


def _lower(values) -> np.ndarray:
    return np.array([-np.inf if v == "-Inf" else float(v) for v in np.atleast_1d(values)])


def _assert_same_structure(design, ref, theta):
    expected = _relative_cov(_sparse(ref["Zt"]), _sparse(ref["Lambdat"]))
    got = _ours(design, theta)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    # Λ built from the template must give the same product as ZΛ computed term by term.
    ZL = design.Z @ design.Lambda(theta)
    np.testing.assert_allclose((ZL @ ZL.T).toarray(), expected, rtol=1e-12,
                               atol=1e-12 * np.abs(expected).max())
    np.testing.assert_array_equal(design.theta_lower, _lower(ref["lower"]))
    assert list(design.theta_names) == list(np.atleast_1d(ref["theta_names"]))


STRUCTURE_CASES = sorted(p.stem for p in SHARED.glob("*.json"))
assert STRUCTURE_CASES, f"no structure references in {SHARED}"


@pytest.mark.parametrize("case", STRUCTURE_CASES)
def test_structure_matches_lme4(case):
    ref = json.loads((SHARED / f"{case}.json").read_text())
    data = bm.datasets.load(ref["dataset"])
    if case == "cbpp_binomial":
        # This structure case was fitted with `period` read as a number (its X_colnames are
        # "(Intercept)", "period" and beta has length 2), unlike the factor in cbpp.json.
        data["period"] = data["period"].astype(float)
    design = bm.build_design(ref["formula"], data, ref["family"])
    theta = np.atleast_1d(np.asarray(ref["theta"], dtype=float))
    _assert_same_structure(design, ref, theta)
    assert list(design.x_names) == list(np.atleast_1d(ref["X_colnames"]))
    for t in design.terms:
        assert list(t.levels.astype(str)) == list(ref["flist_levels"][t.group])


@pytest.fixture(scope="module")
def cases():
    meta = json.loads((HERE / "design_cases.json").read_text())
    data = pd.read_csv(HERE / "design_cases_data.csv")
    for col, levels in meta["levels"].items():
        data[col] = pd.Categorical(data[col].astype(str), categories=levels,
                                   ordered=col in meta["ordered"])
    return data, {c["id"]: c for c in meta["cases"]}


CASE_IDS = [c["id"] for c in json.loads((HERE / "design_cases.json").read_text())["cases"]]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_syntax_case_matches_lme4(cases, case_id):
    data, refs = cases
    ref = refs[case_id]
    family = "binomial" if ref["family"] == "binomial" else "gaussian"
    design = bm.build_design(ref["formula"], data, family)

    assert list(design.x_names) == list(np.atleast_1d(ref["X_colnames"]))
    X = np.asarray(ref["X"], dtype=float).reshape(design.n, -1)
    np.testing.assert_allclose(design.X, X, rtol=1e-12, atol=1e-12)

    _assert_same_structure(design, ref, np.atleast_1d(np.asarray(ref["theta"], float)))
    for t in design.terms:
        assert list(t.levels.astype(str)) == list(ref["flist_levels"][t.group]), t.group

    if ref["offset"] is not None:
        np.testing.assert_allclose(design.offset, ref["offset"], rtol=1e-12)
    else:
        assert design.offset is None

    response = np.asarray(ref["response"])
    if case_id == "cbind":
        assert response.shape == (design.n, 2)  # jsonlite writes R's matrix row by row
        np.testing.assert_array_equal(design.y, response[:, 0])
        np.testing.assert_array_equal(design.trials, response.sum(axis=1))
    elif case_id == "factor_response":
        # glmer counts the second level ("yes") as the success.
        np.testing.assert_array_equal(design.y, (response == "yes").astype(float))
        assert design.response_levels == ("no", "yes")
    else:
        np.testing.assert_allclose(design.y, response.astype(float), rtol=1e-12)
