"""Word-level evidence: stemmed tokens, BM25 (scored by bm25s at build time) and IDF-weighted
word coverage.

Three granularities are indexed: the sentence alone, the sentence in its context
(title + previous + sentence + next), and the whole article. Each level is stored as
postings: for every word, the items that hold it (sorted) and each one's BM25 score, as
plain arrays (memory-mapped). A question costs the length of its words' postings, not the
size of the corpus, and answering needs neither scipy nor bm25s (only building does).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

WORD = re.compile(r"\w+", re.UNICODE)
LEVELS = ("sentence", "context", "article")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    # NLTK's English list (it has the question words), plus honorifics that every news
    # article repeats
    return frozenset(STOPWORDS_EN_PLUS) | {"whose", "also", "mr", "ms", "mrs", "dr"}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str, stop: frozenset[str] | None = None) -> list[str]:
    """Lower-cased, stop words (`stop`, default bm25s's English list) removed,
    Snowball-stemmed words."""
    stop = _stopwords() if stop is None else stop
    words = [w for w in WORD.findall(text.lower()) if w not in stop]
    return list(_stemmer().stemWords(words))


def _import_bm25s() -> Any:
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    return bm25s


@dataclass(frozen=True)
class Postings:
    """One level: word w is held by items `items[starts[w]:starts[w + 1]]` (sorted), whose
    BM25 scores for w are `bm25` at the same positions."""

    starts: np.ndarray
    items: np.ndarray
    bm25: np.ndarray
    size: int
    """How many items (sentence rows, or articles) the level has."""

    def of(self, word: int) -> slice:
        return slice(int(self.starts[word]), int(self.starts[word + 1]))

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> Postings:
        """bm25s scores every (item, word) pair; its columns are re-keyed to `vocab`."""
        if not token_lists:  # nothing at this level (bm25s cannot index an empty corpus)
            return cls(np.zeros(len(vocab) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                       np.zeros(0, dtype=np.float32), 0)
        retriever = _import_bm25s().BM25()
        # an empty token list breaks bm25s; a placeholder no query produces keeps rows aligned
        retriever.index([list(t) or ["\0"] for t in token_lists], show_progress=False)
        scores = retriever.scores
        columns = len(scores["indptr"]) - 1
        ours = np.full(columns, -1, dtype=np.int64)
        for token, column in retriever.vocab_dict.items():
            if column < columns and token in vocab:
                ours[column] = vocab[token]
        lengths = np.diff(scores["indptr"])
        counts = np.zeros(len(vocab) + 1, dtype=np.int64)
        counts[ours[ours >= 0] + 1] = lengths[ours >= 0]
        starts = np.cumsum(counts)
        items = np.empty(int(starts[-1]), dtype=np.int32)
        bm25 = np.empty(int(starts[-1]), dtype=np.float32)
        for column in np.flatnonzero(ours >= 0):
            source = slice(int(scores["indptr"][column]), int(scores["indptr"][column + 1]))
            order = np.argsort(scores["indices"][source], kind="stable")
            target = slice(int(starts[ours[column]]), int(starts[ours[column] + 1]))
            items[target] = scores["indices"][source][order]
            bm25[target] = scores["data"][source][order]
        return cls(starts, items, bm25, len(token_lists))

    def save(self, folder: Path, level: str) -> None:
        np.save(folder / f"{level}-starts.npy", self.starts)
        np.save(folder / f"{level}-items.npy", self.items)
        np.save(folder / f"{level}-bm25.npy", self.bm25)

    @classmethod
    def load(cls, folder: Path, level: str, size: int) -> Postings:
        def array(part: str) -> np.ndarray:
            return np.load(folder / f"{level}-{part}.npy", mmap_mode="r")

        postings = cls(array("starts"), array("items"), array("bm25"), size)
        if len(postings.items) != len(postings.bm25) or (
                len(postings.starts) and int(postings.starts[-1]) != len(postings.items)):
            raise ValueError(f"the {level} postings do not match each other")
        return postings


@dataclass(frozen=True)
class SentenceWords:
    """Each sentence's stemmed content words in order, as vocabulary ids: sentence r's are
    `ids[starts[r]:starts[r + 1]]`. Kept at build so that the word pairs a question shares
    with a candidate are found without reading and tokenizing its text."""

    starts: np.ndarray
    ids: np.ndarray

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], vocab: dict[str, int]
              ) -> SentenceWords:
        lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64,
                              count=len(token_lists))
        starts = np.zeros(len(token_lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        ids = np.fromiter((vocab[t] for tokens in token_lists for t in tokens),
                          dtype=np.int32, count=int(starts[-1]))
        return cls(starts, ids)

    def save(self, folder: Path) -> None:
        np.save(folder / "words-starts.npy", self.starts)
        np.save(folder / "words-ids.npy", self.ids)

    @classmethod
    def load(cls, folder: Path, size: int) -> SentenceWords | None:
        if not (folder / "words-starts.npy").is_file():
            return None
        words = cls(np.load(folder / "words-starts.npy", mmap_mode="r"),
                    np.load(folder / "words-ids.npy", mmap_mode="r"))
        if len(words.starts) != size + 1 or int(words.starts[-1]) != len(words.ids):
            raise ValueError("the sentence words do not match the postings")
        return words

    def pairs_found(self, groups: Sequence[np.ndarray], codes: np.ndarray,
                    vocab_size: int) -> np.ndarray:
        """For candidate i, how many distinct pairs of `codes` (sorted, see
        `Lexicon.pair_ids`) occur as consecutive words in any of the sentences
        `groups[k][i]` (k over the groups; a row of -1 stands for no sentence)."""
        count = len(groups[0])
        out = np.zeros(count, dtype=np.float32)
        if count == 0 or len(codes) == 0:
            return out
        rows = np.concatenate(groups).astype(np.int64)
        owner = np.tile(np.arange(count), len(groups))
        valid = rows >= 0
        rows, owner = rows[valid], owner[valid]
        begin = np.asarray(self.starts[rows])
        npairs = np.maximum(np.asarray(self.starts[rows + 1]) - begin - 1, 0)
        total = int(npairs.sum())
        if total == 0:
            return out
        first = np.cumsum(npairs) - npairs
        at = np.repeat(begin - first, npairs) + np.arange(total)
        pair = np.asarray(self.ids[at]).astype(np.int64) * vocab_size \
            + np.asarray(self.ids[at + 1])
        found = np.minimum(np.searchsorted(codes, pair), len(codes) - 1)
        hit = codes[found] == pair
        keys = np.unique(np.repeat(owner, npairs)[hit] * len(codes) + found[hit])
        np.add.at(out, keys // len(codes), 1.0)
        return out


@dataclass(frozen=True)
class Found:
    """Where the question's words are among some items: per word (in `QueryTerms.ids`
    order), which items hold it (`held`) and its BM25 in each (`scores`, 0 where absent)."""

    size: int
    """How many items."""
    held: list[np.ndarray]
    scores: list[np.ndarray]

    def bm25(self) -> np.ndarray:
        """BM25 of the words together (summed in word order, as `bm25_scores` sums)."""
        total = np.zeros(self.size, dtype=np.float32)
        for value in self.scores:
            total += value
        return total

    def coverage(self, terms: QueryTerms) -> np.ndarray:
        """IDF-weighted share of the question's words held (see `Lexicon.coverage`)."""
        found = np.zeros(self.size, dtype=np.float32)
        for weight, hit in zip(terms.idf, self.held, strict=True):
            found += weight * hit
        return found / np.float32(terms.total_idf)


