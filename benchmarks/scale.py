"""Speed and scale tasks, each run in its own process by `benchmarks.run` (so peak RSS is
per task). Every task prints one JSON object on its last stdout line.

    python -m benchmarks.scale build  N real|stand-in REPEATS
    python -m benchmarks.scale serve  N QUESTIONS
    python -m benchmarks.scale cold   N
    python -m benchmarks.scale ann    N QUESTIONS
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCRATCH = Path(os.environ.get("CITEBOT_BENCH_SCRATCH", "/tmp/citebot-bench"))
THREADS = 2
BATCH = 64
BANK = 2048  # real embeddings behind the stand-in vectors


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_path(n: int) -> Path:
    from benchmarks import synthetic

    return synthetic.write_corpus(SCRATCH / f"corpus-{n}.jsonl.gz", n)


def settings_for(n: int, tag: str = "", threads: int = THREADS) -> Any:
    """Builds embed with 2 threads (as the raw encoder they are compared with); serving
    uses the product's default thread count unless told otherwise."""
    from index import IndexSettings

    return IndexSettings(data_dir=SCRATCH / f"index-{n}{tag}", sources=(corpus_path(n),),
                         threads=threads, batch_size=BATCH, max_file_mb=1000,
                         model_cache=str(SCRATCH / "models"))


def serving_threads() -> int:
    from index import IndexSettings

    return IndexSettings().threads


