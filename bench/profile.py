"""Where the app's CPU goes: py-spy samples of the app under load, summed by the package that was running."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Profile", "read_profile", "start_py_spy"]

SAMPLES_PER_SECOND = 200
OUR_CODE = "quoin (this app)"
# With uvloop the event loop runs in C below asyncio.run: a sample whose innermost Python
# frame is the runner was in uvloop, httptools or the socket calls they make.
EVENT_LOOP = "event loop (uvloop, httptools: C code)"
_RUNNER = "asyncio/runners.py"
# Samples taken while a thread held the interpreter lock with no Python frame on its stack.
NATIVE = "no Python frame (C code)"
_FROZEN = "<frozen "  # the standard library's modules frozen into the interpreter: "<frozen abc>"
_SRC = Path(__file__).resolve().parents[1] / "src"
_SITE_PACKAGES = tuple(dict.fromkeys(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")))
_STDLIB = Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class Profile:
    """Samples of one profiled run: how many, by package, and the file holding their stacks."""

    samples: int
    by_package: Counter[str]
    stacks: Path

    def share(self, package: str) -> float:
        """The fraction of samples spent in ``package``'s own code."""
        return self.by_package[package] / self.samples if self.samples else 0.0

    def largest(self, count: int) -> list[tuple[str, float]]:
        """The ``count`` packages with the most samples, with their shares."""
        return [(package, self.share(package)) for package, _ in self.by_package.most_common(count)]


def _py_spy() -> Path:
    """The py-spy installed with the bench (the ``bench`` dependency group)."""
    path = Path(sys.executable).with_name("py-spy")
    if not path.exists():
        raise RuntimeError("py-spy is not installed: run the harness as ./run bench, which installs it")
    return path


def start_py_spy(pid: int, seconds: int, stacks: Path) -> subprocess.Popen[str]:
    """Sample ``pid``'s Python stacks for ``seconds`` into ``stacks`` (collapsed stacks, full file names)."""
    command = [
        str(_py_spy()),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        str(SAMPLES_PER_SECOND),
    ]
    # Only the thread holding the interpreter lock: py-spy takes threads waiting on a lock or
    # a pipe (the log listener's, the hashing pool's) for busy ones, which they are not.
    command += ["--gil", "--format", "raw", "--full-filenames", "--output", str(stacks)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603


def read_profile(stacks: Path) -> Profile:
    """Count each sample for the package of its innermost frame: where the CPU was spent, not who called."""
    by_package: Counter[str] = Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        by_package[_package(stack.rpartition(";")[2]) if stack.strip() else NATIVE] += int(count)
    return Profile(sum(by_package.values()), by_package, stacks)


def _package(frame: str) -> str:
    """``"function (/path/to/file.py:12)"`` → the package that file belongs to."""
    location = frame[frame.rfind(" (") + 2 : -1].rpartition(":")[0]
    if location.startswith(_FROZEN):
        return f"{location.removeprefix(_FROZEN).rstrip('>')} (standard library)"
    path = Path(location)
    if path.is_relative_to(_SRC):
        return OUR_CODE
    for site in _SITE_PACKAGES:
        if path.is_relative_to(site):
            return _top_level(path.relative_to(site))
    if path.is_relative_to(_STDLIB):
        relative = path.relative_to(_STDLIB)
        return EVENT_LOOP if relative.as_posix() == _RUNNER else f"{_top_level(relative)} (standard library)"
    return "other"


def _top_level(relative: Path) -> str:
    return relative.parts[0].removesuffix(".py")
