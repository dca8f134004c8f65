"""Design build at scale: bayesmix's ``build_design`` against bambi's model build.

Model: ``y ~ 1 + x + (1 + x | g)``, bernoulli, data from ``benchmarks/datagen.py`` (integer ids
for g). Every configuration runs in its own subprocess so its peak memory (maxrss) is its own;
the data are generated inside the subprocess before the clock starts, and the memory the
data and imports already use is reported separately (``rss_before_gb``).

The peer is bambi's ``Model(...).build()`` (formulae builds a dense levels × levels matrix per
grouping factor, so its memory grows with the square of the levels). A bambi configuration is
skipped, and recorded as skipped, when the machine does not have the memory it would need.

    python -m benchmarks.bench_design            # the full table (about 5 minutes)
    python -m benchmarks.bench_design --quick    # small sizes only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.memory import available_gb, rss_gb

RESULTS = Path(__file__).resolve().parent / "results"
FORMULA = "y ~ 1 + x + (1 + x | g)"
SIZES = [(10_000, 1_000), (30_000, 3_000), (100_000, 10_000), (1_000_000, 100_000),
         (10_000_000, 1_000_000)]
QUICK = SIZES[:2]
BAMBI_MAX_ROWS = 100_000


def run_one(library: str, rows: int, levels: int) -> dict:
    """Build once in this process and return the record (called in a subprocess)."""
    from benchmarks.datagen import glmm_data

    data = glmm_data(rows, levels, seed=1)
    if library == "bayesmix":
        import bayesmix

        def build():
            return bayesmix.build_design(FORMULA, data, family="bernoulli")
    else:
        import bambi

        def build():
            model = bambi.Model(FORMULA, data, family="bernoulli")
            model.build()
            return model

    rss_before = rss_gb()
    start = time.perf_counter()
    build()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return {"library": library, "rows": rows, "levels": levels, "seconds": seconds,
            "peak_rss_gb": peak, "rss_before_gb": rss_before}


def _spawn(library: str, rows: int, levels: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_design", "--one", library, str(rows),
           str(levels)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        return {"library": library, "rows": rows, "levels": levels,
                "error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:]
        return {"library": library, "rows": rows, "levels": levels,
                "error": f"exit {out.returncode}: {' '.join(tail)}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _bambi_need_gb(levels: int) -> float:
    # Measured here: 16 GB at 10k levels, growing with levels².
    return 1.0 + 16.0 * (levels / 10_000) ** 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=3, metavar=("LIBRARY", "ROWS", "LEVELS"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.one:
        library, rows, levels = args.one
        print(json.dumps(run_one(library, int(rows), int(levels))))
        return

    records = []
    for rows, levels in QUICK if args.quick else SIZES:
        records.append(_spawn("bayesmix", rows, levels, timeout=600))
        if rows <= BAMBI_MAX_ROWS:
            need, have = _bambi_need_gb(levels), available_gb()
            if have < need + 2:
                records.append({"library": "bambi", "rows": rows, "levels": levels,
                                "skipped": f"needs ~{need:.0f} GB, {have:.1f} GB available"})
            else:
                records.append(_spawn("bambi", rows, levels, timeout=1200))
    by_size: dict = {}
    for rec in records:
        by_size.setdefault((rec["rows"], rec["levels"]), {})[rec["library"]] = rec
    print(f"{'rows':>11} {'levels':>10} | {'bayesmix s':>10} {'GB':>6} | {'bambi s':>8} "
          f"{'GB':>6} | {'time ratio':>10} {'mem ratio':>9}")
    for (rows, levels), pair in by_size.items():
        ours, peer = pair.get("bayesmix", {}), pair.get("bambi", {})
        line = (f"{rows:>11,} {levels:>10,} | {ours.get('seconds', float('nan')):>10.2f} "
                f"{ours.get('peak_rss_gb', float('nan')):>6.2f} | ")
        if "seconds" in peer:
            line += (f"{peer['seconds']:>8.2f} {peer['peak_rss_gb']:>6.2f} | "
                     f"{peer['seconds'] / ours['seconds']:>9.0f}x "
                     f"{peer['peak_rss_gb'] / ours['peak_rss_gb']:>8.1f}x")
        elif peer:
            line += peer.get("skipped", peer.get("error", ""))
        print(line)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("design_quick.json" if args.quick else "design.json")
    out.write_text(json.dumps({"formula": FORMULA, "loadavg": os.getloadavg(),
                               "records": records}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
