"""A process's memory as Linux reports it (stdlib only: the mmpose companions import it too)."""

from __future__ import annotations

import os


def current_rss() -> int:
    """Resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> None:
    """Start the peak resident set (VmHWM) afresh at the current size (Linux's clear_refs 5),
    so that the peak read after a step is the step's, not that of the imports or the loader."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak_rss() -> int:
    """The peak resident set size (VmHWM) in bytes since :func:`reset_peak_rss` (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # kB


def uss(pid: int) -> int:
    """Private memory (USS: pages no other process maps) of process ``pid``, in bytes: psutil's
    where it is installed, else Linux's smaps_rollup (Private_Clean + Private_Dirty)."""
    try:
        import psutil
    except ImportError:
        fields = {}
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
        return fields["Private_Clean"] + fields["Private_Dirty"]
    return int(psutil.Process(pid).memory_full_info().uss)
