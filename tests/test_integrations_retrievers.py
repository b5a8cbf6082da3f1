"""The store as a LangChain and a LlamaIndex retriever, on a small store with the real model."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from index_fixtures import DATA, embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore, InvalidInputError

pytestmark = pytest.mark.model

CITATION_KEYS = {"artifact_id", "name", "version", "namespace", "session_id", "score",
                 "citation", "location", "mime_type", "tags"}


@pytest.fixture(scope="module")
def store(tmp_path_factory, embedder):
    s = ArtifactStore(tmp_path_factory.mktemp("retrievers"))
    s.put(DATA / "field_report.pdf", tags=["sample"])
    s.put(DATA / "project_notes.md", tags=["sample"])
    s.put("The launch codename is BLUEHERON.", name="plan.txt")
    s.put("The launch codename is REDFALCON. Rehearsal moved to Monday.", name="plan.txt")
    s.put("Zebra migration counts for the savanna survey.", name="zebras.txt",
          namespace="teamA/proj", tags=["alpha"])
    assert s.wait_indexed(300)
    yield s
    s.close()


def test_importing_the_package_imports_no_framework():
    code = ("import sys, notebook_artifacts, notebook_artifacts.integrations\n"
            "s = notebook_artifacts.ArtifactStore\n"
            "print([m for m in ('langchain_core', 'llama_index', 'google.adk', 'google.genai', "
            "'mcp') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- LangChain ------------------------------------------------------------------------------
def test_langchain_invoke_returns_cited_documents(store):
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    retriever = store.as_langchain_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("how often should the salinity probes be recalibrated")
    assert docs and len(docs) <= 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert set(top.metadata) >= CITATION_KEYS
    assert top.metadata["name"] == "field_report.pdf" and top.metadata["version"] == 1
    assert top.metadata["location"]["page"] == 2
    assert top.metadata["citation"] == "field_report.pdf v1, p. 2"
    assert "recalibrat" in top.page_content
    assert top.metadata["artifact_id"] == store.get("field_report.pdf").artifact_id
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_langchain_ainvoke_and_batch_match_invoke(store):
    retriever = store.as_langchain_retriever(k=2, mode="keyword")
    sync = retriever.invoke("REDFALCON")
    assert [d.metadata["name"] for d in sync] == ["plan.txt"]
    assert sync[0].metadata["version"] == 2  # the latest version only
    asynced = asyncio.run(retriever.ainvoke("REDFALCON"))
    assert [d.page_content for d in asynced] == [d.page_content for d in sync]
    batch = retriever.batch(["REDFALCON", "zebra migration"])
    assert len(batch) == 2 and batch[0][0].page_content == sync[0].page_content
    assert batch[1][0].metadata["name"] == "zebras.txt"
    abatch = asyncio.run(retriever.abatch(["REDFALCON", "zebra migration"]))
    assert [[d.id for d in b] for b in abatch] == [[d.id for d in b] for b in batch]


def test_langchain_filters_by_namespace_and_tags(store):
    in_team = store.as_langchain_retriever(k=5, namespace="teamA/proj").invoke("survey counts")
    assert in_team and {d.metadata["namespace"] for d in in_team} == {"teamA/proj"}
    tagged = store.as_langchain_retriever(k=5, tags=["sample"]).invoke("probes")
    assert tagged and all("sample" in d.metadata["tags"] for d in tagged)


def test_langchain_bad_option_is_a_clear_error(store):
    with pytest.raises(InvalidInputError):
        store.as_langchain_retriever(k=2, mode="psychic").invoke("anything")


def test_put_documents_and_loader_round_trip(tmp_path):
    from langchain_core.documents import Document

    from notebook_artifacts.integrations.langchain import ArtifactLoader, put_documents

    with ArtifactStore(tmp_path / "s", index=False) as s:
        docs = [Document(page_content="alpha notes", metadata={"source": "/data/notes/a.md", "page": 1}),
                Document(page_content="README.md", metadata={"source": "https://x.org/b.txt"}),
                Document(page_content="no source at all"),
                Document(page_content="a run's output", metadata={"source": "runs/r1/out.md"})]
        stored = put_documents(s, docs, namespace="lc", tags=["imported"])
        assert [a.name for a in stored] == ["a.md", "b.txt", "doc-3.txt", "runs/r1/out.md"]
        # text that happens to name a file is stored as text, never as that file
        assert s.read_text("b.txt", namespace="lc") == "README.md"
        assert s.get("a.md", namespace="lc").metadata == {"source": "/data/notes/a.md", "page": 1}
        loaded = ArtifactLoader(s, namespace="lc", tags=["imported"]).load()
        assert sorted(d.page_content for d in loaded) == sorted(d.page_content for d in docs)
        assert {d.metadata["citation"] for d in loaded} == {"a.md v1", "b.txt v1", "doc-3.txt v1",
                                                      "runs/r1/out.md v1"}
        with pytest.raises(InvalidInputError):
            put_documents(s, [docs[0], "not a document"], namespace="bad")
        assert s.list(namespace="bad").total == 0  # nothing stored from a bad batch


# -- LlamaIndex -----------------------------------------------------------------------------
def test_llama_index_retrieve_and_aretrieve(store):
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore

    retriever = store.as_llama_index_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("how often should the salinity probes be recalibrated")
    assert nodes and len(nodes) <= 3 and all(isinstance(n, NodeWithScore) for n in nodes)
    top = nodes[0]
    assert set(top.node.metadata) >= CITATION_KEYS
    assert top.node.metadata["citation"] == "field_report.pdf v1, p. 2"
    assert top.score == top.node.metadata["score"] and "recalibrat" in top.node.get_content()
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    again = asyncio.run(retriever.aretrieve("how often should the salinity probes be recalibrated"))
    assert [n.node.node_id for n in again] == [n.node.node_id for n in nodes]
    # the citation reaches the LLM with the chunk; the ids and scores do not
    from llama_index.core.schema import MetadataMode

    llm_text = top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "field_report.pdf v1, p. 2" in llm_text and top.node.metadata["artifact_id"] not in llm_text


def test_llama_index_filters(store):
    nodes = store.as_llama_index_retriever(k=5, namespace="teamA/proj", mode="keyword").retrieve("zebra")
    assert [n.node.metadata["name"] for n in nodes] == ["zebras.txt"]


def test_readme_agent_framework_block_runs(tmp_path, embedder):
    import os
    import re
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from an agent framework\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(repo / "data", tmp_path / "data", ignore=shutil.ignore_patterns("eval"))
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.startswith("runbook.html v1")
    with ArtifactStore(tmp_path / "agent-store", index=False) as s:
        assert s.read_text("alarms.txt") == "Drift alarms page the on-call."
