"""The notebook face: ``%artifact`` magics, directory watch and ipywidgets panels.

Loaded by ``%load_ext notebook_artifacts``; uses only the ``Store`` protocol (notebook_artifacts.protocol),
so it works the same on a local store and on a served one (``%artifact connect``).
"""

__all__: list[str] = []
