"""Opening an index for serving: what an upgraded (or downgraded) citebot does with an index
an older (or newer) one built, as docs/DEPLOY.md describes it, and the vectors mapped so
that processes share them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index import Index, IndexDamaged, IndexSettings, build
from index.storage.store import FORMAT
from index.storage.versions import current_version


def copy_with_manifest(settings: IndexSettings, tmp_path: Path, **changes: object
                       ) -> IndexSettings:
    """A copy of the index whose current manifest has `changes`."""
    from dataclasses import replace

    data_dir = tmp_path / "data"
    shutil.copytree(settings.data_dir, data_dir)
    manifest_path = current_version(data_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.update(changes)
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return replace(settings, data_dir=data_dir)


def test_an_index_built_with_another_model_is_refused_naming_what_to_run(
        bundled_settings: IndexSettings, tmp_path: Path) -> None:
    moved = copy_with_manifest(bundled_settings, tmp_path, model="some-other-model")
    with pytest.raises(IndexDamaged, match=r"built with the model 'some-other-model'.*"
                                           r"run `citebot-index build`"):
        Index.open(moved)
    report = build(moved)  # what the message says to run: everything is embedded again
    assert report.embedded_articles == report.articles and not report.unchanged
    assert Index.open(moved).version == report.version


def test_an_index_from_a_newer_citebot_is_refused_naming_the_format(
        bundled_settings: IndexSettings, tmp_path: Path) -> None:
    newer = copy_with_manifest(bundled_settings, tmp_path, format=FORMAT + 1)
    with pytest.raises(IndexDamaged, match=rf"built by a newer citebot \(index format "
                                           rf"{FORMAT + 1}; this one reads format {FORMAT}\)"):
        Index.open(newer)


def test_the_vectors_and_faiss_indexes_are_mapped_not_read(
        bundled_settings: IndexSettings) -> None:
    """A serving process maps the FAISS files (whose storage also gives the vectors answers
    are ranked with) and holds no second copy: the .npy vectors are for the next build."""
    if not Path("/proc/self/maps").exists():
        pytest.skip("no /proc here")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from index import Index, IndexSettings\n"
        "index = Index.open(IndexSettings(data_dir=Path(sys.argv[1])))\n"
        "assert index.answer('Who leads the National Rally party?').citations\n"
        "print(Path('/proc/self/maps').read_text())\n")
    maps = subprocess.run([sys.executable, "-c", script, str(bundled_settings.data_dir)],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    version = current_version(bundled_settings.data_dir).resolve()
    for name in ("sentences.faiss", "passages.faiss"):
        assert str(version / name) in maps, name
    for name in ("sentences.npy", "passages.npy"):
        assert str(version / name) not in maps, name


def test_an_index_from_an_older_citebot_is_refused_naming_what_to_run(
        bundled_settings: IndexSettings, tmp_path: Path) -> None:
    older = copy_with_manifest(bundled_settings, tmp_path, format=FORMAT - 1)
    with pytest.raises(IndexDamaged, match=rf"built by an older citebot \(index format "
                                           rf"{FORMAT - 1}; this one reads {FORMAT}\); run "
                                           r"`citebot-index build`"):
        Index.open(older)
    report = build(older)
    assert report.embedded_articles == report.articles and not report.unchanged
    assert Index.open(older).answer("Who leads the National Rally party?").citations
