"""The encoder: ONNX Runtime gives sentence-transformers' vectors, from the model's own
tokens, without torch on the answer path; other models keep working."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import Index, IndexDamaged, IndexSettings, build
from index.models.embed import (
    TUNING_FILE,
    Encoder,
    default_model_path,
    load_encoder,
    load_sentence_transformer,
    model_cache_dir,
)

pytestmark = pytest.mark.slow

TRICKY = [
    "Jordan Bardella, the leader of the far-right National Rally party, said “no”.",
    "Ça a été très difficile — l'accord à 4,5 millions d'euros n'a pas été signé.",
    "don't   stop\n\nbelieving 🚀🚀 in 東京 or https://example.com/a?b=c&d=e #hashtag",
    "A " + "very " * 400 + "long sentence that the model must truncate like its own code.",
    "x",
]


@pytest.fixture(scope="module")
def st_model() -> Any:
    """The packaged model with citebot's tuning, as sentence-transformers runs it."""
    return load_sentence_transformer(Path(default_model_path()), TUNING_FILE)


@pytest.fixture(scope="module")
def stock_model() -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(default_model_path(), device="cpu")


def encoder_for(settings: IndexSettings, **changes: Any) -> Encoder:
    return load_encoder(replace(settings, **changes))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))


def test_token_ids_are_the_models_own(settings: IndexSettings, st_model: Any) -> None:
    ours = encoder_for(settings).tokens.texts(TRICKY)
    theirs = st_model.tokenize(TRICKY)
    for i, ids in enumerate(ours):
        n = int(theirs["attention_mask"][i].sum())
        assert ids == theirs["input_ids"][i][:n].tolist(), TRICKY[i][:40]
    assert len(ours[3]) == 256  # truncated at the model's 256, not tokenizer.json's 128


def test_onnx_fp32_vectors_match_sentence_transformers(settings: IndexSettings,
                                                       st_model: Any) -> None:
    ours = encoder_for(settings, quantize=False).encode(TRICKY)
    theirs = st_model.encode(TRICKY, normalize_embeddings=True, convert_to_numpy=True)
    assert cosines(ours, theirs).min() > 1 - 1e-3


def test_int8_vectors_stay_close_and_carry_their_own_label(settings: IndexSettings,
                                                           st_model: Any) -> None:
    int8 = encoder_for(settings)
    fp32 = encoder_for(settings, quantize=False)
    assert "[int8]" in int8.label and "[int8]" not in fp32.label
    theirs = st_model.encode(TRICKY, normalize_embeddings=True, convert_to_numpy=True)
    assert cosines(int8.encode(TRICKY), theirs).mean() > 0.98


def test_the_tuning_moves_questions_towards_their_answers(settings: IndexSettings,
                                                         stock_model: Any) -> None:
    tuned = encoder_for(settings)
    assert "citebot tuning" in tuned.label
    assert "citebot tuning" not in load_encoder(replace(settings, encoder="torch",
                                                        tune_encoder=False)).label
    question = "How much will the new bridge cost?"
    answer = "The bridge will cost 4 million pounds and open in 2027."
    other = "The council voted on Tuesday to build a new bridge over the river."
    q, a, o = tuned.encode([question, answer, other])
    sq, sa, so = stock_model.encode([question, answer, other], normalize_embeddings=True)
    # the tuned model prefers the sentence with the cost by a wider margin than the stock one
    assert float(q @ a - q @ o) > float(sq @ sa - sq @ so)
    assert float(cosines(tuned.encode(TRICKY), stock_model.encode(
        TRICKY, normalize_embeddings=True)).min()) < 0.999  # really another model


def test_an_int8_index_is_not_read_with_torch_vectors(settings: IndexSettings) -> None:
    build(settings)
    with pytest.raises(IndexDamaged, match=r"\[int8\].*citebot-index build"):
        Index.open(replace(settings, encoder="torch"))


