"""Many machines, simulated on one: ``serve`` replicas, a kernel-side store and the CLI, each
with its own ``root`` (the per-machine cache), all on one PostgreSQL catalog, one S3 bucket
(moto on loopback) and one Chroma server.

What a team sharing a store relies on: concurrent puts of one name from every machine give
contiguous versions; every reader sees every event in one order; what one replica takes in,
another finds by query once either indexed it; a replica killed (``kill -9``) in the middle
of an upload or of indexing loses nothing committed, its index work is taken over, and
``fsck`` stays clean; a PostgreSQL restart under load gives clients a clear error (or a
success), never a half-written version.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from chroma_fixtures import ChromaServer, module_chroma_server  # noqa: F401  (fixture)
from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore, connect
from notebook_artifacts.errors import CatalogUnavailableError
from remote_fixtures import ServerProcess, cli

pytestmark = pytest.mark.model

TOKEN = "many-machines-token-3c9e"


@dataclass
class SharedStore:
    """One shared store (a database, a bucket prefix, a Chroma server) and its machines."""

    catalog: str
    blobs: str
    index_url: str
    base: Path
    replicas: list[ServerProcess] = field(default_factory=list)

    def root(self, machine: str) -> Path:
        return self.base / machine

    def flags(self) -> list[str]:
        return ["--catalog", self.catalog, "--blobs", self.blobs, "--index-url", self.index_url]

    def store(self, machine: str, **kwargs) -> ArtifactStore:
        """The kernel side: an ArtifactStore of this machine."""
        return ArtifactStore(self.root(machine), catalog=self.catalog, blobs=self.blobs,
                             index_url=self.index_url, **kwargs)

    def replica(self, machine: str, *, index: bool) -> ServerProcess:
        """``notebook-artifacts serve`` of this machine, started (stopped by :meth:`close`)."""
        srv = ServerProcess(self.root(machine), "--token", TOKEN, *self.flags(), index=index)
        self.replicas.append(srv.start(timeout=120))
        return srv

    def cli(self, machine: str, *args: str, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        """The CLI on this machine (its own root, the shared backends)."""
        return subprocess.run(cli() + ["--root", str(self.root(machine)), *self.flags(), *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout)

    def close(self) -> None:
        for srv in self.replicas:
            srv.stop()


def new_shared_store(base: Path, postgres_server, s3_client, chroma: ChromaServer) -> SharedStore:
    bucket = f"machines-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=bucket)
    return SharedStore(postgres_server.create_database(), f"s3://{bucket}/store", chroma.url,
                       base)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, postgres_server, s3_client, module_chroma_server):
    """A shared store with two indexing ``serve`` replicas, machines "a" and "b"."""
    s = new_shared_store(tmp_path_factory.mktemp("machines"), postgres_server, s3_client,
                         module_chroma_server)
    try:
        s.replica("a", index=True)
        s.replica("b", index=True)
        yield s
    finally:
        s.close()


def _events(store, after: int, namespace: str) -> list[tuple[int, str, str]]:
    out, page = [], store.events(after=after, namespace=namespace, limit=100)
    while True:
        out += [(e.cursor, e.type, e.artifact_id) for e in page.events]
        if not page.has_more:
            return out
        page = store.events(after=page.next_cursor, namespace=namespace, limit=100)


def test_every_machine_puts_one_name_and_every_reader_sees_one_order(shared):
    """Two replicas (HTTP), a kernel and CLI processes put one name at once: the versions are
    1..N with every content kept, and long-polling readers on both replicas and the kernel
    each get the N events in the same order, the order of the log."""
    ns, per, clis = f"race-{secrets.token_hex(3)}", 6, 3
    total = per * 3 + clis
    (a, b) = shared.replicas[:2]
    kernel = shared.store("kernel", background_index=False)
    ra, rb = connect(a.url, TOKEN), connect(b.url, TOKEN)
    start = kernel.latest_cursor()
    seen: dict[str, list] = {}

    def read(label, store) -> None:
        got, cursor, deadline = [], start, time.monotonic() + 120
        while len(got) < total and time.monotonic() < deadline:
            page = store.events(after=cursor, namespace=ns, wait_seconds=10)
            got += [(e.cursor, e.type, e.artifact_id) for e in page.events]
            cursor = page.next_cursor
        seen[label] = got

    readers = [threading.Thread(target=read, args=(label, s))
               for label, s in (("a", ra), ("b", rb), ("kernel", kernel))]
    for t in readers:
        t.start()
    go, errors = threading.Event(), []

    def write(label, store) -> None:
        go.wait()
        try:
            for i in range(per):
                store.put(f"{label} {i}".encode(), "same.txt", namespace=ns, index=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    writers = [threading.Thread(target=write, args=(label, s))
               for label, s in (("a", ra), ("b", rb), ("kernel", kernel))]
    for t in writers:
        t.start()
    go.set()
    procs = [subprocess.Popen(cli() + ["--root", str(shared.root(f"cli{k}")), *shared.flags(),
                                       "put", "-", "--name", "same.txt", "-n", ns, "--no-index"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(clis)]
    outs = [p.communicate(f"cli {k}", timeout=120) for k, p in enumerate(procs)]
    assert all(p.returncode == 0 for p in procs), outs
    for t in writers + readers:
        t.join(180)
    assert not errors

    versions = kernel.versions("same.txt", namespace=ns)
    assert [v.version for v in versions] == list(range(1, total + 1))
    want = {f"{w} {i}" for w in ("a", "b", "kernel") for i in range(per)} | {
        f"cli {k}" for k in range(clis)}
    assert {kernel.read_text("same.txt", version=v.version, namespace=ns)
            for v in versions} == want
    # each machine reads the same bytes
    for store in (ra, rb):
        assert store.read_bytes("same.txt", version=3, namespace=ns) == kernel.read_bytes(
            "same.txt", version=3, namespace=ns)
    got = shared.cli("reader", "get", "same.txt", "--version", "3", "-n", ns, "-o", "-")
    assert got.returncode == 0 and got.stdout == kernel.read_text("same.txt", version=3,
                                                                  namespace=ns)

    log = _events(kernel, start, ns)
    assert len(log) == total and [c for c, _, _ in log] == sorted(c for c, _, _ in log)
    assert {aid for _, _, aid in log} == {v.artifact_id for v in versions}
    assert seen["a"] == seen["b"] == seen["kernel"] == log
    cli_log = shared.cli("reader", "events", "--after", str(start), "-n", ns, "--json")
    assert cli_log.returncode == 0, cli_log.stderr
    assert [json.loads(line)["cursor"] for line in cli_log.stdout.splitlines()] == [
        c for c, _, _ in log]
    for s in (ra, rb, kernel):
        s.close()


def test_an_upload_to_one_replica_is_found_by_a_query_on_the_other(shared):
    """Replica A takes the upload; whichever replica claims the job indexes it into the Chroma
    server; replica B's query finds it, and the vectors are on the server."""
    import chromadb

    ns = f"find-{secrets.token_hex(3)}"
    (a, b) = shared.replicas[:2]
    ra, rb = connect(a.url, TOKEN), connect(b.url, TOKEN)
    art = ra.put("The peregrine falcon nest on the north tower hatched three chicks in May; "
                 "the ringing team visits on the 14th.", "falcons.md", namespace=ns)
    ra.put("Quarterly budget: travel costs rose 4% against plan.", "budget.md", namespace=ns)
    deadline, hits = time.monotonic() + 300, []
    while time.monotonic() < deadline:
        if rb.get(art.artifact_id).status == "indexed":
            hits = rb.query("when did the falcon chicks hatch", k=2, namespace=ns,
                            mode="dense").results
            break
        time.sleep(0.5)
    assert hits, "the upload was not indexed by either replica"
    assert hits[0].artifact.artifact_id == art.artifact_id
    done = rb.get(art.artifact_id)
    server = chromadb.HttpClient(host="127.0.0.1", port=int(shared.index_url.rsplit(":", 1)[1]))
    coll = server.get_collection(done.index_collection)
    assert len(coll.get(where={"owner_id": art.artifact_id}, include=[])["ids"]) == done.chunk_count
    with psycopg.connect(shared.catalog) as conn:
        (n,) = conn.execute("SELECT count(*) FROM events WHERE type='indexed' AND artifact_id=%s",
                            (art.artifact_id,)).fetchone()
    assert n == 1, "indexed twice"
    ra.close()
    rb.close()


