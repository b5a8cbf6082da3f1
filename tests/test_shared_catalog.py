"""Many processes, one PostgreSQL catalog: event order, wake-ups, shared index work, config."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

import notebook_artifacts.storage.catalog as catalog_mod
from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore
from notebook_artifacts.cli import cli
from notebook_artifacts.errors import CatalogUnavailableError, InvalidInputError
from remote_fixtures import ServerProcess


def _all_events(store: ArtifactStore, after: int = 0) -> list:
    out, page = [], store.events(after=after, limit=100)
    out += page.events
    while page.has_more:
        page = store.events(after=page.next_cursor, limit=100)
        out += page.events
    return out


def test_a_late_committing_writer_is_never_skipped(tmp_path, pg_url, monkeypatch):
    """Writer A inserts its event and stalls before COMMIT; writer B (another connection
    pool, as another machine) puts meanwhile. A reader polling with next_cursor must get
    both events, A's first: B's event never commits with a cursor below a pending one."""
    a_store = ArtifactStore(tmp_path / "a", index=False, catalog=pg_url)
    b_store = ArtifactStore(tmp_path / "b", index=False, catalog=pg_url)
    reader = ArtifactStore(tmp_path / "r", index=False, catalog=pg_url)
    start = reader.events().next_cursor
    stalled, release = threading.Event(), threading.Event()
    real = catalog_mod.append_event

    def stalling(c, type_, row, ts, data=None):
        cursor = real(c, type_, row, ts, data)
        if row["name"] == "slow.txt":
            stalled.set()
            release.wait(10)
        return cursor

    monkeypatch.setattr(catalog_mod, "append_event", stalling)
    ta = threading.Thread(target=a_store.put, args=(b"a", "slow.txt"))
    ta.start()
    assert stalled.wait(10)
    tb = threading.Thread(target=b_store.put, args=(b"b", "fast.txt"))
    tb.start()
    time.sleep(0.5)  # B has had time to commit, were it allowed to before A
    seen = reader.events(after=start)
    assert seen.events == [], "an event was visible while an earlier one was uncommitted"
    release.set()
    ta.join(10)
    tb.join(10)
    later = reader.events(after=seen.next_cursor)
    assert [e.name for e in later.events] == ["slow.txt", "fast.txt"]
    assert later.events[0].cursor < later.events[1].cursor
    for s in (a_store, b_store, reader):
        s.close()


READER = """
import json, sys
from notebook_artifacts import ArtifactStore
root, url, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = ArtifactStore(root, index=False, catalog=url)
cursor, seen = 0, []
print("ready", flush=True)
while len(seen) < total:
    page = s.events(after=cursor, wait_seconds=20, limit=7)
    seen += [e.cursor for e in page.events]
    cursor = page.next_cursor
print(json.dumps(seen), flush=True)
s.close()
"""

WRITER = """
import sys
from notebook_artifacts import ArtifactStore
root, url, who, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = ArtifactStore(root, index=False, catalog=url)
sys.stdin.readline()
for i in range(n):
    s.put(f"{who}-{i}", f"{who}.txt" if i % 2 else "shared.txt", session_id="race")
