"""The ``quoin`` console script's entry point, which imports nothing until it is called.

Processes started with multiprocessing's "spawn" method (the Argon2 hashing
processes, uvicorn's workers) run the console script again to rebuild its
``__main__``; with this module behind the script, a hashing process imports
``quoin.core.security.passwords`` and Argon2, not the app and its libraries.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the ``quoin`` command (``quoin.cli``)."""
    from quoin.cli import main as run_cli  # noqa: PLC0415  # see the module docstring

    run_cli()
