"""Bundled data sets: shapes, R's factor levels and classes, as the manifest records them."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.errors import DataError

MANIFEST = json.loads(
    (Path(bm.datasets.__file__).parent / "data" / "manifest.json").read_text()
)
REQUIRED = ["sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "InstEval",
            "Chem97", "cbpp", "Contraception", "grouseticks", "Salamanders", "wine"]


@pytest.mark.parametrize("name", REQUIRED)
def test_dataset_matches_manifest(name):
    frame = bm.datasets.load(name)
    entry = MANIFEST[name]
    assert frame.shape == (entry["nrow"], entry["ncol"])
    for col in entry["columns"]:
        series = frame[col["name"]]
        if "levels" in col:
            assert isinstance(series.dtype, pd.CategoricalDtype)
            assert list(series.cat.categories) == col["levels"]
            assert series.cat.ordered == (col["r_class"] == "ordered_factor")
        else:
            assert np.issubdtype(series.dtype, np.number)
        assert int(series.isna().sum()) == col["n_missing"]


def test_r_level_order_is_kept():
    # R's order, not alphabetical: the reference level of `mined` is "yes".
    assert list(bm.datasets.load("Salamanders")["mined"].cat.categories) == ["yes", "no"]
    assert bm.datasets.load("sleepstudy")["Reaction"].iloc[0] == pytest.approx(249.56)


def test_names_and_errors():
    assert set(REQUIRED) <= set(bm.datasets.names())
    assert bm.datasets.load("SLEEPSTUDY").shape == (180, 3)
    with pytest.raises(DataError, match="no bundled data set named 'sleep'.*sleepstudy"):
        bm.datasets.load("sleep")


def test_each_load_is_a_fresh_copy():
    a = bm.datasets.load("Dyestuff")
    a.loc[0, "Yield"] = -1
    assert bm.datasets.load("Dyestuff").loc[0, "Yield"] != -1
