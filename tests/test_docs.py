"""The settings page documents every setting there is."""

import dataclasses
from pathlib import Path

from bot.settings import BotSettings
from index.settings import IndexSettings

SETTINGS_DOC = (Path(__file__).parents[1] / "docs" / "SETTINGS.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    for cls in (IndexSettings, BotSettings):
        for f in dataclasses.fields(cls):
            assert f"| `{f.name}` | `CITEBOT_{f.name.upper()}` |" in SETTINGS_DOC, f.name
