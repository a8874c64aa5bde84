"""``python -m quoin`` runs the ``quoin`` CLI."""

from quoin.cli import main

main()
