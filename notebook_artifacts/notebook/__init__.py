"""The notebook face: ``%artifact`` magics, directory watch and ipywidgets panels.

Loaded by ``%load_ext notebook_artifacts``; uses only the public ``ArtifactStore`` API.
"""

__all__: list[str] = []