def test_the_export_is_kept_beside_the_index_by_default(tmp_path: Path, corpus: Path) -> None:
    settings = IndexSettings(data_dir=tmp_path / "data", sources=(corpus,), model_cache="")
    cache = model_cache_dir(settings)
    assert cache == tmp_path / "data" / "models"
    shared = Path(os.environ["CITEBOT_MODEL_CACHE"])  # copy the run's export: no re-export
    shutil.copytree(shared, cache)
    build(settings)
    exported = next(cache.iterdir())
    assert sorted(p.name for p in exported.iterdir()) == [
        "citebot-model.json", "model-int8.onnx", "model.onnx", "tokenizer.json"]
    assert not Index.open(settings).answer("Who leads the National Rally?").abstained


def test_answering_never_imports_torch(settings: IndexSettings) -> None:
    build(settings)
    script = (
        "import sys\n"
        "from index import Index, index_settings\n"
        "answer = Index.open(index_settings()).answer('Who leads the National Rally?')\n"
        "print(answer.citations[0].text[:16], 'torch' in sys.modules,\n"
        "      'sentence_transformers' in sys.modules, 'transformers' in sys.modules)\n")
    env = {**os.environ, "CITEBOT_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == ["Jordan", "Bardella,", "False", "False", "False"]


def test_sentences_are_read_in_their_article(settings: IndexSettings) -> None:
    encoder = encoder_for(settings)
    sentences = [f"Sentence number {i} of the report talks about the harbour." for i in
                 range(60)]  # several windows
    twice = "The minister resigned on Tuesday."
    (in_report, in_sport) = encoder.encode_in_context([
        ("Port report", [*sentences, twice]),
        ("Football results", ["The club lost the derby 3-0.", twice]),
    ])
    alone = encoder.encode([twice])[0]
    assert in_report.shape == (61, encoder.dim) and in_sport.shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(in_report, axis=1), 1.0, atol=1e-4)
    # the same sentence reads differently in two articles, and unlike itself alone
    assert float(in_report[-1] @ in_sport[-1]) < 0.99
    assert 0.5 < float(in_report[-1] @ alone) < 0.995
    # a sentence longer than a window still gets a vector
    (long,) = encoder.encode_in_context([("T", ["word " * 600 + "end."])])
    assert np.isclose(np.linalg.norm(long[0]), 1.0, atol=1e-4)


# --- another model --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cls_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small BERT sentence-transformers model with CLS pooling, made here (random weights:
    it proves the plumbing, not quality)."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("cls-model")
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    packaged = Path(default_model_path())
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json",
                 "special_tokens_map.json"):
        shutil.copy(packaged / name, folder / name)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"}]))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": False}))
    return folder


def test_another_model_with_cls_pooling_works_on_onnx(settings: IndexSettings,
                                                      cls_model: Path) -> None:
    from sentence_transformers import SentenceTransformer

    settings = replace(settings, model=str(cls_model), quantize=False)
    build(settings)
    answer = Index.open(settings).answer("Who leads the National Rally?", k=1)
    assert answer.closest is not None or answer.citations  # it ranks with the new vectors
    onnx = load_encoder(settings)
    assert onnx.backend == "onnx" and onnx.dim == 32 and onnx.facts.pooling == "cls"
    theirs = SentenceTransformer(str(cls_model), device="cpu").encode(
        TRICKY, normalize_embeddings=True)
    assert cosines(onnx.encode(TRICKY), theirs).min() > 1 - 1e-3


def test_a_model_that_cannot_be_exported_falls_back_to_torch(
        settings: IndexSettings, cls_model: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from index.models import embed

    def unsupported(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Exporting the operator 'Foo' to ONNX is not supported")

    # stands in for an architecture torch.onnx cannot export (none is installed here)
    monkeypatch.setattr(embed, "export_onnx", unsupported)
    settings = replace(settings, model=str(cls_model), model_cache=str(tmp_path / "empty"))
    with caplog.at_level(logging.WARNING, logger="index.models.embed"):
        build(settings)
        answer = Index.open(settings).answer("Who leads the National Rally?", k=1)
    assert answer.closest is not None or answer.citations
    lines = [r.getMessage() for r in caplog.records if "cannot run on ONNX" in r.getMessage()]
    assert len(lines) == 1 and "using torch" in lines[0]
    assert load_encoder(settings).backend == "torch"
