"""Benchmarks: notebook-artifacts against the raw limits and the tools users pick instead.

Run ``python -m benchmarks [--quick] [--out DIR]`` from a checkout (or
``notebook-artifacts bench``).  Results go to ``benchmarks/results/``: ``results.md``,
``results.json`` and PNG plots.  The peers live in :mod:`benchmarks.peers`.
"""

from .harness import SCALES, main, run

__all__ = ["SCALES", "main", "run"]
