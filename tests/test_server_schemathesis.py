"""Schemathesis over the app's own OpenAPI document: generated requests to every operation,
never a 5xx, and answers that match the documented response schemas."""

from __future__ import annotations

import atexit
import shutil
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from notebook_artifacts import ArtifactStore
from notebook_artifacts.server import create_app

TOKEN = "schema-token"


def _app():
    """The app over a real store (real index: the query route runs for real), built at
    collection because schemathesis reads the schema then; removed at exit."""
    root = tempfile.mkdtemp(prefix="na-schemathesis-")
    store = ArtifactStore(root)
    atexit.register(shutil.rmtree, root, True)
    atexit.register(store.close)
    for i, sid in enumerate(("s1", "s2")):
        store.put(f"# Doc {i}\nsome text about tables", f"doc{i}.md", session_id=sid, index=False)
        store.put(b"{}", "out.json", namespace="app/u", session_id=sid, index=False)
        store.put(b"x" * 100, "f.bin", namespace="o/w/n", session_id=sid, index=False)
    return create_app(store, token=TOKEN, max_upload_bytes=1 << 20,
                      workflows={"echo": lambda ctx: ctx.task_prompt})


schema = schemathesis.openapi.from_asgi("/openapi.json", _app(), headers={"Authorization": f"Bearer {TOKEN}"})


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_no_server_errors(case):
    if case.path.endswith("/artifact-events") or case.path == "/v1/store/events":
        case.query = {**(case.query or {}), "wait_seconds": 0}  # bounded: the wait is tested elsewhere
    if case.path == "/v1/store/wait-indexed":
        case.query = {**(case.query or {}), "timeout": 0}
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, response_schema_conformance])
