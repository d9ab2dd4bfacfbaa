"""Deterministic synthetic news-like text, questions about it, and stand-in embeddings.

Used for the speed and scale figures only (quality is measured on the real NYT split).
The same seed always gives the same corpus, so anyone can reproduce a run.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import numpy as np

SYLLABLES = ("ba", "be", "bi", "bo", "bu", "da", "de", "di", "do", "du", "fa", "fe", "fi", "fo",
             "ka", "ke", "ki", "ko", "ku", "la", "le", "li", "lo", "lu", "ma", "me", "mi", "mo",
             "mu", "na", "ne", "ni", "no", "nu", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro",
             "ru", "sa", "se", "si", "so", "ta", "te", "ti", "to", "tu", "va", "ve", "vi", "vo",
             "za", "ze", "zi", "zo")


def vocabulary(size: int = 20_000, seed: int = 7) -> list[str]:
    """Pseudo-words of 2–4 syllables (never an English abbreviation a splitter knows)."""
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    out: list[str] = []
    while len(out) < size:
        n = int(rng.integers(2, 5))
        w = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def articles(n_sentences: int, seed: int = 11) -> list[dict[str, str]]:
    """About `n_sentences` sentences in articles of ~16 sentences (paragraphs of 2–6),
    Zipf-distributed words, 8–28 words a sentence."""
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary())
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks**1.05
    p /= p.sum()
    lengths = rng.integers(8, 29, n_sentences)
    words = vocab[rng.choice(len(vocab), size=int(lengths.sum()), p=p)]
    sentences = []
    pos = 0
    for n in lengths:
        w = words[pos:pos + n]
        pos += n
        sentences.append(" ".join(w).capitalize() + ".")
    docs = []
    i = 0
    doc = 0
    while i < n_sentences:
        paras = []
        for _ in range(int(rng.integers(3, 6))):
            k = int(rng.integers(2, 7))
            paras.append(" ".join(sentences[i:i + k]))
            i += k
            if i >= n_sentences:
                break
        title = " ".join(vocab[rng.integers(0, 2000, int(rng.integers(4, 9)))]).title()
        docs.append({"doc_id": f"syn-{doc:07d}", "title": title, "url": "",
                     "text": "\n\n".join(p for p in paras if p)})
        doc += 1
    return docs


def write_corpus(path: Path, n_sentences: int) -> Path:
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as fh:
        for d in articles(n_sentences):
            fh.write(json.dumps(d) + "\n")
    tmp.rename(path)
    return path


def questions(docs: list[dict[str, str]], n: int, seed: int = 5) -> list[str]:
    """Questions made from 5–8 words of a random sentence of a random article."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = docs[int(rng.integers(0, len(docs)))]
        sents = d["text"].replace("\n\n", " ").split(". ")
        words = sents[int(rng.integers(0, len(sents)))].rstrip(".").lower().split()
        k = min(len(words), int(rng.integers(5, 9)))
        picked = [words[j] for j in sorted(rng.choice(len(words), k, replace=False))]
        out.append("What " + " ".join(picked) + "?")
    return out


class StandInEncoder:
    """Stand-in for the model at 100k/1M sentences (the real one would take hours here).

    Each text gets a deterministic unit vector: a mix of two *real* embeddings from a bank
    (chosen by a hash of the text) plus noise, so the vectors have the clustered shape of
    real ones, which matters for approximate-search recall.
    """

    def __init__(self, bank: np.ndarray, label: str, noise: float = 0.035) -> None:
        self.bank = np.ascontiguousarray(bank, dtype=np.float32)
        self.dim = bank.shape[1]
        self.noise = noise
        self.label = label  # the real model's: the questions are encoded by it

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        h = np.array([zlib.crc32(t.encode("utf-8")) for t in texts], dtype=np.int64)
        k = len(self.bank)
        rng = np.random.default_rng(int(h[0]) + len(texts))
        v = self.bank[h % k] + 0.6 * self.bank[(h // k) % k]
        v += rng.standard_normal(v.shape, dtype=np.float32) * self.noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v.astype(np.float32)

    def encode_in_context(self, articles: list[tuple[str, list[str]]]) -> list[np.ndarray]:
        return [self.encode([f"{title}. {s}" for s in sentences]) for title, sentences
                in articles]
