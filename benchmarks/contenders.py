"""Quality, ingest time and answer latency of citebot and the alternatives on the NYT dev
split, one contender per process (so peak RSS is each one's own).

    python -m benchmarks.contenders NAME QUESTIONS

Every contender gets the same articles, the same model (the packaged all-MiniLM-L6-v2),
2 threads and batch size 64. Sentence-level contenders index the sentences of our own
splitter, so every retrieved unit has an exact character span in its article; a question
is scored the ReQA way (rank of the first retrieved unit whose span overlaps the answer)
with `index.cli.evaluate.summarize`, exactly as `citebot-index eval` scores citebot.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench"))
THREADS = 2
BATCH = 64
DEPTH = 100  # results asked for: ranks deeper than this count as misses
LATENCY_QUESTIONS = 300


@dataclass(frozen=True)
class Unit:
    """A retrievable piece of an article: `text == article_text[start:end]` for sentences;
    chunks carry the span they were cut from."""

    doc: int
    start: int
    end: int
    text: str


def model_path() -> str:
    from index.models.embed import default_model_path

    return default_model_path()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def nyt_docs() -> list[dict[str, Any]]:
    import gzip

    from index.cli import evaluate

    with gzip.open(evaluate.eval_dir() / evaluate.NYT_DOCS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sentence_units(docs: list[dict[str, Any]]) -> list[Unit]:
    from index.ingest import segment

    return [Unit(i, s.start, s.end, s.text) for i, d in enumerate(docs)
            for s in segment.sentences(d["text"])]


# --- contenders -------------------------------------------------------------------------------

class Contender:
    """`ingest` the units, then `search` gives (unit index, score) best first."""

    units: list[Unit]
    notes: dict[str, Any]

    def __init__(self) -> None:
        self.notes = {}

    def ingest(self, docs: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        raise NotImplementedError


class BareDense(Contender):
    """sentence-transformers + faiss.IndexFlatIP over sentences, as their docs show it."""

    def ingest(self, docs: list[dict[str, Any]]) -> None:
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path(), device="cpu")
        self.units = sentence_units(docs)
        vectors = self.model.encode([u.text for u in self.units], batch_size=BATCH,
                                    normalize_embeddings=True, show_progress_bar=False)
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        q = self.model.encode([question], normalize_embeddings=True)
        scores, ids = self.faiss.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class BM25(Contender):
    """bm25s alone: English stopwords, no stemming (the eval README's reference setup)."""

    def ingest(self, docs: list[dict[str, Any]]) -> None:
        import bm25s

        self.units = sentence_units(docs)
        self.bm25s = bm25s
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize([u.text for u in self.units], stopwords="en",
                                            show_progress=False), show_progress=False)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        tokens = self.bm25s.tokenize([question], stopwords="en", show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        ids, scores = self.retriever.retrieve(tokens, k=min(k, len(self.units)),
                                              show_progress=False, n_threads=1)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


class Txtai(Contender):
    """txtai Embeddings over sentences with its defaults (faiss backend), dense or hybrid."""

    def __init__(self, hybrid: bool) -> None:
        super().__init__()
        self.hybrid = hybrid

    def ingest(self, docs: list[dict[str, Any]]) -> None:
        from txtai import Embeddings

        self.units = sentence_units(docs)
        self.embeddings = Embeddings(path=model_path(), method="sentence-transformers",
                                     hybrid=self.hybrid, content=False, encodebatch=BATCH)
        self.embeddings.index([(i, u.text, None) for i, u in enumerate(self.units)])
        ann = self.embeddings.ann
        backend = getattr(ann, "backend", None)
        self.notes["faiss_index"] = type(backend).__name__ if backend is not None else "?"
        self.notes["nprobe"] = getattr(backend, "nprobe", None)

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        return [(int(i), float(s)) for i, s in self.embeddings.search(question, k)]


class LlamaIndex(Contender):
    """LlamaIndex VectorStoreIndex on its FAISS vector store, HuggingFaceEmbedding, either
    its default chunking (SentenceSplitter, 1,024 tokens, overlap 200) or one node a sentence.
    Documents carry their title as metadata, which LlamaIndex embeds with the text."""

    def __init__(self, sentences: bool) -> None:
        super().__init__()
        self.sentences = sentences

    def ingest(self, docs: list[dict[str, Any]]) -> None:
        import faiss
        from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
        from llama_index.core.schema import MetadataMode, TextNode
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.faiss import FaissVectorStore

        Settings.llm = None
        embed = HuggingFaceEmbedding(model_name=model_path(), device="cpu",
                                     embed_batch_size=BATCH)
        Settings.embed_model = embed
        store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
        context = StorageContext.from_defaults(vector_store=store)
        self.node_unit: dict[str, int] = {}
        self.units = []
        if self.sentences:
            nodes = []
            for u in sentence_units(docs):
                node = TextNode(text=u.text, metadata={"title": docs[u.doc]["title"]},
                                start_char_idx=u.start, end_char_idx=u.end)
                self.node_unit[node.node_id] = len(self.units)
                self.units.append(u)
                nodes.append(node)
            self.index = VectorStoreIndex(nodes, storage_context=context)
        else:
            documents = [Document(text=d["text"], id_=str(i), metadata={"title": d["title"]})
                         for i, d in enumerate(docs)]
            self.index = VectorStoreIndex.from_documents(documents, storage_context=context)
            nodes = list(self.index.docstore.docs.values())
            for node in nodes:
                doc = int(node.ref_doc_id)
                start, end = node.start_char_idx, node.end_char_idx
                self.node_unit[node.node_id] = len(self.units)
                self.units.append(Unit(doc, int(start), int(end), node.get_content()))
            self.truncation(docs, nodes, embed, MetadataMode.EMBED)
        self.retriever = self.index.as_retriever(similarity_top_k=DEPTH)

    def truncation(self, docs: list[dict[str, Any]], nodes: list[Any], embed: Any,
                   mode: Any) -> None:
        """How much text lies past the model's window (never embedded)."""
        tokenizer = embed._model.tokenizer
        window = embed._model.max_seq_length - 2  # [CLS] and [SEP]
        embedded: dict[int, list[tuple[int, int]]] = {}
        tokens, truncated = [], 0
        for node in nodes:
            full = node.get_content(metadata_mode=mode)
            header = len(full) - len(node.get_content())
            enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
            tokens.append(len(enc["input_ids"]))
            if len(enc["input_ids"]) > window:
                truncated += 1
                seen = max(0, enc["offset_mapping"][window - 1][1] - header)
            else:
                seen = len(node.get_content())
            embedded.setdefault(int(node.ref_doc_id), []).append(
                (node.start_char_idx, node.start_char_idx + seen))
        sents = sentence_units(docs)
        never = [u for u in sents if not any(a <= u.start and u.end <= b
                                             for a, b in embedded.get(u.doc, []))]
        self.embedded = embedded
        self.notes.update(chunks=len(nodes), chunk_tokens_median=float(np.median(tokens)),
                          chunks_truncated=truncated / len(nodes),
                          sentences_never_embedded=len(never) / len(sents),
                          chars_never_embedded=sum(len(u.text) for u in never)
                          / sum(len(u.text) for u in sents))

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        hits = self.retriever.retrieve(question)[:k]
        return [(self.node_unit[h.node.node_id], float(h.score or 0.0)) for h in hits]


# --- citebot itself ------------------------------------------------------------------------------

def run_citebot(questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the NYT index from scratch (timed), then score it with index.cli.evaluate."""
    import shutil

    from index.cli import evaluate
    from index.models.embed import load_encoder
    from index.settings import IndexSettings

    settings = IndexSettings(data_dir=SCRATCH / "nyt-citebot", threads=THREADS,
                             batch_size=BATCH, model_cache=str(SCRATCH / "models"))
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    load_encoder(settings)  # as for the others
    t = time.perf_counter()
    idx = evaluate.nyt_index(settings, evaluate.eval_dir())
    ingest = time.perf_counter() - t
    results = list(evaluate.nyt_results(idx, questions))
    latency = []
    for q in questions[:LATENCY_QUESTIONS]:
        t = time.perf_counter()
        idx.answer(str(q["question"]))
        latency.append(time.perf_counter() - t)
    seed = evaluate.seed_results(
        evaluate.seed_index(evaluate.scratch_settings(settings, "seed-citebot")),
        evaluate.eval_dir())
    answerable = [r for r in seed if r.answerable]
    return {"units": idx.sentence_count, "unit": "sentence (2 views + BM25 fusion)",
            "ingest_s": ingest, "latency_s": latency,
            "scores": evaluate.summarize(results, settings.abstain_threshold).to_json(),
            "seed": {"answerable": len(answerable),
                     "correct": sum(r.correct for r in answerable),
                     "unanswerable": len(seed) - len(answerable),
                     "refused": sum(r.correct for r in seed if not r.answerable)},
            "notes": {"threads": THREADS, "batch_size": BATCH}}


# --- scoring the others the same way ------------------------------------------------------

def rank_of(c: Contender, hits: list[tuple[int, float]], doc: int, a0: int, a1: int,
            expand: bool) -> int | None:
    """1-based rank of the first hit overlapping the answer span. With `expand`, a chunk
    stands for its sentences in reading order (each costs one rank)."""
    position = 0
    for unit_id, _ in hits:
        u = c.units[unit_id]
        if not expand:
            position += 1
            if u.doc == doc and u.start < a1 and a0 < u.end:
                return position
            continue
        for s in c.chunk_sentences(unit_id):  # type: ignore[attr-defined]
            position += 1
            if s.doc == doc and s.start < a1 and a0 < s.end:
                return position
    return None


def run_contender(c: Contender, questions: list[dict[str, Any]], docs: list[dict[str, Any]],
                  chunked: bool) -> dict[str, Any]:
    from index.cli import evaluate
    from index.ingest.sources import read_sources
    from index.settings import BUNDLED_CORPUS

    t = time.perf_counter()
    c.ingest(docs)
    ingest = time.perf_counter() - t
    notes, units = dict(c.notes), len(c.units)
    doc_of = {d["doc_id"]: i for i, d in enumerate(docs)}
    if chunked:
        by_doc: dict[int, list[Unit]] = {}
        for s in sentence_units(docs):
            by_doc.setdefault(s.doc, []).append(s)

        def chunk_sentences(unit_id: int) -> list[Unit]:
            u = c.units[unit_id]
            return [s for s in by_doc.get(u.doc, []) if u.start < s.end and s.start < u.end]

        c.chunk_sentences = chunk_sentences  # type: ignore[attr-defined]
    mappings = {"chunk": False, "sentences": True} if chunked else {"unit": False}
    results: dict[str, list[evaluate.QuestionResult]] = {m: [] for m in mappings}
    latency = []
    for n, q in enumerate(questions):
        doc = doc_of[str(q["doc_id"])]
        a0 = int(q["answer_start"])
        a1 = a0 + len(str(q["answer"]))
        t = time.perf_counter()
        hits = c.search(str(q["question"]), DEPTH)
        if n < LATENCY_QUESTIONS:
            latency.append(time.perf_counter() - t)
        top = hits[0][1] if hits else float("-inf")
        # leaving its own article out: the best remaining score (no abstention model)
        rest = [s for i, s in hits if c.units[i].doc != doc]
        without = rest[0] if rest else (hits[-1][1] if hits else float("-inf"))
        for name, expand in mappings.items():
            results[name].append(evaluate.QuestionResult(
                str(q["question"]), rank_of(c, hits, doc, a0, a1, expand), top, without))
    scores = {name: evaluate.summarize(r, 0.5).to_json() for name, r in results.items()}
    for s in scores.values():  # no abstention model: rates at a threshold mean nothing
        s.pop("answered", None)
        s.pop("refused_without_article", None)

    # seed questions about the bundled article: top unit must be (or hold) a gold sentence
    articles, _ = read_sources([(BUNDLED_CORPUS, "")], 20_000_000)
    seed_docs = [{"doc_id": a.doc_id, "title": a.title, "text": a.text} for a in articles]
    c.ingest(seed_docs)
    correct = answerable = unanswerable = 0
    for line in (evaluate.eval_dir() / evaluate.SEED).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if not item["answerable"]:
            unanswerable += 1
            continue
        answerable += 1
        hits = c.search(item["question"], 1)
        gold = {evaluate._norm(g) for g in item["gold"]}
        if hits:
            text = evaluate._norm(c.units[hits[0][0]].text)
            correct += text in gold or (chunked and any(g in text for g in gold))
    return {"units": units, "ingest_s": ingest, "latency_s": latency, "scores": scores,
            "seed": {"answerable": answerable, "correct": correct,
                     "unanswerable": unanswerable, "refused": 0},
            "notes": notes}


CONTENDERS = {
    "citebot": None,
    "st-faiss": lambda: (BareDense(), False),
    "bm25s": lambda: (BM25(), False),
    "txtai-dense": lambda: (Txtai(hybrid=False), False),
    "txtai-hybrid": lambda: (Txtai(hybrid=True), False),
    "llamaindex-chunks": lambda: (LlamaIndex(sentences=False), True),
    "llamaindex-sentences": lambda: (LlamaIndex(sentences=True), False),
}


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(THREADS)
    name, limit = argv[0], int(argv[1])
    from index.cli import evaluate

    questions = evaluate.nyt_questions(evaluate.eval_dir())[:limit]
    if name == "citebot":
        result = run_citebot(questions)
    else:
        make = CONTENDERS[name]
        assert make is not None
        contender, chunked = make()
        result = run_contender(contender, questions, nyt_docs(), chunked)
    result["name"] = name
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
