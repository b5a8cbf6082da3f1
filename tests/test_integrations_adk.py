"""Google ADK: NotebookArtifactService through ADK's own Runner and against ADK's in-memory
service (the reference implementation of BaseArtifactService), over a real store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore

adk = pytest.importorskip("google.adk")

from google.adk.agents import BaseAgent  # noqa: E402
from google.adk.agents.context import Context  # noqa: E402
from google.adk.artifacts import InMemoryArtifactService  # noqa: E402
from google.adk.events import Event  # noqa: E402
from google.adk.runners import Runner  # noqa: E402
from google.adk.sessions import InMemorySessionService  # noqa: E402
from google.genai import types  # noqa: E402

from notebook_artifacts.integrations.adk import NotebookArtifactService  # noqa: E402


@pytest.fixture
def store(tmp_path):
    with ArtifactStore(tmp_path / "store", index=False) as s:
        yield s


class NotesAgent(BaseAgent):
    """A deterministic agent (no LLM): files each message as an artifact and reports what it sees."""

    async def _run_async_impl(self, ctx):  # type: ignore[override]
        c = Context(ctx)
        text = ctx.user_content.parts[0].text
        version = await c.save_artifact("notes.txt", types.Part.from_text(text=text),
                                        custom_metadata={"turn": text})
        await c.save_artifact("user:profile.bin", types.Part(
            inline_data=types.Blob(mime_type="application/octet-stream", data=text.encode()[::-1])))
        loaded = await c.load_artifact("notes.txt")
        first = await c.load_artifact("notes.txt", version=0)
        report = {"version": version, "loaded": loaded.text, "first": first.text,
                  "keys": await c.list_artifacts()}
        yield Event(author=self.name, invocation_id=ctx.invocation_id, actions=c.actions,
                    content=types.Content(role="model", parts=[types.Part(text=json.dumps(report))]))


async def _run(runner: Runner, user: str, session: str, text: str) -> list[Event]:
    msg = types.Content(role="user", parts=[types.Part(text=text)])
    return [e async for e in runner.run_async(user_id=user, session_id=session, new_message=msg)]


def test_an_adk_agent_run_by_adks_runner_saves_into_the_store(store):
    # put from Python into the user's namespace without a session and without "user:": ADK
    # could not load it (it would look in a session), so it must not list it either
    store.put(b"from python", name="from-python.txt", namespace="labapp/u1")

    async def main() -> tuple[list[Event], list[Event], list[Event]]:
        sessions = InMemorySessionService()
        runner = Runner(app_name="labapp", agent=NotesAgent(name="notes"),
                        session_service=sessions, artifact_service=NotebookArtifactService(store))
        for sid in ("s1", "s2"):
            await sessions.create_session(app_name="labapp", user_id="u1", session_id=sid)
        return (await _run(runner, "u1", "s1", "first note"),
                await _run(runner, "u1", "s1", "second note"),
                await _run(runner, "u1", "s2", "other session"))

    one, two, other = asyncio.run(main())
    reports = [json.loads(evs[-1].content.parts[0].text) for evs in (one, two, other)]
    assert [r["version"] for r in reports] == [0, 1, 0]          # ADK numbers from 0
    assert reports[1]["loaded"] == "second note" and reports[1]["first"] == "first note"
    assert reports[0]["keys"] == ["notes.txt", "user:profile.bin"]
    assert reports[2]["keys"] == ["notes.txt", "user:profile.bin"]  # user-scoped: every session
    assert two[-1].actions.artifact_delta.get("notes.txt") == 1
    # ... and they are ordinary notebook artifacts, scoped as seed 002 maps them
    notes = store.get("notes.txt", namespace="labapp/u1", session_id="s1")
    assert notes.version == 2 and store.read_text(notes) == "second note"
    assert notes.metadata["turn"] == "second note"
    assert [a.version for a in store.versions("notes.txt", namespace="labapp/u1", session_id="s1")] == [1, 2]
    assert store.read_text("notes.txt", namespace="labapp/u1", session_id="s2") == "other session"
    profile = store.get("user:profile.bin", namespace="labapp/u1")  # no session
    assert profile.session_id is None and profile.version == 3
    assert store.read_bytes(profile) == b"noisses rehto"
    assert {a.name for a in store.list(namespace="labapp/u1").artifacts} == {
        "notes.txt", "user:profile.bin", "from-python.txt"}


# -- the same operations on ADK's reference service and on ours give the same answers ---------
async def _script(svc: Any) -> list[Any]:
    """A sequence of BaseArtifactService calls; returns every observable answer."""
    kw = {"app_name": "app", "user_id": "u1"}
    out: list[Any] = []

    def part_view(p: types.Part | None) -> Any:
        if p is None:
            return None
        if p.inline_data is not None:
            return ("inline", p.inline_data.mime_type, p.inline_data.data)
        if p.file_data is not None:
            return ("file", p.file_data.file_uri, p.file_data.mime_type)
        return ("text", p.text)

    async def load(**k: Any) -> None:
        out.append(part_view(await svc.load_artifact(**kw, **k)))

    png = types.Part(inline_data=types.Blob(mime_type="image/png", data=b"\x89PNG\r\n\x1a\n..."))
    out.append(await svc.save_artifact(**kw, session_id="s1", filename="plot.png", artifact=png))
    out.append(await svc.save_artifact(**kw, session_id="s1", filename="plot.png",
                                       artifact=types.Part.from_text(text="v2 as text"),
                                       custom_metadata={"k": [1, 2]}))
    out.append(await svc.save_artifact(  # a dict with camelCase keys, as ADK's web API sends
        **kw, session_id="s1", filename="data.json",
        artifact={"inlineData": {"mimeType": "application/json", "data": "eyJhIjogMX0="}}))
    out.append(await svc.save_artifact(**kw, filename="user:prefs.txt",
                                       artifact=types.Part.from_text(text="dark mode")))
    await load(session_id="s1", filename="plot.png")
    await load(session_id="s1", filename="plot.png", version=0)
    await load(session_id="s1", filename="plot.png", version=7)
    await load(session_id="s1", filename="missing.txt")
    await load(session_id="s1", filename="data.json")
    await load(session_id="s9", filename="user:prefs.txt")
    await load(filename="user:prefs.txt")
    out.append(await svc.list_artifact_keys(**kw, session_id="s1"))
    out.append(await svc.list_artifact_keys(**kw))
    out.append(await svc.list_artifact_keys(app_name="app", user_id="u2", session_id="s1"))
    out.append(await svc.list_versions(**kw, session_id="s1", filename="plot.png"))
    out.append(await svc.list_versions(**kw, session_id="s1", filename="missing.txt"))
    infos = await svc.list_artifact_versions(**kw, session_id="s1", filename="plot.png")
    out.append([(i.version, i.mime_type, i.custom_metadata) for i in infos])
    info = await svc.get_artifact_version(**kw, session_id="s1", filename="plot.png", version=0)
    out.append((info.version, info.mime_type))
    out.append(await svc.get_artifact_version(**kw, session_id="s1", filename="plot.png", version=5))
    # a reference to another artifact in scope loads as that artifact
    ref = types.Part(file_data=types.FileData(
        file_uri="artifact://apps/app/users/u1/sessions/s1/artifacts/plot.png/versions/0",
        mime_type="image/png"))
    out.append(await svc.save_artifact(**kw, session_id="s1", filename="alias.png", artifact=ref))
    await load(session_id="s1", filename="alias.png")
    gcs = types.Part(file_data=types.FileData(file_uri="gs://bucket/x.csv", mime_type="text/csv"))
    out.append(await svc.save_artifact(**kw, session_id="s1", filename="remote.csv", artifact=gcs))
    await load(session_id="s1", filename="remote.csv")
    for bad in (  # each is refused with a ValueError
        lambda: svc.save_artifact(**kw, filename="no-session.txt",
                                  artifact=types.Part.from_text(text="x")),
        lambda: svc.save_artifact(**kw, session_id="s1", filename="escape.png", artifact=types.Part(
            file_data=types.FileData(file_uri="artifact://apps/app/users/u2/sessions/s1/artifacts/plot.png/versions/0"))),
        lambda: svc.save_artifact(**kw, session_id="s1", filename="empty", artifact=types.Part()),
    ):
        with pytest.raises(ValueError):
            await bad()
    await svc.delete_artifact(**kw, session_id="s1", filename="plot.png")
    await svc.delete_artifact(**kw, session_id="s1", filename="never-was.png")
    await load(session_id="s1", filename="plot.png")
    out.append(await svc.list_versions(**kw, session_id="s1", filename="plot.png"))
    out.append(await svc.save_artifact(**kw, session_id="s1", filename="plot.png", artifact=png))
    out.append(await svc.list_artifact_keys(**kw, session_id="s1"))
    return out


def test_same_answers_as_adks_in_memory_service(store):
    reference = asyncio.run(_script(InMemoryArtifactService()))
    ours = asyncio.run(_script(NotebookArtifactService(store)))
    assert ours == reference
    # spot-check the reference itself so the comparison cannot pass vacuously
    assert reference[:4] == [0, 1, 0, 0] and reference[-2] == 0


def test_versions_map_to_store_versions_and_artifact_uris(store):
    from google.adk.artifacts import artifact_util

    svc = NotebookArtifactService(store)

    async def main() -> Any:
        for text in ("a", "b", "c"):
            await svc.save_artifact(app_name="app", user_id="u1", session_id="s1",
                                    filename="log.txt", artifact=types.Part.from_text(text=text))
        return await svc.get_artifact_version(app_name="app", user_id="u1", session_id="s1",
                                              filename="log.txt", version=1)

    info = asyncio.run(main())
    parsed = artifact_util.parse_artifact_uri(info.canonical_uri)
    assert (parsed.app_name, parsed.user_id, parsed.session_id, parsed.filename, parsed.version) \
        == ("app", "u1", "s1", "log.txt", 1)
    assert store.read_text("log.txt", 2, namespace="app/u1", session_id="s1") == "b"  # ADK 1 = v2


def test_bad_scope_is_refused_and_stores_nothing(store):
    svc = NotebookArtifactService(store)
    for app, user in (("a/b", "u1"), ("app", ""), ("app", "u/2")):
        with pytest.raises(ValueError):
            asyncio.run(svc.save_artifact(app_name=app, user_id=user, session_id="s1",
                                          filename="x.txt", artifact=types.Part.from_text(text="x")))
    with pytest.raises(ValueError):  # the store's session id rules apply
        asyncio.run(svc.save_artifact(app_name="app", user_id="u1", session_id="bad session!",
                                      filename="x.txt", artifact=types.Part.from_text(text="x")))
    assert store.list().total == 0


@pytest.mark.model
def test_what_an_adk_agent_saves_is_found_by_store_query(tmp_path, embedder):
    svc = NotebookArtifactService(s := ArtifactStore(tmp_path / "q"))
    try:
        asyncio.run(svc.save_artifact(
            app_name="lab", user_id="u1", session_id="s1", filename="findings.md",
            artifact=types.Part(inline_data=types.Blob(
                mime_type="text/markdown",
                data=b"# Findings\n\nThe pump bearing vibration doubled after the March retrofit."))))
        assert s.wait_indexed(300)
        hit = s.query("why did the pump vibrate more?", k=1, namespace="lab/u1").results[0]
        assert (hit.artifact.name, hit.artifact.session_id, hit.artifact.version) == ("findings.md", "s1", 1)
        assert "bearing vibration" in hit.matched_chunk
    finally:
        s.close()
