"""Preconditioned conjugate gradients for H x = b (H symmetric positive definite)."""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["pcg"]


def pcg(
    apply_H: Callable[[np.ndarray], np.ndarray],
    apply_M: Callable[[np.ndarray], np.ndarray],
    B: np.ndarray,
    rtol: float,
    max_iter: int,
) -> tuple[np.ndarray, int, float]:
    """Solve H X = B column by column from X = 0 until ‖b − H x‖ ≤ rtol ‖b‖ for every column.

    The columns run as independent CG iterations that share each product with H (one pass
    over the data serves them all); a converged column stops moving.

    Parameters
    ----------
    apply_H, apply_M : callables
        X ↦ H X and R ↦ M⁻¹ R on N × D blocks (M the preconditioner, symmetric positive
        definite).
    B : ndarray (N, D)
    rtol : float
    max_iter : int

    Returns
    -------
    X, iterations, largest relative residual reached.
    """
    X = np.zeros_like(B)
    R = B.copy()
    b_norm = np.sqrt(np.einsum("nd,nd->d", B, B))
    active = b_norm > 0
    rel = np.zeros(B.shape[1])
    if not active.any():
        return X, 0, 0.0
    Z = apply_M(R)
    Dir = Z.copy()
    rz = np.einsum("nd,nd->d", R, Z)
    it = 0
    for it in range(1, max_iter + 1):
        HD = apply_H(Dir)
        curv = np.einsum("nd,nd->d", Dir, HD)
        ok = active & (curv > 0)
        step = np.where(ok, rz / np.where(ok, curv, 1.0), 0.0)
        X += step * Dir
        R -= step * HD
        rel = np.where(b_norm > 0, np.sqrt(np.einsum("nd,nd->d", R, R)) / np.where(
            b_norm > 0, b_norm, 1.0), 0.0)
        active = ok & (rel > rtol)
        if not active.any():
            break
        Z = apply_M(R)
        rz_new = np.einsum("nd,nd->d", R, Z)
        beta = np.where(active, rz_new / np.where(rz != 0, rz, 1.0), 0.0)
        Dir *= beta
        Dir += Z
        rz = rz_new
    return X, it, float(rel.max())
