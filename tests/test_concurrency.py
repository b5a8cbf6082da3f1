"""One root, many writers at once: kernel-like processes, the CLI and the real server.

Every acknowledged write is found afterwards exactly once, versions of a name are distinct and
contiguous (1..n with n the number of acknowledged puts of that name), bytes match, readers
running during the writes only ever see complete versions, and the event log holds one
created/version_created event per version, in cursor order without holes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore
from reliability_fixtures import all_events, check_store

HERE = Path(__file__).parent
ENV = {**os.environ, "PYTHONPATH": str(HERE.parent)}


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


#: a kernel-like process: puts N versions of a few shared names, reading back as it goes,
#: and prints one JSON line per acknowledged put
KERNEL = textwrap.dedent(
    """
    import hashlib, json, sys, os
    from notebook_artifacts import ArtifactStore
    root, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = ArtifactStore(root, index=False)
    for i in range(n):
        name = f"shared{i % 3}.txt"
        data = f"{tag} {i} ".encode() + os.urandom(i % 7 * 100)
        a = store.put(data, name, session_id="s1", tags=[tag])
        print(json.dumps({"name": name, "artifact_id": a.artifact_id, "version": a.version,
                          "sha256": a.sha256}), flush=True)
        # read back the latest of another name: must be a complete, matching version
        other = store.get(f"shared{(i + 1) % 3}.txt", session_id="s1") if i > 3 else None
        if other is not None:
            got = store.read_bytes(other.artifact_id)
            assert hashlib.sha256(got).hexdigest() == other.sha256
    """
)


def _acked(lines: str) -> list[dict]:
    return [json.loads(l) for l in lines.splitlines() if l.startswith("{")]


def _check_versions(store: ArtifactStore, acked: list[dict], session_id="s1") -> int:
    by_name = defaultdict(list)
    for rec in acked:
        by_name[rec["name"]].append(rec)
    checked = 0
    for name, recs in by_name.items():
        chain = store.versions(name, session_id=session_id)
        nums = [a.version for a in chain]
        assert nums == list(range(1, len(recs) + 1)), f"{name}: versions {nums} for {len(recs)} puts"
        ids = {a.artifact_id: a for a in chain}
        assert {r["artifact_id"] for r in recs} == set(ids), f"{name}: lost or extra versions"
        for r in recs:
            a = ids[r["artifact_id"]]
            assert a.version == r["version"] and a.sha256 == r["sha256"]
            assert hashlib.sha256(store.read_bytes(a.artifact_id)).hexdigest() == r["sha256"]
            checked += 1
    return checked



def _run_writers(script: str, root, prefix: str, writers: int, n: int) -> list:
    """Run ``writers`` processes of ``script`` (args: root, writer id, n) at once; their acks."""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), f"{prefix}{w}", str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
             for w in range(writers)]
    acked = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
        acked += _acked(out.decode())
    return acked

def test_kernel_processes_put_concurrently(tmp_path):
    """Four kernel-like processes putting the same names: nothing lost or duplicated."""
    root = tmp_path / "store"
    ArtifactStore(root, index=False)  # create the catalog once
    n = 40
    acked = _run_writers(KERNEL, root, "k", 4, n)
    assert len(acked) == 4 * n
    store = ArtifactStore(root, index=False)
    checked = _check_versions(store, acked)
    events, gap = all_events(store)
    created = [e for e in events if e.type in ("created", "version_created")]
    assert sorted(e.artifact_id for e in created) == sorted(r["artifact_id"] for r in acked)
    assert [e.cursor for e in events] == list(range(1, len(events) + 1))
    check_store(root, repair=False)
    print(f"\nconcurrent kernel writers: 4, versions checked: {checked}")


GC_LOOP = textwrap.dedent(
    """
    import sys, time
    from notebook_artifacts import ArtifactStore
    store = ArtifactStore(sys.argv[1], index=False)
    deadline = time.monotonic() + float(sys.argv[2])
    n = 0
    while time.monotonic() < deadline:
        store.gc()
        store.fsck(repair=True, verify_content=False)
        n += 1
    print(n)
    """
)


def test_gc_and_fsck_repair_never_remove_a_live_put(tmp_path):
    """gc/fsck(repair=True) looping in other processes never take a put's temp file or blob."""
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    seconds = 8
    loops = [subprocess.Popen([sys.executable, "-c", GC_LOOP, str(root), str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
             for _ in range(2)]
    puts = 0
    deadline = time.monotonic() + seconds
    acked = []
    while time.monotonic() < deadline:
        a = store.put(os.urandom(2048) if puts % 2 else b"same bytes", f"f{puts % 5}.bin")
        acked.append(a)
        puts += 1
    cycles = 0
    for p in loops:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()[-3000:]
        cycles += int(out.split()[-1])
    for a in acked[-50:]:
        assert hashlib.sha256(store.read_bytes(a.artifact_id)).hexdigest() == a.sha256
    check_store(root, repair=False)
    print(f"\nputs during concurrent gc/fsck: {puts}, gc+fsck cycles: {cycles}")


TOKEN = "concurrency-token-" + secrets.token_hex(4)


def _start_server(root: Path, *extra: str) -> tuple[subprocess.Popen, str, list[str]]:
    import threading

    import httpx

    proc = subprocess.Popen(
        _cli() + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**ENV, "PYTHONUNBUFFERED": "1"},
    )
    url = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "serving on" in line:
            url = line.rsplit(" ", 1)[-1].strip()
            break
    if not url:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stderr.read()}")
    output: list[str] = []
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=lambda s=stream: output.extend(s), daemon=True).start()
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, url, output


