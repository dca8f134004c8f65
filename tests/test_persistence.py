"""fit.save / bm.load: one NetCDF file, read back in a new process without the data."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm

CASES = {
    "lmm_reml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {}, {"priors": "flat"}),
    "lmm_bayes": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {}, {"seed": 1}),
    "poisson_scaled": ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                       "grouseticks", {"family": "poisson"}, {"priors": "flat"}),
    "zinb": ("count ~ mined + (1 | site)", "Salamanders",
             {"family": "negbinomial", "zi": "~ mined"}, {"priors": "flat"}),
    "ordinal": ("rating ~ temp + contact + (1 | judge)", "wine", {"family": "ordinal"}, {}),
    "map": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {},
            {"backend": "map", "covariance": {"Subject": [[600.0, 10.0], [10.0, 35.0]]},
             "sigma": 25.0}),
}

_CHILD = """
import sys, warnings
import numpy as np
import pandas as pd
import bayesmix as bm
warnings.simplefilter("ignore")
fit = bm.load(sys.argv[1])
new = pd.read_pickle(sys.argv[2])
np.savez(sys.argv[3], new=fit.predict(new).to_numpy(), fitted=fit.predict().to_numpy(),
         fixef=fit.fixef().to_numpy(dtype=float),
         varcorr=fit.varcorr().select_dtypes("number").to_numpy(dtype=float))
print(fit.summary())
"""


def _numbers(x):
    return (x.select_dtypes("number") if isinstance(x, pd.DataFrame) and "kind" in x
            else x).to_numpy(dtype=float)


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_in_a_new_process_predicts_exactly_the_same(name, tmp_path):
    formula, dataset, fam, kw = CASES[name]
    data = bm.datasets.load(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit(formula, data, **fam, **kw)
    path = fit.save(tmp_path / f"{name}.nc")
    new = data.drop(columns=[fit.design.response_name], errors="ignore").head(7)
    new.to_pickle(tmp_path / "new.pkl")
    # The child process has no access to the data set: only the file and the new rows.
    res = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(tmp_path / "new.pkl"),
                          str(tmp_path / "out.npz")],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert res.stdout.rstrip("\n") == fit.summary()
    child = np.load(tmp_path / "out.npz")
    for key, ours in (("new", fit.predict(new)), ("fitted", fit.predict()),
                      ("fixef", fit.fixef()), ("varcorr", fit.varcorr())):
        np.testing.assert_array_equal(child[key], _numbers(ours), err_msg=key)


def test_loaded_fit_refuses_unseen_levels_and_simulates(tmp_path):
    cbpp = bm.datasets.load("cbpp")
    fit = bm.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 "binomial", priors="flat")
    back = bm.load(fit.save(tmp_path / "cbpp.nc"))
    with pytest.raises(bm.DataError, match="'banana' not seen when fitting"):
        back.predict(pd.DataFrame({"period": ["banana"], "herd": ["1"]}))
    np.testing.assert_array_equal(back.simulate(2, seed=3).to_numpy(),
                                  fit.simulate(2, seed=3).to_numpy())
    np.testing.assert_array_equal(back.predict(interval=0.9, seed=1).to_numpy(),
                                  fit.predict(interval=0.9, seed=1).to_numpy())
    assert back.info == fit.info


def test_load_errors(tmp_path):
    with pytest.raises(bm.BayesmixError, match="file not found"):
        bm.load(tmp_path / "missing.nc")
    import arviz as az

    other = az.from_dict(posterior={"a": np.zeros((1, 5))})
    other.to_netcdf(str(tmp_path / "other.nc"))
    with pytest.raises(bm.BayesmixError, match="not a saved bayesmix fit"):
        bm.load(tmp_path / "other.nc")
