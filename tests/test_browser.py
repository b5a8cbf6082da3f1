"""Real browser: JupyterLab + headless Chromium run ``notebooks/widgets.ipynb``.

The notebook builds every panel with no argument (``Dashboard()``: the kernel's current store).
The test uploads a small CSV and a 12 MiB file through the Upload button (sent in pieces: a
single websocket message is limited to 10 MiB), sees them in the live event feed (updated from
the store's watcher thread) and in the listing, downloads each with one click and compares
bytes, sees the image preview of the notebook's chart, and asks the Search tab a question.
Screenshots go to the test's tmp dir; set ``NA_SCREENSHOT_DIR=docs/screenshots`` to refresh the
ones the README shows.

A second notebook is connected to a ``notebook-artifacts serve`` process the test starts
(``%artifact connect URL --token T``): a file uploaded through its panel lands on the server,
a put by another process (the CLI with ``--url``) reaches its event feed and listing, and one
click downloads that artifact, streamed from the server through the kernel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from notebook_fixtures import CHROMIUM, CHROMIUM_ARGS, NOTEBOOKS, jupyterlab
from remote_fixtures import ServerProcess, cli

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

if not CHROMIUM.exists():
    pytest.skip(
        "needs /usr/bin/chromium: apt-get install -y chromium chromium-driver", allow_module_level=True
    )
playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

NOTEBOOK = os.environ.get("NA_BROWSER_NOTEBOOK", str(NOTEBOOKS / "widgets.ipynb"))
BIG = 12 * 1024 * 1024 + 123  # over Jupyter's 10 MiB websocket message limit


def _screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("NA_SCREENSHOT_DIR") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _wait_idle(page, timeout: float = 180_000) -> None:
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const w = app && app.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle';
        }""",
        timeout=timeout,
    )


CONTRAST_JS = """
root => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let worst = 99, what = "";
  const items = root.querySelectorAll(".na-muted, .na-table td, .na-table th, .na-fields th, .na-fields td, .na-card h4, .na-hit pre");
  for (const el of items) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const bg = background(el), fg = rgb(getComputedStyle(el).color);
    const alpha = fg.length === 4 ? fg[3] : 1;  // translucent text: blend it over its background
    const a = lum(fg.slice(0, 3).map((c, i) => alpha * c + (1 - alpha) * bg[i])), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst) { worst = ratio; what = el.className + " " + el.textContent.slice(0, 30); }
  }
  return [worst, what, items.length];
}
"""


def _option_index(panel, name: str) -> int:
    """The index of artifact ``name`` in the panel's picker."""
    select = panel.locator("select").nth(1)  # after the Sort dropdown
    labels = select.locator("option").all_inner_texts()
    for i, label in enumerate(labels):
        if label.replace("\xa0", " ").startswith(name + " "):
            return i
    raise AssertionError(f"{name} not among the picker's options: {labels}")


def _pick(page, panel, name: str) -> None:
    panel.locator("select").nth(1).select_option(index=_option_index(panel, name))
    page.wait_for_timeout(400)


def test_widgets_notebook_upload_feed_download_preview_search(tmp_path: Path) -> None:
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    shutil.copy(NOTEBOOK, lab_root / "widgets.ipynb")
    small = tmp_path / "upload-small.csv"
    small.write_bytes(b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)))
    big = tmp_path / "upload-big.bin"
    big.write_bytes(os.urandom(BIG))
    shots = _screenshot_dir(tmp_path)
    env_cache = tmp_path / "cache"

    os.environ["NOTEBOOK_ARTIFACTS_CACHE"] = str(env_cache)  # inherited by the lab's kernel
    try:
        with jupyterlab(lab_root, tmp_path / "state") as lab, playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                _run(browser, lab, small, big, shots)
            finally:
                browser.close()
    finally:
        os.environ.pop("NOTEBOOK_ARTIFACTS_CACHE", None)
    # nothing left in the user's project but the notebook (and Jupyter's checkpoints)
    left = {p.name for p in lab_root.iterdir()} - {".ipynb_checkpoints"}
    assert left == {"widgets.ipynb"}, left


