"""Programs the harness needs from the system (wrk, redis-server): found, or installed with apt-get as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

__all__ = ["ensure_program"]


def ensure_program(package: str, find: Callable[[], str | None]) -> str:
    """The path ``find`` returns; when it finds nothing and the harness runs as root, installs Debian's ``package``."""
    found = find()
    if found:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise RuntimeError(
            f"{package} is not installed: install it (Debian/Ubuntu: sudo apt-get install {package}) and rerun"
        )
    print(f"bench: installing {package} (apt-get install -y {package})", file=sys.stderr)
    if not _apt(apt, "install", "-y", package):
        # A fresh machine may have no package lists yet.
        _apt(apt, "update")
        _apt(apt, "install", "-y", package)
    found = find()
    if found is None:
        raise RuntimeError(f"could not install {package} with apt-get; install it yourself and rerun")
    return found


def _apt(apt: str, *args: str) -> bool:
    return subprocess.run([apt, *args], stdout=subprocess.DEVNULL, check=False).returncode == 0  # noqa: S603
