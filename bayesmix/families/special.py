"""Scalar special functions for the row kernels (numba, inlined): log-sigmoid, log Φ,
digamma and trigamma, each accurate over the whole real line or half-line they take."""

from __future__ import annotations

import math

from numba import njit

__all__ = ["log1pexp", "log_expit", "expit", "log_ndtr", "digamma", "trigamma"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@njit(cache=True, inline="always")
def log1pexp(x):
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@njit(cache=True, inline="always")
def log_expit(x):
    """log(1 / (1 + e^{−x})), exact for every x."""
    return -log1pexp(-x)


@njit(cache=True, inline="always")
def expit(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def log_ndtr(x):
    """log Φ(x): erfc above −30, the asymptotic series of Mills' ratio below (its
    truncation error there is below 1e-15)."""
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    z2 = 1.0 / (x * x)
    series = 1.0 - z2 * (1.0 - 3.0 * z2 * (1.0 - 5.0 * z2 * (1.0 - 7.0 * z2 * (
        1.0 - 9.0 * z2 * (1.0 - 11.0 * z2)))))
    return -0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI + math.log(series)


@njit(cache=True, inline="always")
def digamma(x):
    """ψ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series (relative error < 1e-12)."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    z = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - z * (1.0 / 12.0 - z * (1.0 / 120.0 - z * (
        1.0 / 252.0 - z * (1.0 / 240.0 - z * (1.0 / 132.0)))))


@njit(cache=True, inline="always")
def trigamma(x):
    """ψ'(x) for x > 0, as :func:`digamma`."""
    acc = 0.0
    while x < 10.0:
        acc += 1.0 / (x * x)
        x += 1.0
    z = 1.0 / (x * x)
    return acc + 1.0 / x + 0.5 * z + (1.0 / x) * z * (1.0 / 6.0 - z * (1.0 / 30.0 - z * (
        1.0 / 42.0 - z * (1.0 / 30.0 - z * (5.0 / 66.0)))))
