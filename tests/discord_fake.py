"""A small local fake of the Discord API for running the real discord.py client in tests.

It speaks the real protocol on 127.0.0.1: REST under `base_url` (`/api/v10`) and the
gateway websocket at `gateway_url` (JSON, optionally zlib-stream compressed). Tests drive
it as Discord would: they create guilds, members and channels, then send MESSAGE_CREATE and
INTERACTION_CREATE events built from the commands the bot actually synced, and look at the
REST calls the bot made in reply.

Behaviours copied from Discord because the bot depends on them:
- without the message-content intent, guild messages arrive with empty content unless they
  mention the bot (DMs always carry content); an unapproved privileged intent closes the
  gateway with 4014;
- an interaction must be acknowledged within 3 s and only once (else 10062 / 40060);
- after a deferred ("thinking") response, the first follow-up replaces the thinking message;
- every JSON reply has `Content-Type: application/json` exactly;
- a gateway session outlives its connection: events dispatched while the bot is
  disconnected are replayed when it RESUMEs (op 6), unless the session was invalidated
  (op 9), after which the bot must IDENTIFY again and the missed events are gone.

Sharding: with `shard_count` > 1 the bot must IDENTIFY with `shard: [id, count]`; each
shard gets its own session, READY and GUILD_CREATEs for its guilds only, and every event of a
guild goes to shard `(guild_id >> 22) % shard_count` (DMs to shard 0), as on Discord.
`add_guild(shard=n)` makes a guild that lands on shard n.

Channels: besides each guild's "general" channel, `add_channel` makes text and forum
channels; `add_thread` and `post_in_forum` open threads and forum posts (THREAD_CREATE,
then for a post its first message, whose id is the thread's); a thread the bot starts from a
message (`POST …/messages/{id}/threads`) takes that message's id. A reply pings the replied
message's author (they appear in `mentions`, not in the text) unless `ping=False`. The
bot's reactions are recorded in `reactions`.

Faults a test can inject: `drop_connection` (close or abort the gateway socket),
`invalidate_session` (op 9), `request_reconnect` (op 7), `hold_gateway` (delay RESUME and
IDENTIFY), `refuse_gateway` (the websocket handshake answered with 503), `fail` (REST
answers 429 with retry-after and `Via`, or any other status with a Discord-style error
body, N times), `limit_rate` (Discord-style per-route limits, 429 beyond them),
`hold_command_sync` (keep `PUT …/commands` waiting), and malformed events through
`dispatch` (any payload) or `click(message_fields=…)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT  # members, presences, content
EPHEMERAL = 1 << 6
LOADING = 1 << 7
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = 0x0000_0006_3FF7_FC41 & ~(ADMINISTRATOR | MANAGE_GUILD)
INTERACTION_TIMEOUT = 3.0

Json = dict[str, Any]

_ids = itertools.count(int(time.time() * 1000 - 1420070400000) << 22)


def snowflake() -> int:
    """A fresh, increasing Discord-style id."""
    return next(_ids)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py requires exactly "application/json" (no charset parameter).
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json"})


def _public(message: Json) -> Json:
    """A message as Discord sends it (without the fake's own `_` bookkeeping keys)."""
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status)


