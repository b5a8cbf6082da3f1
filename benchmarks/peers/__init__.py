"""The alternatives a user would pick instead of notebook-artifacts, written as they would.

- :mod:`.langchain_indexing`: LangChain's ``index()`` with a SQL record manager, Chroma,
  HuggingFace embeddings and a recursive text splitter (``cleanup="incremental"``).
- :mod:`.reembed_folder`: a plain folder of files and a script that re-embeds everything
  on each run (sentence-transformers + numpy brute-force search).
- :mod:`.file_artifact_service`: the agent framework's file-based artifact service
  (a folder per version holding the bytes and a ``metadata.json``).
"""

__all__ = ["langchain_indexing", "reembed_folder", "file_artifact_service"]
