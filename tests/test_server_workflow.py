"""POST /api/workflow/execute: a workflow registered from Python runs with the prompt and the
attachment records; what it writes carries source_execution_id."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server_fixtures import store  # noqa: F401

from notebook_artifacts.server import WorkflowContext, create_app


def summarize(ctx: WorkflowContext):
    words = sum(len(ctx.read_text(a).split()) for a in ctx.attachments)
    out = ctx.put(f"{ctx.task_prompt}: {words} words in {len(ctx.attachments)} files", "summary.txt")
    return {"words": words, "summary_id": out.artifact_id}


async def async_flow(ctx: WorkflowContext):
    ctx.put(b"async", "async.txt")
    return "ok"


def broken(ctx: WorkflowContext):
    raise RuntimeError("model server unreachable")


@pytest.fixture
def wf_client(store):
    app = create_app(store, token="t", workflows={"summarize": summarize})
    with TestClient(app, headers={"Authorization": "Bearer t"}) as c:
        yield c, app


def test_runs_with_attachments_and_records_outputs(wf_client, store):
    c, _ = wf_client
    att = [c.post("/api/uploads/run1", files={"file": (n, t)}).json()["attachment_id"]
           for n, t in (("a.txt", b"one two three"), ("b.txt", b"four five"))]
    r = c.post("/api/workflow/execute", json={"session_id": "run1", "task_prompt": "Count", "attachments": att})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "completed" and out["workflow"] == "summarize" and out["error"] is None
    assert out["result"]["words"] == 5
    assert [a["name"] for a in out["artifacts"]] == ["summary.txt"]
    exec_id = out["execution_id"]
    produced = store.get("summary.txt", session_id="run1")
    assert produced.source_execution_id == exec_id and out["artifacts"][0]["source_execution_id"] == exec_id
    assert store.read_text(produced.artifact_id) == "Count: 5 words in 2 files"
    # and it is visible to seed-001 clients of the session
    assert "summary.txt" in [x["name"] for x in c.get("/api/uploads/run1").json()["attachments"]]


def test_request_errors_are_4xx(wf_client, store):
    c, _ = wf_client
    c.post("/api/uploads/other", files={"file": ("x.txt", b"x")})
    other_id = store.get("x.txt", session_id="other").attachment_id
    missing_prompt = c.post("/api/workflow/execute", json={"session_id": "run1", "attachments": []})
    assert missing_prompt.status_code == 422
    assert missing_prompt.json()["detail"][0]["loc"] == ["body", "task_prompt"]
    unknown = c.post("/api/workflow/execute", json={"session_id": "run1", "task_prompt": "x", "attachments": ["att_nope"]})
    assert unknown.status_code == 404
    foreign = c.post("/api/workflow/execute", json={"session_id": "run1", "task_prompt": "x", "attachments": [other_id]})
    assert foreign.status_code == 404
    assert c.post("/api/workflow/execute", json={"session_id": "run1", "task_prompt": "x", "workflow": "nope"}).status_code == 404
    assert c.post("/api/workflow/execute", json={"session_id": "bad id", "task_prompt": "x"}).status_code == 422
    assert store.names("default", "run1") == []


def test_async_workflows_failures_and_live_registration(wf_client, store):
    c, app = wf_client
    app.state.settings.workflows.update({"async": async_flow, "broken": broken})
    ambiguous = c.post("/api/workflow/execute", json={"session_id": "r", "task_prompt": "x"})
    assert ambiguous.status_code == 422
    r = c.post("/api/workflow/execute", json={"session_id": "r", "task_prompt": "x", "workflow": "async"}).json()
    assert r["status"] == "completed" and r["result"] == "ok" and r["artifacts"][0]["name"] == "async.txt"
    r = c.post("/api/workflow/execute", json={"session_id": "r", "task_prompt": "x", "workflow": "broken"})
    assert r.status_code == 200 and r.json()["status"] == "failed"
    assert "model server unreachable" in r.json()["error"]


def test_no_workflow_registered_is_404(store):
    with TestClient(create_app(store, auth=False), base_url="http://localhost") as c:
        r = c.post("/api/workflow/execute", json={"session_id": "r", "task_prompt": "x"})
        assert r.status_code == 404 and "workflows=" in r.json()["detail"]

