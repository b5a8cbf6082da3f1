"""The first put of a store that indexes does not wait for the index worker to start: it
starts on a helper thread, and closing the store waits for it and stops it."""

from __future__ import annotations

import threading

import pytest

from notebook_artifacts import ArtifactStore
from notebook_artifacts import store as store_module
from notebook_artifacts.index import service

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture(autouse=True)
def _images_queued(monkeypatch):
    """Images are stored ``skipped`` at once; here they are queued as the indexer's work
    (which it skips without loading the model), so a put starts the worker."""
    monkeypatch.setattr(store_module, "_embeddable", lambda mime, file_name: True)


def test_the_first_put_returns_before_the_index_worker_has_started(tmp_path, monkeypatch):
    entered, gate = threading.Event(), threading.Event()
    real_init = service.IndexService.__init__

    def slow_init(self, *args, **kwargs):  # opening the index takes as long as the test says
        entered.set()
        assert gate.wait(60)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(service.IndexService, "__init__", slow_init)
    store = ArtifactStore(tmp_path / "s")
    try:
        returned = threading.Event()
        puts = threading.Thread(target=lambda: (store.put(PNG, "a.png"), store.put(PNG + b"2", "b.png"),
                                                returned.set()))
        puts.start()
        assert returned.wait(30), "a put waited for the index worker to start"
        assert entered.wait(30)  # ...which is starting meanwhile
        gate.set()
        assert store.wait_indexed(60)
        assert [store.get(n).status for n in ("a.png", "b.png")] == ["skipped", "skipped"]
    finally:
        gate.set()
        store.close()
    assert not [t for t in threading.enumerate() if t.name == "notebook-artifacts-index-start"]


def test_closing_right_after_the_first_put_stops_the_worker_it_started(tmp_path):
    others = set(threading.enumerate())  # (other tests' stores may run workers of their own)
    store = ArtifactStore(tmp_path / "s")
    store.put(PNG, "a.png")
    store.close()  # while the worker may still be starting
    left = [t.name for t in set(threading.enumerate()) - others
            if t.name in ("notebook-artifacts-index-start", "notebook-artifacts-indexer")]
    assert not left, f"close() left its index threads running: {left}"
    with ArtifactStore(tmp_path / "s") as again:  # the work left pending is done by the next
        assert again.wait_indexed(60) and again.get("a.png").status == "skipped"
