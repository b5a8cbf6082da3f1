"""Widget panels over a real store, local and served (a RemoteStore connected to a real
``serve`` process: face_fixtures.py); live updates checked in a real ipykernel."""

from __future__ import annotations

import os
import io
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from face_fixtures import FACES, TOKEN, elsewhere, emptied, served  # noqa: F401
from notebook_artifacts import ArtifactStore, NotFoundError, connect
from notebook_artifacts.widgets import Dashboard, DownloadPanel, EventFeed, UploadPanel


@pytest.fixture(params=FACES)
def store(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if request.param == "local":
        s = ArtifactStore(tmp_path / "store", index=False)
    else:
        s = emptied(connect(request.getfixturevalue("served").url, TOKEN))
    yield s
    s.close()


def _file(name: str, data: bytes, mime: str = "") -> dict:
    return {"name": name, "type": mime, "size": len(data), "content": memoryview(data),
            "last_modified": datetime.now(timezone.utc)}


class _Browser:
    """Plays the browser's side of a chunked widget: collects what the kernel sends and
    answers as the button's JavaScript does (the real browser test runs the JavaScript)."""

    def __init__(self, widget):
        self.widget, self.sent = widget, []
        widget.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def say(self, content, buffers=()):
        self.widget._on_message(self.widget, content, list(buffers))

    def upload(self, name: str, data: bytes, mime: str = "", chunk: int = 1024 * 1024) -> None:
        fid = f"f-{name}"
        self.say({"kind": "begin", "id": fid, "name": name, "size": len(data), "type": mime})
        if any(c["kind"] == "cancel" and c["id"] == fid for c, _ in self.sent):
            return
        for off in range(0, len(data), chunk):
            self.say({"kind": "chunk", "id": fid, "offset": off}, [memoryview(data[off:off + chunk])])
        self.say({"kind": "end", "id": fid})

    def download(self) -> tuple[str, bytes]:
        """Click, then ack every piece until the end: the file's name and bytes."""
        self.sent.clear()
        self.widget.click()
        name, parts, done = None, [], 0
        while True:
            content, buffers = self.sent[done] if done < len(self.sent) else (None, None)
            if content is None:
                raise AssertionError(f"the kernel stopped sending: {self.sent[-1:]}")
            done += 1
            if content["kind"] == "begin":
                name, fid = content["name"], content["id"]
            elif content["kind"] == "chunk":
                parts.append(bytes(buffers[0]))
                self.say({"kind": "ack", "id": fid, "received": sum(map(len, parts))})
            elif content["kind"] == "end":
                return name, b"".join(parts)
            elif content["kind"] == "error":
                raise AssertionError(content["message"])


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
    stored = panel.upload([_file("a.csv", b"x,y\n1,2\n", "text/csv"), _file("b.bin", b"\x00\x01")])
    assert [a.name for a in stored] == ["a.csv", "b.bin"]
    a = store.get("a.csv", session_id="s1")
    assert (a.tags, a.ttl_seconds, a.source_tool) == (["raw", "q3"], 7200, "upload-panel")
    assert store.read_bytes("b.bin", session_id="s1") == b"\x00\x01"
    rows = [row.children[1].value for row in panel.status.children]
    assert any("stored as <b>a.csv</b> v1" in r for r in rows) and len(rows) == 2
    assert all(row.children[0].value == 100 for row in panel.status.children)
    panel.close()


def test_upload_panel_receives_big_files_in_pieces(store, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(tmp_path / "cache"))
    panel = UploadPanel(store, session_id="s1")
    panel.tags.value = "big"
    browser = _Browser(panel.file_upload)
    data = os.urandom(12 * 1024 * 1024 + 5)  # over Jupyter's 10 MiB message limit
    browser.upload("huge.bin", data, "application/octet-stream")
    a = store.get("huge.bin", session_id="s1")
    assert store.read_bytes(a.artifact_id) == data and a.tags == ["big"]
    acks = [c for c, _ in browser.sent if c["kind"] == "ack"]
    assert len(acks) == 13 and acks[-1]["received"] == len(data)  # one per 1 MiB piece
    label = panel.status.children[0].children[1].value
    assert "stored as <b>huge.bin</b> v1" in label and "12.0 MiB" in label
    assert panel.status.children[0].children[0].value == 100
    assert panel.file_upload.description == "Upload"  # no "Upload (0)" after a success
    assert list((tmp_path / "cache" / "uploads").iterdir()) == []  # spool file removed
    # a piece out of order: refused with a message, nothing stored
    before = store.latest_cursor()
    browser.say({"kind": "begin", "id": "x", "name": "bad.bin", "size": 10, "type": ""})
    browser.say({"kind": "chunk", "id": "x", "offset": 4}, [b"abcdef"])
    assert browser.sent[-1][0]["kind"] == "cancel"
    assert "not stored" in panel.status.children[0].children[1].value
    assert store.latest_cursor() == before
    assert list((tmp_path / "cache" / "uploads").iterdir()) == []
    panel.close()


def test_upload_panel_refuses_over_its_limit_with_a_message(store):
    start = store.latest_cursor()
    panel = UploadPanel(store, max_bytes=10)
    browser = _Browser(panel.file_upload)
    browser.upload("big.bin", b"x" * 11)
    assert browser.sent == [({"kind": "cancel", "id": "f-big.bin", "reason": "over the panel's size limit"}, [])]
    message = panel.status.children[0].children[1].value
    assert "not stored" in message and "%artifact put PATH" in message
    assert panel.status.children[0].children[0].bar_style == "danger"
    stored = panel.upload([_file("big.bin", b"x" * 11)])
    assert stored == [] and "%artifact put PATH" in panel.status.children[0].children[1].value
    panel.ttl.value = "soon"
    assert panel.upload([_file("small.txt", b"ok")]) == []
    assert "not stored" in panel.status.children[0].children[1].value
    assert store.list().total == 0 and store.latest_cursor() == start
    assert "%artifact put PATH" in panel.note.value
    panel.close()


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
    code = elsewhere(store) + (  # another process: the same folder, or the same server
        "s.put('a,b', 'other.csv', session_id='p2'); s.put('{}', 'other.json'); s.close()\n")
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


def test_download_panel_one_click_streams_any_size_and_copies_nothing(store, tmp_path):
    store.put("v1 text", "doc.txt")
    store.put("v2 text", "doc.txt")
    big = os.urandom(3 * 1024 * 1024 + 7)
    store.put(big, "big.bin")
    before = set(tmp_path.rglob("*"))
    panel = DownloadPanel(store)
    assert "doc.txt" in panel.listing.value and "big.bin" in panel.listing.value
    panel.artifacts.value = "doc.txt"
    assert [v for _, v in panel.version.options] == [2, 1]
    panel.version.value = 1
    assert _Browser(panel.download_button).download() == ("doc.txt", b"v1 text")
    assert "downloaded doc.txt" in panel.link.value
    panel.artifacts.value = "big.bin"
    assert _Browser(panel.download_button).download() == ("big.bin", big)
    name, data = _Browser(panel.download_all_button).download()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert name == "artifacts-default.zip" and {"big.bin", "doc.txt"} <= set(z.namelist())
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere under the project
    # the listing follows the store
    store.put("new", "new.txt")
    _wait_for(lambda: "new.txt" in panel.listing.value)
    store.delete("doc.txt")
    _wait_for(lambda: "doc.txt" not in panel.listing.value)
    panel.close()


def test_a_refresh_keeps_the_pick_without_moving_the_browsers_picker(store):
    store.put("a", "a.txt")
    store.put("b", "b.txt")
    panel = DownloadPanel(store, live=False)
    panel.artifacts.value = "a.txt"  # the user's pick: not the first (newest first)
    sent = []
    panel.artifacts._send = lambda msg, buffers=None: sent.append(msg)  # what the browser gets
    store.put("c", "c.txt")
    panel.refresh()
    # one update with the kept pick: never a passing "first option" that would undo (or be
    # undone by) a pick the user makes in the same moment
    assert [m["state"]["index"] for m in sent if "index" in m["state"]] == [2]
    assert panel.artifacts.value == "a.txt" and [v for _, v in panel.version.options] == [1]
    assert "a.txt" in panel.detail.value
    panel.close()


def test_dashboard_has_four_tabs(store):
    dash = Dashboard(store, session_id="s9")
    assert [dash.tabs.get_title(i) for i in range(4)] == ["Upload", "Events", "Artifacts", "Search"]
    assert dash.upload_panel.session.value == "s9"
    _Browser(dash.upload_panel.file_upload).upload("t.txt", b"tabs")
    assert store.read_bytes("t.txt", session_id="s9") == b"tabs"
    _wait_for(lambda: "t.txt" in dash.download_panel.listing.value)
    _wait_for(lambda: "t.txt" in dash.event_feed.table.value)
    dash.close()
    with pytest.raises(NotFoundError):
        store.get("t.txt")  # other session: not visible in the default scope


# -- a real kernel: background-thread updates reach the frontend channel -----------------------

KERNEL_SETUP = """
from notebook_artifacts import ArtifactStore, connect
from notebook_artifacts.widgets import EventFeed
from IPython.display import display
store = {open_store}
feed = EventFeed(store)
display(feed)
"""


def _kernel_store(face: str, request, root) -> tuple[str, object]:
    """The kernel's store (Python source) and another writer on the same data, in this process."""
    if face == "local":
        return f"ArtifactStore({str(root)!r}, index=False)", ArtifactStore(root, index=False)
    url = request.getfixturevalue("served").url
    return f"connect({url!r}, {TOKEN!r})", emptied(connect(url, TOKEN))


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


@pytest.mark.parametrize("face", FACES)
def test_event_feed_updates_reach_iopub_from_background_thread(tmp_path, face, request):
    from jupyter_client.manager import start_new_kernel

    open_store, other = _kernel_store(face, request, tmp_path / "kstore")  # another process writes
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(KERNEL_SETUP.format(open_store=open_store), timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
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
connected = ip.run_line_magic("artifact", f"connect {os.environ['NA_URL']} --token {os.environ['NA_TOKEN']}")
dash = Dashboard()
print("connected", dash.store is connected, type(connected).__name__,
      os.environ["NA_URL"] in dash.children[0].value)
dash.close()
print("back", type(ip.run_line_magic("artifact", "connect --local")).__name__)
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


def test_every_panel_works_with_no_argument_and_never_half_built(tmp_path, served):
    env = dict(os.environ, NOTEBOOK_ARTIFACTS_HOME=str(tmp_path / "home"), NA_URL=served.url,
               NA_TOKEN=TOKEN)
    out = subprocess.run([sys.executable, "-c", NO_ARG], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert "default True" in lines and "switched True" in lines, out.stdout
    assert "connected True RemoteStore True" in lines and "back ArtifactStore" in lines, out.stdout
    assert {"UploadPanel True", "EventFeed True", "DownloadPanel True"} <= set(lines)
    assert {"refused Dashboard", "refused EventFeed", "refused DownloadPanel"} <= {
        " ".join(ln.split()[:2]) for ln in lines}
    assert "typeerror True" in lines and lines[-2] == "done"
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_panels_have_a_static_snapshot_for_saved_notebooks(store):
    from IPython.core.interactiveshell import InteractiveShell

    fmt = InteractiveShell.instance().display_formatter
    store.put("a,b\n1,2\n", "table.csv", tags=["raw"])
    dash = Dashboard(store)
    try:
        for widget in (dash, dash.upload_panel, dash.event_feed, dash.download_panel):
            data, _ = fmt.format(widget)
            assert "application/vnd.jupyter.widget-view+json" in data  # still live in Jupyter
            text, html = data["text/plain"], data["text/html"]
            assert "children=" not in text and "HBox(" not in text, text
            assert store.location in text  # the folder, or the server's URL
        html = fmt.format(dash)[0]["text/html"]
        assert "table.csv" in html and "na-table" in html and "<script" not in html
        assert "created" in fmt.format(dash.event_feed)[0]["text/plain"]
    finally:
        dash.close()


def test_search_panel_without_an_index_says_so(store):
    from notebook_artifacts.widgets import SearchPanel

    panel = SearchPanel(store)
    assert panel.search("anything") is None and "no semantic index" in panel.status.value
    assert panel.search("") is None and "type a question" in panel.status.value
    panel.close()


@pytest.mark.model
def test_search_tab_answers_with_cards_filters_and_context(tmp_path):
    pytest.importorskip("sentence_transformers", reason="needs the index extra")
    with ArtifactStore(tmp_path / "indexed") as s:
        s.put("The churn model reaches a validation AUC of 0.87.", "notes.md", tags=["ml"])
        s.put("Buoy 4 reported a low battery during the survey.", "field.txt", namespace="ops")
        s.wait_indexed(timeout=300)
        dash = Dashboard(s)
        try:
            panel = dash.search_panel
            panel.query.value = "how good is the churn model"  # typing + Enter searches
            assert panel.result is not None and panel.result.results[0].artifact.name == "notes.md"
            assert "<mark>churn</mark>" in panel.results.value and "[1] notes.md v1" in panel.results.value
            assert panel.copy_button.text == panel.result.combined_context != ""
            panel.namespace.value = "ops"
            hits = panel.search("battery")
            assert [h.artifact.name for h in hits.results] == ["field.txt"]
            panel.namespace.value = ""
            panel.tags.value = "ml"
            assert {h.artifact.name for h in panel.search("battery survey churn").results} == {"notes.md"}
        finally:
            dash.close()


DOWNLOAD_SETUP = """
import os
%load_ext notebook_artifacts
store = %artifact {use}
store.put(os.urandom(300 * 1024), "big.bin")
store.put(b"small", "small.txt")
"""


@pytest.mark.parametrize("face", FACES)
def test_download_magic_in_a_kernel_is_a_one_click_button(tmp_path, face, request):
    from jupyter_client.manager import start_new_kernel

    if face == "local":
        use = f"use {tmp_path / 'kstore'} --no-index"
    else:
        url = request.getfixturevalue("served").url
        emptied(connect(url, TOKEN)).close()
        use = f"connect {url} --token {TOKEN}"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        reply = kc.execute_interactive(DOWNLOAD_SETUP.format(use=use), timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        outputs = []
        reply = kc.execute_interactive("%artifact download big.bin", timeout=60,
                                       output_hook=outputs.append)
        assert reply["content"]["status"] == "ok", reply["content"]
        data = next(m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result")
        assert "application/vnd.jupyter.widget-view+json" in data  # a button, streamed on click
        assert "Download big.bin (300.0 KiB)" in data["text/plain"]
        outputs.clear()
        kc.execute_interactive("%artifact download small.txt", timeout=60, output_hook=outputs.append)
        data = next(m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result")
        assert 'href="data:' in data["text/html"]  # small: a link that works in a saved notebook
        # no copies in the project
        assert sorted(p.name for p in tmp_path.iterdir()) == (["kstore"] if face == "local" else [])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