def _stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_processes_server_and_cli_share_one_root(tmp_path):
    """Two kernel-like processes, the real server (HTTP uploads) and CLI puts write the same
    names at once while HTTP readers download and long-poll: nothing lost or duplicated."""
    import threading

    import httpx

    root = tmp_path / "store"
    ArtifactStore(root, index=False).close()
    proc, url, server_output = _start_server(root, "--no-index")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    acked: list[dict] = []
    errors: list[str] = []
    stop = threading.Event()
    read_checks = [0]
    polled: list[dict] = []

    def uploader():
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            for i in range(30):
                data = f"http {i} ".encode() + os.urandom(i * 50)
                name = f"shared{i % 3}.txt"
                r = c.post("/api/uploads/s1", files={"file": (name, data, "text/plain")})
                if r.status_code != 200 and r.status_code != 201:
                    errors.append(f"upload {r.status_code} {r.text}")
                    continue
                body = r.json()
                acked.append({"name": name, "artifact_id": "art_" + body["attachment_id"][4:],
                              "sha256": hashlib.sha256(data).hexdigest(), "version": None})

    def reader():
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            while not stop.is_set():
                r = c.get("/api/uploads/s1")
                if r.status_code != 200:
                    errors.append(f"list {r.status_code}")
                    continue
                body = r.json()
                items = body if isinstance(body, list) else body.get("attachments", body.get("items", []))
                for it in items[:3]:
                    aid = it.get("artifact_id") or "art_" + it["attachment_id"][4:]
                    d = c.get(f"/api/sessions/s1/artifacts/{aid}", params={"mode": "stream"})
                    if d.status_code == 404:
                        continue  # replaced meanwhile is fine; a partial answer is not
                    meta = c.get(f"/api/sessions/s1/artifacts/{aid}", params={"mode": "meta"})
                    want = meta.json().get("sha256") or meta.json().get("hash", "").split(":")[-1]
                    if hashlib.sha256(d.content).hexdigest() != want:
                        errors.append(f"download of {aid} does not match its sha256")
                    read_checks[0] += 1

    def poller():
        after = 0
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            while True:
                r = c.get("/api/sessions/s1/artifact-events",
                          params={"after": after, "wait_seconds": 1, "limit": 100})
                if r.status_code != 200:
                    errors.append(f"events {r.status_code} {r.text}")
                    return
                body = r.json()
                polled.extend(body["events"])
                after = body["next_cursor"]
                if stop.is_set() and not body["events"]:
                    return

    kernels = [subprocess.Popen([sys.executable, "-c", KERNEL, str(root), f"k{w}", "30"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
               for w in range(2)]
    threads = [threading.Thread(target=f) for f in (uploader, reader, poller)]
    for t in threads:
        t.start()
    try:
        for i in range(6):  # CLI puts, one process each
            src = tmp_path / f"cli{i}.txt"
            src.write_bytes(f"cli {i} ".encode() + os.urandom(100))
            r = subprocess.run(_cli() + ["--root", str(root), "put", str(src), "--name",
                                         f"shared{i % 3}.txt", "-s", "s1", "--no-index", "--json"],
                               capture_output=True, text=True, env=ENV, timeout=120)
            assert r.returncode == 0, r.stderr
            rec = json.loads(r.stdout)
            rec = rec[0] if isinstance(rec, list) else rec
            acked.append({"name": rec["name"], "artifact_id": rec["artifact_id"],
                          "version": rec["version"], "sha256": rec["sha256"]})
        for k in kernels:
            out, err = k.communicate(timeout=300)
            assert k.returncode == 0, err.decode()[-3000:]
            acked.extend(_acked(out.decode()))
        threads[0].join(300)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
        _stop_server(proc)
    assert not errors, errors[:5]
    assert len(acked) == 2 * 30 + 30 + 6
    store = ArtifactStore(root, index=False)
    by_id = {a.artifact_id: a for n in ("shared0.txt", "shared1.txt", "shared2.txt")
             for a in store.versions(n, session_id="s1")}
    for rec in acked:
        if rec["version"] is None:
            rec["version"] = by_id[rec["artifact_id"]].version if rec["artifact_id"] in by_id else -1
    checked = _check_versions(store, acked)
    events, gap = all_events(store)
    created = [e.artifact_id for e in events if e.type in ("created", "version_created")]
    assert sorted(created) == sorted(r["artifact_id"] for r in acked)
    polled_created = [e["artifact_id"] for e in polled
                      if e.get("type", "artifact_created") in ("created", "version_created", "artifact_created")]
    assert sorted(set(polled_created)) == sorted(created), "the long-poll missed or invented events"
    check_store(root, repair=False)
    print(f"\nwriters: 2 kernels + server uploads + 6 CLI processes; versions checked: {checked}; "
          f"downloads verified while writing: {read_checks[0]}; events long-polled: {len(polled)}")


HOLDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from notebook_artifacts import ArtifactStore
    root, go = sys.argv[1], Path(sys.argv[2])
    store = ArtifactStore(root)  # index=True: this process takes the index lock
    store.put("# Holder\\n\\nThe holder process indexes its own notes about zebra migration.",
              "holder.md", session_id="s1")
    assert store.wait_indexed(timeout=300), "holder never indexed its own put"
    print("ready", flush=True)
    deadline = time.monotonic() + 300
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # the holder's background worker finds the others' pending work by itself: no call to
    # wait_indexed (which would wake it) until every version reads as indexed
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [a.status for n in store.names(session_id="s1")
                  for a in store.versions(n, session_id="s1")]
        if len(states) == 5 and all(s in ("indexed", "failed", "skipped") for s in states):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"pending work of other processes was not drained: {states}")
    out = {"versions": [], "hits": {}}
    for name in store.names(session_id="s1"):
        for a in store.versions(name, session_id="s1"):
            out["versions"].append({"name": a.name, "version": a.version, "status": a.status,
                                    "chunks": a.chunk_count, "artifact_id": a.artifact_id})
    for word in ("aardvark", "narwhal", "okapi", "quokka", "zebra"):
        res = store.query(word, k=1, session_id="s1", mode="keyword")
        out["hits"][word] = [h.artifact.name for h in res.results]
    print(json.dumps(out), flush=True)
    store.close()
    """
)

NON_HOLDER = textwrap.dedent(
    """
    import sys
    from notebook_artifacts import ArtifactStore
    store = ArtifactStore(sys.argv[1])  # index=True, but the lock is taken: work stays pending
    for name, word in (("b1.md", "narwhal"), ("b2.md", "okapi")):
        a = store.put(f"# {name}\\n\\nNotes of a second kernel about the {word}.", name, session_id="s1")
        assert a.status == "pending", a.status
    store.close()
    print("done", flush=True)
    """
)


@pytest.mark.model
def test_index_work_of_other_processes_is_drained_by_the_lock_holder(tmp_path):
    """A kernel holds the index; a second kernel and the CLI put documents that they cannot
    index themselves; the holder indexes every one of them (no version left pending)."""
    root = tmp_path / "store"
    go = tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    try:
        line = holder.stdout.readline()
        assert line.strip() == "ready", holder.stderr.read()[-3000:] if holder.poll() is not None else line
        other = subprocess.run([sys.executable, "-c", NON_HOLDER, str(root)], capture_output=True,
                               text=True, env=ENV, timeout=300)
        assert other.returncode == 0, other.stderr[-3000:]
        for name, word in (("c1.md", "aardvark"), ("c2.md", "quokka")):
            src = tmp_path / name
            src.write_text(f"# {name}\n\nThe CLI stored notes about the {word}.\n")
            r = subprocess.run(_cli() + ["--root", str(root), "put", str(src), "-s", "s1", "--json"],
                               capture_output=True, text=True, env=ENV, timeout=300)
            assert r.returncode == 0, r.stderr[-3000:]
        go.touch()
        out, err = holder.communicate(timeout=600)
        assert holder.returncode == 0, err[-3000:]
    finally:
        if holder.poll() is None:
            holder.kill()
    result = json.loads(out.strip().splitlines()[-1])
    names = sorted(v["name"] for v in result["versions"])
    assert names == ["b1.md", "b2.md", "c1.md", "c2.md", "holder.md"]
    assert all(v["status"] == "indexed" and v["chunks"] >= 1 for v in result["versions"]), result
    assert result["hits"] == {"aardvark": ["c1.md"], "narwhal": ["b1.md"], "okapi": ["b2.md"],
                              "quokka": ["c2.md"], "zebra": ["holder.md"]}
    check_store(root, repair=False)


TTL_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from notebook_artifacts import ArtifactStore
    root, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = ArtifactStore(root, index=False)
    for i in range(n):
        name = f"ttl{i % 4}.txt"
        a = store.put(f"{tag} {i}".encode(), name, session_id="s1", ttl=1 if i % 3 else None,
                      pinned=(i % 5 == 0))
        print(json.dumps({"artifact_id": a.artifact_id, "ttl": a.ttl_seconds,
                          "pinned": a.is_pinned}), flush=True)
        store.list(session_id="s1", limit=5)  # every read sweeps what is due
        store.events(after=0, limit=5)
        if i % 10 == 9:
            store.gc()
        time.sleep(0.02)
    """
)


