"""``python -m benchmarks [--quick] [--out DIR]``."""

from .harness import main

raise SystemExit(main())
