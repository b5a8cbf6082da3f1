"""store.query: modes, filters, versions, scores, locations and combined_context."""

from __future__ import annotations

import re

import pytest

from index_fixtures import DATA, ManualClock, embedder  # noqa: F401  (fixture)
from notebook_artifacts import Artifact, ArtifactStore, InvalidInputError, QueryResult
from store_fixtures import backing, served

pytestmark = pytest.mark.model

SAMPLES = ("project_notes.md", "measurements.csv", "feature_pipeline.py", "runbook.html",
           "experiment_config.json", "field_report.pdf")


@pytest.fixture(scope="module", params=["local", "remote"])
def world(request, tmp_path_factory, embedder, module_catalog):
    """The sample store on each catalog, queried in Python or through a RemoteStore over
    loopback HTTP."""
    clock = ManualClock()
    store = ArtifactStore(tmp_path_factory.mktemp("query"), clock=clock, catalog=module_catalog)
    for name in SAMPLES:
        store.put(DATA / name, tags=["sample"])
    store.put("The launch codename is BLUEHERON. Rehearsal on Friday.", name="plan.txt")
    store.put("The launch codename is REDFALCON. Rehearsal moved to Monday.", name="plan.txt")
    store.put("Quarterly zebra migration counts for the savanna survey.", name="zebras.txt",
              namespace="teamA/proj", session_id="s1", tags=["alpha"], metadata={"run": 3})
    store.put("Quarterly zebra migration counts, second survey team.", name="zebras.txt",
              namespace="teamA/proj", session_id="s2", tags=["beta"], metadata={"run": 4})
    dup = "Glacier retreat measured by drone photogrammetry along the northern valley."
    store.put(dup, name="glacier_a.txt")
    store.put(dup, name="glacier_b.txt")
    store.put("Temporary scratch note about the octopus aquarium feeding rota.", name="scratch.txt",
              ttl=60)
    assert store.wait_indexed(300)
    if request.param == "local":
        yield store, clock
    else:
        with served(store) as remote:
            yield remote, clock
    store.close()


def names(result: QueryResult) -> list[str]:
    return [h.artifact.name for h in result.results]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_every_mode_returns_scored_records_best_first(world, mode):
    store, _ = world
    res = store.query("how often should the salinity probes be recalibrated", k=5, mode=mode)
    assert isinstance(res, QueryResult) and res.query.startswith("how often")
    assert res.results and res.total_results == len(res.results)
    scores = [h.score for h in res.results]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    top = res.results[0]
    assert isinstance(top.artifact, Artifact) and top.artifact.name == "field_report.pdf"
    assert top.artifact.is_indexed and top.artifact.status == "indexed"
    assert top.location["page"] == 2 and "recalibrat" in top.matched_chunk
    assert top.citation == "field_report.pdf v1, p. 2"


def test_keyword_mode_finds_rare_codes_and_dense_finds_paraphrases(world):
    store, _ = world
    assert names(store.query("BUOY-7731", k=3, mode="keyword"))[0] == "field_report.pdf"
    res = store.query("requests are taking too long in production", k=3, mode="dense")
    assert names(res)[0] == "runbook.html"
    assert res.results[0].location["section"] == "Inference Service Runbook > Alerts > High latency"
    assert res.results[0].location["heading_path"] == [
        "Inference Service Runbook", "Alerts", "High latency"]
    assert store.query("zzqqxx", mode="keyword").results == []


def test_each_hit_locates_its_chunk_in_the_artifact_text(world):
    store, _ = world
    res = store.query("how are outliers in monthly charges handled", k=3)
    top = res.results[0]
    assert top.artifact.name == "project_notes.md"
    loc = top.location
    assert loc["page"] is None and loc["scope"] == "artifacts" and loc["chunk_index"] >= 0
    assert loc["heading_path"][-1] == "Outliers" and loc["section"].endswith("> Outliers")
    text = store.read_text(top.artifact.artifact_id)
    assert 0 <= loc["char_start"] < loc["char_end"] <= len(text)
    assert text[loc["char_start"]:loc["char_end"]] == top.matched_chunk


def test_namespace_session_tag_metadata_and_mime_filters(world):
    store, _ = world
    q = "zebra migration counts"
    assert set(names(store.query(q, namespace="teamA/proj"))) == {"zebras.txt"}
    assert len(store.query(q, namespace="teamA/proj").results) == 2
    assert "zebras.txt" not in names(store.query(q, namespace="default"))
    hit = store.query(q, namespace="teamA/proj", session_id="s1").results
    assert [h.artifact.session_id for h in hit] == ["s1"]
    assert [h.artifact.tags for h in store.query(q, tags=["beta"]).results] == [["beta"]]
    assert [h.artifact.metadata for h in store.query(q, where={"run": 3}).results] == [{"run": 3}]
    assert store.query(q, where={"run": 5}).results == []
    pdf_only = store.query("battery", mime_types=["application/pdf"])
    assert names(pdf_only) == ["field_report.pdf"]
    assert set(names(store.query("churn model", tags=["sample"], k=20))) <= set(SAMPLES)


def test_latest_versions_by_default_all_versions_on_request(world):
    store, _ = world
    latest = store.query("launch codename BLUEHERON", k=5)
    plans = [h.artifact for h in latest.results if h.artifact.name == "plan.txt"]
    assert [a.version for a in plans] == [2]
    every = store.query("launch codename BLUEHERON", k=5, versions="all")
    found = [(h.artifact.name, h.artifact.version) for h in every.results]
    assert found[0] == ("plan.txt", 1) and ("plan.txt", 2) in found
    assert "plan.txt v1" in every.combined_context and "plan.txt v2" in every.combined_context


