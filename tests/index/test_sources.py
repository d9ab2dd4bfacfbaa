"""Reading articles: every supported format, and bad files skipped with a reason."""

import gzip
import json
from pathlib import Path

import pytest

from index.ingest.sources import read_sources

MAX = 1_000_000


def read(*paths: Path) -> tuple[list, list]:
    return read_sources([(p, "") for p in paths], MAX)


def test_text_front_matter_gives_title_url_and_body(tmp_path: Path) -> None:
    f = tmp_path / "story.txt"
    f.write_text("---\ntitle: Harbour news\nurl: https://x.example/a\npublished: 2026-01-02\n"
                 "---\nFirst sentence. Second.\n", encoding="utf-8")
    (article,), skipped = read(f)
    assert (article.title, article.url, article.published) == ("Harbour news",
                                                               "https://x.example/a",
                                                               "2026-01-02")
    assert article.text == "First sentence. Second."
    assert skipped == []


def test_a_file_without_metadata_is_titled_after_its_name(tmp_path: Path) -> None:
    f = tmp_path / "bardella-channel-pushbacks.txt"
    f.write_text("Some text.", encoding="utf-8")
    (article,), _ = read(f)
    assert article.title == "Bardella channel pushbacks"
    assert article.url is None


def test_markdown_heading_is_the_title(tmp_path: Path) -> None:
    f = tmp_path / "a.md"
    f.write_text("# The heading\n\nBody text here.", encoding="utf-8")
    (article,), _ = read(f)
    assert article.title == "The heading"


def test_html_main_text_is_extracted_without_scripts(tmp_path: Path) -> None:
    f = tmp_path / "page.html"
    body = " ".join(f"The council met on day {i} to discuss the new harbour." for i in range(8))
    f.write_text("<html><head><title>Council meets</title><script>alert('x')</script></head>"
                 f"<body><nav>Home | About</nav><article><h1>Council meets</h1><p>{body}</p>"
                 "<p>The vote is due on Friday.</p></article></body></html>", encoding="utf-8")
    (article,), skipped = read(f)
    assert article.title == "Council meets"
    assert "The vote is due on Friday." in article.text
    assert "alert" not in article.text
    assert skipped == []


@pytest.mark.parametrize("title", ["Council meets", "Council meets | The Wexley Gazette"])
def test_an_html_headline_is_the_title_not_a_paragraph(tmp_path: Path, title: str) -> None:
    f = tmp_path / "page.html"
    f.write_text(f"<html><head><title>{title}</title></head><body><article>"
                 "<h1>Council meets</h1><p>The council met on Monday to discuss the harbour.</p>"
                 "<p>The vote is due on Friday.</p></article></body></html>", encoding="utf-8")
    (article,), _ = read(f)
    assert article.title == "Council meets"
    assert article.text.startswith("The council met on Monday")


def test_a_page_that_is_only_a_headline_has_no_article(tmp_path: Path) -> None:
    f = tmp_path / "page.html"
    f.write_text("<html><head><title>Council meets</title></head><body><article>"
                 "<h1>Council meets</h1></article></body></html>", encoding="utf-8")
    articles, skipped = read(f)
    assert articles == [] and "no article text" in skipped[0].reason


def test_jsonl_and_gzip_exports_use_their_ids_titles_and_urls(tmp_path: Path) -> None:
    rows = [{"doc_id": "nyt-1", "title": "One", "url": "https://a", "text": "Alpha. Beta."},
            {"id": "x2", "title": "Two", "text": "Gamma."},
            {"title": "no text"}]
    plain = tmp_path / "a.jsonl"
    plain.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(json.dumps(rows[0]).encode()))
    articles, skipped = read(plain, packed)
    assert [(a.doc_id, a.title) for a in articles] == [("nyt-1", "One"), ("x2", "Two"),
                                                       ("nyt-1-2", "One")]
    assert len(skipped) == 1 and "no 'text'" in skipped[0].reason


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A fine article.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 10)
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "huge.txt").write_text("x" * 2_000, encoding="utf-8")
    (tmp_path / "broken.jsonl.gz").write_bytes(b"not gzip at all")
    articles, skipped = read_sources([(tmp_path, "")], max_bytes=1_000)
    assert [a.title for a in articles] == ["Good"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "cap" in reasons["huge.txt"]
    assert "gzip" in reasons["broken.jsonl.gz"]


def test_a_missing_source_is_reported_not_fatal(tmp_path: Path) -> None:
    articles, skipped = read(tmp_path / "nope")
    assert articles == [] and "does not exist" in skipped[0].reason
