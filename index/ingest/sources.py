"""Reading articles from files: .txt/.md (optional front matter), .html, and JSONL(.gz) exports.

A bad file never aborts a build: it is reported as a `SkippedFile` with a reason.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from index.types import SHARED, SkippedFile

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".jsonl.gz"}
FRONT_MATTER_KEYS = {"title", "url", "published", "author"}


@dataclass(frozen=True)
class Article:
    doc_id: str
    title: str
    url: str | None
    text: str
    source: str
    collection: str = SHARED
    published: str | None = None
    author: str | None = None

    @property
    def content_hash(self) -> str:
        """Changes when anything that is embedded or cited changes."""
        h = hashlib.sha256()
        for part in (self.title, self.url or "", self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()


class Unreadable(ValueError):
    """A file that cannot be used as an article; the message says why."""


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def is_article_file(path: Path) -> bool:
    return suffix_of(path) in TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES


def normalize_text(text: str) -> str:
    """Line endings unified and outer blank space trimmed; nothing inside a line is changed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return text.strip()


def decode(data: bytes, name: str) -> str:
    if b"\0" in data[:8192]:
        raise Unreadable("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise Unreadable("empty file")
    return text


def title_from_name(path: Path) -> str:
    stem = path.name
    for suffix in (".jsonl.gz", ".markdown", ".jsonl", ".html", ".htm", ".txt", ".md"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "article"


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """`---` delimited `key: value` lines at the very top; other keys are ignored."""
    match = re.match(r"---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", text, flags=re.DOTALL)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key in FRONT_MATTER_KEYS:
            meta[key] = value.strip().strip("\"'")
    return meta, text[match.end():]


def parse_text(path: Path, data: bytes, collection: str = SHARED) -> Article:
    meta, body = split_front_matter(normalize_text(decode(data, path.name)))
    body = normalize_text(body)
    if not body:
        raise Unreadable("no article text after the front matter")
    title = meta.get("title") or ""
    if not title and suffix_of(path) in {".md", ".markdown"}:
        heading = re.match(r"#\s+(.+)\n", body)
        if heading:
            title = heading.group(1).strip()
    return Article(
        doc_id=slug(path.stem),
        title=title or title_from_name(path),
        url=meta.get("url") or None,
        text=body,
        source=str(path),
        collection=collection,
        published=meta.get("published"),
        author=meta.get("author"),
    )


def parse_html(path: Path, data: bytes, collection: str = SHARED) -> Article:
    import trafilatura  # lazy: only HTML sources need it

    html = decode(data, path.name)
    text = trafilatura.extract(html, include_comments=False, include_tables=False,
                               favor_precision=True)
    if not text or not text.strip():
        raise Unreadable("no article text found in the HTML")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta and meta.title else "") or title_from_name(path)
    # trafilatura separates paragraphs with single newlines; our paragraphs are blank-line separated
    paragraphs = [p.strip() for p in normalize_text(text).split("\n") if p.strip()]
    if paragraphs and is_headline(paragraphs[0], title):
        paragraphs = paragraphs[1:]  # the headline is the title, not a quotable sentence
    if not paragraphs:
        raise Unreadable("no article text found in the HTML (only a headline)")
    body = "\n\n".join(paragraphs)
    return Article(
        doc_id=slug(path.stem),
        title=title,
        url=(meta.url if meta and meta.url else None),
        text=body,
        source=str(path),
        collection=collection,
        published=(meta.date if meta and meta.date else None),
        author=(meta.author if meta and meta.author else None),
    )


def is_headline(paragraph: str, title: str) -> bool:
    """Whether `paragraph` repeats the title (alone, or before a "| Site" style suffix)."""
    def norm(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(" .!?:")

    first, whole = norm(paragraph), norm(title)
    if not first:
        return False
    return first == whole or (whole.startswith(first)
                              and whole[len(first):].lstrip()[:1] in {"|", "-", "–", "—", ":"})


def parse_jsonl(path: Path, data: bytes, collection: str = SHARED
                ) -> Iterator[Article | SkippedFile]:
    if suffix_of(path) == ".jsonl.gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise Unreadable(f"not a readable gzip file ({exc})") from None
    text = decode(data, path.name)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield SkippedFile(where, f"not valid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield SkippedFile(where, "a line is not a JSON object")
            continue
        body = row.get("text")
        doc_id = row.get("doc_id") or row.get("id")
        if not isinstance(body, str) or not body.strip():
            yield SkippedFile(where, "no 'text' field")
            continue
        if doc_id is None:
            doc_id = f"{slug(path.name)}-{lineno}"
        title = row.get("title")
        url = row.get("url")
        yield Article(
            doc_id=str(doc_id),
            title=str(title) if title else str(doc_id),
            url=str(url) if url else None,
            text=normalize_text(body),
            source=where,
            collection=collection,
            published=str(row["published"]) if row.get("published") else None,
            author=str(row["author"]) if row.get("author") else None,
        )


def read_file(path: Path, max_bytes: int, collection: str = SHARED
              ) -> Iterator[Article | SkippedFile]:
    """The articles in one file, or one `SkippedFile` saying why there are none."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise Unreadable(f"larger than the {max_bytes / 1e6:g} MB cap ({size / 1e6:g} MB)")
        data = path.read_bytes()
        kind = suffix_of(path)
        if kind in JSONL_SUFFIXES:
            yield from parse_jsonl(path, data, collection)
        elif kind in HTML_SUFFIXES:
            yield parse_html(path, data, collection)
        elif kind in TEXT_SUFFIXES:
            yield parse_text(path, data, collection)
        else:
            raise Unreadable(f"unsupported file type {kind or '(none)'!r}")
    except Unreadable as exc:
        yield SkippedFile(str(path), str(exc))
    except OSError as exc:
        yield SkippedFile(str(path), f"cannot read ({exc.strerror or exc})")


def read_sources(paths: list[tuple[Path, str]], max_bytes: int
                 ) -> tuple[list[Article], list[SkippedFile]]:
    """All articles under the given (path, collection) pairs; folders are walked recursively.

    doc_ids are made unique within a collection by suffixing `-2`, `-3`...
    """
    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    seen: set[tuple[str, str]] = set()
    for root, collection in paths:
        if root.is_dir():
            files = sorted(p for p in root.rglob("*")
                           if p.is_file() and not p.name.startswith(".")
                           and p.name.lower() != "readme.md")
            files = [p for p in files if is_article_file(p)]
        elif root.exists():
            files = [root]
        else:
            skipped.append(SkippedFile(str(root), "does not exist"))
            continue
        for path in files:
            for item in read_file(path, max_bytes, collection):
                if isinstance(item, SkippedFile):
                    skipped.append(item)
                    continue
                doc_id, n = item.doc_id, 1
                while (collection, doc_id) in seen:
                    n += 1
                    doc_id = f"{item.doc_id}-{n}"
                seen.add((collection, doc_id))
                if doc_id != item.doc_id:
                    item = Article(doc_id, item.title, item.url, item.text, item.source,
                                   item.collection, item.published, item.author)
                articles.append(item)
    return articles, skipped
