"""`python -m bot` run as its own process against the fake Discord, as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.discord_fake import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    output: str = ""
    """Everything it printed (stdout and stderr), once the block has ended."""


@asynccontextmanager
async def bot_process(fake: FakeDiscord, cwd: Path, data_dir: Path,
                      ready: Callable[[], bool] | None = None,
                      **env: str) -> AsyncIterator[BotProcess]:
    """Start `python -m bot` with `fake`'s token and URLs, `data_dir` and the extra `env`;
    enter once it has connected and synced its commands (or `ready()`), or exited;
    terminate it after."""
    full_env = {**os.environ, "DISCORD_TOKEN": fake.token, "CITEBOT_API_BASE": fake.base_url,
                "CITEBOT_GATEWAY_URL": fake.gateway_url, "CITEBOT_CONFIG": str(cwd / "no.toml"),
                "CITEBOT_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": str(ROOT), **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=full_env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    run = BotProcess(process)
    try:
        if ready is None:
            def ready() -> bool:
                return fake.identified_intents is not None and bool(fake.commands)
        await fake.wait_for(lambda: process.returncode is not None or ready(), 120)
        yield run
    finally:
        if process.returncode is None:
            process.terminate()
        output, _ = await process.communicate()
        run.output = output.decode()
