"""The command line: per-backend options, priors and covariance files, outputs, exit codes."""

import json
import subprocess
import sys

import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main

FORMULA = "Reaction ~ Days + (Days | Subject)"


def test_per_backend_options_output_and_save(tmp_path, capsys):
    out, saved = tmp_path / "summary.json", tmp_path / "fit.nc"
    code = main(["fit", "sleepstudy", FORMULA, "--backend", "laplace", "--priors", "flat",
                 "--laplace-option", "reml=False", "--option", "draws=200",
                 "--output", str(out), "--save", str(saved)])
    assert code == EXIT_OK
    doc = json.loads(out.read_text())
    assert doc["fits"]["laplace"]["method"] == "ML"
    rows = {r["parameter"]: r for r in doc["estimates"]["laplace"]}
    direct = bm.fit(FORMULA, bm.datasets.load("sleepstudy"), priors="flat", reml=False)
    assert rows["beta[Days]"]["estimate"] == pytest.approx(direct.fixef().loc["Days",
                                                                               "estimate"])
    back = bm.load(saved)
    assert back.info.method == "ML"
    assert back.fixef()["estimate"].to_numpy() == pytest.approx(
        direct.fixef()["estimate"].to_numpy())
    assert "saved laplace fit" in capsys.readouterr().out


def test_option_goes_only_to_backends_that_take_it(tmp_path):
    cov = tmp_path / "cov.json"
    cov.write_text(json.dumps({"Subject": [[600.0, 10.0], [10.0, 35.0]]}))
    csv = tmp_path / "out.csv"
    code = main(["fit", "sleepstudy", FORMULA, "--backend", "laplace,map", "--priors", "flat",
                 "--option", "draws=100", "--map-option", "sigma=25.0", "--covariance",
                 str(cov), "--output", str(csv)])
    assert code == EXIT_OK
    table = pd.read_csv(csv, header=[0, 1], index_col=0)
    assert {"laplace", "map"} <= set(table.columns.get_level_values(0))


def test_priors_file(tmp_path, capsys):
    priors = tmp_path / "priors.toml"
    priors.write_text('Days = "Normal(10, 1)"\n"sd(Subject)" = "HalfNormal(30)"\n')
    code = main(["fit", "sleepstudy", FORMULA, "--backend", "laplace", "--priors",
                 str(priors), "--option", "seed=1"])
    assert code == EXIT_OK
    assert "Normal(10, 1)" not in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Days": "Normal(10"}))
    assert main(["fit", "sleepstudy", FORMULA, "--backend", "laplace", "--priors",
                 str(bad)]) == EXIT_INPUT
    assert "cannot read the prior 'Normal(10'" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["fit", "missing.csv", FORMULA], EXIT_INPUT, "file not found: missing.csv"),
    (["fit", "nosuchdata", FORMULA], EXIT_INPUT, "nosuchdata"),
    (["fit", "sleepstudy", FORMULA, "--backend", "laplace", "--option", "bogus=1"],
     EXIT_INPUT, "no selected backend (laplace) takes the option 'bogus'"),
    (["fit", "sleepstudy", FORMULA, "--backend", "laplace", "--covariance", "x.json"],
     EXIT_INPUT, "--covariance is an option of the map backend"),
    (["fit", "sleepstudy", FORMULA, "--backend", "map", "--covariance", "x.json"],
     EXIT_INPUT, "file not found: x.json"),
    (["fit", "sleepstudy", FORMULA, "--backend", "lme4"], EXIT_INPUT, "unknown backend"),
    (["fit"], EXIT_USAGE, "required"),
])
def test_errors_and_exit_codes(argv, code, message, capsys):
    assert main(argv) == code
    assert message in capsys.readouterr().err


def test_console_script_and_module_agree(tmp_path):
    res = subprocess.run([sys.executable, "-m", "bayesmix", "design", "sleepstudy", FORMULA],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0 and "Design: Reaction" in res.stdout
    res = subprocess.run([sys.executable, "-m", "bayesmix", "fit", "nope.csv", FORMULA],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == EXIT_INPUT and "file not found" in res.stderr
