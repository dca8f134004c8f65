"""The same seed gives bit-identical results in every backend, across processes; different
seeds give different draws."""

import subprocess
import sys

import pytest

_CHILD = """
import hashlib, sys, warnings
import numpy as np
import bayesmix as bm
warnings.simplefilter("ignore")
backend = sys.argv[1]
kw = {"laplace": {}, "laplace_flat": {"priors": "flat"},
      "map": {"covariance": {"Subject": [[600.0, 10.0], [10.0, 35.0]]}, "sigma": 25.0},
      "nuts": {"draws": 60, "tune": 60, "chains": 2, "progressbar": False}}[backend]
digests = []
for seed in (7, 8):
    fit = bm.fit("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"),
                 backend=backend.split("_")[0], seed=seed, **kw)
    h = hashlib.sha256()
    for name in sorted(fit.idata.posterior.data_vars):
        h.update(np.ascontiguousarray(fit.idata.posterior[name].values).tobytes())
    h.update(fit.predict(interval=0.9, seed=seed).to_numpy().tobytes())
    h.update(fit.simulate(2, seed=seed).to_numpy().tobytes())
    digests.append(h.hexdigest())
print(" ".join(digests))
"""


def _digests(backend: str) -> list[str]:
    """SHA-256 of every draw, a predict interval and a simulation for seeds 7 and 8, in a
    fresh process."""
    out = subprocess.run([sys.executable, "-c", _CHILD, backend],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].split()


@pytest.mark.parametrize("backend", ["laplace", "laplace_flat", "map", "nuts"])
def test_same_seed_same_bits_across_processes_and_other_seeds_differ(backend):
    first, second = _digests(backend), _digests(backend)
    assert first == second
    assert first[0] != first[1]
