"""Progress of a fit's stages, as plain lines on standard error.

A stage (``design``, ``compile``, ``sample``, ``optimize``, ``draws``, ...) that is still
running after :data:`DELAY` seconds announces itself, and reports its time when it ends;
faster stages stay silent, so a small fit prints nothing. Plain lines work the same in a
terminal, in Jupyter and in a log file. ``bm.fit(..., progress=False)`` (or the
environment variable ``BAYESMIX_PROGRESS=0``) silences it; backends mark their stages with
:func:`stage` and know nothing else of it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["stage", "stages", "Stages", "reporting", "DELAY"]

DELAY = 2.0  # seconds before a running stage is announced

_current: ContextVar["_Reporter | None"] = ContextVar("bayesmix_progress", default=None)


class _Reporter:
    def __init__(self, label: str, stream, delay: float):
        self.label, self.delay = label, delay
        self.stream = stream if stream is not None else sys.stderr
        self.lock = threading.Lock()
        self.timers: set[threading.Timer] = set()

    def write(self, text: str) -> None:
        with self.lock:
            print(f"[bayesmix] {self.label}{text}", file=self.stream, flush=True)


@contextmanager
def reporting(label: str, enabled: bool | None = True, stream=None,
              delay: float | None = None):
    """Report the stages run inside this block (``label``: e.g. the backend's name);
    ``delay`` defaults to :data:`DELAY`."""
    if enabled is None:
        enabled = True
    if os.environ.get("BAYESMIX_PROGRESS", "1") == "0":
        enabled = False
    delay = DELAY if delay is None else delay
    token = _current.set(_Reporter(f"{label}: " if label else "", stream, delay)
                         if enabled else None)
    try:
        yield
    finally:
        reporter = _current.get()
        for timer in list(reporter.timers if reporter else ()):
            timer.cancel()  # a stage left open by an exception stays silent
        _current.reset(token)


@contextmanager
def stage(name: str, detail: str = ""):
    """Mark a stage; announced if it runs longer than the delay."""
    reporter = _current.get()
    if reporter is None:
        yield
        return
    start = time.perf_counter()
    announced = threading.Event()

    def announce():
        announced.set()
        reporter.write(f"{name}{' (' + detail + ')' if detail else ''} …")

    timer = threading.Timer(reporter.delay, announce)
    timer.daemon = True
    reporter.timers.add(timer)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        reporter.timers.discard(timer)
        if announced.is_set():
            reporter.write(f"{name} done in {time.perf_counter() - start:.1f} s")


class Stages:
    """Consecutive stages of straight-line code: :meth:`next` ends the running stage and
    starts the next; :meth:`close` ends the last."""

    def __init__(self):
        self._open = None

    def next(self, name: str, detail: str = "") -> None:
        self.close()
        self._open = stage(name, detail)
        self._open.__enter__()

    def close(self) -> None:
        if self._open is not None:
            self._open.__exit__(None, None, None)
            self._open = None


def stages() -> Stages:
    return Stages()
