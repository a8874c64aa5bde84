"""The ``quoin`` console script's entry point, which imports nothing until it is called.

uvicorn starts its worker processes (``WORKERS`` > 1) with multiprocessing's
"spawn", which runs the console script again in each to rebuild its
``__main__``; with this module behind the script, a worker imports the app,
not the CLI and its libraries on top.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the ``quoin`` command (``quoin.cli``)."""
    from quoin.cli import main as run_cli  # noqa: PLC0415  # see the module docstring

    run_cli()