def _wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_kill_9_mid_upload_and_mid_indexing_loses_nothing(tmp_path, postgres_server, s3_client,
                                                          module_chroma_server, embedder):
    """On a store of their own: replica C is killed while it streams an upload to S3 (a
    multipart upload in flight), replica D while it holds index claims. Every committed
    version stays readable, nothing half-written appears, D's claimed jobs are taken over
    at once by the kernel (D's connections are gone) and ``fsck`` is clean."""
    s = new_shared_store(tmp_path, postgres_server, s3_client, module_chroma_server)
    bucket = s.blobs.split("/")[2]
    kernel = s.store("kernel", background_index=False)
    try:
        c = s.replica("c", index=False)
        rc = connect(c.url, TOKEN)
        kept = [rc.put(f"committed {i}", "notes.txt", index=False) for i in range(3)]
        big = tmp_path / "big.bin"
        big.write_bytes(secrets.token_bytes(48 * 1024 * 1024))
        big_digest = hashlib.sha256(big.read_bytes()).hexdigest()
        failed: list = []
        t = threading.Thread(target=lambda: failed.append(_try(rc.put, big, "big.bin")))
        t.start()
        _wait_for(lambda: s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads"), 120,
                  "the replica's multipart upload to S3")
        c.kill()
        t.join(60)
        assert failed and failed[0] is not None, "the put succeeded before the kill"
        rc.close()

        docs = [f"Field note {i}: the {['otter', 'heron', 'lynx'][i % 3]} count at station "
                f"K-{i:03d} was {i * 3}." for i in range(24)]
        for i, text in enumerate(docs):
            kernel.put(text, f"note-{i}.txt")
        d = s.replica("d", index=True)
        with psycopg.connect(s.catalog, autocommit=True) as conn:
            def d_holds_claims() -> bool:
                return conn.execute(
                    "SELECT count(*) FROM artifact_versions WHERE status='pending' "
                    "AND index_claimed_by LIKE %s", (f"%:{d.proc.pid}:%",)).fetchone()[0] > 0

            _wait_for(d_holds_claims, 180, "replica D to claim index jobs")
            d.kill()
            claimed = conn.execute("SELECT count(*) FROM artifact_versions WHERE "
                                   "status='pending' AND index_claimed_by IS NOT NULL").fetchone()[0]
        assert claimed > 0
        # the kernel takes over D's claims at once (no lease to wait out) and indexes the rest
        kernel.close()
        kernel = s.store("kernel")
        assert kernel.wait_indexed(300), "the killed replica's index jobs were never taken over"
        with psycopg.connect(s.catalog) as conn:
            per_version = dict(conn.execute(
                "SELECT artifact_id, count(*) FROM events WHERE type='indexed' "
                "GROUP BY artifact_id").fetchall())
        notes = [a for a in kernel.list(limit=100).artifacts if a.name.startswith("note-")]
        assert len(notes) == 24 and all(a.status == "indexed" for a in notes)
        assert all(per_version[a.artifact_id] == 1 for a in notes)
        hit = kernel.query("lynx count at station K-005", k=1).results[0].artifact
        assert hit.name == "note-5.txt"

        # nothing committed was lost, nothing half-written is visible
        assert [kernel.read_text(a.artifact_id) for a in kept] == [
            f"committed {i}" for i in range(3)]
        assert kernel.names() == sorted(["notes.txt"] + [f"note-{i}.txt" for i in range(24)])
        # the only leftover is the killed replica's unfinished multipart upload (invisible;
        # moto dates every upload 2010, so it is already past fsck's 6 h grace: on S3 it is
        # listed only after that), which gc aborts
        problems = kernel.fsck().problems
        assert [(p.kind, big_digest in p.path) for p in problems] in ([], [("temp_file", True)])
        kernel.gc()
        assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
        report = kernel.fsck()
        assert report.ok, report.problems
        # machine C comes back: its spool of the cut-off upload is cleaned, fsck is clean there
        again = s.cli("c", "fsck", "--json")
        assert again.returncode in (0, 1), again.stderr
        fixed = s.cli("c", "gc", "--json")
        assert fixed.returncode == 0, fixed.stderr
        final = s.cli("c", "fsck", "--json")
        assert final.returncode == 0 and json.loads(final.stdout)["ok"], final.stdout
    finally:
        kernel.close()
        s.close()


