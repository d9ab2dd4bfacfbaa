"""Fixtures for the answering core: real model, real FAISS, real SQLite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from index import Index, IndexSettings, build
from index.settings import BUNDLED_CORPUS

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> IndexSettings:
    """An index of the bundled article alone, built once per session."""
    settings = IndexSettings(data_dir=tmp_path_factory.mktemp("bundled") / "data")
    build(settings)
    return settings


@pytest.fixture(scope="session")
def bundled(bundled_settings: IndexSettings) -> Index:
    return Index.open(bundled_settings)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder holding a copy of the bundled article, free to change."""
    folder = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "data", sources=(corpus,))