@dataclass
class Request:
    """One REST call the bot made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class User:
    id: int
    username: str
    bot: bool = False

    def to_json(self) -> Json:
        return {"id": str(self.id), "username": self.username, "discriminator": "0",
                "global_name": self.username, "avatar": None, "bot": self.bot}


@dataclass
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    permissions: int = MEMBER_PERMISSIONS

    def to_json(self, *, with_user: bool = True) -> Json:
        data: Json = {"roles": [str(r) for r in self.roles], "joined_at": _now(), "flags": 0,
                      "deaf": False, "mute": False, "nick": None}
        if with_user:
            data["user"] = self.user.to_json()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    channel_id: int
    roles: dict[int, str] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Json] = field(default_factory=dict)
    """Channels besides "general" (`FakeDiscord.add_channel`), as Discord sends them."""

    def to_json(self) -> Json:
        roles = [{"id": str(self.id), "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS),
                  "position": 0, "color": 0, "hoist": False, "managed": False,
                  "mentionable": False, "flags": 0}]
        roles += [{"id": str(rid), "name": name, "permissions": "0", "position": i + 1,
                   "color": 0, "hoist": False, "managed": False, "mentionable": True, "flags": 0}
                  for i, (rid, name) in enumerate(self.roles.items())]
        return {
            "id": str(self.id), "name": self.name, "owner_id": str(self.owner_id),
            "roles": roles, "emojis": [], "stickers": [], "features": [], "threads": [],
            "channels": [{"id": str(self.channel_id), "type": 0, "name": "general",
                          "position": 0, "permission_overwrites": [], "guild_id": str(self.id)},
                         *self.channels.values()],
            "members": [m.to_json() for m in self.members.values()],
            "member_count": len(self.members), "large": False, "unavailable": False,
            "joined_at": _now(), "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "premium_tier": 0,
            "preferred_locale": "en-US", "system_channel_flags": 0, "nsfw_level": 0,
            "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }


@dataclass
class Interaction:
    """An interaction the fake sent, and every response the bot made to it."""

    id: int
    token: str
    type: int
    payload: Json
    sent_at: float
    callbacks: list[Json] = field(default_factory=list)
    original: Json | None = None
    followups: list[Json] = field(default_factory=list)
    edits: list[Json] = field(default_factory=list)

    @property
    def callback_types(self) -> list[int]:
        return [c["type"] for c in self.callbacks]

    @property
    def replies(self) -> list[Json]:
        """Every visible message the bot produced for this interaction, in order."""
        shown = [] if self.original is None or self.original.get("_loading") else [self.original]
        return shown + [m for m in self.followups if m is not self.original]

    @property
    def reply(self) -> Json:
        """The last visible reply (after any edits)."""
        return self.replies[-1]


@dataclass
class Session:
    """A gateway session: its id, its event sequence and the events sent in it (for RESUME)."""

    id: str
    sequence: int = 0
    history: deque[Json] = field(default_factory=lambda: deque(maxlen=50_000))
    valid: bool = True

    def payload(self, event: str, data: Json) -> Json:
        self.sequence += 1
        payload = {"op": 0, "t": event, "s": self.sequence, "d": data}
        self.history.append(payload)
        return payload


@dataclass
class Fault:
    """REST calls matching `method` and `path` (a regex, searched) fail `times` times."""

    method: str
    path: str
    status: int
    times: int = 1
    retry_after: float = 0.25
    via: bool = True
    body: Json | None = None
    served: int = 0

    def matches(self, call: Request) -> bool:
        return (self.served < self.times and call.method == self.method
                and re.search(self.path, call.path) is not None)

    def response(self) -> web.Response:
        self.served += 1
        if self.status != 429:
            if self.body is not None:
                return _json(self.body, self.status)
            return _error(self.status, 0, f"{self.status}: Server Error (injected)")
        headers = {"Content-Type": "application/json", "Retry-After": f"{self.retry_after:g}",
                   "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset-After": f"{self.retry_after:g}",
                   "X-RateLimit-Bucket": "fake-bucket", "X-RateLimit-Scope": "user"}
        if self.via:  # without it discord.py takes a 429 for a Cloudflare ban
            headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": self.retry_after,
                "global": False, "code": 0}
        return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)


@dataclass
class RateLimit:
    """Discord's per-route limit: at most `count` calls `method` on each path matching
    `path` (a regex) in any `seconds`; beyond it a 429 with retry-after (and `Via`)."""

    method: str
    path: str
    count: int
    seconds: float
    served: int = 0
    """429s answered."""
    _calls: dict[str, deque[float]] = field(default_factory=dict)

    def matches(self, call: Request) -> bool:
        return call.method == self.method and re.search(self.path, call.path) is not None

    def admit(self, path: str) -> bool:
        now = time.monotonic()
        calls = self._calls.setdefault(path, deque())
        while calls and now - calls[0] >= self.seconds:
            calls.popleft()
        if len(calls) >= self.count:
            self.served += 1
            return False
        calls.append(now)
        return True

    def response(self) -> web.Response:
        return Fault("", "", 429, retry_after=self.seconds).response()


class FakeDiscord:
    """Discord's REST API and gateway, for one bot, on 127.0.0.1."""

    def __init__(self, *, token: str = "fake-bot-token",
                 approved_intents: int = PRIVILEGED_INTENTS,
                 attachment_size_limit: int = 8 * 1024 * 1024, shard_count: int = 1) -> None:
        self.token = token
        self.shard_count = shard_count
        self.approved_intents = approved_intents
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = User(snowflake(), "citebot", bot=True)
        self.app_id = self.bot_user.id
        self.owner = User(snowflake(), "owner")
        self.users: dict[int, User] = {self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.threads: dict[int, Json] = {}  # thread id -> its channel object
        self.messages: dict[int, Json] = {}  # every message, by id
        self.channel_log: dict[int, list[Json]] = {}  # messages in channel order
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None = global) -> synced
        self.requests: list[Request] = []
        self.unhandled: list[Request] = []
        self.typing: list[int] = []
        self.reactions: list[tuple[int, int, str]] = []  # (channel, message, emoji) the bot added
        self.rate_limits: list[RateLimit] = []
        self.refuse_gateway = False  # answer the websocket upgrade with 503 (a failing handshake)
        self.gateway_attempts = 0  # websocket connections tried, refused ones included
        self.files: dict[str, bytes] = {}  # served under /files/<name> (attachments, articles)
        self.identified_intents: int | None = None
        self.close_codes: list[int] = []
        self._ws: list[_GatewayConnection] = []
        self.sessions: dict[int, Session] = {}  # shard id -> its current session
        self.identifies = 0  # IDENTIFY payloads accepted
        self.resumes = 0  # sessions resumed (op 6 answered with the missed events + RESUMED)
        self.invalidated = 0  # op 9 sent
        self.faults: list[Fault] = []
        self.gateway_gate: asyncio.Event | None = None
        self.command_sync_gate: asyncio.Event | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1:`port` (0: any free port; see `port` afterwards)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for conn in list(self._ws):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def file_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/files/{name}"

    # -- the world -----------------------------------------------------------------------

    def add_user(self, username: str) -> User:
        user = User(snowflake(), username)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str = "News Club", *, shard: int | None = None) -> Guild:
        """A new server; with `shard`, one whose id puts it on that shard."""
        guild_id = snowflake()
        if shard is not None:  # move the timestamp part until (id >> 22) % count == shard
            stamp = guild_id >> 22
            stamp += (shard - stamp) % self.shard_count
            guild_id = (stamp << 22) | (guild_id & ((1 << 22) - 1))
        guild = Guild(guild_id, name, self.owner.id, snowflake())
        guild.members[self.owner.id] = Member(self.owner, permissions=ADMINISTRATOR | MANAGE_GUILD
                                              | MEMBER_PERMISSIONS)
        guild.members[self.bot_user.id] = Member(self.bot_user)
        self.guilds[guild.id] = guild
        return guild

    def add_role(self, guild: Guild, name: str) -> int:
        role_id = snowflake()
        guild.roles[role_id] = name
        return role_id

    def add_member(self, guild: Guild, user: User, *, roles: Iterable[int] = (),
                   permissions: int = MEMBER_PERMISSIONS) -> Member:
        member = Member(user, list(roles), permissions)
        guild.members[user.id] = member
        return member

    def dm_channel(self, user: User) -> int:
        return self.dm_channels.setdefault(user.id, snowflake())

    async def add_channel(self, guild: Guild, name: str, *, forum: bool = False) -> int:
        """A text channel (or, with `forum`, a forum channel) in `guild`; a bot already
        connected learns of it by CHANNEL_CREATE."""
        channel_id = snowflake()
        channel: Json = {"id": str(channel_id), "type": 15 if forum else 0, "name": name,
                         "position": len(guild.channels) + 1, "permission_overwrites": [],
                         "guild_id": str(guild.id), "nsfw": False, "topic": None,
                         "rate_limit_per_user": 0, "last_message_id": None, "flags": 0}
        if forum:
            channel.update(available_tags=[], default_reaction_emoji=None,
                           default_sort_order=None, default_forum_layout=0)
        guild.channels[channel_id] = channel
        if self.sessions.get(self.shard_of(guild.id)) is not None:
            await self.dispatch("CHANNEL_CREATE", channel)
        return channel_id

    def _thread_json(self, guild: Guild, thread_id: int, name: str, parent: int,
                     owner: int) -> Json:
        return {
            "id": str(thread_id), "guild_id": str(guild.id), "parent_id": str(parent),
            "owner_id": str(owner), "name": name, "type": 11, "last_message_id": None,
            "rate_limit_per_user": 0, "message_count": 0, "member_count": 1, "flags": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                "archive_timestamp": _now(), "locked": False},
            "newly_created": True,
        }

    async def remove_bot(self, guild: Guild) -> None:
        """The bot is kicked from (or leaves) `guild`: GUILD_DELETE without `unavailable`."""
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id), "guild_id": str(guild.id)})

    async def post_in_forum(self, author: User, guild: Guild, forum: int, title: str,
                            content: str) -> Json:
        """`author` opens a post titled `title` in the forum channel `forum`: Discord sends
        THREAD_CREATE, then the post's first message, whose id is the thread's."""
        thread_id = snowflake()
        thread = self._thread_json(guild, thread_id, title, forum, author.id)
        self.threads[thread_id] = thread
        await self.dispatch("THREAD_CREATE", thread)
        return await self.send_message(author, content, guild=guild, thread=thread_id,
                                       message_id=thread_id)

    # -- events the tests send -----------------------------------------------------------

    async def add_thread(self, guild: Guild, name: str = "follow-ups", *,
                         from_message: Json | None = None) -> int:
        """A public thread in `guild`'s channel (started from `from_message`, whose id it
        then takes, as on Discord); the bot learns of it by THREAD_CREATE."""
        thread_id = int(from_message["id"]) if from_message else snowflake()
        parent = int(from_message["channel_id"]) if from_message else guild.channel_id
        thread = self._thread_json(guild, thread_id, name, parent, self.owner.id)
        self.threads[thread_id] = thread
        await self.dispatch("THREAD_CREATE", thread)
        return thread_id

    async def send_message(self, author: User, content: str, *, guild: Guild | None = None,
                           attachments: Iterable[tuple[str, bytes]] = (),
                           thread: int | None = None, reply_to: Json | None = None,
                           ping: bool = True, channel: int | None = None,
                           author_is_webhook: bool = False,
                           message_id: int | None = None) -> Json:
        """`author` posts `content` in `guild`'s channel (or its `channel` or `thread`), or
        in their DM with the bot; `reply_to` makes it a reply to that message, which pings
        that message's author unless `ping` is off (as Discord's reply toggle does).

        Delivered to the bot as Discord would: `<@id>` tokens and a reply's ping become
        mentions, and guild content is blanked unless the bot has the message-content
        intent or is mentioned.
        """
        where = thread if thread is not None else channel
        channel_id = (where if where is not None else guild.channel_id) if guild \
            else self.dm_channel(author)
        mentions = [u for u in self.users.values() if f"<@{u.id}>" in content
                    or f"<@!{u.id}>" in content]
        if f"<@{self.bot_user.id}>" in content or f"<@!{self.bot_user.id}>" in content:
            mentions.append(self.bot_user)
        if reply_to is not None and ping:
            replied = int(reply_to["author"]["id"])
            pinged = self.bot_user if replied == self.bot_user.id else self.users.get(replied)
            if pinged is not None and pinged not in mentions:
                mentions.append(pinged)
        message: Json = {
            "id": str(message_id or snowflake()), "channel_id": str(channel_id),
            "type": 19 if reply_to else 0, "content": content,
            "author": author.to_json(), "timestamp": _now(), "edited_timestamp": None,
            "tts": False, "mention_everyone": "@everyone" in content,
            "mentions": [u.to_json() for u in mentions], "mention_roles": [],
            "attachments": [self._attachment(n, d) for n, d in attachments], "embeds": [],
            "pinned": False, "flags": 0, "components": [],
        }
        if author_is_webhook:
            message["webhook_id"] = str(snowflake())
        if reply_to is not None:
            message["message_reference"] = {"type": 0, "message_id": reply_to["id"],
                                            "channel_id": reply_to["channel_id"]}
            message["referenced_message"] = _public(reply_to)
            if guild is not None:
                message["message_reference"]["guild_id"] = str(guild.id)
        if guild is not None:
            message["guild_id"] = str(guild.id)
            member = guild.members.get(author.id) or self.add_member(guild, author)
            message["member"] = member.to_json(with_user=False)
        self._store_message(message)
        event = dict(message)
        content_allowed = (guild is None or self.bot_user in mentions
                           or (self.identified_intents or 0) & MESSAGE_CONTENT)
        if not content_allowed:
            event.update(content="", embeds=[], attachments=[], components=[])
        await self.dispatch("MESSAGE_CREATE", event)
        return message

    async def slash(self, name: str, *, user: User, guild: Guild | None = None,
                    subcommand: str | None = None, attachment: tuple[str, bytes] | None = None,
                    thread: int | None = None, channel: int | None = None,
                    **options: Any) -> Interaction:
        """`user` runs `/name [subcommand] option:value…` in `guild`'s channel (or its
        `channel` or `thread`), built from the synced command."""
        command = self.find_command(name, guild)
        opts: list[Json] = []
        resolved: Json = {}
        spec_options = command.get("options", [])
        if subcommand is not None:
            sub = next(o for o in spec_options if o["name"] == subcommand)
            spec_options = sub.get("options", [])
        for spec in spec_options:
            if spec["type"] == 11 and attachment is not None:
                att = self._attachment(*attachment)
                resolved = {"attachments": {att["id"]: att}}
                opts.append({"name": spec["name"], "type": 11, "value": att["id"]})
            elif spec["name"] in options and options[spec["name"]] is not None:
                opts.append({"name": spec["name"], "type": spec["type"],
                             "value": options[spec["name"]]})
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: Json = {"id": command["id"], "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(2, data, user=user, guild=guild,
                                    thread=thread if thread is not None else channel)

    async def autocomplete(self, name: str, option: str, value: str, *, user: User,
                           guild: Guild | None = None, timeout: float = 5.0) -> list[Json]:
        """The choices the bot offers while `user` types `value` into `option` of `/name`."""
        command = self.find_command(name, guild)
        opts = [{"name": o["name"], "type": o["type"], "value": value, "focused": True}
                for o in command.get("options", []) if o["name"] == option]
        data: Json = {"id": command["id"], "name": name, "type": 1, "options": opts}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        interaction = await self._interact(4, data, user=user, guild=guild)
        await self.wait_for(lambda: bool(interaction.callbacks), timeout)
        result: list[Json] = interaction.callbacks[0]["data"]["choices"]
        return result

    async def click(self, message: Json, custom_id: str, *, user: User,
                    guild: Guild | None = None, message_fields: Json | None = None
                    ) -> Interaction:
        """`user` presses the button `custom_id` on `message` (sent with `message_fields`
        added to it, e.g. a malformed `"thread": None`)."""
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(3, data, user=user, guild=guild,
                                    message={**message, **(message_fields or {})},
                                    thread=self._thread_of(message, guild))

    async def submit_modal(self, opened_by: Interaction, values: Iterable[str], *, user: User,
                           guild: Guild | None = None) -> Interaction:
        """`user` fills in the form (modal) the bot opened in reply to `opened_by`, one value
        per text field in order, and submits it."""
        modal = next(c["data"] for c in opened_by.callbacks if c["type"] == 9)
        fields = [c for row in modal["components"] for c in row.get("components", [row])
                  if c.get("type") == 4]
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": f["custom_id"],
                                            "value": value}]}
                for f, value in zip(fields, values, strict=True)]
        data = {"custom_id": modal["custom_id"], "components": rows}
        message = opened_by.payload.get("message")
        return await self._interact(5, data, user=user, guild=guild, message=message,
                                    thread=self._thread_of(message, guild))

    def _thread_of(self, message: Json | None, guild: Guild | None) -> int | None:
        if message is None or guild is None:
            return None
        channel_id = int(message["channel_id"])
        return channel_id if channel_id in self.threads else None

    async def _interact(self, kind: int, data: Json, *, user: User, guild: Guild | None,
                        message: Json | None = None, thread: int | None = None
                        ) -> Interaction:
        interaction_id = snowflake()
        token = f"itoken-{interaction_id}"
        channel_id = (thread if thread is not None else guild.channel_id) if guild \
            else self.dm_channel(user)
        payload: Json = {
            "id": str(interaction_id), "application_id": str(self.app_id), "type": kind,
            "token": token, "version": 1, "data": data, "locale": "en-US",
            "attachment_size_limit": self.attachment_size_limit, "app_permissions": "0",
            "entitlements": [], "authorizing_integration_owners": {},
            "channel_id": str(channel_id),
            "channel": (dict(self.threads[channel_id]) if channel_id in self.threads
                        else dict(guild.channels[channel_id])
                        if guild is not None and channel_id in guild.channels
                        else {"id": str(channel_id), "type": 0 if guild else 1}),
            "context": 0 if guild else 1,
        }
        if guild is not None:
            member = guild.members.get(user.id) or self.add_member(guild, user)
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {**member.to_json(), "permissions": str(member.permissions)}
        else:
            payload["user"] = user.to_json()
            payload["channel"]["recipients"] = [user.to_json()]
        if message is not None:
            payload["message"] = _public(message)
        interaction = Interaction(interaction_id, token, kind, payload, time.monotonic())
        self.interactions[interaction_id] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    # -- waiting -------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `predicate()` is truthy; returns it. Re-checked on every REST call and
        every 20 ms (for conditions on the bot's own state)."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.02):
                        await self._changed.wait()
        return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def bot_messages(self, channel_id: int) -> list[Json]:
        return [m for m in self.channel_log.get(channel_id, [])
                if m["author"]["id"] == str(self.bot_user.id)]

    async def next_bot_message(self, channel_id: int, *, after: int = 0,
                               timeout: float = 5.0) -> Json:
        """The first message the bot posts in `channel_id` beyond the first `after` ones."""
        await self.wait_for(lambda: len(self.bot_messages(channel_id)) > after, timeout)
        return self.bot_messages(channel_id)[after]

    async def reply_to(self, interaction: Interaction, *, count: int = 1,
                       timeout: float = 5.0) -> Json:
        """The bot's `count`-th visible reply to `interaction`, once it exists."""
        await self.wait_for(lambda: len(interaction.replies) >= count, timeout)
        return interaction.replies[count - 1]

    def find_command(self, name: str, guild: Guild | None) -> Json:
        here = self.commands.get(guild.id, []) if guild else []
        candidates = here + self.commands.get(None, [])
        for command in candidates:
            if command["name"] == name:
                return command
        raise KeyError(f"/{name} was not synced (synced: {sorted(self._synced_names())})")

    def _synced_names(self) -> set[str]:
        return {c["name"] for cmds in self.commands.values() for c in cmds}

    # -- gateway -------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The current session of shard 0 (the only shard unless `shard_count` > 1)."""
        return self.sessions.get(0)

    def shard_of(self, guild_id: int | str | None) -> int:
        """The shard that receives a guild's events (shard 0 for DMs)."""
        return 0 if guild_id is None else (int(guild_id) >> 22) % self.shard_count

    async def dispatch(self, event: str, data: Json) -> None:
        """Send an event in the session of the shard it belongs to; while that shard is
        disconnected it waits in the session's history and is replayed when it resumes."""
        shard = self.shard_of(data.get("guild_id"))
        session = self.sessions.get(shard)
        if session is None:
            raise RuntimeError(f"shard {shard} is not connected to the gateway")
        payload = session.payload(event, data)
        for conn in list(self._ws):
            if conn.shard == shard:
                await conn.send(payload)

    @property
    def connected(self) -> bool:
        return bool(self._ws)

    # -- gateway faults ------------------------------------------------------------------

    async def drop_connection(self, *, code: int = 4000, abrupt: bool = False) -> None:
        """End the gateway connection as a network fault or a Discord restart would: with a
        resumable close code, or (`abrupt`) by cutting the TCP connection. The session stays
        valid, so the bot may RESUME it."""
        for conn in list(self._ws):
            self._ws.remove(conn)
            if abrupt and conn.transport is not None:
                conn.transport.abort()
            else:
                await conn.ws.close(code=code, message=b"connection dropped (injected)")
        await self._notify()

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 (invalid session). Unless `resumable`, the session is over: events sent
        until the bot identifies again are lost, as on Discord."""
        for conn in list(self._ws):
            if conn.shard in self.sessions and not resumable:
                self.sessions[conn.shard].valid = False
            if not resumable:
                self._ws.remove(conn)
            self.invalidated += 1
            await conn.send({"op": 9, "d": resumable})

    async def request_reconnect(self) -> None:
        """Send op 7: the bot should reconnect and resume."""
        for conn in list(self._ws):
            self._ws.remove(conn)
            await conn.send({"op": 7, "d": None})

    def forget_history(self) -> None:
        """Drop the record of everything said so far (for long runs that watch memory)."""
        for log in (self.requests, self.typing, self.reactions):
            log.clear()
        for table in (self.messages, self.channel_log, self.interactions):
            table.clear()
        for session in self.sessions.values():
            session.history.clear()

    def hold_gateway(self) -> asyncio.Event:
        """Delay every RESUME and IDENTIFY until the returned event is set."""
        self.gateway_gate = asyncio.Event()
        return self.gateway_gate

    def fail(self, method: str, path: str, status: int, *, times: int = 1,
             retry_after: float = 0.25, via: bool = True, body: Json | None = None) -> Fault:
        """The next `times` REST calls `method` on a path matching the regex `path` are
        answered with `status` (429 carries `retry_after` and, if `via`, a `Via` header;
        other statuses `body`, by default a generic Discord error). Faults queue: a call
        gets the first one added that still matches."""
        fault = Fault(method, path, status, times, retry_after, via, body)
        self.faults.append(fault)
        return fault

    def limit_rate(self, method: str, path: str, count: int, seconds: float) -> RateLimit:
        """Answer calls beyond `count` per `seconds` on each path matching `path` with 429s,
        as Discord's per-route limits do (see `RateLimit`)."""
        limit = RateLimit(method, path, count, seconds)
        self.rate_limits.append(limit)
        return limit

    def hold_command_sync(self) -> asyncio.Event:
        """Keep every accepted `PUT …/commands` waiting until the returned event is set."""
        self.command_sync_gate = asyncio.Event()
        return self.command_sync_gate

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        self.gateway_attempts += 1
        await self._notify()
        if self.refuse_gateway:  # the handshake fails: no upgrade to a websocket
            return _error(503, 0, "503: Service Unavailable (injected)")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _GatewayConnection(self, ws, request.query.get("compress") == "zlib-stream",
                                  request.transport)
        await conn.send({"op": 10, "d": {"heartbeat_interval": 41250}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await conn.receive(json.loads(msg.data))
        finally:
            if conn in self._ws:
                self._ws.remove(conn)
        return ws

    async def _wait_gate(self) -> None:
        if self.gateway_gate is not None:
            await self.gateway_gate.wait()

    async def _identify(self, conn: _GatewayConnection, data: Json) -> None:
        await self._wait_gate()
        if data.get("token") != self.token:
            self.close_codes.append(4004)
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.approved_intents:
            self.close_codes.append(4014)
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard, count = data.get("shard") or [0, 1]
        if count != self.shard_count or not 0 <= shard < count:
            self.close_codes.append(4011 if count < self.shard_count else 4010)
            await conn.ws.close(code=self.close_codes[-1], message=b"Invalid shard.")
            return
        self.identified_intents = intents
        self.identifies += 1
        session = self.sessions[shard] = Session(f"session-{snowflake()}")
        conn.shard = shard
        self._ws.append(conn)
        guilds = [g for g in self.guilds.values() if self.shard_of(g.id) == shard]
        await conn.dispatch("READY", {
            "v": 10, "user": {**self.bot_user.to_json(), "verified": True, "mfa_enabled": False,
                              "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id, "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0}, "private_channels": [],
            "relationships": [], "user_settings": {}, "presences": [], "guild_join_requests": [],
            "geo_ordered_rtc_regions": [], "shard": [shard, count],
        })
        for guild in guilds:
            await conn.dispatch("GUILD_CREATE", guild.to_json())
        await self._notify()

    async def _resume(self, conn: _GatewayConnection, data: Json) -> None:
        await self._wait_gate()
        if data.get("token") != self.token:
            self.close_codes.append(4004)
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = next((n for n, s in self.sessions.items() if s.id == data.get("session_id")),
                     None)
        session = None if shard is None else self.sessions[shard]
        if session is None or not session.valid:
            self.invalidated += 1
            await conn.send({"op": 9, "d": False})
            return
        seq = int(data.get("seq") or 0)
        assert shard is not None
        conn.shard = shard
        self._ws.append(conn)
        for payload in [p for p in session.history if p["s"] > seq]:
            await conn.send(payload)
        await conn.dispatch("RESUMED", {})
        self.resumes += 1
        await self._notify()

    # -- REST ----------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name], content_type="text/plain", charset="utf-8")

    async def _rest(self, request: web.Request) -> web.Response:
        body = await self._read_body(request)
        path = "/" + request.match_info["tail"]
        call = Request(request.method, path, dict(request.query), body)
        self.requests.append(call)
        needs_auth = not path.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        limit = next((r for r in self.rate_limits if r.matches(call)), None)
        if limit is not None and not limit.admit(call.path):
            await self._notify()
            return limit.response()
        fault = next((f for f in self.faults if f.matches(call)), None)
        if fault is not None:
            await self._notify()
            return fault.response()
        if (self.command_sync_gate is not None and call.method == "PUT"
                and call.path.endswith("/commands")):
            await self.command_sync_gate.wait()
        try:
            response = await self._route(call)
        finally:
            await self._notify()
        if response is None:
            self.unhandled.append(call)
            return _error(404, 0, f"404: Not Found ({call.method} {call.path})")
        return response

    @staticmethod
    async def _read_body(request: web.Request) -> Any:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            parts: Json = {"files": {}}
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    parts.update(json.loads(await part.text()))  # type: ignore[union-attr]
                else:
                    parts["files"][part.filename] = await part.read()  # type: ignore[union-attr]
            return parts
        raw = await request.read()
        return json.loads(raw) if raw else None

    async def _route(self, call: Request) -> web.Response | None:
        parts = call.path.strip("/").split("/")
        method = call.method
        match parts:
            case ["gateway", "bot"] if method == "GET":
                return _json({"url": self.gateway_url, "shards": self.shard_count,
                              "session_start_limit": {"total": 1000, "remaining": 999,
                                                      "reset_after": 0,
                                                      "max_concurrency": 1}})
            case ["users", "@me"] if method == "GET":
                return _json({**self.bot_user.to_json(), "verified": True, "flags": 0,
                              "mfa_enabled": False})
            case ["oauth2", "applications", "@me"] if method == "GET":
                return _json(self._application())
            case ["applications", _, "commands"] if method == "PUT":
                return _json(self._sync(None, call.body))
            case ["applications", _, "guilds", gid, "commands"] if method == "PUT":
                return _json(self._sync(int(gid), call.body))
            case ["applications", _, "commands"] if method == "GET":
                return _json(self.commands.get(None, []))
            case ["applications", _, "guilds", gid, "commands"] if method == "GET":
                return _json(self.commands.get(int(gid), []))
            case ["channels", cid, "typing"] if method == "POST":
                self.typing.append(int(cid))
                return web.Response(status=204)
            case ["channels", cid, "messages"] if method == "POST":
                return _json(self._post_message(int(cid), call.body))
            case ["channels", cid, "messages", mid, "threads"] if method == "POST":
                return await self._start_thread(int(cid), int(mid), call.body)
            case ["channels", cid, "messages", mid, "reactions", emoji, "@me"] \
                    if method == "PUT":
                self.reactions.append((int(cid), int(mid), unquote(emoji)))
                return web.Response(status=204)
            case ["channels", cid, "messages", mid] if method == "PATCH":
                return self._edit(self.messages.get(int(mid)), call.body)
            case ["users", "@me", "channels"] if method == "POST":
                user_id = int(call.body["recipient_id"])
                return _json({"id": str(self.dm_channel(self.users[user_id])), "type": 1,
                              "recipients": [self.users[user_id].to_json()],
                              "last_message_id": None})
            case ["interactions", iid, token, "callback"] if method == "POST":
                return self._callback(int(iid), token, call.body)
            case ["webhooks", _, token] if method == "POST":
                return self._followup(token, call.body)
            case ["webhooks", _, token, "messages", mid] if method in ("PATCH", "GET"):
                interaction = self._by_token(token)
                if interaction is None:
                    return _error(404, 10015, "Unknown Webhook")
                target = (interaction.original if mid == "@original"
                          else self.messages.get(int(mid)))
                if method == "GET":
                    return self._edit(target, None)
                if target is not None and target is interaction.original:
                    interaction.edits.append(call.body)
                return self._edit(target, call.body)
        return None

    async def _start_thread(self, channel_id: int, message_id: int, body: Json
                            ) -> web.Response:
        """A thread started by the bot from a message: it takes the message's id; Discord
        answers with the channel and sends THREAD_CREATE."""
        message = self.messages.get(message_id)
        guild = next((g for g in self.guilds.values() if channel_id == g.channel_id
                      or channel_id in g.channels), None)
        if message is None or guild is None:
            return _error(404, 10008, "Unknown Message")
        if message_id in self.threads:
            return _error(400, 160004, "A thread has already been created for this message")
        thread = self._thread_json(guild, message_id, str(body.get("name", ""))[:100],
                                   channel_id, self.bot_user.id)
        self.threads[message_id] = thread
        await self.dispatch("THREAD_CREATE", thread)
        return _json(thread)

    def _application(self) -> Json:
        return {"id": str(self.app_id), "name": "citebot", "description": "", "icon": None,
                "bot_public": True, "bot_require_code_grant": False,
                "owner": self.owner.to_json(), "verify_key": "0" * 64,
                "interactions_endpoint_url": None, "flags": 0, "team": None,
                "summary": "", "rpc_origins": [], "tags": []}

    def _sync(self, guild_id: int | None, commands: list[Json]) -> list[Json]:
        synced = []
        for command in commands:
            command = {**command, "id": str(snowflake()), "application_id": str(self.app_id),
                       "version": str(snowflake()), "type": command.get("type", 1)}
            if guild_id is not None:
                command["guild_id"] = str(guild_id)
            synced.append(command)
        self.commands[guild_id] = synced
        return synced

    def _message_from_bot(self, channel_id: int, body: Json, **extra: Any) -> Json:
        message: Json = {
            "id": str(snowflake()), "channel_id": str(channel_id), "type": 0,
            "content": body.get("content") or "", "author": self.bot_user.to_json(),
            "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": body.get("embeds") or [], "components": body.get("components") or [],
            "pinned": False, "flags": body.get("flags") or 0,
            "_allowed_mentions": body.get("allowed_mentions"), **extra,
        }
        if body.get("message_reference"):
            message["message_reference"] = {k: str(v) if k.endswith("_id") else v
                                            for k, v in body["message_reference"].items()}
        return message

    def _post_message(self, channel_id: int, body: Json) -> Json:
        message = self._message_from_bot(channel_id, body)
        self._store_message(message)
        return message

    def _store_message(self, message: Json) -> None:
        self.messages[int(message["id"])] = message
        self.channel_log.setdefault(int(message["channel_id"]), []).append(message)

    def _edit(self, message: Json | None, body: Json | None) -> web.Response:
        if message is None:
            return _error(404, 10008, "Unknown Message")
        if body:
            for key in ("content", "embeds", "components", "flags"):
                if key in body and body[key] is not None:
                    message[key] = body[key]
            if "allowed_mentions" in body:
                message["_allowed_mentions"] = body["allowed_mentions"]
            message["edited_timestamp"] = _now()
            message.pop("_loading", None)
            message["flags"] = message.get("flags", 0) & ~LOADING
        return _json(_public(message))

    def _by_token(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def _callback(self, interaction_id: int, token: str, body: Json) -> web.Response:
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.token != token:
            return _error(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.sent_at > INTERACTION_TIMEOUT:
            return _error(404, 10062, "Unknown interaction")
        interaction.callbacks.append(body)
        kind = body["type"]
        data = body.get("data") or {}
        channel_id = int(interaction.payload["channel"]["id"])
        response: Json = {"interaction": {"id": str(interaction_id), "type": interaction.type}}
        if kind in (4, 5):  # message / deferred ("thinking") message
            flags = data.get("flags") or 0
            message = self._message_from_bot(
                channel_id, data if kind == 4 else {"flags": flags | LOADING},
                interaction_metadata={"id": str(interaction_id), "type": interaction.type,
                                      "user": interaction.payload.get("member", {}).get(
                                          "user", interaction.payload.get("user"))},
                webhook_id=str(self.app_id), application_id=str(self.app_id))
            if kind == 5:
                message["_loading"] = True
            interaction.original = message
            self.messages[int(message["id"])] = message
            if not flags & EPHEMERAL:
                self.channel_log.setdefault(channel_id, []).append(message)
            response["interaction"].update(
                response_message_id=message["id"], response_message_loading=kind == 5,
                response_message_ephemeral=bool(flags & EPHEMERAL))
            response["resource"] = {"type": kind, "message": _public(message)}
        elif kind == 7:  # update the message the component was on
            target = self.messages.get(int(interaction.payload["message"]["id"]))
            self._edit(target, data)
            interaction.edits.append(data)
            if target is not None:
                response["resource"] = {"type": 7, "message": target}
        elif kind == 6:  # deferred update
            pass
        elif kind == 9:  # a form (modal) opened for the user; submitted with `submit_modal`
            response["resource"] = {"type": 9}
        return _json(response)

    def _followup(self, token: str, body: Json) -> web.Response:
        interaction = self._by_token(token)
        if interaction is None or not interaction.callbacks:
            return _error(404, 10015, "Unknown Webhook")
        original = interaction.original
        if original is not None and original.get("_loading") and not interaction.followups:
            # The first follow-up after a deferred response replaces the thinking message.
            self._edit(original, body)
            interaction.followups.append(original)
            return _json(_public(original))
        channel_id = int(interaction.payload["channel"]["id"])
        message = self._message_from_bot(channel_id, body, webhook_id=str(self.app_id))
        self.messages[int(message["id"])] = message
        if not (body.get("flags") or 0) & EPHEMERAL:
            self.channel_log.setdefault(channel_id, []).append(message)
        interaction.followups.append(message)
        return _json(message)

    def _attachment(self, filename: str, data: bytes) -> Json:
        attachment_id = snowflake()
        name = f"{attachment_id}-{re.sub(r'[^A-Za-z0-9._-]', '_', filename)}"  # URL-safe
        self.files[name] = data
        return {"id": str(attachment_id), "filename": filename, "size": len(data),
                "url": self.file_url(name), "proxy_url": self.file_url(name),
                "content_type": "text/plain; charset=utf-8"}


class _GatewayConnection:
    def __init__(self, fake: FakeDiscord, ws: web.WebSocketResponse, compress: bool,
                 transport: asyncio.BaseTransport | None = None) -> None:
        self.fake = fake
        self.ws = ws
        self.transport = transport
        self._deflate = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.shard = 0  # set by IDENTIFY / RESUME

    async def send(self, payload: Json) -> None:
        raw = json.dumps(payload)
        async with self._lock:
            if self.ws.closed:
                return
            if self._deflate is None:
                await self.ws.send_str(raw)
            else:  # one zlib stream per connection, flushed after every message
                data = self._deflate.compress(raw.encode()) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: Json) -> None:
        """Send an event to this connection only, numbered in its shard's session."""
        await self.send(self.fake.sessions[self.shard].payload(event, data))

    async def receive(self, payload: Json) -> None:
        op = payload.get("op")
        if op == 1:  # heartbeat
            await self.send({"op": 11})
        elif op == 2:  # identify
            await self.fake._identify(self, payload["d"])
        elif op == 6:  # resume
            await self.fake._resume(self, payload["d"])
