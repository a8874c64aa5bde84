"""Where the app's CPU goes: py-spy samples of the app under load, summed by the package that was running."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import quoin

__all__ = ["Profile", "check_py_spy", "read_profile", "start_py_spy"]

SAMPLES_PER_SECOND = 200
OUR_CODE = "quoin (this app)"
# With uvloop the event loop runs in C below asyncio.run: a sample whose innermost Python
# frame is the runner was in uvloop itself (its callbacks, timers and socket calls).
EVENT_LOOP = "event loop (uvloop: C code)"
_RUNNER = "asyncio/runners.py"
# A thread held the interpreter lock, but py-spy read no Python frame on its stack.
UNATTRIBUTED = "no Python frame (unattributed)"
# "function (/path/file.py:12)"; py-spy leaves out ":12" when it has no line number.
_FRAME = re.compile(r" \((?P<file>.+?)(?::\d+)?\)$")
# Code without a file of its own: SQLAlchemy's and dataclasses' generated functions ("<string>").
_GENERATED = "<string>"
_FROZEN = "<frozen "  # the standard library's modules frozen into the interpreter: "<frozen abc>"
_OURS = Path(quoin.__file__).resolve().parent
_SITE_PACKAGES = tuple(dict.fromkeys(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")))
_STDLIB = Path(sysconfig.get_paths()["stdlib"])
_PTRACE = (
    "py-spy reads the app's memory: it needs the right to trace it (root with CAP_SYS_PTRACE, or the same "
    "user where kernel.yama.ptrace_scope allows it)"
)


@dataclass(frozen=True)
class Profile:
    """Samples of one profiled run: how many, by package, the file holding their stacks, and the run's errors."""

    samples: int
    by_package: Counter[str]
    stacks: Path
    errors: int = 0  # responses >= 400 and socket errors during the profiled run

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


def check_py_spy(pid: int) -> None:
    """Fail now, before any load, if py-spy is missing or may not read ``pid``."""
    dump = subprocess.run(  # noqa: S603  # our own py-spy, a pid we started
        [str(_py_spy()), "dump", "--pid", str(pid)], capture_output=True, text=True, check=False
    )
    if dump.returncode != 0:
        raise RuntimeError(f"{_PTRACE}; py-spy said:\n{(dump.stderr or dump.stdout).strip()}")


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


def read_profile(stacks: Path, errors: int = 0) -> Profile:
    """Count each sample for the package of its innermost frame: where the CPU was spent, not who called."""
    by_package: Counter[str] = Counter()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        by_package[_package(stack.split(";")) if stack.strip() else UNATTRIBUTED] += int(count)
    return Profile(sum(by_package.values()), by_package, stacks, errors)


def _package(frames: list[str]) -> str:
    """The package of the innermost frame that has a file (generated code counts for the code that made it)."""
    for frame in reversed(frames):
        match = _FRAME.search(frame)
        location = match["file"] if match else ""
        if location != _GENERATED:
            return _package_of(location)
    return "other"


def _package_of(location: str) -> str:
    if location.startswith(_FROZEN):
        return f"{location.removeprefix(_FROZEN).rstrip('>').partition('.')[0]} (standard library)"
    path = Path(location)
    if path.is_relative_to(_OURS):
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