s.close()
"""


def test_every_reader_sees_every_event_in_the_same_order(tmp_path, pg_url):
    """Four writer processes (one root each, as four machines) and two long-polling reader
    processes: each reader gets every event exactly once, in one order."""
    writers, per = 4, 20
    ArtifactStore(tmp_path / "init", index=False, catalog=pg_url).close()
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / f"r{k}"), pg_url,
                                 str(writers * per)], stdout=subprocess.PIPE, text=True)
               for k in range(2)]
    for r in readers:
        assert r.stdout.readline().strip() == "ready"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / f"w{k}"), pg_url,
                               f"w{k}", str(per)], stdin=subprocess.PIPE, text=True)
             for k in range(writers)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(120) == 0
    orders = [json.loads(r.communicate(timeout=120)[0].strip().splitlines()[-1]) for r in readers]
    with ArtifactStore(tmp_path / "check", index=False, catalog=pg_url) as s:
        log = [e.cursor for e in _all_events(s)]
        assert [v.version for v in s.versions("shared.txt", session_id="race")] == list(
            range(1, writers * per // 2 + 1))
    assert len(log) == writers * per and log == sorted(log)
    assert orders[0] == orders[1] == log


WAITER = """
import sys, time
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1], index=False, catalog=sys.argv[2])
after = s.latest_cursor()
print("waiting", flush=True)
page = s.events(after=after, wait_seconds=30)
print(time.time(), [e.name for e in page.events], page.timed_out, flush=True)
s.close()
"""


def test_a_put_wakes_a_long_poll_in_another_process(tmp_path, pg_url):
    """LISTEN/NOTIFY: the other process's 30 s long-poll returns with the event at once."""
    writer = ArtifactStore(tmp_path / "writer", index=False, catalog=pg_url)
    latencies = []
    for i in range(3):
        p = subprocess.Popen([sys.executable, "-c", WAITER, str(tmp_path / "waiter"), pg_url],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "waiting"
        time.sleep(0.5)  # the waiter is parked in its long-poll
        writer.put(f"hello {i}", f"wake{i}.txt")
        committed = time.time()
        out = p.communicate(timeout=30)[0].split(" ", 1)
        assert p.returncode == 0
        woke = float(out[0])
        assert f"['wake{i}.txt'] False" in out[1]
        latencies.append(woke - committed)
    writer.close()
    print(f"\ncross-process wake-up after commit: {[round(x * 1000, 1) for x in latencies]} ms")
    assert max(latencies) < 5, "the long-poll was not woken by the write"


def test_subscribe_feeds_events_written_by_another_store(tmp_path, pg_url):
    writer = ArtifactStore(tmp_path / "w", index=False, catalog=pg_url)
    watcher = ArtifactStore(tmp_path / "r", index=False, catalog=pg_url)
    got: list = []
    done = threading.Event()

    def on_events(events):
        got.extend(e.name for e in events)
        if len(got) >= 3:
            done.set()

    unsubscribe = watcher.subscribe(on_events)
    for i in range(3):
        writer.put(b"x", f"s{i}.bin")
    assert done.wait(10), got
    unsubscribe()
    assert got == ["s0.bin", "s1.bin", "s2.bin"]
    writer.close()
    watcher.close()


INDEXER = """
import json, sys
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1], catalog=sys.argv[2], background_index=False)
s.query("warm up the model", mode="dense")  # load the model before the race starts
print("ready", flush=True)
sys.stdin.readline()
assert s.wait_indexed(600)
print(json.dumps({"embedded": s._index().cache.embedded_count}), flush=True)
s.close()
"""


@pytest.mark.model
def test_two_processes_share_index_work_and_embed_nothing_twice(tmp_path, pg_url, embedder):
    """Two indexing processes on one catalog claim disjoint jobs (FOR UPDATE SKIP LOCKED):
    every version is indexed once, every distinct chunk embedded once, both did work, and
    a query in a third process finds what either indexed."""
    docs = 48
    root = tmp_path / "store"  # blobs stay in one root here (the catalog is what is shared)
    with ArtifactStore(root, catalog=pg_url, background_index=False) as s:
        for i in range(docs):
            s.put(f"Report {i}: the {['otter', 'heron', 'lynx', 'marten'][i % 4]} survey "
                  f"counted {i * 7} animals near station S-{i:03d}.", f"report-{i}.txt")
    procs = [subprocess.Popen([sys.executable, "-c", INDEXER, str(root), pg_url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for k in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    counts = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1])["embedded"]
              for p in procs]
    assert all(p.returncode == 0 for p in procs)
    with psycopg.connect(pg_url) as conn:
        cached = conn.execute("SELECT count(*) FROM idx_embeddings").fetchone()[0]
        indexed = conn.execute("SELECT artifact_id, count(*) FROM events WHERE type='indexed' "
                               "GROUP BY artifact_id").fetchall()
    print(f"\nchunks embedded per process: {counts}; cached vectors: {cached}")
    assert len(indexed) == docs and all(n == 1 for _, n in indexed), "a version was indexed twice"
    assert sum(counts) == cached, "a chunk was embedded by both processes"
    assert all(c > 0 for c in counts), f"one process did all the work: {counts}"
    with ArtifactStore(root, catalog=pg_url) as s:
        hits = s.query("station S-017", k=3, mode="keyword").results
        assert hits and hits[0].artifact.name == "report-17.txt"
        assert s.query("marten survey", k=3).results[0].artifact.status == "indexed"


def test_catalog_from_the_environment_and_the_cli(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CATALOG", pg_url)
    with ArtifactStore(tmp_path / "a", index=False) as s:
        s.put("from the environment", "env.txt")
        assert s.catalog_location == pg_url
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_CATALOG")
    runner = CliRunner()
    root = str(tmp_path / "cli")
    r = runner.invoke(cli, ["--root", root, "ls", "--catalog", pg_url, "--json"])
    assert r.exit_code == 0, r.output
    assert [a["name"] for a in json.loads(r.output)["artifacts"]] == ["env.txt"]
    r = runner.invoke(cli, ["--root", root, "--catalog", pg_url, "put", "-", "--name", "cli.txt"],
                      input="from the cli")
    assert r.exit_code == 0, r.output
    with ArtifactStore(tmp_path / "b", index=False, catalog=pg_url) as s:
        assert sorted(s.names()) == ["cli.txt", "env.txt"]
    with ArtifactStore(root, index=False) as embedded:  # the root's own catalog is untouched
        assert embedded.names() == []


def test_bad_or_unreachable_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="postgresql://"):
        ArtifactStore(tmp_path / "s", catalog="mysql://nope")
    with pytest.raises(CatalogUnavailableError, match="cannot reach the PostgreSQL catalog") as e:
        ArtifactStore(tmp_path / "s", catalog="postgresql://nobody@127.0.0.1:1/none")
    # what to do: check the server and the URL, and retry (it may be restarting)
    assert "check that the server runs" in str(e.value) and "retry" in str(e.value)
    r = CliRunner().invoke(cli, ["--root", str(tmp_path / "s"), "--catalog",
                                 "postgresql://nobody:secret@127.0.0.1:1/none", "ls"])
    assert r.exit_code == 1 and "cannot reach the PostgreSQL catalog" in r.output
    assert "secret" not in r.output


@pytest.mark.model
def test_migrate_copies_an_embedded_store_and_reembeds_nothing(tmp_path, pg_url, embedder):
    root = tmp_path / "store"
    with ArtifactStore(root) as s:
        s.put("Otters were counted at station S-101 during the spring survey.", "otters.txt",
              tags=["survey"], session_id="run-1", metadata={"run": 1})
        s.put("Otters were counted again, 12 more than in spring.", "otters.txt",
              session_id="run-1")
        s.put("Heron nesting sites along the estuary, mapped by drone.", "herons.txt")
        s.put("scratch", "gone.txt")
        s.delete("gone.txt")
        assert s.wait_indexed(300)
        src = s.promote("herons.txt")
        assert s.wait_indexed(300)
        before_events = _all_events(s)
        before = {a.artifact_id: a for a in s.list(limit=50).artifacts}
        before_hits = [h.artifact.artifact_id for h in s.query("otter survey station", k=3).results]
    r = CliRunner().invoke(cli, ["--root", str(root), "migrate", "--to-catalog", pg_url, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["verified"] and out["rows"]["artifact_versions"] == 3
    assert out["rows"]["events"] == len(before_events) and out["rows"]["idx_chunks"] > 0
    with ArtifactStore(tmp_path / "elsewhere", catalog=pg_url) as s:
        assert {a.artifact_id: a for a in s.list(limit=50).artifacts} == before
        assert [v.version for v in s.versions("otters.txt", session_id="run-1")] == [1, 2]
        assert [(e.cursor, e.type, e.artifact_id) for e in _all_events(s)] == [
            (e.cursor, e.type, e.artifact_id) for e in before_events]
        assert [x.source_id for x in s.sources()] == [src.source_id]
        assert s.wait_indexed(5)  # nothing pending: the index came along
        hits = [h.artifact.artifact_id for h in s.query("otter survey station", k=3).results]
        assert hits == before_hits
        hit = s.query("S-101", mode="keyword", versions="all").results[0].artifact
        assert (hit.name, hit.version) == ("otters.txt", 1)
        assert s._index().cache.embedded_count == 0
        new = s.put("after the move", "new.txt", index=False)
        assert new.version == 1 and s.latest_cursor() > before_events[-1].cursor
    again = CliRunner().invoke(cli, ["--root", str(root), "migrate", "--to-catalog", pg_url])
    assert again.exit_code == 2 and "already holds artifacts" in again.output


def test_postgres_restart_loses_nothing_and_the_store_recovers(tmp_path, postgres_server):
    """The server restarts between and during writes: a write either commits or fails with a
    clear CatalogUnavailableError (nothing half-written), and the same store object (pooled
    connections, LISTEN feed) works again once the server is back."""
    url = postgres_server.create_database()
    store = ArtifactStore(tmp_path / "s", index=False, catalog=url)
    other = ArtifactStore(tmp_path / "o", index=False, catalog=url)
    store.put("before", "a.txt")
    ok, failed = [], []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                ok.append(store.put(f"v{i}", "a.txt").version)
            except CatalogUnavailableError as exc:
                failed.append(str(exc))
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.5)
    postgres_server.restart()
    time.sleep(1.0)
    stop.set()
    t.join(30)
    assert ok, "no write succeeded"
    for msg in failed:
        assert "retry" in msg
    # after the restart: the same objects write and read, and the event feed wakes again
    after = other.latest_cursor()
    woke = threading.Thread(target=lambda: got.append(other.events(after=after, wait_seconds=20)))
    got: list = []
    woke.start()
    time.sleep(0.5)
    last = store.put("after", "a.txt")
    woke.join(25)
    assert got and [e.artifact_id for e in got[0].events] == [last.artifact_id]
    versions = [v.version for v in store.versions("a.txt")]
    assert versions == list(range(1, len(versions) + 1)) and versions[-1] == last.version
    assert len(versions) == 2 + len(ok), "a failed write left a version behind"
    # at most the content of a write cut off by the restart is left, for gc to reclaim
    assert {p.kind for p in store.fsck().problems} <= {"orphan_blob"}
    store.gc()
    assert store.fsck().ok
    store.close()
    other.close()


def test_two_server_replicas_share_one_catalog(tmp_path, pg_url):
    """An upload to replica A is listed, served and pushed (WebSocket, long-poll) by replica
    B, a separate process on the same catalog (and, here, the same content directory)."""
    import httpx
    from websockets.sync.client import connect

    token = "replica-token-5a1f"
    root = tmp_path / "shared"
    replicas = [ServerProcess(root, "--token", token, "--catalog", pg_url).start()
                for _ in range(2)]
    try:
        a_url, b_url = (r.url for r in replicas)
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=a_url, headers=auth, timeout=30) as a, \
                httpx.Client(base_url=b_url, headers=auth, timeout=30) as b:
            cursor = b.get("/api/sessions/p1/artifact-events?wait_seconds=0").json()["next_cursor"]
            polled: dict = {}
            poll = threading.Thread(target=lambda: polled.update(b.get(
                f"/api/sessions/p1/artifact-events?after={cursor}&wait_seconds=30").json()))
            with connect(b_url.replace("http://", "ws://") + f"/ws?token={token}&session_id=p1",
                         open_timeout=10) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "connected"
                poll.start()
                time.sleep(0.3)
                r = a.post("/api/uploads/p1", files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")})
                assert r.status_code == 200, r.text
                att = r.json()["attachment_id"]
                msg = json.loads(ws.recv(timeout=10))
                assert msg["type"] == "artifact_created"
            poll.join(30)
            assert [e["attachment_id"] for e in polled["events"]] == [att]
            assert [x["name"] for x in b.get("/api/uploads/p1").json()["attachments"]] == ["report.csv"]
            assert b.get(f"/api/sessions/p1/artifacts/{att}?mode=stream").content == b"a,b\n1,2\n"
            # concurrent uploads of one name to both replicas: contiguous versions
            def upload(c, i):
                assert c.post("/api/uploads/p1", files={"file": ("same.txt", f"{i}".encode())}).status_code == 200

            threads = [threading.Thread(target=upload, args=((a, b)[i % 2], i)) for i in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        with ArtifactStore(tmp_path / "kernel", index=False, catalog=pg_url) as s:
            assert [v.version for v in s.versions("same.txt", session_id="p1")] == list(range(1, 11))
    finally:
        for r in replicas:
            r.stop()


def test_scoped_tokens_are_shared_by_every_machine_on_one_catalog(tmp_path, pg_url):
    """A token created on one machine (its own root, same PostgreSQL) works on a replica, and
    revoking it there is seen at once by the first."""
    with ArtifactStore(tmp_path / "a", index=False, catalog=pg_url) as a, \
            ArtifactStore(tmp_path / "b", index=False, catalog=pg_url) as b:
        token, rec = a.tokens.create(["team/x"], read_only=True, now=time.time())
        found = b.tokens.lookup(token, time.time())
        assert found is not None and found.prefixes == ["team/x"] and found.read_only
        b.tokens.revoke(rec.token_id, now=time.time())
        assert a.tokens.lookup(token, time.time()) is None
        assert [r.token_id for r in a.tokens.list()] == [rec.token_id]
    assert not (tmp_path / "a" / "catalog.sqlite3").exists()  # nothing kept per machine


@pytest.mark.model
def test_a_promoted_source_claimed_by_a_killed_process_is_taken_over(tmp_path, pg_url, embedder):
    """A promoted source left ``indexing`` by a process that died (its client has no
    connection any more) is claimed again at once: wait_indexed returns, the source answers."""
    with ArtifactStore(tmp_path / "a", catalog=pg_url, background_index=False) as s:
        s.put("The lighthouse keeper logs fog horn tests every Tuesday.", "keeper.txt")
        assert s.wait_indexed(120)
        src = s.promote("keeper.txt")
        with psycopg.connect(pg_url, autocommit=True) as conn:  # what a killed claimer leaves
            conn.execute("UPDATE idx_sources SET index_status = 'indexing', claim_until = %s, "
                         "claimed_by = 'notebook-artifacts-0123456789abcdef/sources'",
                         (time.time() + 600,))
        assert s.wait_indexed(60), "a dead process's claim on a source was never taken over"
        hits = s.query("fog horn tests", k=3, scope="sources").results
        assert [h.location["source_id"] for h in hits] == [src.source_id]
