"""Questions written in Discord markdown, made plain before they are answered.

`**Who** leads [the National Rally](https://example.com)? ||x||` is answered like
`Who leads the National Rally? x`: formatting markers (bold, italic, underline, strike,
spoiler), code ticks and fences, headings and block quotes go; a masked link keeps its
text; user, role and channel mentions become the names they stand for (or go, when unknown);
custom emoji and timestamps go; backslash escapes keep the character they escape.
The question shown back to the asker is the original, escaped (see `bot.render`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FENCE = re.compile(r"```(?:[\w+-]*\n)?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_MASKED_LINK = re.compile(r"\[([^\]\n]+)\]\((?:<[^>\s]+>|[^)\s]+)\)")
_MENTION = re.compile(r"<(@!?|@&|#)(\d+)>")
_EMOJI = re.compile(r"<a?:\w+:\d+>")
_TIMESTAMP = re.compile(r"<t:-?\d+(?::[tTdDfFR])?>")
_LINE_PREFIX = re.compile(r"^[ \t]*(?:>>> ?|> ?|#{1,3} |-# )", re.MULTILINE)
#: paired markers, longest first; `_` only at word edges (snake_case stays)
_PAIRS = [re.compile(p, re.DOTALL) for p in (
    r"\|\|(.+?)\|\|", r"~~(.+?)~~", r"\*\*\*(.+?)\*\*\*", r"\*\*(.+?)\*\*", r"__(.+?)__",
    r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)")]
_ESCAPE = re.compile(r"\\([\\*_~|`>#\[\]()<>-])")
_PLACEHOLDER = "\x00{}\x00"


def plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """`text` without Discord markdown. `names` maps mention tokens ("<@123>", "<@&4>",
    "<#5>") to the names they show; unknown mentions are removed."""
    names = names or {}
    # escaped characters are set aside first so that no rule below reads them as markup
    escaped: list[str] = []

    def keep(match: re.Match[str]) -> str:
        escaped.append(match[1])
        return _PLACEHOLDER.format(len(escaped) - 1)

    text = _ESCAPE.sub(keep, text)
    text = _FENCE.sub(lambda m: m[1], text)
    text = _INLINE_CODE.sub(lambda m: m[2], text)
    text = _MASKED_LINK.sub(lambda m: m[1], text)
    text = _EMOJI.sub(" ", text)
    text = _TIMESTAMP.sub(" ", text)

    def mention(match: re.Match[str]) -> str:
        kind, ident = match[1], match[2]
        token = f"<{'@' if kind == '@!' else kind}{ident}>"
        return names.get(token, names.get(match[0], " "))

    text = _MENTION.sub(mention, text)
    text = _LINE_PREFIX.sub("", text)
    for _ in range(4):  # nested markers ("***x***", "**__x__**") peel off one layer a pass
        before = text
        for pair in _PAIRS:
            text = pair.sub(lambda m: m[1], text)
        if text == before:
            break
    text = re.sub(r"\x00(\d+)\x00", lambda m: escaped[int(m[1])], text)
    return " ".join(text.split())
