"""Property-based tests of the formula parser and the design builder (hypothesis): random
formulas over random data frames — column names with spaces, dots, Unicode and digits,
numeric / integer / categorical / logical columns, missing values — never raise anything but
bayesmix's errors, and every design they build satisfies its invariants."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmix as bm
from bayesmix.errors import BayesmixError

NAMES = st.sampled_from(["x", "x.1", "my var", "Größe", "受试者", "2nd", "a_b", "t", "x y.z",
                         "é", "V1", "lot.é"])
KINDS = st.sampled_from(["float", "int", "category", "bool", "text"])


def _quote(name: str) -> str:
    return name if name.isidentifier() and name.isascii() else f"`{name}`"


@st.composite
def problems(draw):
    n = draw(st.integers(8, 40))
    names = draw(st.lists(NAMES, min_size=2, max_size=5, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = {"y": rng.normal(size=n)}
    kinds = {}
    for name in names:
        kind = draw(KINDS)
        kinds[name] = kind
        levels = draw(st.integers(1, 6))
        if kind == "float":
            col = pd.Series(rng.normal(size=n) * draw(st.sampled_from([1e-3, 1.0, 1e3])))
        elif kind == "int":
            col = pd.Series(rng.integers(0, 10, n))
        elif kind == "bool":
            col = pd.Series(rng.random(n) < 0.5)
        else:
            col = pd.Series([f"L{k}" for k in rng.integers(0, levels, n)])
            if kind == "category":
                col = col.astype("category")
        if draw(st.booleans()):
            col = col.astype(object)
            col[rng.random(n) < 0.1] = None
        data[name] = col
    frame = pd.DataFrame(data)
    fixed = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    group = draw(st.sampled_from(names))
    slope = draw(st.sampled_from([None] + names))
    rhs = " + ".join(["1"] + [_quote(c) for c in fixed])
    random = f"({'1 + ' + _quote(slope) if slope else '1'} | {_quote(group)})"
    if draw(st.booleans()) and len(names) > 1:
        other = draw(st.sampled_from([c for c in names if c != group]))
        random += f" + (1 | {_quote(group)}:{_quote(other)})"
    return frame, f"y ~ {rhs} + {random}"


def _invariants(design, frame):
    n, q = design.n, design.q
    assert design.X.shape == (n, design.p) and design.Z.shape == (n, q)
    assert len(set(design.x_names)) == design.p
    assert len({t.label for t in design.terms}) == len(design.terms)
    assert len(design.theta_lower) == len(design.theta_names) == sum(
        t.n_theta for t in design.terms)
    width = np.diff(design.Z.indptr)
    assert np.all(width == width[0])  # every row has one entry per column of every term
    offset = 0
    for t in design.terms:
        assert t.z_offset == offset and t.codes.min() >= 0 and t.codes.max() < t.m
        offset += t.q
    assert offset == q
    assert design.Lambda(design.theta_init).shape == (q, q)
    assert design.n + design.n_dropped == len(frame)
    assert np.all(np.isfinite(design.X)) and np.all(np.isfinite(design.y))


def _check(problem):
    frame, formula = problem
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bm.errors.BayesmixWarning)
            design = bm.build_design(formula, frame)
    except BayesmixError:
        return
    _invariants(design, frame)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_formulas_build_valid_designs_or_raise_our_errors(problem):
    _check(problem)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_formulas_many_more(problem):
    _check(problem)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_the_parser_raises_only_formula_errors(text):
    from bayesmix.formula.parser import parse_formula

    try:
        parse_formula(text)
    except BayesmixError:
        pass