def load_docs(n: int) -> list[dict[str, str]]:
    with gzip.open(corpus_path(n), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def stand_in_bank() -> np.ndarray:
    """Real embeddings of BANK synthetic sentences (cached under the scratch folder)."""
    path = SCRATCH / f"bank-{BANK}.npy"
    if path.is_file():
        return np.load(path)
    from benchmarks import synthetic
    from index.models.embed import load_encoder

    docs = synthetic.articles(BANK)
    texts = [s for d in docs for s in d["text"].replace("\n\n", " ").split(". ")][:BANK]
    bank = load_encoder(settings_for(BANK)).encode(texts)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    np.save(path, bank)
    return bank


def pipeline_articles(docs: list[dict[str, str]]) -> list[tuple[str, list[str]]]:
    """(title, sentences) of each article, split by our splitter."""
    from index.ingest import segment

    return [(d["title"], [s.text for s in segment.sentences(d["text"])]) for d in docs]


def task_build(n: int, mode: str, repeats: int) -> dict[str, Any]:
    """Full build (fresh folder) and unchanged reindex; with `real`, also the raw encoder
    rate on the same sentences and on the same texts the pipeline embeds, interleaved."""
    from index.building import builder
    from index.models.embed import load_encoder
    from index.storage.vectors import faiss_kind

    settings = settings_for(n, "-" + mode)
    out: dict[str, Any] = {"n": n, "mode": mode}
    if mode == "real":
        from sentence_transformers import SentenceTransformer

        from index.models.embed import default_model_path

        encoder = load_encoder(settings)  # loaded once: builds below reuse it
        encoder.encode(["warm up the model"])
        articles = pipeline_articles(load_docs(n))
        sents = [s for _, sentences in articles for s in sentences]
        st = SentenceTransformer(default_model_path(), device="cpu")
        raw, both, builds = [], [], []
        for _ in range(repeats):
            t = time.perf_counter()
            st.encode(sents, batch_size=BATCH, normalize_embeddings=True,
                      show_progress_bar=False)
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            encoder.encode(sents)
            encoder.encode_in_context(articles)
            both.append(time.perf_counter() - t)
            shutil.rmtree(settings.data_dir, ignore_errors=True)
            t = time.perf_counter()
            report = builder.build(settings)
            builds.append(time.perf_counter() - t)
        out.update(sentences=report.sentences, raw_s=raw, pipeline_texts_s=both, build_s=builds,
                   sentence_chars=float(np.mean([len(s) for s in sents])),
                   passage_chars=float(np.mean([len(s) for s in sents])))
    else:
        bank = stand_in_bank()
        from benchmarks.synthetic import StandInEncoder
        from index.models.embed import settings_label

        stand_in = StandInEncoder(bank, settings_label(settings))
        builder.load_encoder = lambda *a: stand_in  # type: ignore[assignment]
        builds = []
        for _ in range(repeats):
            shutil.rmtree(settings.data_dir, ignore_errors=True)
            t = time.perf_counter()
            report = builder.build(settings)
            builds.append(time.perf_counter() - t)
        out.update(sentences=report.sentences, build_s=builds)
    reindex = []
    for _ in range(3):
        t = time.perf_counter()
        again = builder.build(settings)
        reindex.append(time.perf_counter() - t)
        assert again.unchanged
    out.update(reindex_s=reindex, peak_rss_mb=peak_rss_mb(),
               faiss_kind=faiss_kind(settings.faiss_index, report.sentences))
    return out


def task_serve(n: int, mode: str, count: int) -> dict[str, Any]:
    """Answer latency in-process over `count` synthetic questions (after 10 warm-ups)."""
    from benchmarks import synthetic
    from index import Index

    t = time.perf_counter()
    idx = Index.open(settings_for(n, "-" + mode, serving_threads()))
    opened = time.perf_counter() - t
    qs = synthetic.questions(load_docs(n), count + 10)
    for q in qs[:10]:
        idx.answer(q)
    times = []
    for q in qs[10:]:
        t = time.perf_counter()
        idx.answer(q)
        times.append(time.perf_counter() - t)
    encode = []
    for q in qs[10:60]:
        t = time.perf_counter()
        idx.encoder.encode([q])
        encode.append(time.perf_counter() - t)
    return {"n": n, "open_s": opened, "latency_s": times, "query_encode_s": encode,
            "threads": idx.settings.threads, "peak_rss_mb": peak_rss_mb()}


def task_cold(n: int, mode: str, repeat: int = 0) -> dict[str, Any]:
    """Imports, model load, index open and the first answer, in a fresh process."""
    from index import Index

    idx = Index.open(settings_for(n, "-" + mode, serving_threads()))
    answer = idx.answer("What does the article say?")
    return {"n": n, "answered": not answer.abstained, "peak_rss_mb": peak_rss_mb()}


def task_ann(n: int, mode: str, count: int) -> dict[str, Any]:
    """The index `auto` chose at this size against exact search on the same vectors:
    recall@10 of the top 10 and search latency, for the k our ranker asks for."""
    import faiss

    from benchmarks import synthetic
    from index.answer.rank import DENSE_CANDIDATES
    from index.models.embed import load_encoder

    faiss.omp_set_num_threads(serving_threads())
    folder = settings_for(n, "-" + mode).data_dir
    from index.storage import versions

    version = versions.current_version(folder)
    approx = faiss.read_index(str(version / "sentences.faiss"))
    vectors = np.load(version / "sentences.npy")
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    encoder = load_encoder(settings_for(n, "-" + mode, serving_threads()))
    queries = encoder.encode(synthetic.questions(load_docs(n), count))

    def timed(index: Any, k: int) -> tuple[np.ndarray, list[float]]:
        found, times = [], []
        for q in queries:
            t = time.perf_counter()
            _, ids = index.search(q[None, :], k)
            times.append(time.perf_counter() - t)
            found.append(ids[0])
        return np.array(found), times

    truth, exact_t = timed(exact, 10)
    result: dict[str, Any] = {"n": n, "kind": type(faiss.downcast_index(
        approx.index if hasattr(approx, "index") else approx)).__name__,
        "exact_latency_s": exact_t}
    from index import IndexSettings
    from index.storage.vectors import hnsw_ef_search

    default_ef = hnsw_ef_search(IndexSettings().hnsw_ef_search, n)
    for ef in sorted({16, 64, DENSE_CANDIDATES, default_ef}):
        inner = faiss.downcast_index(approx.index) if hasattr(approx, "index") else approx
        if hasattr(inner, "hnsw"):
            inner.hnsw.efSearch = ef
        found, times = timed(approx, DENSE_CANDIDATES if ef == DENSE_CANDIDATES else 10)
        recall = float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth,
                                                                              strict=True)]))
        result[f"ef{ef}"] = {"recall10": recall, "latency_s": times,
                             "k": DENSE_CANDIDATES if ef == DENSE_CANDIDATES else 10}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main(argv: list[str]) -> None:
    task, n, mode = argv[0], int(argv[1]), argv[2]
    rest = [int(a) for a in argv[3:]]
    fn = {"build": task_build, "serve": task_serve, "cold": task_cold, "ann": task_ann}[task]
    result = fn(n, mode, *rest)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
