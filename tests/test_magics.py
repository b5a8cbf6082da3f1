"""``%artifact`` / ``%%artifact`` in a real IPython InteractiveShell over a real store: a local
one (``%artifact use``) and a served one (``%artifact connect`` to a real ``serve`` process,
face_fixtures.py)."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from face_fixtures import FACES, LOCAL_ONLY, TOKEN, elsewhere, emptied, served  # noqa: F401
from notebook_artifacts import Artifact, EventPage, NotFoundError, Page


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "notebook_artifacts")
    yield shell
    shell.run_line_magic("unload_ext", "notebook_artifacts")


@pytest.fixture(params=FACES)
def store(request, ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from notebook_artifacts.notebook.extension import current_magics

    magics = current_magics()
    magics.namespace, magics.session = "default", None
    if request.param == "local":
        s = ip.run_line_magic("artifact", f"use {tmp_path / 'store'} --no-index")
    else:
        url = request.getfixturevalue("served").url
        s = emptied(ip.run_line_magic("artifact", f"connect {url} --token {TOKEN}"))
    yield s
    magics.close()


def art(ip, line: str):
    return ip.run_line_magic("artifact", line)


def test_load_ext_is_light_and_registers_magics():
    code = (
        "import sys, time; from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance(); t = time.perf_counter()\n"
        "ip.run_line_magic('load_ext', 'notebook_artifacts')\n"
        "print(round(time.perf_counter() - t, 3))\n"
        "print('artifact' in ip.magics_manager.magics['line'], 'artifact' in ip.magics_manager.magics['cell'])\n"
        "print(sorted(m for m in ('torch', 'chromadb', 'sentence_transformers', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seconds, registered, heavy = out.stdout.strip().splitlines()
    assert registered == "True True"
    assert heavy == "[]", f"%load_ext imported {heavy}"


def test_put_with_options_returns_record(ip, store, tmp_path):
    f = tmp_path / "report.txt"
    f.write_text("quarterly numbers")
    a = art(ip, f"put {f} --tags q3,raw --ttl 1h --meta owner=ana --meta runs=3 --description first")
    assert isinstance(a, Artifact)
    assert (a.name, a.version, a.tags) == ("report.txt", 1, ["q3", "raw"])
    assert a.metadata == {"owner": "ana", "runs": 3} and a.ttl_seconds == 3600
    assert a.source_tool == "notebook-magic" and a.description == "first"
    assert store.read_text("report.txt") == "quarterly numbers"
    b = art(ip, f"upload {f} --name renamed.txt --pin --session s1")
    assert (b.name, b.session_id, b.is_pinned) == ("renamed.txt", "s1", True)


def test_put_glob_stores_every_file_with_progress(ip, store, tmp_path):
    d = tmp_path / "batch"
    d.mkdir()
    for i in range(3):
        (d / f"part{i}.csv").write_text(f"a,b\n{i},{i}\n")
    (d / "skip.txt").write_text("x")
    page = art(ip, "put batch/*.csv --tags batch")
    assert isinstance(page, Page) and len(page) == 3
    assert sorted(a.name for a in page) == ["part0.csv", "part1.csv", "part2.csv"]
    assert store.list(tags=["batch"]).total == 3


def test_one_naming_rule_for_one_file_and_many(ip, store, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sales.csv").write_text("a\n1\n")
    (data / "project_notes.md").write_text("# v1")
    art(ip, "put data/*.csv data/*.md")
    (data / "project_notes.md").write_text("# v2")
    again = art(ip, "put data/project_notes.md")  # one file: the same name, the next version
    assert (again.name, again.version) == ("project_notes.md", 2)
    direct = store.put(str(data / "project_notes.md"))  # ArtifactStore.put: the same rule
    assert (direct.name, direct.version) == ("project_notes.md", 3)
    assert sorted(store.frame()["name"]) == ["project_notes.md", "sales.csv"]
    # two files that would share a name: refused before anything is stored
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "sales.csv").write_text("b\n2\n")
    before = store.latest_cursor()
    with pytest.raises(UsageError, match="both be stored as 'sales.csv'"):
        art(ip, "put data/sales.csv other/sales.csv")
    assert store.latest_cursor() == before


def test_interpolation_in_line_and_cell_magics(ip, store):
    ip.user_ns.update(fname="cell.md", tagname="draft")
    a = ip.run_cell_magic("artifact", "save {fname} --tags {tagname}", "# Title\nbody\n")
    assert (a.name, a.tags) == ("cell.md", ["draft"])
    assert store.read_text("cell.md") == "# Title\nbody\n"
    assert a.source_tool == "notebook-cell"
    # through run_cell, so the execution count is the real one
    result = ip.run_cell("%%artifact save {fname}\nsecond version\n", store_history=True)
    assert result.success
    v2 = store.get("cell.md")
    assert v2.version == 2 and v2.source_step_id == str(result.execution_count)
    shown = art(ip, "show {fname} --version 1")
    assert shown.version == 1 and shown.artifact_id == a.artifact_id


def test_ls_versions_get_and_scope(ip, store, tmp_path):
    store.put({"k": 1}, "conf.json", tags=["x"])
    store.put({"k": 2}, "conf.json", tags=["x"])
    store.put("other", "other.txt", namespace="proj")
    frame = art(ip, "ls")
    assert isinstance(frame, pd.DataFrame) and list(frame["name"]) == ["conf.json"]
    assert list(art(ip, "ls --all")["name"]) == ["other.txt", "conf.json"]
    assert list(art(ip, "ls --namespace proj")["name"]) == ["other.txt"]
    assert art(ip, "ls --tags nope").empty
    versions = art(ip, "versions conf.json")
    assert list(versions["version"]) == [1, 2]
    assert art(ip, "get conf.json") == {"k": 2}
    assert art(ip, "get conf.json --version 1") == {"k": 1}
    out = art(ip, f"get conf.json -o {tmp_path / 'out.json'}")
    assert json.loads(Path(out).read_text()) == {"k": 2}
    ip.run_line_magic("config", 'ArtifactMagics.namespace = "proj"')
    try:
        assert list(art(ip, "ls")["name"]) == ["other.txt"]
    finally:
        ip.run_line_magic("config", 'ArtifactMagics.namespace = "default"')


def test_tag_pin_ttl_rm(ip, store):
    store.put("x", "t.txt", tags=["a", "b"])
    assert art(ip, "tag t.txt +c -a").tags == ["b", "c"]
    assert art(ip, "tag t.txt d").tags == ["b", "c", "d"]
    assert art(ip, "pin t.txt").is_pinned is True
    assert art(ip, "unpin t.txt").is_pinned is False
    assert art(ip, "ttl t.txt 2d").ttl_seconds == 2 * 86400
    assert art(ip, "ttl t.txt none").ttl_seconds is None
    store.put("y", "t.txt")
    art(ip, "rm t.txt --version 1")
    assert [v.version for v in store.versions("t.txt")] == [2]
    art(ip, "rm t.txt")
    with pytest.raises(NotFoundError):
        store.get("t.txt")


def test_events_and_download(ip, store):
    store.put("alpha", "a.txt")
    store.put(b"\x00\x01binary", "b.bin", session_id="s1")
    store.put("elsewhere", "c.txt", namespace="other")
    page = art(ip, "events --all")
    # newest first, like the live feed
    assert isinstance(page, EventPage) and [e.name for e in page.events] == ["c.txt", "b.bin", "a.txt"]
    assert [e.name for e in art(ip, "events").events] == ["b.bin", "a.txt"]  # namespace default
    assert [e.name for e in art(ip, "events --session s1").events] == ["b.bin"]
    assert [e.name for e in art(ip, "events --all --mime text/").events] == ["c.txt", "a.txt"]
    link = art(ip, "download b.bin --session s1")
    assert link.kind == "data" and link.file_name == "b.bin"
    assert base64.b64decode(link.href.split(",", 1)[1]) == b"\x00\x01binary"
    assert 'download="b.bin"' in link._repr_html_()
    zlink = art(ip, "download --all --session s1")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(zlink.href.split(",", 1)[1]))) as z:
        assert any(n.endswith("b.bin") for n in z.namelist())


def test_large_download_leaves_no_copy_in_the_project(ip, store, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    data = bytes(range(256)) * 4096  # 1 MiB, over the data-URI limit
    store.put(data, "big.bin")
    # plain IPython (no kernel, no browser): a copy in the user's cache, outside the project
    link = art(ip, "download big.bin")
    assert link.kind == "path" and link.href is None and "base64" not in link._repr_html_()
    assert Path(link.path).read_bytes() == data
    assert Path(link.path).is_relative_to(tmp_path / "cache")
    zlink = art(ip, "download --all")
    assert zlink.kind == "data" or Path(zlink.path).is_relative_to(tmp_path / "cache")
    out = art(ip, f"get big.bin -o {tmp_path / 'out.bin'}")
    assert Path(out).read_bytes() == data
    assert list(project.iterdir()) == []  # git status stays clean


@LOCAL_ONLY  # %artifact serve serves a store of this machine
def test_large_download_through_a_signed_url_of_artifact_serve(ip, store, tmp_path, monkeypatch):
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # not under Jupyter
    data = bytes(range(256)) * 1024  # 256 KiB
    store.put(data, "big.bin")
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(tmp_path / "cache"))
    assert art(ip, "download big.bin").kind == "path"
    with capture_output():
        art(ip, "serve --token tok456")
    try:
        link = art(ip, "download big.bin")
        assert link.kind == "signed" and "/v1/signed/" in link.href and "tok456" not in link.href
        r = httpx.get(link.href, timeout=10)  # no token needed while the signature is valid
        assert r.status_code == 200 and r.content == data
        bad = link.href[:-4] + ("0000" if not link.href.endswith("0000") else "1111")
        assert httpx.get(bad, timeout=10).status_code == 403
        assert art(ip, "download big.bin --version 1").kind == "signed"
    finally:
        with capture_output():
            art(ip, "serve stop")


BAD_LINES = [
    ("bogus", "unknown subcommand 'bogus'"),
    ("show", "required: ref"),
    ("show missing.txt", "see what exists with %artifact ls"),
    ("put /no/such/file.txt", "no file matches"),
    ("put {missing_var_xyz}", "no file matches"),
    ("ttl t.txt 3q", "ttl"),
    ("ls --limit 0", "limit"),
    ("put --bogus x", "unrecognized arguments"),
    ("tag t.txt", "tag REF"),
    ("get t.txt --version abc", "invalid int value"),
    ('query "unterminated', "cannot parse"),
    ("download", "name an artifact"),
    ("save x.txt", "needs a cell body"),
    ("put t.txt --session 'bad id!'", "session"),
]


@pytest.mark.parametrize("line,expected", BAD_LINES)
def test_mistakes_raise_one_line_usage_error_and_write_nothing(ip, store, tmp_path, line, expected):
    (tmp_path / "t.txt").write_text("t")
    store.put("t", "t.txt")
    before = store.latest_cursor()
    with pytest.raises(UsageError) as info:
        art(ip, line)
    message = str(info.value)
    assert "\n" not in message.strip() and expected.lower() in message.lower(), message
    assert "list()" not in message  # the magic's own way, not the Python API
    assert store.latest_cursor() == before  # nothing was written


def test_usage_error_shows_no_traceback_in_a_cell(ip, store):
    with capture_output() as cap:
        result = ip.run_cell("%artifact show does-not-exist")
    assert isinstance(result.error_in_exec, UsageError)
    text = cap.stdout + cap.stderr
    assert "Traceback" not in text and "does-not-exist" in text


def test_cell_magic_needs_save(ip, store):
    with pytest.raises(UsageError, match="save NAME"):
        ip.run_cell_magic("artifact", "ls", "body")


def test_help_lists_every_subcommand(ip, store):
    with capture_output() as cap:
        art(ip, "help")
    for sub in ("upload", "ls", "show", "get", "versions", "tag", "pin", "ttl", "rm", "query",
                "events", "download", "promote", "serve", "watch", "help", "%%artifact save"):
        assert sub in cap.stdout


@LOCAL_ONLY
def test_use_switches_store(ip, store, tmp_path):
    store.put("in first", "first.txt")
    other = art(ip, f"use {tmp_path / 'second'} --no-index")
    assert other.root == (tmp_path / "second").resolve()
    assert art(ip, "ls").empty
    other.put("x", "second.txt")
    assert list(art(ip, "ls")["name"]) == ["second.txt"]


def test_events_follow_gives_a_live_feed(ip, store):
    feed = art(ip, "events --follow")
    try:  # another process writes: the same folder, or the same server
        code = elsewhere(store) + "s.put('x', 'followed.txt'); s.close()\n"
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        import time

        deadline = time.monotonic() + 10
        while "followed.txt" not in feed.table.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "followed.txt" in feed.table.value
    finally:
        feed.close()


@LOCAL_ONLY
def test_serve_starts_and_stops_a_server_on_the_store(ip, store):
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    store.put("served", "s.txt", session_id="s1")
    with capture_output() as cap:
        handle = art(ip, "serve --token tok123")
    try:
        assert handle.url.startswith("http://127.0.0.1:") and "tok123" in cap.stdout
        r = httpx.get(f"{handle.url}/api/uploads/s1", headers={"Authorization": "Bearer tok123"}, timeout=10)
        assert r.status_code == 200 and "s.txt" in r.text
        assert httpx.get(f"{handle.url}/api/uploads/s1", timeout=10).status_code == 401
    finally:
        art(ip, "serve stop")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{handle.url}/api/uploads/s1", timeout=2)


@LOCAL_ONLY
def test_switching_store_stops_the_server_of_the_old_one(ip, store, tmp_path):
    pytest.importorskip("fastapi")
    from notebook_artifacts.notebook.extension import current_magics

    with capture_output():
        handle = art(ip, "serve")
    assert current_magics().server is handle and handle.running
    with capture_output() as cap:
        art(ip, f"use {tmp_path / 'next'} --no-index")
    assert not handle.running and current_magics().server is None
    assert "Stopped the %artifact serve server" in cap.stderr


@pytest.mark.model
def test_query_and_promote_with_the_real_index(ip, tmp_path):
    pytest.importorskip("sentence_transformers", reason="needs the index extra")
    from notebook_artifacts import QueryResult, Source
    from notebook_artifacts.notebook.extension import current_magics

    s = art(ip, f"use {tmp_path / 'indexed'}")
    try:
        s.put("The churn model reaches a validation AUC of 0.87 on held-out customers.", "notes.md")
        s.put("Buoy 4 reported a low battery during the May field survey.", "field.txt")
        result = art(ip, 'query "how good is the churn model" --k 2')
        assert isinstance(result, QueryResult) and result.results[0].artifact.name == "notes.md"
        assert "[1] notes.md v1" in result.combined_context
        assert "<mark>churn</mark>" in result._repr_html_()
        keyword = art(ip, "query battery --mode keyword --no-wait")
        assert [h.artifact.name for h in keyword.results] == ["field.txt"]
        src = art(ip, "promote notes.md")
        assert isinstance(src, Source) and s.get("notes.md").promoted_to_source_id == src.source_id
    finally:
        current_magics().close()


@pytest.mark.model
def test_waiting_on_indexing_shows_a_progress_bar(ip, tmp_path):
    pytest.importorskip("sentence_transformers", reason="needs the index extra")
    from notebook_artifacts import ArtifactStore
    from notebook_artifacts.notebook.extension import current_magics

    # background_index=False: the work stays pending until wait_indexed drains it
    with ArtifactStore(tmp_path / "pending", background_index=False) as s:
        s.put("Contract type and tenure matter most.", "a.md")
        s.put("Scale out when p99 latency is high.", "b.md")
        assert [a.status for a in s.list().artifacts] == ["pending", "pending"]
        assert s.pending_count() == 2
        with capture_output() as cap:  # from Python: the bar, the model load, the chunks
            assert s.wait_indexed(timeout=300, progress=True) is True
        assert "loading the embedding model" in cap.stderr
        assert re.search(r"\| 2/2 \[[^]]*chunk[^]]*, 2/2 artifacts\]", cap.stderr)  # by chunks
        assert "Indexed 2 artifacts (2 chunks) in" in cap.stdout
        assert {a.status for a in s.list().artifacts} == {"indexed"} and s.pending_count() == 0
    s2 = art(ip, f"use {tmp_path / 'magic'}")
    try:
        s2.put("Buoy 4 reported a low battery.", "field.txt")
        with capture_output() as cap:
            result = ip.run_cell("%artifact wait --timeout 300")
        assert result.result is None and "Out[" not in cap.stdout and "True" not in cap.stdout
        assert s2.pending_count() == 0
    finally:
        current_magics().close()


@LOCAL_ONLY  # ArtifactMagics.root: a folder
def test_config_root_and_session_defaults(ip, store, tmp_path):
    from notebook_artifacts.notebook.extension import current_magics

    magics = current_magics()
    ip.run_line_magic("config", f'ArtifactMagics.root = "{tmp_path / "configured"}"')
    ip.run_line_magic("config", 'ArtifactMagics.session = "sess-1"')
    try:
        assert magics.store.root == (tmp_path / "configured").resolve()
        a = ip.run_cell_magic("artifact", "save conf.txt", "configured")
        assert a.session_id == "sess-1"
        assert magics.store.get("conf.txt", session_id="sess-1").version == 1
    finally:
        ip.run_line_magic("config", "ArtifactMagics.session = None")
        magics.close()
        magics.root = None
        ip.config.ArtifactMagics.pop("root", None)
        ip.config.ArtifactMagics.pop("session", None)


def test_ls_and_versions_render_the_listing_and_stay_dataframes(ip, store):
    store.put(b"x" * 2048, "blob.bin")
    store.put({"k": 1}, "conf.json", ttl="2h")
    store.put({"k": 2}, "conf.json")
    for line in ("ls", "versions conf.json"):
        frame = art(ip, line)
        assert isinstance(frame, pd.DataFrame)
        data, _ = ip.display_formatter.format(frame)
        html, text = data["text/html"], data["text/plain"]
        assert 'class="na-table"' in html and 'class="dataframe"' not in html, line
        ids = list(frame["artifact_id"])
        assert all(i in html and i in text for i in ids)  # the id column is never cut
        assert "NaN" not in html + text and "None" not in html + text
        assert "T" not in [c for c in text.split() if c[:4].isdigit()]  # no raw ISO times
        for a in frame.itertuples():
            assert f"v{a.version}" in text
    ls_text = ip.display_formatter.format(art(ip, "ls"))[0]["text/plain"]
    assert "2.0 KiB" in ls_text and "no expiry" in ls_text  # human sizes, the TTL column
    versions_html = ip.display_formatter.format(art(ip, "versions conf.json"))[0]["text/html"]
    assert "expires in" in versions_html and "no expiry" in versions_html
    # derived frames are ordinary DataFrames
    assert type(art(ip, "ls")[["name"]]) is pd.DataFrame


def test_help_top_level_and_per_subcommand(ip, store):
    with capture_output() as top:
        assert art(ip, "--help") is None
    assert "upload" in top.stdout and "%%artifact save" in top.stdout
    with capture_output() as one:
        art(ip, "help put")
    with capture_output() as flag:
        art(ip, "put --help")
    assert one.stdout == flag.stdout  # the same help both ways
    text = one.stdout
    assert text.startswith("usage: %artifact put") and "--ttl" in text
    assert "time to live" in text and "comma-separated tags" in text and "base name" in text
    for other in ("query", "serve", "events", "watch"):  # only put's help
        assert f"%artifact {other}" not in text
    for sub in ("ls", "tag", "query", "download", "events", "get"):
        with capture_output() as cap:
            art(ip, f"{sub} --help")
        assert cap.stdout.startswith(f"usage: %artifact {sub}"), sub
    from notebook_artifacts.notebook._commands import SUBCOMMANDS

    for sub, build in SUBCOMMANDS.items():  # every argument of every subcommand is explained
        undocumented = [a.dest for a in build()._actions if not a.help]
        assert not undocumented, f"{sub}: {undocumented}"
    with capture_output() as cap:
        ip.run_cell_magic("artifact", "save --help", "body")
    assert "usage: %%artifact save" in cap.stdout
    with pytest.raises(UsageError, match="no subcommand 'bogus'"):
        art(ip, "help bogus")


def test_tag_takes_scope_options_anywhere(ip, store):
    store.put("x", "t.txt", namespace="proj", session_id="s1", tags=["old"])
    a = art(ip, "tag t.txt +a --namespace proj --session s1 -old")
    assert (a.namespace, a.tags) == ("proj", ["a"])
    b = art(ip, "tag --namespace proj t.txt b --session=s1")
    assert b.tags == ["a", "b"]
    with pytest.raises(UsageError, match="unknown option '--bogus'"):
        art(ip, "tag t.txt +c --bogus x --namespace proj --session s1")
    assert store.get("t.txt", namespace="proj", session_id="s1").tags == ["a", "b"]


def test_get_into_a_folder_never_escapes_it(ip, store, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    a = store.put(b"payload", "evil.bin", file_name="../../escaped.bin")
    dest = art(ip, f"get {a.artifact_id} -o {out}")
    assert Path(dest).parent == out and Path(dest).read_bytes() == b"payload"
    assert not (tmp_path / "escaped.bin").exists()
    b = store.put(b"dots", "dots.bin", file_name="..")
    assert Path(store.download(b.artifact_id, out)).parent == out


FIRST_QUERY = """
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "notebook_artifacts")
ip.run_line_magic("artifact", "use {root}")
with capture_output() as cap:
    result = ip.run_line_magic("artifact", 'query "churn model" --no-wait')
