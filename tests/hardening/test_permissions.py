"""Every admin action tried by someone who is not an admin where they try it: a plain
member, anyone in a DM (even a server owner), and a member who manages another server or
holds an admin role there. 100% refused, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import IndexSettings
from tests.conftest import Running, StartBot
from tests.discord_fake import EPHEMERAL, MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, Guild, User
from tests.test_bot_admin import ARTICLE

ACTIONS = {
    "/reindex": ("reindex", None, {}),
    "/source add url": ("source", "add", {"url": "{file_url}"}),
    "/source add file": ("source", "add", {"attachment": ("lighthouse.txt", ARTICLE)}),
    "/feed add": ("feed", "add", {"url": "{file_url}"}),
    "/feed remove": ("feed", "remove", {"url": "{file_url}"}),
}
ACTORS = ["plain member", "plain user in a DM", "server owner in a DM",
          "manager of another server", "admin role of another server"]


def snapshot(data_dir: Path) -> dict[str, float]:
    return {str(p.relative_to(data_dir)): p.stat().st_mtime for p in data_dir.rglob("*")}


async def actor(name: str, run: Running, other: Guild, other_role: int
                ) -> tuple[User, Guild | None]:
    fake = run.fake
    if name == "plain member":
        return run.member, run.guild
    if name == "plain user in a DM":
        return run.member, None
    if name == "server owner in a DM":
        return fake.owner, None
    user = fake.add_user(name.replace(" ", "-"))
    fake.add_member(run.guild, user, permissions=MEMBER_PERMISSIONS)  # plain here
    if name == "manager of another server":
        fake.add_member(other, user, permissions=MANAGE_GUILD | MEMBER_PERMISSIONS)
    else:
        fake.add_member(other, user, roles=[other_role])
    return user, run.guild


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("action", list(ACTIONS))
async def test_admin_actions_are_refused_to_non_admins_and_change_nothing(
        start_bot: StartBot, fake: FakeDiscord, own_index_settings: IndexSettings, who: str,
        action: str) -> None:
    other = fake.add_guild("Other Server")
    other_role = fake.add_role(other, "other-admins")
    run = await start_bot(own_index=own_index_settings, admin_role_ids=(other_role,))
    fake.files["lighthouse.txt"] = ARTICLE
    user, guild = await actor(who, run, other, other_role)
    before_files = snapshot(own_index_settings.data_dir)
    before_version = run.bot.index.version
    requests_before = len(fake.requests)

    name, sub, options = ACTIONS[action]
    options = {k: (v.format(file_url=fake.file_url("lighthouse.txt")) if isinstance(v, str)
                   else v) for k, v in options.items()}
    ix = await fake.slash(name, subcommand=sub, user=user, guild=guild, **options)
    reply = await fake.reply_to(ix)

    assert ix.callback_types == [4] and reply["flags"] & EPHEMERAL
    assert "Only server managers" in reply["content"]
    assert snapshot(own_index_settings.data_dir) == before_files
    assert run.bot.index.version == before_version and not run.bot.reindexing
    assert not [r for r in fake.requests[requests_before:] if r.path.startswith("/files")]
