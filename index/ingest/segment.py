"""Article text → paragraphs → sentences, each with its exact character span in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from syntok.segmenter import split as split_sentences
from syntok.tokenizer import Tokenizer

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Sentence:
    """`text == article_text[start:end]`; `paragraph` and `sentence` (within it) are 1-based."""

    paragraph: int
    sentence: int
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    # replace_not_contraction would rewrite "n't" tokens and break offset arithmetic
    return Tokenizer(replace_not_contraction=False)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank paragraph; paragraphs are separated by blank lines."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    result = []
    for start, end in spans:
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            result.append((start + lead, start + lead + len(stripped)))
    return result


def sentences(text: str) -> list[Sentence]:
    """Every sentence of the article, in order."""
    out: list[Sentence] = []
    for p_no, (p_start, p_end) in enumerate(paragraphs(text), 1):
        para = text[p_start:p_end]
        s_no = 0
        for tokens in split_sentences(_tokenizer().tokenize(para)):
            if not tokens:
                continue
            start = tokens[0].offset
            end = tokens[-1].offset + len(tokens[-1].value)
            raw = para[start:end]
            chunk = raw.strip()
            if not chunk or not any(ch.isalnum() for ch in chunk):
                continue
            start += len(raw) - len(raw.lstrip())
            end = start + len(chunk)
            s_no += 1
            out.append(Sentence(p_no, s_no, p_start + start, p_start + end, chunk))
    return out