print(result.results[0].artifact.name)
print("BAR" if "querying (loading the embedding model): 00:" in cap.stderr else "NOBAR")
"""


@pytest.mark.model
def test_first_query_shows_the_model_load(tmp_path):
    pytest.importorskip("sentence_transformers", reason="needs the index extra")
    from notebook_artifacts import ArtifactStore

    with ArtifactStore(tmp_path / "s") as s:  # indexed here; queried by a fresh process
        s.put("The churn model reaches a validation AUC of 0.87.", "notes.md")
        assert s.wait_indexed(timeout=300)
    out = subprocess.run([sys.executable, "-c", FIRST_QUERY.format(root=tmp_path / "s")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["notes.md", "BAR"]


@pytest.mark.parametrize("store", ["remote"], indirect=True)
def test_connected_store_is_served_already_and_connect_local_goes_back(ip, store, tmp_path):
    from notebook_artifacts import ArtifactStore, RemoteStore
    from notebook_artifacts.notebook.extension import current_magics

    assert isinstance(store, RemoteStore) and current_magics().store is store
    with pytest.raises(UsageError, match=f"connected to {store.location}.*connect --local"):
        art(ip, "serve")
    assert current_magics().server is None
    (tmp_path / "w").mkdir()
    with capture_output():  # %artifact watch versions what a cell writes, onto the server
        art(ip, "watch w")
    try:
        result = ip.run_cell("open('w/made.txt', 'w').write('by a cell')", store_history=True)
        assert result.success
    finally:
        art(ip, "unwatch")
    made = store.get("made.txt")
    assert store.read_text("made.txt") == "by a cell" and made.source_step_id == str(result.execution_count)
    local = art(ip, "connect --local")
    assert isinstance(local, ArtifactStore) and current_magics().store is local
    with pytest.raises(Exception, match="closed"):
        store.list()  # the RemoteStore the kernel left was closed
