"""Settings of the answering core, read from `CITEBOT_*` environment variables and an
optional TOML file (`CITEBOT_CONFIG`, default `./citebot.toml`). The environment wins.

Every setting is documented in `docs/SETTINGS.md`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints
from zoneinfo import ZoneInfo

BUNDLED_CORPUS = Path(__file__).parent / "corpus"

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value that cannot be used (a user error: shown, not raised further)."""


@dataclass(frozen=True)
class IndexSettings:
    data_dir: Path = Path("data")
    """Where index versions live (one sub-folder per version, plus the CURRENT pointer)."""
    sources: tuple[Path, ...] = (BUNDLED_CORPUS,)
    """Files and folders that `build` reads; the bundled sample article by default."""
    model: str = ""
    """A sentence-transformers model name or path; empty means the packaged all-MiniLM-L6-v2."""
    encoder: str = "onnx"
    """Who runs the model: 'onnx' (ONNX Runtime on a one-time export; no torch to answer)
    or 'torch' (sentence-transformers)."""
    quantize: bool = True
    """With the ONNX encoder, run the model quantised to int8 (3x faster, same quality)."""
    tune_encoder: bool = True
    """Run the packaged model with citebot's tuning (`index/models/encoder_tuning.npz`, learned from
    training questions); other models always run as they are."""
    model_cache: str = field(default_factory=lambda: os.environ.get("CITEBOT_MODEL_CACHE", ""))
    """Where the ONNX export of the model is kept; empty means `<data_dir>/models`. (Also
    honoured by settings made in code, so that tests and tools share one export.)"""
    threads: int = 1
    """Threads used for embedding and search (the machine is shared)."""
    batch_size: int = 64
    """Texts per batch on the torch encoder (ONNX Runtime embeds one text at a time)."""
    max_file_mb: float = 20.0
    """Files larger than this are skipped with a line in the build report."""
    abstain_threshold: float = 0.5
    """Answers whose confidence (0..1) falls below this are refused as "the articles don't say"."""
    max_citations: int = 3
    """At most this many sentences are quoted in one answer."""
    faiss_index: str = "auto"
    """'flat' (exact), 'hnsw' (approximate, for large corpora) or 'auto' (hnsw from 50k)."""
    hnsw_ef_search: int = 0
    """Search depth of HNSW indexes (0: grows with the corpus, 512 to 3,000)."""
    fetch_allow_private: bool = False
    """Allow fetching URLs that resolve to loopback, private or link-local addresses."""
    fetch_max_mb: float = 5.0
    fetch_timeout: float = 15.0
    feeds: tuple[str, ...] = ()
    """RSS/Atom feed URLs that `citebot-index update` (and the bot) follow, besides those added
    with `feed add`."""
    feed_max_articles: int = 200
    """Per feed, at most this many articles are kept (the newest)."""
    feed_max_age_days: float = 0.0
    """Feed entries published longer ago than this are skipped; 0 means no limit."""
    storage_backend: str = "files"
    """Where index versions live: 'files' (the data directory, nothing to start) or 'milvus'
    (a Milvus server at `milvus_uri`, shared by answerers on several machines)."""
    milvus_uri: str = "http://127.0.0.1:19530"
    """The Milvus server of `storage_backend = "milvus"`."""
    milvus_token_file: str = ""
    """A file holding the Milvus token (user:password or an API key); without it, the
    CITEBOT_MILVUS_TOKEN environment variable, else none. Never logged."""
    milvus_prefix: str = "citebot"
    """Prefix of citebot's collections and alias in Milvus (one per deployment)."""
    milvus_timeout: float = 5.0
    """Seconds a Milvus call may take before the question is answered "unreachable"."""
    milvus_poll_seconds: float = 1.0
    """How often an answerer asks Milvus whether another machine switched the version."""
    time_zone: str = "UTC"
    """The IANA time zone ("Europe/London") in which "today", "yesterday" and article dates
    given with a time are read."""
    state_dsn: str = field(default="", repr=False)
    """A PostgreSQL DSN (postgresql://user@host/db) for the bot's and the feeds' state and
    the writer lock, shared by every machine; empty keeps them in SQLite files and a file
    lock in `data_dir`. Not shown in a repr: it may hold a password."""
    state_password_file: str = ""
    """A file holding the PostgreSQL password (else the DSN's, or libpq's PGPASSWORD /
    ~/.pgpass)."""

    def __post_init__(self) -> None:
        if self.storage_backend not in ("files", "milvus"):
            raise SettingsError(f"setting 'storage_backend' must be 'files' or 'milvus', not "
                                f"{self.storage_backend!r}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,40}", self.milvus_prefix):
            raise SettingsError(f"setting 'milvus_prefix': {self.milvus_prefix!r} is not a "
                                "name (letters, digits, _; a letter first)")
        scheme = self.state_dsn.partition("://")[0] if "://" in self.state_dsn else ""
        if scheme and scheme not in ("postgresql", "postgres"):
            raise SettingsError(f"setting 'state_dsn' must be a postgresql:// URL (or libpq "
                                f"key=value pairs), not a {scheme}:// one")
        if self.encoder not in ("onnx", "torch"):
            raise SettingsError(f"setting 'encoder' must be 'onnx' or 'torch', not "
                                f"{self.encoder!r}")
        try:
            self.zone()
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            raise SettingsError(f"setting 'time_zone': {self.time_zone!r} is not a time zone "
                                "(an IANA name such as 'Europe/London' or 'UTC')") from None

    def zone(self) -> ZoneInfo:
        """The `time_zone` setting as a time zone."""
        return ZoneInfo(self.time_zone)


