"""HTML reprs of records, listings, events and query results: content shown, user input escaped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from notebook_artifacts import ArtifactStore, QueryHit, QueryResult
from notebook_artifacts.reprs import (
    events_html,
    format_size,
    format_ttl,
    highlight,
    listing_html,
    query_html,
)

EVIL = '<script>alert("x")</script>'


@pytest.fixture()
def store(tmp_path):
    s = ArtifactStore(tmp_path / "store", index=False)
    yield s
    s.close()


def test_record_card_shows_fields_and_escapes_user_content(store):
    a = store.put(
        "hello <b>world</b>", "notes/<img src=x onerror=1>.txt", tags=["ok", "a&b"],
        metadata={EVIL: EVIL}, description=EVIL, ttl="2h",
    )
    html = a._repr_html_()
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=1&gt;" in html
    assert "a&amp;b" in html and "&lt;b&gt;world&lt;/b&gt;" in html  # preview escaped
    assert "v1" in html and "(latest)" in html
    assert "expires in 1h 59m" in html or "expires in 2h 0m" in html
    assert a.status in html and "text/plain" in html


def test_ttl_countdown_states():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = (now + timedelta(days=2, hours=3, minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert format_ttl({"expires_at": later}, now) == "expires in 2d 3h"
    assert format_ttl({"expires_at": "2025-12-31T00:00:00Z"}, now) == "expired"
    assert format_ttl({"expires_at": None}, now) == "no expiry"
    assert format_ttl({"expires_at": later, "is_pinned": True}, now) == "pinned"
    assert format_size(0) == "0 B" and format_size(1536) == "1.5 KiB" and format_size(3 << 20) == "3.0 MiB"


def test_listing_and_page_repr(store):
    store.put("a", "a.txt", tags=[EVIL])
    store.put("b", "b.txt")
    page = store.list()
    html = page._repr_html_()
    assert html.count("<tr>") == 3  # header + two rows
    assert "a.txt" in html and "b.txt" in html and "<script>" not in html
    assert "no artifacts" in listing_html([])


def test_events_repr_newest_order_kept(store):
    store.put("a", "first.txt")
    store.put("b", "second.txt")
    page = store.events()
    html = events_html(list(reversed(page.events)))
    assert html.index("second.txt") < html.index("first.txt")
    assert "created" in html
    assert page._repr_html_().count("<tr>") == 3


def test_query_result_html_highlights_chunk_and_folds_context(store):
    a = store.put("The churn model reaches a validation AUC of 0.87.", "notes.md")
    hit = QueryHit(artifact=a, score=0.8123, matched_chunk="The churn model reaches AUC <0.87>",
                   location={"section": "Results"}, citation="notes.md v1, Results")
    result = QueryResult(results=[hit], combined_context="[1] notes.md v1\nThe churn model",
                         total_results=1, query="churn model AUC")
    html = result._repr_html_()
    assert "<mark>churn</mark>" in html and "<mark>model</mark>" in html and "<mark>AUC</mark>" in html
    assert "&lt;0.87&gt;" in html  # chunk text escaped
    assert "[1] notes.md v1, Results" in html and "0.812" in html
    assert "<details><summary>Combined context" in html
    frame = result.to_frame()
    assert list(frame["name"]) == ["notes.md"] and frame.loc[0, "rank"] == 1
    assert frame.loc[0, "location.section"] == "Results"
    empty = QueryResult(results=[], combined_context="", total_results=0, query="x")
    assert "no matches" in query_html(empty) and len(empty.to_frame()) == 0


def test_highlight_escapes_and_ignores_stopwords():
    out = highlight("what is <the> Churn rate", "what is the churn")
    assert out == "what is &lt;the&gt; <mark>Churn</mark> rate"


def test_listing_times_are_short_utc_with_the_full_value_in_the_title():
    from notebook_artifacts.reprs import format_time, listing_html

    assert format_time("2026-11-23T11:05:31.312Z") == "2026-11-23 11:05:31"
    assert format_time("2026-11-23T13:05:31+02:00") == "2026-11-23 11:05:31"
    assert format_time(None) == "" and format_time("not a time") == "not a time"
    html = listing_html([{"name": "a.txt", "version": 1, "created_at": "2026-11-23T11:05:31.312Z",
                          "artifact_id": "art_1"}])
    assert 'title="2026-11-23T11:05:31.312Z">2026-11-23 11:05:31<' in html and "art_1" in html


def test_hit_location_shows_only_what_the_citation_does_not_say():
    from notebook_artifacts.reprs import _location

    assert _location({"page": None, "section": ""}, "a.md v1") == ""
    assert _location({"page": 3, "section": ""}, "r.pdf v1, p. 3") == ""
    assert _location({"page": 3}, "r.pdf v1") == "page 3"
    assert _location({"section": "rows 11-20"}, "m.csv v1, § rows 11-20") == ""
    assert _location({"section": "Setup", "lines": "3-9"}, "n.md v1") == "section Setup, lines 3-9"
    assert _location({"section": "Q3", "sheet": "Q3", "rows": [40, 80]},
                     'b.xlsx v2, sheet "Q3", rows 40-80') == ""
    assert _location({"rows": [40, 80]}, "b.xlsx v2") == "rows 40-80"

def test_text_plain_is_readable_for_records_listings_events_and_results(store):
    from IPython.core.interactiveshell import InteractiveShell

    fmt = InteractiveShell.instance().display_formatter
    a = store.put("hello", "notes.md", tags=["draft", "q3"], ttl="2h")
    texts = {
        "record": fmt.format(a)[0]["text/plain"],
        "listing": fmt.format(store.list())[0]["text/plain"],
        "events": fmt.format(store.events())[0]["text/plain"],
        "result": fmt.format(QueryResult(
            results=[QueryHit(artifact=a, score=0.5, matched_chunk="hello " * 80, citation="notes.md v1")],
            combined_context="[1] notes.md v1\nhello", total_results=1, query="hello"))[0]["text/plain"],
    }
    for what, text in texts.items():
        assert "Artifact(" not in text and "artifact_id=" not in text, what
        assert "notes.md" in text, what
    assert texts["record"].splitlines()[0] == "notes.md v1 (latest)"
    assert "draft, q3" in texts["record"] and "expires in" in texts["record"]
    assert "1 artifact" in texts["listing"] and a.artifact_id in texts["listing"]
    assert "created" in texts["events"]
    assert "[1] notes.md v1" in texts["result"] and texts["result"].count("\u2026") == 1


def test_html_reads_without_stylesheets_and_wraps_at_words(store):
    import re

    a = store.put("word " * 400, "long.txt", tags=["x"], metadata={"k": 1})
    html = re.sub(r"<style>.*?</style>", "", a._repr_html_(), flags=re.S)
    # structure without CSS: a heading, a table of fields, preformatted preview
    assert "<h4" in html and "<th>tags</th>" in html and "<th>metadata</th>" in html
    assert 'style="border:1px solid' in html  # the card's frame survives a stripped <style>
    assert "word-break:normal" in html  # never "feature sto|re"
    assert "var(--jp-ui-font-color2" in html  # theme colours: contrast in dark themes too
    preview = re.search(r"<pre[^>]*>(.*?)</pre>", html, re.S).group(1)
    assert preview.endswith("word\u2026") and "wor\u2026" not in preview  # cut at a word
    listing = re.sub(r"<style>.*?</style>", "", store.list()._repr_html_(), flags=re.S)
    assert re.search(r'<td style="[^"]*border-bottom', listing)


def test_chunk_count_is_singular_for_one():
    from notebook_artifacts.reprs import _status

    assert ">indexed, 1 chunk<" in _status({"status": "indexed", "chunk_count": 1})
    assert ">indexed, 3 chunks<" in _status({"status": "indexed", "chunk_count": 3})
