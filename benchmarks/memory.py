"""Memory probes shared by the benchmark scripts (Linux /proc; GB = 1e9 bytes)."""

from __future__ import annotations

import os


def rss_gb() -> float:
    """Resident memory of this process now."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def available_gb() -> float:
    """Memory the kernel reports as available to a new process (MemAvailable)."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1e6
    return 0.0