def test_combined_context_cites_dedupes_and_respects_the_budget(world):
    store, _ = world
    res = store.query("glacier retreat drone photogrammetry", k=5)
    assert {"glacier_a.txt", "glacier_b.txt"} <= set(names(res))
    assert res.combined_context.count("Glacier retreat measured") == 1  # same text kept once
    heads = re.findall(r"^\[(\d+)\] (.+)$", res.combined_context, flags=re.M)
    assert [int(n) for n, _ in heads] == list(range(1, len(heads) + 1))
    pdf = store.query("moisture sensor error code BUOY-7731", k=3)
    assert pdf.combined_context.startswith("[1] field_report.pdf v1, p. 3\n")
    md = store.query("how is missing tenure imputed", k=3)
    assert "[1] project_notes.md v1, § " in md.combined_context or \
        "feature_pipeline.py v1, § def impute_tenure" in md.combined_context
    for budget in (0, 250, 900):
        small = store.query("churn model validation AUC", k=5, context_budget=budget)
        assert len(small.combined_context) <= budget
    big = store.query("churn model validation AUC", k=5, context_budget=20000)
    assert big.combined_context == store.query("churn model validation AUC", k=5,
                                               context_budget=20000).combined_context


def test_expired_and_deleted_artifacts_never_match(world):
    store, clock = world
    assert "scratch.txt" in names(store.query("octopus aquarium feeding rota", k=3))
    clock.advance(120)
    assert "scratch.txt" not in names(store.query("octopus aquarium feeding rota", k=3))
    store.put("A note about the walrus choir rehearsal schedule.", name="walrus.txt")
    assert store.wait_indexed(120)
    assert names(store.query("walrus choir", k=1)) == ["walrus.txt"]
    store.delete("walrus.txt")
    assert "walrus.txt" not in names(store.query("walrus choir", k=3))


@pytest.mark.parametrize("kwargs, match", [
    ({"text": "  "}, "non-empty"),
    ({"text": "x", "mode": "fuzzy"}, "mode must be one of"),
    ({"text": "x", "k": 0}, "k must be an integer"),
    ({"text": "x", "versions": "newest"}, "versions must be"),
    ({"text": "x", "scope": "everything"}, "scope must be one of"),
    ({"text": "x", "where": {"run": [1, 2]}}, "equality only"),
    ({"text": "x", "context_budget": -1}, "context_budget"),
])
def test_bad_query_arguments_are_rejected_with_a_clear_message(world, kwargs, match):
    store, _ = world
    kwargs = dict(kwargs)  # the parameter dict is shared by every run (faces, catalogs)
    text = kwargs.pop("text")
    with pytest.raises(InvalidInputError, match=match):
        store.query(text, **kwargs)


def test_chroma_hnsw_path_agrees_with_the_exact_in_memory_search(world, module_catalog):
    if module_catalog is not None:
        pytest.skip("a shared catalog without index_url serves vectors from its embedding cache")
    store, _ = world
    if not isinstance(store, ArtifactStore):
        pytest.skip("compares the index's two search paths inside one process")
    svc = store._index()
    cases = [("requests are taking too long in production", {}),
             ("zebra migration counts", {"namespace": "teamA/proj", "session_id": "s2"}),
             ("battery", {"mime_types": ["application/pdf"]}),
             ("how is missing tenure imputed", {"tags": ["sample"]})]
    exact = {(q, m): store.query(q, k=5, mode=m, **kw) for q, kw in cases for m in ("dense", "hybrid")}
    svc.brute_force_max = 0  # the holder now asks Chroma for dense candidates
    try:
        for (q, m), want in exact.items():
            kw = dict(cases)[q]
            got = store.query(q, k=5, mode=m, **kw)
            assert names(got) == names(want), (q, m)
            assert [h.score for h in got.results] == pytest.approx(
                [h.score for h in want.results], abs=1e-4)
        assert svc._matrix is None
    finally:
        from notebook_artifacts.index.service import BRUTE_FORCE_MAX

        svc.brute_force_max = BRUTE_FORCE_MAX


def test_a_scoped_token_queries_only_its_namespaces(world):
    """Hits and combined_context from outside a scoped token's prefixes never come back."""
    import time

    from notebook_artifacts import connect
    from notebook_artifacts.scoped import ScopedStore

    store, _ = world
    if isinstance(store, ArtifactStore):
        view = ScopedStore(store, ["teamA"])
    else:  # over HTTP with a scoped token of the served store
        token, _ = backing(store).tokens.create(["teamA"], read_only=True, now=time.time())
        view = connect(store.url, token)
    everyone = store.query("zebra migration counts survey glacier launch codename", k=10)
    assert {h.artifact.namespace for h in everyone.results} > {"teamA/proj"}  # others match too
    res = view.query("zebra migration counts survey glacier launch codename", k=10)
    assert res.results and {h.artifact.namespace for h in res.results} == {"teamA/proj"}
    assert "zebras.txt" in res.combined_context
    assert "plan.txt" not in res.combined_context and "Glacier" not in res.combined_context
    assert view.query("launch codename BLUEHERON", namespace="default").results == []
