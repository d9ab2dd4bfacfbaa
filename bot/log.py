"""One logger per module, named after the module (`bot.exts.ask`, ...)."""

from __future__ import annotations

import logging


def get_logger(name: str) -> logging.Logger:
    """The logger for module `name` (pass `__name__`)."""
    return logging.getLogger(name)
