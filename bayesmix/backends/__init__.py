"""Backends: laplace (sparse Laplace), nuts (PyMC), map (fixed-covariance MAP)."""

from .registry import Backend, backend_names, check_priors, get_backend, make_options

__all__ = ["Backend", "get_backend", "backend_names", "make_options", "check_priors"]