@dataclass
class QueryTerms:
    """The question's stemmed content words that occur in the corpus, with their weights."""

    tokens: list[str]
    ids: np.ndarray
    idf: np.ndarray
    total_idf: float
    """IDF mass of all the question's words, those the corpus never uses included (so
    unknown words lower every coverage share)."""
    name_ids: np.ndarray
    """Vocabulary ids of the question's capitalised words (names, mostly) after the first."""
    name_count: int
    """How many such words there are, including those the corpus never uses."""

    @property
    def empty(self) -> bool:
        return len(self.tokens) == 0


class Lexicon:
    """BM25 and coverage at the three levels, for one index version."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray,
                 postings: dict[str, Postings], stopwords: frozenset[str],
                 words: SentenceWords | None = None) -> None:
        self.vocab = vocab
        self.idf = idf
        self.postings = postings
        #: each sentence's words in order (None in an index built before they were kept)
        self.words = words
        #: the list the index was built with, kept with it (and answering needs no bm25s)
        self.stopwords = stopwords
        self.max_idf = float(idf.max()) if len(idf) else 1.0
        self._bounds: dict[tuple[str, int], float] = {}  # (level, word): its highest BM25

    @classmethod
    def build(cls, sentence_tokens: Sequence[Sequence[str]],
              context_tokens: Sequence[Sequence[str]],
              article_tokens: Sequence[Sequence[str]]) -> Lexicon:
        vocab: dict[str, int] = {}
        for tokens in (*sentence_tokens, *context_tokens, *article_tokens):
            for t in tokens:
                if t not in vocab:
                    vocab[t] = len(vocab)
        levels = dict(zip(LEVELS, (sentence_tokens, context_tokens, article_tokens), strict=True))
        postings = {name: Postings.build(tokens, vocab) for name, tokens in levels.items()}
        n = max(1, len(sentence_tokens))
        df = np.diff(postings["sentence"].starts)  # sentences holding each word
        idf = np.log((n + 1) / (df + 0.5)).astype(np.float32)
        return cls(vocab, idf, postings, _stopwords(),
                   SentenceWords.build(sentence_tokens, vocab))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        sizes = {name: p.size for name, p in self.postings.items()}
        (folder / "vocab.json").write_text(json.dumps({"words": self.vocab, "sizes": sizes,
                                                       "stopwords": sorted(self.stopwords)}),
                                           encoding="utf-8")
        np.save(folder / "idf.npy", self.idf)
        for name, postings in self.postings.items():
            postings.save(folder, name)
        if self.words is not None:
            self.words.save(folder)

    @classmethod
    def load(cls, folder: Path) -> Lexicon:
        meta = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        vocab, sizes = meta["words"], meta["sizes"]
        stopwords = frozenset(meta["stopwords"])
        idf = np.load(folder / "idf.npy")
        postings = {name: Postings.load(folder, name, int(sizes[name])) for name in LEVELS}
        if len(idf) != len(vocab) or any(len(p.starts) != len(vocab) + 1
                                         for p in postings.values()):
            raise ValueError("the vocabulary does not match the postings")
        words = SentenceWords.load(folder, postings["sentence"].size)
        return cls(vocab, idf, postings, stopwords, words)

    def pairs_found(self, question: str, groups: Sequence[np.ndarray]
                    ) -> tuple[np.ndarray, int] | None:
        """`SentenceWords.pairs_found` for the question's pairs, with how many pairs it has;
        None when the index keeps no sentence words (built before they were kept)."""
        if self.words is None:
            return None
        codes, count = self.pair_ids(question)
        return self.words.pairs_found(groups, codes, len(self.vocab)), count

    def pair_ids(self, question: str) -> tuple[np.ndarray, int]:
        """The question's word pairs (consecutive content words, stemmed, as in
        `tokenize`) as sorted codes of vocabulary ids, and how many distinct pairs it has
        (pairs with a word no sentence uses count, but cannot be found)."""
        tokens = tokenize(question)
        pairs = set(zip(tokens, tokens[1:], strict=False))
        size = len(self.vocab)
        codes = sorted({self.vocab[a] * size + self.vocab[b] for a, b in pairs
                        if a in self.vocab and b in self.vocab})
        return np.array(codes, dtype=np.int64), len(pairs)

    def query(self, question: str) -> QueryTerms:
        tokens = list(dict.fromkeys(tokenize(question, self.stopwords)))
        known = [t for t in tokens if t in self.vocab]
        ids = np.array([self.vocab[t] for t in known], dtype=np.int64)
        idf = self.idf[ids] if len(ids) else np.zeros(0, dtype=np.float32)
        # a word the corpus never uses weighs a little more than its rarest word
        missing = (len(tokens) - len(known)) * (self.max_idf + math.log(2))
        words = WORD.findall(question)
        names = list(dict.fromkeys(t for w in words[1:] if w[:1].isupper()
                                   for t in tokenize(w, self.stopwords)))
        name_ids = np.array([self.vocab[t] for t in names if t in self.vocab], dtype=np.int64)
        return QueryTerms(known, ids, idf, float(idf.sum()) + missing, name_ids, len(names))

    def bm25_scores(self, level: str, terms: QueryTerms) -> np.ndarray:
        """BM25 of every item at `level` (sentence rows, or articles)."""
        postings = self.postings[level]
        scores = np.zeros(postings.size, dtype=np.float32)
        for word in terms.ids:
            where = postings.of(int(word))
            scores[postings.items[where]] += postings.bm25[where]
        return scores

    def bm25(self, level: str, terms: QueryTerms, items: np.ndarray,
             distinct: bool = False) -> np.ndarray:
        """BM25 of the question's words in each of `items`: `bm25_scores(level,
        terms)[items]`, the same float32 sums, read from the words' postings alone (with
        `distinct`, `items` are sorted and unique)."""
        return self.find(level, terms, items, distinct).bm25()

    def find(self, level: str, terms: QueryTerms, items: np.ndarray,
             distinct: bool = False) -> Found:
        """Which of `items` hold each of the question's words, and its BM25 in each (with
        `distinct`, `items` are sorted and unique)."""
        postings = self.postings[level]
        items = np.asarray(items)
        if not distinct and len(items) > 1:
            # search in row order: neighbouring lookups touch neighbouring postings pages
            unique, back = np.unique(items, return_inverse=True)
            found = self.find(level, terms, unique, distinct=True)
            return Found(len(items), [h[back] for h in found.held],
                         [v[back] for v in found.scores])
        items = items.astype(postings.items.dtype, copy=False)
        held, scores = [], []
        for word in terms.ids.tolist():
            where = postings.of(word)
            hit, at = self._holders(postings.items[where], items)
            value = np.zeros(len(items), dtype=np.float32)
            value[hit] = postings.bm25[where][at[hit]]
            held.append(hit)
            scores.append(value)
        return Found(len(items), held, scores)

    @staticmethod
    def _holders(held: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit, at): which of `items` (sorted, unique) occur in `held` (sorted), and
        where: `held[at[i]] == items[i]` where `hit[i]`. Binary search on whichever of the
        two lists is shorter."""
        hit = np.zeros(len(items), dtype=bool)
        at = np.zeros(len(items), dtype=np.int64)
        if len(held) == 0 or len(items) == 0:
            return hit, at
        if len(held) < len(items):
            where = np.minimum(np.searchsorted(items, held), len(items) - 1)
            match = items[where] == held
            hit[where[match]] = True
            at[where[match]] = np.flatnonzero(match)
        else:
            at = np.minimum(np.searchsorted(held, items), len(held) - 1)
            hit = held[at] == items
        return hit, at

    def holds(self, level: str, word: int, items: np.ndarray) -> np.ndarray:
        """Which of `items` (any order) hold vocabulary word `word`."""
        postings = self.postings[level]
        held = postings.items[postings.of(word)]
        if len(held) == 0:
            return np.zeros(len(items), dtype=bool)
        items = np.asarray(items).astype(held.dtype, copy=False)
        at = np.minimum(np.searchsorted(held, items), len(held) - 1)
        return np.asarray(held[at] == items)

    def _upper(self, level: str, word: int) -> float:
        """The highest BM25 `word` has in any item of `level` (remembered)."""
        bound = self._bounds.get((level, word))
        if bound is None:
            postings = self.postings[level]
            scores = postings.bm25[postings.of(word)]
            bound = self._bounds[(level, word)] = float(scores.max()) if len(scores) else 0.0
        return bound

    def top(self, level: str, terms: QueryTerms, k: int,
            allowed: np.ndarray | None = None) -> np.ndarray:
        """The (up to) `k` items of `level` with the highest BM25 above 0 (and `allowed`;
        of those tied at the k-th score, the first), in no order: those of `bm25_scores`,
        without scoring every item.

        The exact scores of the items holding the question's rarest words give a floor
        under the k-th best score; a word whose postings are skipped must then be one of
        the commonest, whose highest scores together stay under that floor, so an item
        holding only such words cannot be among the best k (the MaxScore bound)."""
        postings = self.postings[level]
        words = [int(w) for w in terms.ids if postings.starts[w + 1] > postings.starts[w]]
        if k <= 0 or not words:
            return np.zeros(0, dtype=np.int64)

        def held(chosen: Sequence[int]) -> np.ndarray:
            parts = [postings.items[postings.of(w)] for w in chosen]
            if sum(len(p) for p in parts) > postings.size // 8:
                mask = np.zeros(postings.size, dtype=bool)
                for p in parts:
                    mask[p] = True
                found = np.flatnonzero(mask).astype(postings.items.dtype)
            else:
                found = np.unique(np.concatenate(parts))
            return found if allowed is None else found[allowed[found]]

        def best(items: np.ndarray, scores: np.ndarray) -> np.ndarray:
            keep = scores > 0
            items, scores = items[keep], scores[keep]
            if len(items) > k:  # of the items tied at the k-th score, the first ones
                kth = np.partition(scores, len(items) - k)[len(items) - k]
                above = items[scores > kth]
                items = np.concatenate([above, items[scores == kth][:k - len(above)]])
            return items.astype(np.int64)

        # a floor: the k-th best exact score among the items of the shortest postings
        by_length = sorted(words, key=lambda w: int(postings.starts[w + 1] - postings.starts[w]))
        seeds = np.zeros(0, dtype=postings.items.dtype)
        for used in range(1, len(by_length) + 1):
            seeds = held(by_length[:used])
            if len(seeds) >= k:
                break
        seed_scores = self.bm25(level, terms, seeds, distinct=True)
        if len(seeds) < k:  # fewer than k items hold any of the words: all of them
            return best(seeds, seed_scores)
        floor = float(np.partition(seed_scores, len(seeds) - k)[len(seeds) - k])
        # skip the commonest words while their bounds together (`rest`) stay under the
        # floor (with a margin for float32 rounding): an item holding no other word
        # cannot be among the best k
        by_bound = sorted(words, key=lambda w: self._upper(level, w))
        rest, skipped = 0.0, 0
        while skipped < len(by_bound) - 1 and \
                (rest + self._upper(level, by_bound[skipped])) * (1 + 1e-5) < floor:
            rest += self._upper(level, by_bound[skipped])
            skipped += 1
        # the other words' part of each score, scattered over their postings alone
        partial = np.zeros(postings.size, dtype=np.float32)
        for word in by_bound[skipped:]:
            where = postings.of(word)
            partial[postings.items[where]] += postings.bm25[where]
        margin = 1e-4 * max(floor, 1.0)  # float32 sums in another order
        # an item reaches the floor only if its part is within `rest` of it
        items = np.flatnonzero(partial >= max(floor - rest - margin, 1e-30))
        if allowed is not None:
            items = items[allowed[items]]
        items = items.astype(postings.items.dtype)
        part = partial[items]
        # the skipped words one by one, the most weighty first: each one's share of the
        # remaining items is exact, `rest` shrinks, and k items scoring at least their
        # part so far raise the floor
        order: list[int | None] = [*reversed(by_bound[:skipped]), None]
        for added in order:
            if len(items) >= k:
                floor = max(floor, float(np.partition(part, len(items) - k)[len(items) - k]))
            keep = part >= floor - rest - margin
            items, part = items[keep], part[keep]
            if added is None or len(items) <= k:
                break
            where = postings.of(added)
            hit, at = self._holders(postings.items[where], items)
            part[hit] += postings.bm25[where][at[hit]]
            rest -= self._upper(level, added)
        return best(items, self.bm25(level, terms, items, distinct=True))

    def coverage(self, level: str, terms: QueryTerms, rows: np.ndarray) -> np.ndarray:
        """IDF-weighted share of the question's content words present in each of `rows`."""
        if terms.empty or terms.total_idf <= 0:
            return np.zeros(len(rows), dtype=np.float32)
        # binary search of `rows` in each word's sorted items: the cost follows the rows
        # asked about, not the corpus
        return self.find(level, terms, np.asarray(rows)).coverage(terms)

    def name_coverage(self, level: str, terms: QueryTerms, row: int) -> float:
        """Share of the question's capitalised words present in item `row` at `level`
        (1.0 when the question has none)."""
        if terms.name_count == 0:
            return 1.0
        postings = self.postings[level]
        found = 0
        for word in terms.name_ids:
            items = postings.items[postings.of(int(word))]
            at = int(np.searchsorted(items, row))
            found += int(at < len(items) and items[at] == row)
        return float(found) / terms.name_count