def _try(fn, *args):
    try:
        fn(*args)
    except Exception as exc:
        return exc
    return None


def test_postgres_restart_under_load_from_every_machine(shared, postgres_server):
    """Two replicas, a kernel and the CLI write one name while PostgreSQL restarts: each write
    commits or fails with a clear "retry" error, the versions are contiguous and exactly the
    successful ones, and every machine works again afterwards."""
    ns = f"restart-{secrets.token_hex(3)}"
    (a, b) = shared.replicas[:2]
    kernel = shared.store("kernel", background_index=False)
    ra, rb = connect(a.url, TOKEN), connect(b.url, TOKEN)
    ok, failed, stop = [], [], threading.Event()
    lock = threading.Lock()

    def writer(label, store) -> None:
        i = 0
        while not stop.is_set():
            try:
                store.put(f"{label} {i}", "load.txt", namespace=ns, index=False)
                with lock:
                    ok.append(label)
            except CatalogUnavailableError as exc:
                with lock:
                    failed.append((label, str(exc)))
                time.sleep(0.1)
            i += 1

    def cli_writer() -> None:
        i = 0
        while not stop.is_set():
            r = shared.cli("cli", "put", "--text", f"cli {i}", "--name", "load.txt", "-n", ns,
                           "--no-index")
            with lock:
                if r.returncode == 0:
                    ok.append("cli")
                else:
                    failed.append(("cli", r.stderr.strip()))
            i += 1

    threads = [threading.Thread(target=writer, args=args)
               for args in (("a", ra), ("b", rb), ("kernel", kernel))]
    threads.append(threading.Thread(target=cli_writer))
    for t in threads:
        t.start()
    time.sleep(2)
    postgres_server.restart()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(120)
    assert ok, "no write succeeded"
    for who, msg in failed:
        assert "retry" in msg, (who, msg)
    versions = [v.version for v in kernel.versions("load.txt", namespace=ns)]
    assert versions == list(range(1, len(ok) + 1)), "a failed write left a version behind"
    # every machine works again: writes on A are pushed to a long-poll on B
    cursor = rb.latest_cursor()
    got: list = []
    poll = threading.Thread(target=lambda: got.append(rb.events(after=cursor, namespace=ns,
                                                                 wait_seconds=20)))
    poll.start()
    time.sleep(0.5)
    last = ra.put("after", "load.txt", namespace=ns, index=False)
    poll.join(30)
    assert got and [e.artifact_id for e in got[0].events] == [last.artifact_id]
    r = shared.cli("cli", "ls", "-n", ns, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["artifacts"][0]["version"] == last.version
    # at most content of a write cut off by the restart is left over, for gc to reclaim
    assert {p.kind for p in kernel.fsck().problems} <= {"orphan_blob"}
    kernel.gc()
    assert kernel.fsck().ok
    for s in (ra, rb, kernel):
        s.close()
