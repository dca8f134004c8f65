"""Progress lines: stages that run longer than the delay are announced and timed; fast ones,
and everything with progress=False, stay silent."""

import time

import pytest

import bayesmix as bm
from bayesmix import progress


def test_slow_stages_are_announced_and_fast_ones_are_not(capsys):
    with progress.reporting("demo", delay=0.05):
        with progress.stage("fast"):
            pass
        with progress.stage("slow", "3 chains"):
            time.sleep(0.2)
        steps = progress.stages()
        steps.next("first")
        time.sleep(0.2)
        steps.next("second")
        steps.close()
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[bayesmix] demo: slow (3 chains) …"
    assert err[1].startswith("[bayesmix] demo: slow done in 0.")
    assert err[2] == "[bayesmix] demo: first …" and "first done" in err[3]
    assert not any("fast" in line or "second" in line for line in err)


def test_fit_reports_through_stderr_and_can_be_silenced(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    data = bm.datasets.load("sleepstudy")
    bm.fit("Reaction ~ Days + (1 | Subject)", data, priors="flat")
    err = capsys.readouterr().err
    assert "[bayesmix] laplace: design …" in err and "maximum likelihood" in err
    bm.fit("Reaction ~ Days + (1 | Subject)", data, priors="flat", progress=False)
    assert "[bayesmix]" not in capsys.readouterr().err
    monkeypatch.setenv("BAYESMIX_PROGRESS", "0")
    bm.fit("Reaction ~ Days + (1 | Subject)", data, priors="flat")
    assert "[bayesmix]" not in capsys.readouterr().err


def test_a_failing_stage_stays_silent(capsys):
    with pytest.raises(ValueError):
        with progress.reporting("demo", delay=0.05):
            with progress.stage("doomed"):
                raise ValueError("x")
    time.sleep(0.1)
    assert "doomed" not in capsys.readouterr().err
