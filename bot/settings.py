"""Settings of the Discord bot, read like the core's (`index.settings.load`): the `[bot]`
table of `citebot.toml`, then `CITEBOT_<NAME>` environment variables. The environment wins.

The token is deliberately *not* a field: it comes from `DISCORD_TOKEN` or the file named by
`token_file` (`CITEBOT_TOKEN_FILE`), so it never appears in a settings repr or a log line.
Every setting is documented in `docs/BOT.md`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.settings import SettingsError, load


@dataclass(frozen=True)
class BotSettings:
    token_file: str = ""
    """A file holding the bot token; used when `DISCORD_TOKEN` is not set."""
    api_base: str = "https://discord.com/api/v10"
    """Base URL of the REST API (change it for a self-hosted Discord-compatible server)."""
    gateway_url: str = "wss://gateway.discord.gg/"
    """The gateway websocket URL."""
    command_prefix: str = "!"
    """Prefix of text commands (`!ask`). Needs `message_content_intent` in servers."""
    message_content_intent: bool = False
    """Ask for the privileged message-content intent (enable it in the developer portal too)."""
    rate_limit_count: int = 5
    """At most this many questions per user ..."""
    rate_limit_seconds: float = 30.0
    """... in this many seconds."""
    max_question_chars: int = 300
    """Longer questions are refused with a clear message."""
    admin_user_ids: tuple[int, ...] = ()
    """Users allowed to run `/reindex` and `/source add` anywhere (also in DMs)."""
    admin_role_ids: tuple[int, ...] = ()
    """Members holding one of these roles may run the admin commands in their server."""
    per_server_collections: bool = False
    """Articles added in a server are seen by that server only (plus the shared articles)."""
    guild_id: int = 0
    """Sync slash commands to this one server (instant) instead of globally; 0 means global."""
    sync_commands: bool = True
    """Push the slash command definitions to Discord at start-up."""
    feedback_db: str = ""
    """SQLite file for answers and 👍/👎 feedback; empty means `<data_dir>/bot.sqlite3`."""
    sources_per_page: int = 10
    """Articles per page of `/sources`."""
    closest_margin: float = 0.15
    """On abstention, show the closest sentence if its confidence is this close to the threshold."""
    progress_interval: float = 1.0
    """Least seconds between two edits of a `/reindex` progress message."""
    metrics_port: int = 0
    """Serve Prometheus metrics on http://127.0.0.1:<port>/metrics; 0 means off."""
    shard_count: int = 0
    """Gateway shards of the whole bot; 0 means as many as Discord recommends."""
    shard_ids: tuple[int, ...] = ()
    """The shards this process runs (needs `shard_count`); empty means all of them."""
    feed_interval_minutes: float = 30.0
    """Minutes between two checks of the followed feeds (±10% jitter); 0 checks only when a
    feed is added or removed."""
    announce_channel_id: int = 0
    """Channel where new feed articles are announced after an update; 0 announces nothing."""
    followup_minutes: float = 10.0
    """A direct message within this many minutes of the bot's last answer there is read as a
    possible follow-up of it (0: direct messages are always new questions)."""
    answer_channel_per_minute: int = 12
    """In one answer channel (`/answers here`), at most this many questions are answered a
    minute; more are shed, with one note a minute saying so."""
    retention_days: float = 30.0
    """Stored questions, conversation turns and votes older than this are deleted (checked
    hourly); 0 keeps them."""
    timeline_quotes: int = 8
    """Quotes in a `/timeline` (at most 25)."""

    def __post_init__(self) -> None:
        if self.rate_limit_count < 1 or self.rate_limit_seconds <= 0:
            raise SettingsError("rate_limit_count must be >= 1 and rate_limit_seconds > 0")
        if self.followup_minutes < 0:
            raise SettingsError("followup_minutes must be >= 0")
        if self.answer_channel_per_minute < 1:
            raise SettingsError("answer_channel_per_minute must be >= 1")
        if self.retention_days < 0:
            raise SettingsError("retention_days must be >= 0 (0 keeps questions)")
        if not 1 <= self.timeline_quotes <= 25:
            raise SettingsError("timeline_quotes must be between 1 and 25")
        if self.max_question_chars < 1:
            raise SettingsError("max_question_chars must be >= 1")
        if not 1 <= self.sources_per_page <= 25:
            raise SettingsError("sources_per_page must be between 1 and 25")
        if not self.api_base.startswith(("http://", "https://")):
            raise SettingsError(f"api_base must be an http(s) URL, not {self.api_base!r}")
        if self.feed_interval_minutes < 0:
            raise SettingsError("feed_interval_minutes must be >= 0")
        if not self.gateway_url.startswith(("ws://", "wss://")):
            raise SettingsError(f"gateway_url must be a ws(s) URL, not {self.gateway_url!r}")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(f"metrics_port must be a TCP port (0 = off), not "
                                f"{self.metrics_port}")
        if self.shard_count < 0:
            raise SettingsError("shard_count must be >= 0 (0 = as Discord recommends)")
        if self.shard_ids and not self.shard_count:
            raise SettingsError("shard_ids needs shard_count (the shards of the whole bot)")
        bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if bad or len(set(self.shard_ids)) != len(self.shard_ids):
            raise SettingsError(f"shard_ids must be distinct shards from 0 to "
                                f"{self.shard_count - 1}, not {list(self.shard_ids)}")


def bot_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> BotSettings:
    """The bot's settings from the `[bot]` table of `citebot.toml` and `CITEBOT_*` variables."""
    return load(BotSettings, env, section="bot", **overrides)


def read_token(settings: BotSettings, env: Mapping[str, str] | None = None) -> str | None:
    """The bot token from `DISCORD_TOKEN`, else from `settings.token_file`; None if neither."""
    env = os.environ if env is None else env
    token = env.get("DISCORD_TOKEN", "").strip()
    if token:
        return token
    if settings.token_file:
        path = Path(settings.token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"token_file {str(path)!r}: {exc.strerror}") from None
        if not token:
            raise SettingsError(f"token_file {str(path)!r} is empty")
        return token
    return None
