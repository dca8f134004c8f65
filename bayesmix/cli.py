"""Command line: ``bayesmix {datasets,design,fit} ...`` (also ``python -m bayesmix``).

Examples
--------
``bayesmix fit sleepstudy "Reaction ~ Days + (Days | Subject)"`` fits the model with the
laplace and nuts backends and prints both summaries and a side-by-side comparison.
``bayesmix fit data.csv "y ~ x + (1 | g)" --family poisson --backend nuts --nuts-option
draws=2000 --output summary.csv --save fit.nc`` fits a CSV, writes the estimates and saves
the fit. ``bayesmix design cbpp "cbind(incidence, size - incidence) ~ period + (1 | herd)"
--family binomial`` prints the design.

Exit codes: 0 success; 1 bad input (a missing file, an unknown data set, a formula or option
bayesmix refuses: the message says which); 2 a malformed command line; 3 a fit finished but
did not converge (its messages say why).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

import pandas as pd

from . import datasets
from .errors import BayesmixError

__all__ = ["main", "run", "EXIT_OK", "EXIT_INPUT", "EXIT_USAGE", "EXIT_NOT_CONVERGED"]

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_NOT_CONVERGED = 0, 1, 2, 3
_BACKENDS = ("laplace", "nuts", "map")


def _data(source: str) -> pd.DataFrame:
    path = Path(source)
    if path.suffix.lower() in (".csv", ".parquet") or "/" in source or path.exists():
        if not path.exists():
            raise BayesmixError(f"file not found: {source}")
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    return datasets.load(source)


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _pairs(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BayesmixError(f"backend options are key=value pairs, not {pair!r}")
        out[key.strip()] = _value(value.strip())
    return out


def _backend_options(args, backends: list[str]) -> dict[str, dict]:
    """Options per backend: ``--<backend>-option`` for that one, ``--option`` for every
    backend that takes it (an option no selected backend takes is an error)."""
    import dataclasses

    from .backends import get_backend

    fields = {b: {f.name for f in dataclasses.fields(get_backend(b).options)}
              for b in backends}
    out = {b: _pairs(getattr(args, f"{b}_option")) for b in backends}
    for key, value in _pairs(args.option).items():
        takers = [b for b in backends if key in fields[b]]
        if not takers:
            raise BayesmixError(f"no selected backend ({', '.join(backends)}) takes the option "
                                f"{key!r}")
        for b in takers:
            out[b].setdefault(key, value)
    return out


def _prior(name: str, text):
    """A prior from its text, e.g. ``"Normal(0, 5)"``, ``"flat"``, ``"Constant(4)"``."""
    from .spec import priors as classes

    if not isinstance(text, str):
        raise BayesmixError(f"prior of {name!r} must be text such as 'Normal(0, 5)', not "
                            f"{text!r}")
    if text.strip().lower() == "flat":
        return "flat"
    try:
        node = ast.parse(text.strip(), mode="eval").body
        ok = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and isinstance(getattr(classes, node.func.id, None), type))
        args = [ast.literal_eval(a) for a in node.args] if ok else []
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords} if ok else {}
    except (SyntaxError, ValueError):
        ok = False
    if not ok:
        raise BayesmixError(f"cannot read the prior {text!r} of {name!r}; write e.g. "
                            "'Normal(0, 5)', 'HalfNormal(10)', 'LKJ(2)' or 'flat'")
    return getattr(classes, node.func.id)(*args, **kwargs)


def _priors(value: str | None):
    """``default``, ``flat``, ``blme``, or a JSON / TOML file of name → prior text."""
    if value is None or value in ("default", "flat", "blme"):
        return value
    path = Path(value)
    if not path.exists():
        raise BayesmixError(f"--priors takes 'default', 'flat', 'blme' or a .json / .toml file; "
                            f"file not found: {value}")
    if path.suffix.lower() == ".toml":
        import tomllib

        table = tomllib.loads(path.read_text())
    else:
        table = json.loads(path.read_text())
    return {name: _prior(name, text) for name, text in table.items()}


def _covariance(value: str | None):
    """A covariance for the map backend: a saved fit (.nc) or JSON {group: matrix}."""
    if value is None:
        return None
    path = Path(value)
    if not path.exists():
        raise BayesmixError(f"file not found: {value}")
    if path.suffix.lower() == ".nc":
        from .results.persist import load

        return load(path)
    return json.loads(path.read_text())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesmix", description=__doc__.split("\n")[0],
        epilog="exit codes: 0 success, 1 bad input, 2 malformed command line, 3 a fit did not "
               "converge")
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
            p.add_argument("--priors", default=None, metavar="default|flat|blme|FILE",
                           help="a .json or .toml file maps parameter names to priors such "
                                "as \"Normal(0, 5)\"")
            p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                           help="option for every selected backend that takes it, repeatable")
            for b in _BACKENDS:
                p.add_argument(f"--{b}-option", action="append", default=[],
                               metavar="KEY=VALUE", help=f"option of the {b} backend")
            p.add_argument("--covariance", default=None, metavar="FILE",
                           help="map backend: JSON {group: matrix} or a saved fit (.nc)")
            p.add_argument("--output", default=None, metavar="FILE",
                           help="write the estimates of every fit (.csv or .json)")
            p.add_argument("--save", default=None, metavar="FILE.nc",
                           help="save the fit (with several backends: FILE-<backend>.nc)")
    return parser


def _write_output(path: str, fits: dict) -> None:
    from . import compare

    table = compare(fits)
    out = Path(path)
    if out.suffix.lower() == ".json":
        records = {name: table[name].reset_index(names="parameter").to_dict("records")
                   for name in fits}
        meta = {name: {"backend": f.backend, "method": f.info.method,
                       "status": f.info.status, "messages": list(f.info.messages)}
                for name, f in fits.items()}
        out.write_text(json.dumps({"fits": meta, "estimates": records}, indent=1,
                                  default=float))
    elif out.suffix.lower() == ".csv":
        table.to_csv(out)
    else:
        raise BayesmixError(f"--output writes .csv or .json, not {out.suffix or path!r}")


def _fit(args) -> int:
    from . import build_design, compare, fit

    data = _data(args.data)
    print(build_design(args.formula, data, args.family, link=args.link,
                       zi=args.zi).summary())
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    unknown = [b for b in backends if b not in _BACKENDS]
    if unknown:
        raise BayesmixError(f"unknown backend(s) {', '.join(unknown)}; use "
                            f"{', '.join(_BACKENDS)}")
    options = _backend_options(args, backends)
    if args.covariance is not None:
        if "map" not in backends:
            raise BayesmixError("--covariance is an option of the map backend; add "
                                "--backend map")
        options["map"]["covariance"] = _covariance(args.covariance)
    priors = _priors(args.priors)
    fits = {}
    for backend in backends:
        result = fit(args.formula, data, args.family, link=args.link, zi=args.zi,
                     backend=backend, priors=priors, **options[backend])
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
    if args.output:
        _write_output(args.output, fits)
    if args.save:
        base = Path(args.save)
        for backend, result in fits.items():
            target = base if len(fits) == 1 else base.with_name(
                f"{base.stem}-{backend}{base.suffix or '.nc'}")
            result.save(target)
            print(f"saved {backend} fit to {target}")
    converged = all(f.info.status != "not converged" for f in fits.values())
    return EXIT_OK if converged else EXIT_NOT_CONVERGED


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a malformed command line (2)
        return int(exc.code or 0)
    try:
        if args.command == "datasets":
            for name in datasets.names():
                info = datasets.describe(name)
                print(f"{name:<14} {info['nrow']:>7,} rows  ({info['package']})")
            return EXIT_OK
        if args.command == "design":
            from . import build_design

            print(build_design(args.formula, _data(args.data), args.family, link=args.link,
                               zi=args.zi).summary())
            return EXIT_OK
        return _fit(args)
    except BayesmixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT


def run() -> None:
    """Entry point of the ``bayesmix`` console script."""
    sys.exit(main())