def _run(browser, lab, small: Path, big: Path, shots: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(lab.url("lab/tree/widgets.ipynb"))
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    _wait_idle(page)
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # Dashboard() with no argument renders (the kernel's current store)
    page.locator(".na-dashboard").first.wait_for(timeout=240_000)
    _wait_idle(page, 300_000)

    # Upload both files with the Upload button; the big one arrives in 1 MiB pieces.
    upload_panel = page.locator(".na-upload-panel").first
    upload_panel.scroll_into_view_if_needed()
    with page.expect_file_chooser() as chooser:
        upload_panel.locator("button.na-chunked-upload").first.click()
    chooser.value.set_files([str(small), str(big)])
    upload_panel.get_by_text("stored as").nth(1).wait_for(timeout=180_000)
    status = upload_panel.inner_text()
    assert "upload-big.bin" in status and "12.0 MiB" in status and "not stored" not in status
    assert upload_panel.locator("button.na-chunked-upload").first.inner_text().strip() == "Upload"
    page.screenshot(path=str(shots / "browser-upload-feed.png"))

    # The live feed (background thread) and the listing show both files.
    feed = page.locator(".na-event-feed").first
    feed.get_by_text("upload-small.csv").first.wait_for(timeout=30_000)
    feed.get_by_text("upload-big.bin").first.wait_for(timeout=30_000)
    panel = page.locator(".na-download-panel").first
    panel.locator("table").get_by_text("upload-small.csv").first.wait_for(timeout=30_000)
    panel.locator("table").get_by_text("upload-big.bin").first.wait_for(timeout=30_000)

    # One click downloads each (streamed from the kernel); the bytes match.
    for src in (small, big):
        _pick(page, panel, src.name)
        with page.expect_download(timeout=120_000) as dl:
            panel.locator(".na-download-button button").click()
        assert dl.value.suggested_filename == src.name
        got = Path(dl.value.path()).read_bytes()
        assert got == src.read_bytes(), f"{src.name}: downloaded bytes differ"

    # The image preview of the notebook's chart, in the selected artifact's card.
    _pick(page, panel, "auc-by-fold.png")
    image = panel.locator(".na-preview-image img")
    image.wait_for(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "browser-download-preview.png"))

    # The Search tab answers a question with cited result cards.
    dashboard = page.locator(".na-dashboard").first
    dashboard.scroll_into_view_if_needed()
    dashboard.get_by_role("tab", name="Search").click()
    search = dashboard.locator(".na-search-panel").first
    box = search.locator("input[type=text]").first
    box.fill("how good is the churn model?")
    box.press("Enter")
    search.locator(".na-hit").first.wait_for(timeout=120_000)
    assert "hello.txt" in search.locator(".na-hit").first.inner_text()
    dashboard.screenshot(path=str(shots / "dashboard-search.png"))

    # Dark theme: JupyterLab's colours, and every text keeps a readable contrast (WCAG AA)
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(1000)
    for tab in ("Search", "Artifacts"):
        dashboard.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)
        worst, what, count = dashboard.evaluate(CONTRAST_JS)
        assert count > 0 and worst >= 4.5, f"{tab}: contrast {worst:.2f} for {what!r}"
    dashboard.screenshot(path=str(shots / "dashboard-dark.png"))
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'true'", timeout=30_000)

    dashboard.get_by_role("tab", name="Artifacts").click()
    dpanel = dashboard.locator(".na-download-panel").first
    _pick(page, dpanel, "auc-by-fold.png")
    dpanel.locator(".na-preview-image img").wait_for(timeout=30_000)
    dashboard.screenshot(path=str(shots / "dashboard-artifacts.png"))
    dashboard.get_by_role("tab", name="Events").click()
    dashboard.get_by_text("upload-big.bin").first.wait_for(timeout=30_000)
    dashboard.screenshot(path=str(shots / "dashboard.png"))
    # the README picture: JupyterLab with the file browser folded away, the dashboard in view
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.set_viewport_size({"width": 1400, "height": 860})
    dashboard.get_by_role("tab", name="Artifacts").click()
    page.wait_for_timeout(500)
    dashboard.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "dashboard-lab.png"))


