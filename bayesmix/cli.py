"""Command line: ``python -m bayesmix {datasets,design,fit} ...``.

Examples
--------
``python -m bayesmix fit sleepstudy "Reaction ~ Days + (Days | Subject)"`` fits the model with
the laplace and nuts backends and prints both summaries and a side-by-side comparison.
``python -m bayesmix design cbpp "cbind(incidence, size - incidence) ~ period + (1 | herd)"
--family binomial`` prints the design.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pandas as pd

from . import datasets
from .errors import BayesmixError

__all__ = ["main"]


def _data(source: str) -> pd.DataFrame:
    path = Path(source)
    if path.suffix in (".csv", ".parquet") and path.exists():
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return datasets.load(source)


def _options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise BayesmixError(f"backend options are key=value pairs, not {pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bayesmix", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the bundled data sets")
    for name, text in (("design", "print the design of a formula"),
                       ("fit", "fit a formula and print the results")):
        p = sub.add_parser(name, help=text)
        p.add_argument("data", help="bundled data set name, or a .csv / .parquet file")
        p.add_argument("formula", help='lme4 formula, e.g. "y ~ x + (x | g)"')
        p.add_argument("--family", default="gaussian")
        p.add_argument("--link", default=None)
        p.add_argument("--zi", default=None, metavar="FORMULA",
                       help='zero-inflation formula for poisson / negbinomial, e.g. "~ x"')
        if name == "fit":
            p.add_argument("--backend", default="laplace,nuts",
                           help="comma-separated backends (laplace, nuts, map)")
            p.add_argument("--priors", default=None, help="'default' or 'flat'")
            p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                           help="backend option, repeatable (e.g. draws=500)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "datasets":
            for name in datasets.names():
                info = datasets.describe(name)
                print(f"{name:<14} {info['nrow']:>7,} rows  ({info['package']})")
            return 0
        from . import build_design, compare, fit

        data = _data(args.data)
        if args.command == "design":
            print(build_design(args.formula, data, args.family, link=args.link,
                               zi=args.zi).summary())
            return 0
        print(build_design(args.formula, data, args.family, link=args.link,
                           zi=args.zi).summary())
        fits = {}
        for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
            result = fit(args.formula, data, args.family, link=args.link, zi=args.zi,
                         backend=backend, priors=args.priors, **_options(args.option))
            fits[backend] = result
            print(f"\n=== {backend} " + "=" * 60)
            print(result.summary())
            timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.info.timings.items())
            print(f"time: {timings}")
        if len(fits) > 1:
            print("\n=== side by side " + "=" * 56)
            with pd.option_context("display.width", 140, "display.float_format",
                                   "{:.4g}".format):
                print(compare(fits))
        return 0
    except BayesmixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
