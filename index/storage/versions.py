"""Index versions in the data directory and the CURRENT pointer that selects one.

    <data_dir>/CURRENT            name of the version being served (replaced atomically)
    <data_dir>/versions/v000003/  one complete version (see store.py)
    <data_dir>/versions/.building-*/  a build in progress (removed if a build dies)
    <data_dir>/versions/.removing-*/  an old version being deleted
    <data_dir>/build.lock         held by the one running build
    <data_dir>/articles/<collection>/  articles added through `add_article`
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from index.errors import IndexDamaged, IndexNotFound
from index.storage.store import MANIFEST

POINTER = "CURRENT"
VERSION_NAME = re.compile(r"^v(\d{6,})$")
KEEP_VERSIONS = 2


def versions_dir(data_dir: Path) -> Path:
    return data_dir / "versions"


def complete_versions(data_dir: Path) -> list[Path]:
    """Finished versions, oldest first."""
    folder = versions_dir(data_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if VERSION_NAME.match(p.name) and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: int(p.name[1:]))


def next_version_name(data_dir: Path) -> str:
    folder = versions_dir(data_dir)
    numbers = [int(m.group(1)) for p in (folder.iterdir() if folder.is_dir() else [])
               if (m := VERSION_NAME.match(p.name))]
    return f"v{max(numbers, default=0) + 1:06d}"


def current_version(data_dir: Path) -> Path:
    """The version CURRENT points at. IndexNotFound if none was built yet."""
    pointer = data_dir / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if complete_versions(data_dir):
            raise IndexDamaged(f"{pointer} is missing; run `citebot-index build` "
                               "to rebuild the index") from None
        raise IndexNotFound(f"no index in {data_dir} yet; run `citebot-index build` "
                            "to build one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamaged(f"{pointer} is unreadable ({exc}); run `citebot-index build`") from None
    if not VERSION_NAME.match(name):
        raise IndexDamaged(f"{pointer} is damaged (holds {name[:40]!r}); "
                           "run `citebot-index build`")
    version = versions_dir(data_dir) / name
    if not (version / MANIFEST).is_file():
        raise IndexDamaged(f"{pointer} names {name}, which is missing or incomplete; "
                           "run `citebot-index build`")
    return version


def current_version_name(data_dir: Path) -> str | None:
    """The version name CURRENT holds, or None if there is no (readable, well-formed) pointer.
    Cheap (one small read), for processes that watch for a switch made by another."""
    try:
        name = (data_dir / POINTER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if VERSION_NAME.match(name) else None


def switch_to(data_dir: Path, version: Path) -> None:
    """Point CURRENT at `version` atomically: readers see the old or the new name, never half."""
    tmp = data_dir / (POINTER + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(version.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, data_dir / POINTER)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale(data_dir: Path, keep: Path | None) -> None:
    """Drop leftovers of dead builds and all but the newest finished versions; never `keep`
    nor the version CURRENT names (a build that died after finishing a version but before
    switching to it leaves a newer version that is not the one served)."""
    folder = versions_dir(data_dir)
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.name.startswith((".building-", ".removing-")):
            shutil.rmtree(p, ignore_errors=True)
    protected = {keep.resolve()} if keep is not None else set()
    with contextlib.suppress(IndexNotFound, IndexDamaged):
        protected.add(current_version(data_dir).resolve())
    finished = complete_versions(data_dir)
    for old in finished[:-KEEP_VERSIONS]:
        if old.resolve() not in protected:
            _discard(old)


def _discard(version: Path) -> None:
    """Remove a version so that dying midway never leaves a half-deleted directory that
    still looks complete: it is renamed out of the way first (atomic), then deleted."""
    doomed = version.with_name(f".removing-{version.name}-{os.getpid()}")
    try:
        version.rename(doomed)
    except OSError:
        return
    shutil.rmtree(doomed, ignore_errors=True)
