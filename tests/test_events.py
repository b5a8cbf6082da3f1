"""The durable event log: cursors, filters, waiting, subscribers, gaps, other processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from notebook_artifacts import ArtifactStore, InvalidInputError
from store_fixtures import BOTH_STORES, backing, clock, store  # noqa: F401

pytestmark = BOTH_STORES


def test_cursor_pages_and_has_more(store):
    for i in range(5):
        store.put(str(i), f"f{i}.txt")
    p1 = store.events(limit=2)
    assert [e.name for e in p1.events] == ["f0.txt", "f1.txt"] and p1.has_more
    p2 = store.events(after=p1.next_cursor, limit=10)
    assert [e.name for e in p2.events] == ["f2.txt", "f3.txt", "f4.txt"] and not p2.has_more
    assert p2.next_cursor == store.latest_cursor() and not p2.timed_out and not p2.gap
    e = p2.events[0]
    assert e.type == "created" and e.mime_type == "text/plain" and e.size_bytes == 1
    assert e.artifact_id.startswith("art_") and e.sha256 and e.namespace == "default"
    assert e.to_seed001()["attachment_id"].startswith("att_")


def test_filters_mime_ext_size_scope_types(store):
    store.put("x" * 10, "a.txt", session_id="s1")
    store.put(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "p.png", session_id="s1")
    store.put({"k": 1}, "d.json", session_id="s2", source_tool="python_runner")
    store.delete("a.txt", session_id="s1")
    assert [e.name for e in store.events(include_mime="image/").events] == ["p.png"]
    assert [e.name for e in store.events(include_ext=[".json"]).events] == ["d.json"]
    assert [e.name for e in store.events(include_ext="png,txt").events] == ["a.txt", "p.png", "a.txt"]
    assert [e.name for e in store.events(max_size=20).events] == ["a.txt", "d.json", "a.txt"]
    assert [e.name for e in store.events(session_id="s2").events] == ["d.json"]
    assert store.events(session_id="s2").events[0].source_tool == "python_runner"
    assert [e.type for e in store.events(types="deleted").events] == ["deleted"]
    # skipped events do not have to be scanned again
    page = store.events(include_mime="video/")
    assert page.events == [] and page.next_cursor == store.latest_cursor()


def test_bad_arguments_are_rejected(store):
    with pytest.raises(InvalidInputError, match="1 to 100"):
        store.events(limit=101)
    with pytest.raises(InvalidInputError, match="0 to 60"):
        store.events(wait_seconds=61)
    with pytest.raises(InvalidInputError, match="cursor"):
        store.events(after=-1)
    with pytest.raises(InvalidInputError, match="cursor"):
        store.events(after=2**63)  # past SQLite's integers: was an OverflowError (HTTP 500)
    with pytest.raises(InvalidInputError, match="event type"):
        store.events(types="nope")


def test_wait_times_out_without_events(store):
    t0 = time.monotonic()
    page = store.events(after=store.latest_cursor(), wait_seconds=0.3)
    assert page.events == [] and page.timed_out
    assert time.monotonic() - t0 >= 0.29


def test_wait_wakes_on_a_put_from_another_thread(store):
    start = store.latest_cursor()
    result = {}

    def waiter():
        t0 = time.monotonic()
        result["page"] = store.events(after=start, wait_seconds=10)
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    store.put("hello", "late.txt")
    t.join(5)
    assert [e.name for e in result["page"].events] == ["late.txt"]
    assert result["elapsed"] < 2.0


CHILD = """
import sys, time
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1], index=False)
print("ready", flush=True)
sys.stdin.readline()
t = time.time()
s.put("from child", "child.txt")
print(t, flush=True)
s.close()
"""


def test_wait_wakes_within_tens_of_ms_on_a_put_from_another_process(tmp_path):
    root = tmp_path / "shared"
    store = ArtifactStore(root, index=False)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        start = store.latest_cursor()
        got = {}

        def waiter():
            page = store.events(after=start, wait_seconds=20)
            got["at"] = time.time()
            got["page"] = page

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        child.stdin.write("go\n")
        child.stdin.flush()
        put_started = float(child.stdout.readline())
        t.join(20)
        assert [e.name for e in got["page"].events] == ["child.txt"]
        # the put itself takes a few ms; waking must follow within tens of ms (generous bound)
        assert got["at"] - put_started < 0.5, got["at"] - put_started
    finally:
        child.wait(10)
        store.close()


def test_subscribe_sees_other_process_writes(tmp_path):
    root = tmp_path / "shared"
    store = ArtifactStore(root, index=False)
    seen: list = []
    arrived = threading.Event()

    def cb(events):
        seen.extend(events)
        arrived.set()

    unsubscribe = store.subscribe(cb)
    subprocess.run([sys.executable, "-c",
                    "import sys; from notebook_artifacts import ArtifactStore as S; "
                    "S(sys.argv[1], index=False).put(b'x', 'sub.bin')", str(root)], check=True)
    assert arrived.wait(10)
    assert [(e.type, e.name) for e in seen] == [("created", "sub.bin")]
    unsubscribe()
    store.put(b"y", "after.bin")
    time.sleep(0.2)
    assert len(seen) == 1
    store.close()


@pytest.mark.local_only
def test_many_waiters_share_one_watcher(store):
    start = store.latest_cursor()
    pages = []
    lock = threading.Lock()

    def waiter():
        p = store.events(after=start, wait_seconds=15)
        with lock:
            pages.append(p)

    def watcher_threads():
        return [t for t in threading.enumerate() if t.name.startswith("artifact-events")]

    before = len(watcher_threads())
    threads = [threading.Thread(target=waiter) for _ in range(200)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert len(watcher_threads()) - before <= 1 and store._watcher._thread.is_alive()
    store.put("wake", "w.txt")
    for t in threads:
        t.join(15)
    assert len(pages) == 200 and all(p.events and p.events[0].name == "w.txt" for p in pages)


def test_events_survive_restart_and_trim_reports_gap(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as s:
        for i in range(10):
            s.put(str(i), f"f{i}.txt")
    with ArtifactStore(tmp_path / "s", index=False) as s:
        assert len(s.events(limit=100).events) == 10
        report = s.gc(events_keep=4)
        assert report.events_trimmed == 6
        old = s.events(after=2)
        assert old.gap and [e.cursor for e in old.events] == [7, 8, 9, 10]
        fresh = s.events(after=6)
        assert not fresh.gap
        s.put("more", "more.txt")
        assert s.latest_cursor() == 11  # cursors never go back after trimming
