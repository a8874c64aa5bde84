"""``./run remove-feature NAME``: delete a feature module, its tests and its line, and say what is left to do.

A feature is one folder under ``src/quoin/modules``, one folder of tests and
one line in ``quoin/modules/__init__.py``; removing those three leaves lint,
types, start-up and the tests passing (``.ci/feature-removal`` proves it for
``api_keys``). What no tool should do unasked stays with the developer and is
printed: the migration that drops the feature's tables, the README's lines.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "src" / "quoin" / "modules"
REGISTRY = MODULES / "__init__.py"
TESTS = ROOT / "tests" / "modules"
# Features the app cannot run without, and why.
REQUIRED = {
    "users": "it provides the principal loader (the caller every request acts for), and other tables refer to users",
    "system": "it serves /health/live and /health/ready, which the Containerfile, HAProxy and Kubernetes probe",
}


def registration(name: str) -> str:
    """The feature's line in ``quoin/modules/__init__.py``."""
    return f'    "quoin.modules.{name}",\n'


def registered() -> list[str]:
    """The names of the features registered in ``quoin/modules/__init__.py``, in order."""
    return re.findall(r'^    "quoin\.modules\.(\w+)",$', REGISTRY.read_text(), flags=re.MULTILINE)


def tables_of(folder: Path) -> list[str]:
    """The ``__tablename__`` of every model the feature declares."""
    return [
        node.value.value
        for source in sorted(folder.rglob("*.py"))
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", None) == "__tablename__" for target in node.targets)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]


def mentions(name: str, *paths: Path) -> list[str]:
    """Lines of ``paths`` (files, or every file under a folder) that name the feature."""
    words = {name, name.replace("_", "-"), name.replace("_", " ")}
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words)), re.IGNORECASE)
    files = [f for p in paths if p.exists() for f in ([p] if p.is_file() else sorted(p.rglob("*.md")))]
    return [
        f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
        for file in files
        for number, line in enumerate(file.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]


def refusal(name: str) -> str | None:
    """Why ``name`` cannot be removed, or None."""
    known = registered()
    if name not in known or not (MODULES / name).is_dir():
        return f"no feature named {name!r}; the registered features are: {', '.join(known)}"
    if name in REQUIRED:
        return f"{name!r} cannot be removed: {REQUIRED[name]}"
    return None


def remove(name: str) -> list[str]:
    """Delete the feature's folder, its tests and its line; the tables its models declared."""
    folder, tests = MODULES / name, TESTS / name
    tables = tables_of(folder)
    shutil.rmtree(folder)
    print(f"deleted {folder.relative_to(ROOT)}/")
    if tests.is_dir():
        shutil.rmtree(tests)
        print(f"deleted {tests.relative_to(ROOT)}/")
    REGISTRY.write_text(REGISTRY.read_text().replace(registration(name), ""))
    print(f"removed its line from {REGISTRY.relative_to(ROOT)}")
    return tables


def remaining(name: str, tables: list[str]) -> None:
    """Print what is left to do by hand."""
    print("\nLeft to do:")
    if tables:
        print(f'- a migration that drops {", ".join(tables)}: ./run migration "drop {name}"; check that its')
        print("  downgrade() recreates the tables with their keys, constraints and indexes")
    if lines := mentions(name, ROOT / "README.md", ROOT / "docs"):
        print("- the documentation that names the feature:")
        print("\n".join(f"    {line}" for line in lines))
    print("- then: ./run fmt && ./run lint && ./run test")


def main(argv: list[str]) -> int:
    """Remove the feature named by the one argument; 2 on a wrong or refused name."""
    if len(argv) != 1:
        print("usage: ./run remove-feature NAME", file=sys.stderr)
        return 2
    name = argv[0]
    if reason := refusal(name):
        print(f"remove-feature: {reason}", file=sys.stderr)
        return 2
    remaining(name, remove(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
