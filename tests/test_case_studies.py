"""The case studies run and write their report and figures where they are told to."""

import pytest

pytest.importorskip("matplotlib")


@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")
def test_sleepstudy_case_study_writes_report_and_figures(tmp_path):
    from case_studies import sleepstudy

    sleepstudy.main(tmp_path)
    text = (tmp_path / "sleepstudy.md").read_text()
    assert "## Variance components" in text and "laplace (Bayes)" in text
    for stem in ("beta", "sds", "b"):
        png = tmp_path / f"sleepstudy_{stem}.png"
        assert png.stat().st_size > 5000 and f"({png.name})" in text


def test_plots_of_point_and_sampled_fits(tmp_path):
    """A mode-based fit appears as lines / estimate ± SE, a sampled one as densities."""
    import bayesmix as bm
    from case_studies._plots import b_forest, beta_forest, sd_densities

    data = bm.datasets.load("Dyestuff")
    flat = bm.fit("Yield ~ 1 + (1 | Batch)", data, priors="flat", draws=0)
    bayes = bm.fit("Yield ~ 1 + (1 | Batch)", data, draws=200, chains=2, seed=1)
    for make in (lambda: sd_densities({"b": bayes, "f": flat}, {"r": {"sigma": 50.0}}),
                 lambda: beta_forest({"b": bayes, "f": flat}),
                 lambda: b_forest({"b": bayes, "f": flat}, "Batch", count=4)):
        fig = make()
        fig.savefig(tmp_path / "x.png")
        assert fig.axes


@pytest.mark.slow
def test_insteval_case_study_with_nuts(tmp_path):
    from case_studies import insteval

    insteval.main(tmp_path, with_nuts=True)
    text = (tmp_path / "insteval.md").read_text()
    assert "nuts estimate" in text and (tmp_path / "insteval_sds.png").exists()
