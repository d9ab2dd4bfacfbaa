"""Which messages read as questions for the bot: in answer channels, and in replies that
ping it without naming it, chatter ("thanks!", "lol", a link) is left alone."""

from __future__ import annotations

import re

#: words a question starts with (besides those ending in "?")
QUESTION_WORDS = frozenset(["who", "whom", "whose", "what", "when", "where", "why", "how", "which"])
#: requests phrased as commands
REQUESTS = ("tell me", "explain", "show me", "list", "describe", "summarise", "summarize",
            "give me", "find", "quote", "and who", "and what", "and when", "and where",
            "and why", "and how", "and which")

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_NOISE = re.compile(r"<a?:\w+:\d+>|<[@#][!&]?\d+>|https?://\S+")


def reads_as_question(text: str) -> bool:
    """True for "Who leads the National Rally?", "what did Starmer say about the ECHR",
    "Tell me about the returns deal"; False for "thanks!", "lol", "good morning", a link,
    "ok?" (fewer than two words)."""
    plain = _NOISE.sub(" ", text).strip()
    words = _WORD.findall(plain.lower())
    if len(words) < 2:
        return False
    if plain.rstrip(" *_~`)\"'”’").endswith("?"):
        return True
    return words[0] in QUESTION_WORDS or any(
        words[:len(r.split())] == r.split() for r in REQUESTS)