def test_ttl_expiry_swept_by_many_processes_reports_each_version_once(tmp_path):
    """Three processes put versions with a 1 s TTL (some pinned) while reading, which sweeps
    expired versions, and running gc: every version that expired has exactly one ``expired``
    event, none that is pinned or without TTL expires, and the log has no holes."""
    root = tmp_path / "store"
    ArtifactStore(root, index=False).close()
    acked = _run_writers(TTL_WORKER, root, "w", 3, 40)
    assert len(acked) == 120
    time.sleep(1.2)  # every TTL is due now
    store = ArtifactStore(root, index=False)
    store.list(limit=1)  # sweep what is left
    events, gap = all_events(store)
    assert not gap
    assert [e.cursor for e in events] == list(range(1, len(events) + 1))
    expired = [e.artifact_id for e in events if e.type == "expired"]
    assert len(expired) == len(set(expired)), "a version was reported expired twice"
    should_expire = {r["artifact_id"] for r in acked if r["ttl"] and not r["pinned"]}
    assert set(expired) == should_expire
    # nothing that may not expire was touched; what expired is gone from listings
    live = {a.artifact_id for a in all_latest_versions(store)}
    keep = {r["artifact_id"] for r in acked if not r["ttl"] or r["pinned"]}
    deleted_by_gc = {e.artifact_id for e in events if e.type == "deleted"}
    assert keep <= live | deleted_by_gc and not keep & deleted_by_gc
    assert not live & should_expire
    check_store(root, repair=False)
    print(f"\nTTL sweepers: 3 processes, versions: {len(acked)}, expired once each: {len(expired)}")


def all_latest_versions(store):
    out = []
    for n in store.names(session_id="s1"):
        try:
            out += store.versions(n, session_id="s1")
        except Exception as e:  # every version of a name may have expired
            if type(e).__name__ != "NotFoundError":
                raise
    return out
