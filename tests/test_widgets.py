"""Widget panels over a real store; live updates checked in a real ipykernel."""

from __future__ import annotations

import base64
import os
import io
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore, NotFoundError
from notebook_artifacts.widgets import Dashboard, DownloadPanel, EventFeed, UploadPanel


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = ArtifactStore(tmp_path / "store", index=False)
    yield s
    s.close()


def _file(name: str, data: bytes, mime: str = "") -> dict:
    return {"name": name, "type": mime, "size": len(data), "content": memoryview(data),
            "last_modified": datetime.now(timezone.utc)}


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_upload_panel_stores_files_with_fields(store):
    panel = UploadPanel(store)
    panel.tags.value = "raw, q3"
    panel.ttl.value = "2h"
    panel.session.value = "s1"
    panel.file_upload.value = (_file("a.csv", b"x,y\n1,2\n", "text/csv"), _file("b.bin", b"\x00\x01"))
    a = store.get("a.csv", session_id="s1")
    assert (a.tags, a.ttl_seconds, a.source_tool) == (["raw", "q3"], 7200, "upload-panel")
    assert store.read_bytes("b.bin", session_id="s1") == b"\x00\x01"
    assert panel.file_upload.value == ()  # cleared for the next upload
    rows = [row.children[1].value for row in panel.status.children]
    assert any("stored as <b>a.csv</b> v1" in r for r in rows) and len(rows) == 2
    assert all(row.children[0].value == 100 for row in panel.status.children)
    panel.close()


def test_upload_panel_rejects_bad_ttl_and_too_large_without_storing(store):
    panel = UploadPanel(store, max_bytes=10)
    stored = panel.upload([_file("big.bin", b"x" * 11)])
    assert stored == [] and "%artifact upload PATH" in panel.status.children[0].children[1].value
    panel.ttl.value = "soon"
    assert panel.upload([_file("small.txt", b"ok")]) == []
    assert "not stored" in panel.status.children[0].children[1].value
    assert store.list().total == 0 and store.latest_cursor() == 0
    assert "%artifact upload PATH" in panel.note.value


