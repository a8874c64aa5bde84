"""Processes seen through ``/proc`` (Linux): which are alive, which a process started, what they map."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["descendants", "mapped_files", "running", "stat_fields", "wait_until_gone"]

# In stat_fields(): index of the parent's pid.
PARENT = 1


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the parenthesised command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (not gone, not a zombie)."""
    try:
        return stat_fields(pid)[0] != "Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> list[int]:
    """The live processes below ``pid``, at any depth."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(stat_fields(int(entry.name))[PARENT])
            except OSError:
                continue  # ended while we looked
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def mapped_files(pid: int) -> set[str]:
    """The files ``pid`` has mapped into memory (its shared libraries and extension modules)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {fields[5] for fields in (line.split(maxsplit=5) for line in lines) if len(fields) == 6}


def wait_until_gone(pids: set[int], seconds: float = 15) -> set[int]:
    """Wait until none of ``pids`` is running; those still running after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (alive := {pid for pid in pids if running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive
