"""Where numba keeps the compiled kernels: a per-user cache directory, never the package.

numba's own cache sits next to the source files and is keyed on each file's timestamp only,
so a kernel that inlines a changed function from another file (every row pass inlines
:func:`bayesmix.families.kernels.row_terms`) would be loaded stale. The directory is
therefore keyed on a digest of the package's sources: another version of bayesmix compiles
afresh. ``NUMBA_CACHE_DIR``, when set, is left as it is. PyTensor's compiled graphs go to
``$XDG_CACHE_HOME/bayesmix/pytensor`` (its ``base_compiledir``) unless ``PYTENSOR_FLAGS``
sets one, or PyTensor was imported before bayesmix.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ["configure_numba_cache", "user_cache_dir"]


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bayesmix`` (``~/.cache/bayesmix`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bayesmix"


def _sources_digest() -> str:
    root = Path(__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def configure_numba_cache() -> None:
    """Point numba's cache at the per-user directory of this version of the sources, and
    PyTensor's (its compiled graphs, the nuts backend's models) at the same per-user
    directory, unless ``PYTENSOR_FLAGS`` names one already."""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "base_compiledir" not in flags and "pytensor" not in sys.modules:
        entry = f"base_compiledir={user_cache_dir() / 'pytensor'}"
        os.environ["PYTENSOR_FLAGS"] = f"{flags},{entry}" if flags else entry
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    path = str(user_cache_dir() / "numba" / _sources_digest())
    os.environ["NUMBA_CACHE_DIR"] = path
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba imported before bayesmix: its config has been read
        config.CACHE_DIR = path