def test_upload_panel_stores_large_files_by_path(store, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x\n1\n")
    (tmp_path / "in" / "b.csv").write_text("x\n2\n")
    panel = UploadPanel(store, max_bytes=1)
    panel.tags.value = "bulk"
    panel.path.value = "in/*.csv"
    panel.path_button.click()
    assert sorted(a.name for a in panel.last_stored) == ["a.csv", "b.csv"]  # as store.put names them
    assert store.get("b.csv").tags == ["bulk"] and store.read_text("a.csv") == "x\n1\n"
    panel.path.value = "in/a.csv"
    assert [(a.name, a.version) for a in panel.store_path()] == [("a.csv", 2)]
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a.csv").write_text("x\n3\n")
    clash = store.latest_cursor()
    assert panel.store_path("*/a.csv") == []
    assert "both be stored as" in panel.status.children[0].children[1].value
    assert store.latest_cursor() == clash
    before = store.latest_cursor()
    assert panel.store_path("nothing/*.bin") == []
    assert "no file matches" in panel.status.children[0].children[1].value
    panel.path.value = ""
    assert panel.store_path() == [] and "Path field" in panel.status.children[0].children[1].value
    assert store.latest_cursor() == before
    panel.close()


def test_event_feed_live_from_another_process_with_filters_and_pause(store, tmp_path):
    store.put("before", "old.txt")
    feed = EventFeed(store)
    assert [e.name for e in feed.events] == ["old.txt"]  # recent backlog
    code = (
        "from notebook_artifacts import ArtifactStore\n"
        f"s = ArtifactStore({str(store.root)!r}, index=False)\n"
        "s.put('a,b', 'other.csv', session_id='p2'); s.put('{}', 'other.json'); s.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    _wait_for(lambda: "other.json" in feed.table.value)
    html = feed.table.value
    assert html.index("other.json") < html.index("other.csv") < html.index("old.txt")  # newest first
    feed.mime_filter.value = "text/csv"
    assert "other.csv" in feed.table.value and "other.json" not in feed.table.value
    feed.mime_filter.value = ""
    feed.pause.value = True
    store.put("while paused", "paused.txt")
    _wait_for(lambda: any(e.name == "paused.txt" for e in feed.events))
    assert "paused.txt" not in feed.table.value
    feed.pause.value = False
    assert "paused.txt" in feed.table.value
    feed.type_filter.value = "version_created"
    assert "no events yet" in feed.table.value
    feed.close()
    store.put("after close", "late.txt")
    time.sleep(0.5)
    assert not any(e.name == "late.txt" for e in feed.events)


def test_download_panel_versions_links_and_zip(store, tmp_path):
    store.put("v1 text", "doc.txt")
    store.put("v2 text", "doc.txt")
    big = bytes(range(256)) * 4096
    store.put(big, "big.bin")
    panel = DownloadPanel(store)
    assert "doc.txt" in panel.listing.value and "big.bin" in panel.listing.value
    panel.artifacts.value = "doc.txt"
    assert [v for _, v in panel.version.options] == [2, 1]
    panel.version.value = 1
    link = panel.download()
    assert link.kind == "data" and base64.b64decode(link.href.split(",", 1)[1]) == b"v1 text"
    assert "Download doc.txt" in panel.link.value
    panel.artifacts.value = "big.bin"
    link = panel.download()
    assert link.kind in ("files", "path") and Path(link.path).read_bytes() == big
    assert "base64" not in panel.link.value
    zlink = panel.download_all()
    data = Path(zlink.path).read_bytes() if zlink.kind != "data" else base64.b64decode(zlink.href.split(",", 1)[1])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {"big.bin", "doc.txt"} <= set(z.namelist())
    # the listing follows the store
    store.put("new", "new.txt")
    _wait_for(lambda: "new.txt" in panel.listing.value)
    store.delete("doc.txt")
    _wait_for(lambda: "doc.txt" not in panel.listing.value)
    panel.close()


def test_download_panel_large_file_through_a_signed_url(store, tmp_path, monkeypatch):
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from notebook_artifacts.server.runner import serve_in_thread

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # not under Jupyter
    big = bytes(range(256)) * 512  # 128 KiB: over the data-URI limit
    store.put(big, "big.bin")
    with serve_in_thread(store, token="t0k") as server:
        panel = DownloadPanel(store, server=server, live=False)
        link = panel.download()
        assert link.kind == "signed" and link.href.startswith(server.url + "/v1/signed/")
        assert "base64" not in panel.link.value and 'data-kind="signed"' in panel.link.value
        assert httpx.get(link.href, timeout=10).content == big
        panel.close()
    assert not (tmp_path / "artifact_downloads").exists()  # nothing copied


def test_dashboard_has_three_tabs(store):
    dash = Dashboard(store, session_id="s9")
    assert [dash.tabs.get_title(i) for i in range(3)] == ["Upload", "Events", "Artifacts"]
    assert dash.upload_panel.session.value == "s9"
    dash.upload_panel.file_upload.value = (_file("t.txt", b"tabs"),)
    assert store.read_bytes("t.txt", session_id="s9") == b"tabs"
    _wait_for(lambda: "t.txt" in dash.download_panel.listing.value)
    _wait_for(lambda: "t.txt" in dash.event_feed.table.value)
    dash.close()
    with pytest.raises(NotFoundError):
        store.get("t.txt")  # other session: not visible in the default scope


# -- a real kernel: background-thread updates reach the frontend channel -----------------------

KERNEL_SETUP = """
from notebook_artifacts import ArtifactStore
from notebook_artifacts.widgets import EventFeed
from IPython.display import display
store = ArtifactStore({root!r}, index=False)
feed = EventFeed(store)
display(feed)
"""


def _comm_updates_with(kc, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.05, deadline - time.monotonic()))
        except Exception:
            continue
        if msg["msg_type"] == "comm_msg" and text in str(msg["content"].get("data", {})):
            return True
    return False


def test_event_feed_updates_reach_iopub_from_background_thread(tmp_path):
    from jupyter_client.manager import start_new_kernel

    root = tmp_path / "kstore"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(KERNEL_SETUP.format(root=str(root)), timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        other = ArtifactStore(root, index=False)  # another process writes
        try:
            other.put("idle", "while-idle.txt")
            assert _comm_updates_with(kc, "while-idle.txt", 15), "no widget update while idle"
            msg_id = kc.execute("import time; time.sleep(4)")
            time.sleep(1)
            other.put("busy", "while-busy.txt")
            assert _comm_updates_with(kc, "while-busy.txt", 3), "no widget update while busy"
            reply = kc.get_shell_msg(timeout=30)
            assert reply["parent_header"]["msg_id"] == msg_id
        finally:
            other.close()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# -- no argument: the kernel's current store; never a half-built widget -----------------------

NO_ARG = """
import gc, os
from IPython.core.interactiveshell import InteractiveShell
from notebook_artifacts import ArtifactStore
from notebook_artifacts.widgets import Dashboard, DownloadPanel, EventFeed, UploadPanel
dash = Dashboard()
print("default", dash.store.root == ArtifactStore.default().root)
for cls in (UploadPanel, EventFeed, DownloadPanel):
    panel = cls(); print(cls.__name__, panel.store is dash.store); panel.close()
dash.close()
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "notebook_artifacts")
used = ip.run_line_magic("artifact", "use switched --no-index")
dash = Dashboard()
print("switched", dash.store is used)
dash.close()
broken = ArtifactStore("broken", index=False); broken.close()
for cls in (Dashboard, EventFeed, DownloadPanel):
    try:
        cls(broken)
    except Exception as exc:
        print("refused", cls.__name__, type(exc).__name__)
try:
    Dashboard("not a store")
except TypeError as exc:
    print("typeerror", "ArtifactStore" in str(exc))
gc.collect()
print("done")
"""


def test_every_panel_works_with_no_argument_and_never_half_built(tmp_path):
    env = dict(os.environ, NOTEBOOK_ARTIFACTS_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-c", NO_ARG], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert "default True" in lines and "switched True" in lines, out.stdout
    assert {"UploadPanel True", "EventFeed True", "DownloadPanel True"} <= set(lines)
    assert {"refused Dashboard", "refused EventFeed", "refused DownloadPanel"} <= {
        " ".join(ln.split()[:2]) for ln in lines}
    assert "typeerror True" in lines and lines[-2] == "done"
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr
