"""``./run rename NAME`` on a copy of the project: the old name is gone, lint passes, the app serves.

The copy holds the tracked files as they are in the working tree, committed in a
fresh repository (the tool refuses a dirty tree). Renaming, the lint of the
result and one real start of the renamed command take about a minute; the
whole suite under the new name is not run here (it is the same code).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.serve import start_server, stop_server

# Starts processes of its own (uv, the tool, lint, the renamed server): left out of the fast tier.
pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parent.parent
OLD_NAME = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
# Spelled in halves: the tool refuses a name that already occurs in the tree, and this file is in it.
NEW_NAME = "ac" + "me"
NEW_TITLE = f"{NEW_NAME.capitalize()} Works"
UNUSED_NAME = "zin" + "nia"


def run(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``./run ARGS`` in ``copy``, finding the uv that runs this suite first on the PATH."""
    path = os.environ.get("PATH", "")
    if "UV" in os.environ:  # set by ``uv run``; saves the copy installing uv of its own
        path = f"{Path(os.environ['UV']).parent}{os.pathsep}{path}"
    environment = {**os.environ, "PATH": path}
    for inherited in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"):  # the copy has an environment of its own
        environment.pop(inherited, None)
    return subprocess.run(
        ["./run", *args], cwd=copy, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def git(copy: Path, *args: str) -> str:
    """Git in ``copy`` (with an identity of its own, for the commit)."""
    command = ["git", "-c", "user.name=rename test", "-c", "user.email=rename@example.com", *args]
    return subprocess.run(command, cwd=copy, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed copy of the project, renamed with ``./run rename NEW_NAME --title NEW_TITLE``."""
    copy = tmp_path_factory.mktemp("rename")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for relative in filter(None, tracked.split("\0")):
        if (ROOT / relative).is_file():  # a tracked file deleted in the working tree stays out
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, copy / relative)
    git(copy, "init", "--quiet")
    git(copy, "add", "--all")
    git(copy, "commit", "--quiet", "--message", "the project before its rename")
    result = run(copy, "rename", NEW_NAME, "--title", NEW_TITLE)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy


def test_old_name_is_gone_outside_vendored_files(renamed: Path) -> None:
    found = subprocess.run(
        ["git", "grep", "--ignore-case", "--untracked", "-I", "-l", OLD_NAME, "--", ":!*/static/vendor/*"],
        cwd=renamed, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert found.stdout == ""
    assert not (renamed / "src" / OLD_NAME).exists()
    assert (renamed / "src" / NEW_NAME / "app.py").is_file()


def test_lock_names_the_new_package(renamed: Path) -> None:
    lock = tomllib.loads((renamed / "uv.lock").read_text())
    editable = [package["name"] for package in lock["package"] if package["source"].get("editable") == "."]

    assert editable == [NEW_NAME]


def test_renamed_project_passes_lint(renamed: Path) -> None:
    result = run(renamed, "lint")

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def renamed_server(renamed: Path) -> Iterator[str]:
    """The renamed command serving (development defaults: SQLite, migrated first); its base URL."""
    process, base = start_server(renamed, [str(renamed / ".venv" / "bin" / NEW_NAME), "serve"])
    yield base
    stop_server(process)


def test_renamed_command_serves_the_renamed_product(renamed: Path, renamed_server: str) -> None:
    openapi = httpx.get(f"{renamed_server}/schema/openapi.json")

    assert openapi.json()["info"]["title"] == NEW_TITLE
    assert (renamed / f"{NEW_NAME}.db").is_file()  # the default SQLite file carries the new name


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ("Shop", "'Shop' is not a valid name: use lowercase letters and digits, starting with a letter"),
        ("my_shop", "'my_shop' is not a valid name: use lowercase letters and digits, starting with a letter"),
        ("json", "'json' is already an importable module (standard library or installed); pick another name"),
        ("httpx", "'httpx' is already an importable module (standard library or installed); pick another name"),
        ("lambda", "'lambda' is a Python keyword"),
        (NEW_NAME, f"the project is already named {NEW_NAME!r}"),
        ("bench", "NAME 'bench' already occurs in"),
        (f"{UNUSED_NAME} --title Bad/Title", "'Bad/Title' is not a valid --title"),
    ],
)
def test_refuses_a_bad_name_with_one_line(renamed: Path, arguments: str, error: str) -> None:
    result = run(renamed, "rename", *arguments.split(), "--force")

    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"rename: {error}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_refuses_a_dirty_tree(renamed: Path) -> None:
    result = run(renamed, "rename", UNUSED_NAME)  # the copy is dirty: renamed, not committed

    assert result.returncode == 2
    assert "uncommitted or untracked changes" in result.stderr
    assert (renamed / "src" / NEW_NAME).is_dir()
