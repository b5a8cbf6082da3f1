"""Real browser: JupyterLab + headless Chromium run ``notebooks/widgets.ipynb``.

Uploads files through the FileUpload, sees them in the live event feed (updated from the
store's watcher thread) and in the download panel's listing, downloads them through the panel
(a data URI for the small file, the ``/files`` route for the larger one) and compares bytes.
Screenshots go to the test's tmp dir; set ``NA_SCREENSHOT_DIR=docs/screenshots`` to refresh the
ones the README shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from notebook_fixtures import CHROMIUM, CHROMIUM_ARGS, NOTEBOOKS, REPO, jupyterlab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

if not CHROMIUM.exists():
    pytest.skip(
        "needs /usr/bin/chromium: apt-get install -y chromium chromium-driver", allow_module_level=True
    )
playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

NOTEBOOK = os.environ.get("NA_BROWSER_NOTEBOOK", str(NOTEBOOKS / "widgets.ipynb"))


def _screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("NA_SCREENSHOT_DIR") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _wait_idle(page, timeout: float = 120_000) -> None:
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const w = app && app.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle';
        }""",
        timeout=timeout,
    )


def test_widgets_notebook_upload_feed_download(tmp_path: Path) -> None:
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    shutil.copy(NOTEBOOK, lab_root / "widgets.ipynb")
    small = tmp_path / "upload-small.csv"
    small.write_bytes(b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)))
    large = tmp_path / "upload-large.bin"
    large.write_bytes(os.urandom(900 * 1024))  # over the data-URI limit: goes through /files
    shots = _screenshot_dir(tmp_path)

    with jupyterlab(lab_root, tmp_path / "state") as lab, playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(lab.url("lab/tree/widgets.ipynb"))
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            _wait_idle(page)
            page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            upload_panel = page.locator(".na-upload-panel").first
            upload_panel.wait_for(timeout=120_000)
            page.locator(".na-dashboard").first.wait_for(timeout=120_000)
            _wait_idle(page)

            # Upload both files through the FileUpload button (its <input> is not in the DOM).
            with page.expect_file_chooser() as chooser:
                upload_panel.locator("button.widget-upload, .widget-upload").first.click()
            chooser.value.set_files([str(small), str(large)])
            upload_panel.get_by_text("stored as").nth(1).wait_for(timeout=60_000)

            # The live feed (background thread) and the listing show both files.
            feed = page.locator(".na-event-feed").first
            feed.get_by_text("upload-small.csv").first.wait_for(timeout=30_000)
            feed.get_by_text("upload-large.bin").first.wait_for(timeout=30_000)
            panel = page.locator(".na-download-panel").first
            panel.locator("table").get_by_text("upload-small.csv").wait_for(timeout=30_000)
            panel.locator("table").get_by_text("upload-large.bin").wait_for(timeout=30_000)
            upload_panel.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser-upload-feed.png"), full_page=False)

            # Download each through the panel and compare bytes.
            for src, kind in ((small, "data"), (large, "files")):
                panel.locator("select").first.select_option(index=_option_index(panel, src.name))
                page.wait_for_timeout(300)
                panel.locator(".na-download-button").click()
                link = panel.locator(f"a.na-download[data-kind='{kind}']")
                link.get_by_text(src.name).wait_for(timeout=30_000)
                with page.expect_download() as dl:
                    link.click()
                got = Path(dl.value.path()).read_bytes()
                assert got == src.read_bytes(), f"{src.name}: downloaded bytes differ"
            panel.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser-download.png"))

            dashboard = page.locator(".na-dashboard").first
            dashboard.scroll_into_view_if_needed()
            dashboard.get_by_role("tab", name="Events").click()
            dashboard.get_by_text("upload-large.bin").first.wait_for(timeout=30_000)
            dashboard.screenshot(path=str(shots / "dashboard.png"))
            dashboard.get_by_role("tab", name="Artifacts").click()
            dashboard.locator(".na-download-panel table").get_by_text("upload-small.csv").wait_for(timeout=30_000)
            dpanel = dashboard.locator(".na-download-panel").first
            dpanel.locator("select").first.select_option(index=_option_index(dpanel, small.name))
            page.wait_for_timeout(300)
            dpanel.locator(".na-download-button").click()
            dpanel.locator("a.na-download[data-kind='data']").get_by_text(small.name).wait_for(timeout=30_000)
            dashboard.screenshot(path=str(shots / "dashboard-artifacts.png"))
            # the README picture (docs/dashboard.png is a copy): JupyterLab with the file browser
            # folded away and the dashboard at the bottom of a shorter window
            page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.set_viewport_size({"width": 1400, "height": 780})
            page.wait_for_timeout(500)
            dashboard.evaluate(
                "el => { el.scrollIntoView({block: 'end'});"
                " const outer = el.closest('.jp-WindowedPanel-outer'); if (outer) outer.scrollBy(0, 48); }"
            )
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / "dashboard-lab.png"))
        finally:
            browser.close()


def _option_index(panel, name: str) -> int:
    """The index of artifact ``name`` in the panel's picker."""
    labels = panel.locator("select").first.locator("option").all_inner_texts()
    for i, label in enumerate(labels):
        if label.replace("\xa0", " ").startswith(name + " "):
            return i
    raise AssertionError(f"{name} not among the picker's options: {labels}")
