"""The systemd units in deploy/ and the exit statuses they rely on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import BAD_SETTINGS, REFUSED_BY_DISCORD
from bot.settings import BotSettings
from index import IndexSettings
from tests.bot_process import bot_process
from tests.discord_fake import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]
UNITS = [ROOT / "deploy" / "citebot.service", ROOT / "deploy" / "citebot@.service"]
INSTALLED = "/opt/citebot/.venv/bin/citebot"


def directives(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    script = Path(sys.executable).parent / "citebot"  # this checkout's, installed like /opt's
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text(encoding="utf-8").replace(INSTALLED, str(script)),
                    encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    about_ours = [line for line in (result.stdout + result.stderr).splitlines()
                  if unit.name in line]
    assert result.returncode == 0 and not about_ours, result.stdout + result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_runs_confined_with_the_token_from_a_credential(unit: Path) -> None:
    d = directives(unit)
    assert d["ExecStart"] == [INSTALLED]
    assert d["Restart"] == ["on-failure"]
    assert d["User"] == ["citebot"] and d["StateDirectory"] == ["citebot"]
    assert "CITEBOT_DATA_DIR=/var/lib/citebot" in d["Environment"]
    assert d["LoadCredential"] == ["token:/etc/citebot/token"]
    assert "CITEBOT_TOKEN_FILE=%d/token" in d["Environment"]
    assert (d["ProtectSystem"], d["ProtectHome"], d["NoNewPrivileges"]) == (
        ["strict"], ["yes"], ["yes"])
    assert "ReadWritePaths" not in d  # writes only to the state and cache directories


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_does_not_restart_into_a_refusal(unit: Path) -> None:
    statuses = {int(s) for s in directives(unit)["RestartPreventExitStatus"][0].split()}
    assert statuses == {BAD_SETTINGS, REFUSED_BY_DISCORD}


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_variable_the_unit_sets_is_a_setting(unit: Path) -> None:
    import dataclasses

    known = {f"CITEBOT_{f.name.upper()}" for cls in (IndexSettings, BotSettings)
             for f in dataclasses.fields(cls)} | {"CITEBOT_CONFIG"}
    used = set(re.findall(r"\bCITEBOT_[A-Z_]+", unit.read_text(encoding="utf-8")))
    assert used <= known, used - known


def test_unusable_settings_exit_with_the_status_the_unit_does_not_restart(
        tmp_path: Path) -> None:
    env = {"CITEBOT_CONFIG": str(tmp_path / "none.toml"), "CITEBOT_SHARD_IDS": "3",
           "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "bot"], env=env, capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == BAD_SETTINGS
    assert "shard_ids needs shard_count" in result.stderr


@pytest.mark.slow
async def test_a_refused_token_exits_with_the_status_the_unit_does_not_restart(
        fake: FakeDiscord, own_index_settings: IndexSettings, tmp_path: Path) -> None:
    async with bot_process(fake, tmp_path, own_index_settings.data_dir,
                           DISCORD_TOKEN="not-" + fake.token) as run:
        await run.process.wait()
    assert run.process.returncode == REFUSED_BY_DISCORD
    assert "Discord refused the token" in run.output