def _convert(name: str, raw: Any, typ: Any) -> Any:
    try:
        if typ is Path:
            return Path(str(raw)).expanduser()
        if typ == tuple[Path, ...]:
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(os.pathsep) if p]
            return tuple(Path(str(p)).expanduser() for p in items)
        if typ == tuple[int, ...]:
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
            return tuple(int(p) for p in items)
        if typ == tuple[str, ...]:
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",") if p.strip()]
            return tuple(str(p).strip() for p in items)
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        if typ is int:
            return int(raw)
        if typ is float:
            return float(raw)
        if typ is str or typ == (str | None):
            return None if raw is None else str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r}: cannot use {raw!r} ({exc})") from None
    raise TypeError(f"unsupported setting type {typ!r} for {name}")


def load(cls: type[T], env: Mapping[str, str] | None = None, prefix: str = "CITEBOT_",
         section: str | None = None, **overrides: Any) -> T:
    """Build the settings dataclass `cls` from the TOML file, then the environment, then
    keyword overrides. Unknown keys in the TOML file are an error (a typo must not pass)."""
    env = os.environ if env is None else env
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}

    config = Path(env.get(prefix + "CONFIG", "citebot.toml")).expanduser()
    if config.is_file():
        try:
            table: dict[str, Any] = tomllib.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{config}: {exc}") from None
        if section is not None:
            table = table.get(section, {})
        else:
            table = {k: v for k, v in table.items() if not isinstance(v, dict)}
        for key, raw in table.items():
            if key not in names:
                raise SettingsError(f"{config}: unknown setting {key!r}")
            values[key] = _convert(key, raw, hints[key])

    for name in names:
        raw_env = env.get(prefix + name.upper())
        if raw_env is not None:
            values[name] = _convert(name, raw_env, hints[name])
    values.update(overrides)
    return cls(**values)


def index_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> IndexSettings:
    """The core's settings from the environment and `citebot.toml` (top-level keys)."""
    return load(IndexSettings, env, **overrides)


__all__ = ["IndexSettings", "SettingsError", "index_settings", "load", "BUNDLED_CORPUS", "field"]
