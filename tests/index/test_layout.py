"""The architecture the layout promises: the core never imports discord."""

import subprocess
import sys


def test_the_core_and_its_cli_never_import_discord() -> None:
    code = ("import sys, index, index.cli.main, index.answer.engine, index.building.builder, "
            "index.building.update, index.cli.evaluate; "
            "print('discord' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
