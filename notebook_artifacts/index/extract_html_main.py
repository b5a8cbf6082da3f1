"""The main content of a web page: navigation, banners, footers and sidebars left out.

A page saved from the web is often half boilerplate (menus, cookie banners, related links,
footers), which fills the index with chunks that match many queries and answer none. When a
page has such landmarks (``<nav>``, ``<header>``, ``<footer>``, ``<aside>``, navigation roles or
classes) and trafilatura is installed, :func:`main_content` returns trafilatura's main
content as HTML (headings kept), headed by the page's ``<title>``, for the HTML extractor to
section as usual. A page without landmarks (a notebook exported to HTML, ``DataFrame.to_html``,
a hand-written report) is returned unchanged: there is nothing to strip, and a main-content
extractor would drop output tables.

Measured on the 181 real pages of the Zyte/Scrapinghub article-extraction benchmark
(``python benchmarks/eval_html_main.py PATH``): text F1 against the human-marked article body
0.67 for the whole page, 0.95 for this (precision 0.51 -> 0.94, recall 0.99 -> 0.97), at about
80 ms a page instead of 50.
"""

from __future__ import annotations

import re

__all__ = ["main_content", "MAX_MAIN_CONTENT_CHARS", "MIN_MAIN_CONTENT_CHARS"]

#: Larger pages keep their whole text (the linear parser handles them; this one is not).
MAX_MAIN_CONTENT_CHARS = 5_000_000
#: A main content shorter than this (text) means the extractor missed it: keep the page.
MIN_MAIN_CONTENT_CHARS = 200

_LANDMARK = re.compile(
    r"<(?:nav|footer|aside|header)\b"
    r"|role=[\"']?(?:navigation|banner|contentinfo|complementary)"
    r"|class=[\"'][^\"'>]*\b(?:nav|navbar|menu|sidebar|footer|breadcrumbs?)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def main_content(html: str) -> str:
    """``html`` reduced to its main content when it has boilerplate to remove, else itself."""
    if len(html) > MAX_MAIN_CONTENT_CHARS or not _LANDMARK.search(html):
        return html
    try:
        import trafilatura
    except ImportError:  # the index extra installs it; without it, index the whole page
        return html
    try:
        main = trafilatura.extract(html, output_format="html", include_formatting=True,
                                   include_tables=True, include_links=False,
                                   include_images=False, include_comments=False)
    except Exception:  # a page trafilatura cannot parse: the whole page, as before
        return html
    if not main or len(_TAG.sub("", main).strip()) < MIN_MAIN_CONTENT_CHARS:
        return html
    title = _TITLE.search(html[:200_000])
    head = f"<head><title>{title.group(1)}</title></head>" if title else ""
    body = main.split("<html>", 1)[-1].rsplit("</html>", 1)[0]
    return f"<html>{head}{body}</html>"
