"""The FAISS indexes of one version, and the vectors they store, read in place.

Small corpora get an exact flat index of float32 vectors; large ones (`faiss_index = hnsw`,
or `auto` from 50k sentences) an HNSW graph over 8-bit scalar-quantised vectors (a quarter
of the memory; recall@10 against exact search in benchmarks/results/REPORT.md). Either way
the ranker reads its candidates' vectors from the index's own storage, memory-mapped, so a
serving process holds one copy of them (and processes serving the same version share it).
The `.npy` files of a version keep the exact float32 vectors for the next build to reuse.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class VectorRows(Protocol):
    """What the ranker reads vectors from: `vectors[rows]` is a float32 array."""

    def __getitem__(self, rows: Any) -> np.ndarray: ...

#: from this many sentences `faiss_index = "auto"` builds HNSW: two exact scans of 100k
#: vectors took half of a 47 ms answer (benchmarks/results/REPORT.md)
HNSW_FROM = 50_000

#: HNSW: neighbours per node and construction depth (search depth: hnsw_ef_search)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
#: the 8-bit quantiser's per-dimension ranges are learnt from at most this many vectors
SQ_TRAINING_ROWS = 100_000


def faiss_index(vectors: np.ndarray, kind: str) -> Any:
    """An index over `vectors` whose ids are the row numbers; `kind` is 'flat' or 'hnsw'."""
    import faiss

    dim = vectors.shape[1]
    inner: Any
    if kind == "hnsw":
        inner = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit,  # type: ignore[arg-type]
                                  HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        step = max(1, len(vectors) // SQ_TRAINING_ROWS)
        inner.train(np.ascontiguousarray(vectors[::step]))
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    return index


def inner_index(index: Any) -> Any:
    import faiss

    return faiss.downcast_index(index.index) if hasattr(index, "index") else index


class StoredVectors:
    """`vectors[rows]` gives float32 rows of what `index` stores (row = FAISS id): exact
    from a flat index, decoded from 8-bit codes under HNSW. Nothing is copied up front."""

    def __init__(self, index: Any) -> None:
        import faiss

        self._index = index  # keeps the (mapped) storage alive
        inner = inner_index(index)
        storage = faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) \
            else inner
        self.shape = (int(inner.ntotal), int(inner.d))
        n, dim = self.shape
        self._decode = None
        if isinstance(storage, faiss.IndexFlat):
            self._rows = np.asarray(faiss.rev_swig_ptr(storage.get_xb(), n * dim)
                                    ).reshape(n, dim) if n else np.zeros((0, dim), np.float32)
        elif isinstance(storage, faiss.IndexScalarQuantizer):
            size = int(storage.code_size)
            self._rows = np.asarray(faiss.rev_swig_ptr(storage.codes.data(), n * size)
                                    ).reshape(n, size) if n else np.zeros((0, size), np.uint8)
            self._decode = storage.sa_decode
        else:
            raise TypeError(f"cannot read vectors from a {type(storage).__name__}")

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        picked = self._rows[rows]
        if self._decode is None:
            return np.asarray(picked, dtype=np.float32)
        flat = np.ascontiguousarray(picked.reshape(-1, picked.shape[-1]))
        decoded = np.asarray(self._decode(flat), dtype=np.float32)
        return decoded.reshape(*picked.shape[:-1], self.shape[1])


def faiss_kind(setting: str, sentences: int) -> str:
    """The FAISS index kind a corpus of `sentences` gets under the `faiss_index` setting."""
    if setting == "auto":
        return "hnsw" if sentences >= HNSW_FROM else "flat"
    return setting


def hnsw_ef_search(setting: int, sentences: int) -> int:
    """HNSW search depth: the setting, or (0) one that grows with the corpus. Measured over
    8-bit codes (benchmarks/results/REPORT.md), recall@10 against exact search was 0.955 at
    256 and 0.973 at 512 with 100k stand-in vectors; 0.949 at 2,000 (6 ms) and 0.959 at
    3,000 (10 ms) with 1M."""
    if setting > 0:
        return setting
    return min(3000, max(512, sentences // 333))