# -- a notebook connected to a served store ------------------------------------------------

TOKEN = "browser-remote-token-41c7"


def _connected_notebook(path: Path, url: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext notebook_artifacts",
        f"%artifact connect {url} --token {TOKEN}",
        "from notebook_artifacts.widgets import DownloadPanel, EventFeed, UploadPanel\nUploadPanel()",
        "EventFeed()",
        "DownloadPanel()",
    )]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_connected_notebook_uploads_hears_other_writers_and_downloads(tmp_path: Path) -> None:
    from notebook_artifacts import connect

    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    shots = _screenshot_dir(tmp_path)
    upload = tmp_path / "from-the-browser.csv"
    upload.write_bytes(b"id,value\n" + b"".join(b"%d,%d\n" % (i, 3 * i) for i in range(500)))
    other = tmp_path / "from-another-process.bin"
    other.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several pieces on the way down
    with ServerProcess(tmp_path / "served", "--token", TOKEN) as srv, connect(srv.url, TOKEN) as team:
        _connected_notebook(lab_root / "connected.ipynb", srv.url)
        os.environ["NOTEBOOK_ARTIFACTS_CACHE"] = str(tmp_path / "cache")  # the kernel's spool
        try:
            with jupyterlab(lab_root, tmp_path / "state") as lab, playwright.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                try:
                    _run_connected(browser, lab, srv.url, team, upload, other, shots)
                finally:
                    browser.close()
        finally:
            os.environ.pop("NOTEBOOK_ARTIFACTS_CACHE", None)
        # the upload is on the server, stored by the panel
        stored = team.get(upload.name)
        assert team.read_bytes(upload.name) == upload.read_bytes()
        assert stored.source_tool == "upload-panel"
    left = {p.name for p in lab_root.iterdir()} - {".ipynb_checkpoints"}
    assert left == {"connected.ipynb"}, left  # nothing copied into the project


def _run_connected(browser, lab, url: str, team, upload: Path, other: Path, shots: Path) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.goto(lab.url("lab/tree/connected.ipynb"))
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    _wait_idle(page)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(".na-download-panel").first.wait_for(timeout=240_000)
    _wait_idle(page, 300_000)
    assert f"RemoteStore('{url}')" in page.locator(".jp-Notebook").inner_text()

    # Upload through the panel: browser -> kernel (in pieces) -> server.
    upload_panel = page.locator(".na-upload-panel").first
    with page.expect_file_chooser() as chooser:
        upload_panel.locator("button.na-chunked-upload").first.click()
    chooser.value.set_files([str(upload)])
    upload_panel.get_by_text("stored as").first.wait_for(timeout=120_000)
    assert "not stored" not in upload_panel.inner_text()

    # Another process writes to the server: the feed and the listing follow.
    feed = page.locator(".na-event-feed").first
    feed.get_by_text(upload.name).first.wait_for(timeout=30_000)
    subprocess.run(cli() + ["--url", url, "--token", TOKEN, "put", str(other), "--tag", "cli"],
                   check=True, timeout=120, capture_output=True)
    feed.get_by_text(other.name).first.wait_for(timeout=30_000)
    panel = page.locator(".na-download-panel").first
    panel.locator("table").get_by_text(other.name).first.wait_for(timeout=30_000)

    # One click downloads it, streamed from the server; the bytes match.
    _pick(page, panel, other.name)
    with page.expect_download(timeout=120_000) as dl:
        panel.locator(".na-download-button button").click()
    assert dl.value.suggested_filename == other.name
    assert Path(dl.value.path()).read_bytes() == other.read_bytes()
    panel.locator(".na-download-done").wait_for(timeout=30_000)
    assert team.get(other.name).tags == ["cli"]
    page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "browser-connected.png"), full_page=True)
