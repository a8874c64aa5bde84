"""``python -m bench`` runs the benchmark harness."""

from bench.run import main

raise SystemExit(main())
