"""How answers, contexts and article lists look on Discord, within every Discord size limit.

Pure functions from `index` records to `discord.Embed`s; nothing here talks to Discord.
Quotes are shortened only at sentence boundaries (whole quotes are dropped) unless a
single quote alone is too long, which is then cut at a word boundary and ends with "…".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urldefrag

import discord

from index import Answer, ArticleInfo, Citation, Feed, NewArticle, Timeline
from index.types import display_date

# Discord's documented limits.
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000

ELLIPSIS = "…"
ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
ERROR_COLOUR = discord.Colour.red()


def plural(n: int, noun: str) -> str:
    """`1 article`, `2 articles`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def dlen(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units, never fewer than code points)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Article or user text made inert: no markdown, on one line."""
    flat = " ".join(text.split())
    return discord.utils.escape_markdown(flat, ignore_links=False)


#: characters that are markup anywhere in a line, and what is markup only at its start
_MARKUP = re.compile(r"([\\*_~|`\[\]])")
_LINE_START_MARKUP = re.compile(r"^([#>-])")


def inert(text: str, *, line_start: bool = False) -> str:
    """`text` (one line) with every markdown character escaped, wherever it stands: unlike
    `escape`, a part stays inert when markup is put around it (the answer words' bold)."""
    text = _MARKUP.sub(r"\\\1", text)
    return _LINE_START_MARKUP.sub(r"\\\1", text) if line_start else text


def quote_markdown(c: Citation, limit: int | None = None) -> str:
    """The quote as inert Discord text, its answer words (when it has them) in bold:
    "**Jordan Bardella**, the leader of …". With `limit`, cut at a word boundary like
    `clip`; the bold is kept when the answer words fit whole, else the quote is cut plain."""
    before, words, after = c.marked()
    if not words:
        return escape(c.text) if limit is None else clip(c.text, limit)
    head = f"{inert(_flat(before).lstrip(), line_start=True)}**{inert(_flat(words))}**"
    tail = _flat(after).rstrip()
    whole = head + inert(tail)
    if limit is None or dlen(whole) <= limit:
        return whole
    lead = " " if tail.startswith(" ") else ""
    if not tail.strip() or dlen(head) + len(lead) + 2 >= limit:
        return clip(c.text, limit)  # the answer words do not fit whole: a plain cut
    return head + lead + clip(tail, limit - dlen(head) - len(lead), escaper=inert)


def _flat(text: str) -> str:
    """Whitespace runs as single spaces (the ends kept: the parts of a quote join up)."""
    return re.sub(r"\s+", " ", text)


def clip(text: str, limit: int, *, escaper: Callable[[str], str] | None = None) -> str:
    """`text` escaped, shortened at a word boundary to at most `limit` units, ending in "…"
    when shortened."""
    escape_ = escaper or escape
    escaped = escape_(" ".join(text.split()))
    if dlen(escaped) <= limit:
        return escaped
    words = " ".join(text.split()).split(" ")
    lo, hi = 0, len(words)
    while lo < hi:  # the most words whose escaped form plus "…" fits
        mid = (lo + hi + 1) // 2
        if dlen(escape_(" ".join(words[:mid])) + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:  # one enormous word: cut characters
        cut = escaped[: max(0, limit - 1)]
        while cut and dlen(cut) + 1 > limit:
            cut = cut[:-1]
        return cut.rstrip("\\") + ELLIPSIS
    return escape_(" ".join(words[:lo])).rstrip(" ,;:") + ELLIPSIS


def fragment_link(url: str, sentence: str) -> str:
    """`url` with a `#:~:text=` fragment that makes browsers highlight `sentence`."""
    base, _ = urldefrag(url)
    words = sentence.split()

    def enc(part: list[str]) -> str:  # "-", "," and "&" are syntax in a text directive
        return quote(" ".join(part), safe="").replace("-", "%2D")

    # textStart,textEnd keeps a long sentence's link short and still matches all of it.
    directive = enc(words) if len(words) <= 8 else f"{enc(words[:4])},{enc(words[-4:])}"
    return f"{base}#:~:text={directive}"


def _link_target(url: str) -> str:
    # Characters that would end a markdown link early.
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def source_line(n: int, c: Citation, *, link: bool = True) -> str:
    """`**[n]** [Title](link-to-sentence) — 26 Nov 2026, paragraph p, sentence s` (the date
    when known)."""
    title = clip(c.title or c.doc_id, 120).replace("[", "\\[").replace("]", "\\]")
    where = f"paragraph {c.paragraph}, sentence {c.sentence}"
    if c.date:
        where = f"{escape(c.date)}, {where}"
    if c.url and link:
        line = f"**[{n}]** [{title}](<{_link_target(fragment_link(c.url, c.text))}>) — {where}"
        if dlen(line) <= FIELD_VALUE_MAX:
            return line
    return f"**[{n}]** {title} — {where}"


@dataclass
class _Budget:
    """Characters still free in one embed (the 6,000 total)."""

    left: int = EMBED_TOTAL_MAX

    def take(self, text: str) -> str:
        self.left -= dlen(text)
        return text


def _title(question: str) -> str:
    return clip(question, TITLE_MAX)


def _add_fields(embed: discord.Embed, name: str, lines: Sequence[str], budget: _Budget) -> None:
    """Pack `lines` (each at most 1,024 units; callers reserve room for them) into as few
    fields as possible; the first is called `name`."""
    chunks: list[str] = []
    for line in lines:
        if chunks and dlen(chunks[-1]) + 1 + dlen(line) <= FIELD_VALUE_MAX:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    for i, chunk in enumerate(chunks):
        embed.add_field(name=budget.take(name if i == 0 else "\u200b"), value=budget.take(chunk),
                        inline=False)


def answer_embed(answer: Answer, *, version: str = "", show_closest: bool = False) -> discord.Embed:
    """The reply to a question: the quoted sentences with [n] markers, then their sources.

    On abstention: "the indexed articles don't say", plus the closest sentence marked as not
    an answer when `show_closest` is true and the answer has one.
    """
    budget = _Budget()
    index_note = " · ".join(filter(None, [follow_up_note(answer),
                                           f"index {version}" if version else ""]))
    title = budget.take(_title(answer.question))
    if answer.abstained or not answer.citations:
        budget.take(index_note)
        return _abstention_embed(answer, title, index_note, budget, show_closest)
    footer = budget.take(" · ".join(filter(None, [f"confidence {answer.confidence:.0%}",
                                                  index_note])))

    # Reserve the sources field(s) first: a quote without its source must never be shown.
    sources = [source_line(n, c) for n, c in enumerate(answer.citations, 1)]
    reserve = sum(dlen(s) + 1 for s in sources) + 48  # + field name and a "did not fit" note
    note = time_note(answer)
    quotes: list[str] = [f"*{note}*"] if note else []
    room = min(DESCRIPTION_MAX, budget.left - reserve)
    used = dlen(quotes[0]) if quotes else 0
    for n, c in enumerate(answer.citations, 1):
        marker = f" **[{n}]**"
        sep = 2 if quotes else 0  # a blank line between quotes
        whole = f"> {quote_markdown(c)}{marker}"
        if used + sep + dlen(whole) <= room:
            quotes.append(whole)
            used += sep + dlen(whole)
            continue
        if len(quotes) == bool(note):  # the best quote alone is too long: cut it, visibly
            quotes.append(f"> {quote_markdown(c, room - used - dlen(marker) - 4)}{marker}")
        break
    shown = len(quotes) - bool(note)
    description = budget.take("\n\n".join(quotes))
    embed = discord.Embed(title=title, description=description, colour=ANSWER_COLOUR)
    _add_fields(embed, "Sources", sources[:shown], budget)
    hidden = len(answer.citations) - shown
    if hidden:
        footer = f"{plural(hidden, 'more quote')} did not fit · {footer}"
    if footer:
        embed.set_footer(text=footer.strip(" ·")[:FOOTER_MAX])
    return embed


def follow_up_note(answer: Answer) -> str:
    """"read as a follow-up of: <question>" (footer text: plain, short), or ""."""
    if answer.follow_up_of is None:
        return ""
    earlier = " ".join(answer.follow_up_of.split())
    if len(earlier) > 80:
        earlier = earlier[:79].rstrip() + ELLIPSIS
    return f"read as a follow-up of: {earlier}"


def time_note(answer: Answer) -> str:
    """"From articles of 1 Dec 2026 · 2 undated articles left out" (the days a question
    asked about), "Newest articles first", or "" when it named no time."""
    when = answer.time_range
    if when is None:
        return ""
    text = "Newest articles first" if when.recency else f"From articles {when.describe()}"
    if answer.undated_left_out:
        text += f" · {plural(answer.undated_left_out, 'undated article')} left out"
    return text


def _abstention_embed(answer: Answer, title: str, footer: str, budget: _Budget,
                      show_closest: bool) -> discord.Embed:
    text = "The indexed articles don't say. Try rephrasing, or ask about something they cover."
    when = answer.time_range
    if when is not None and not when.recency:
        text = f"No indexed article {when.describe()} says."
        if answer.undated_left_out:
            text += (f" ({plural(answer.undated_left_out, 'article')} without a date "
                     "left out.)")
    embed = discord.Embed(title=title, colour=ABSTAIN_COLOUR)
    closest = answer.closest if show_closest else None
    if closest is not None:
        line = source_line(1, closest)
        room = min(DESCRIPTION_MAX, budget.left - dlen(line) - 64) - dlen(text) - 64
        if room > 40:
            text += (f"\n\nThe closest sentence found — **not** an answer:\n"
                     f"> {clip(closest.text, room)} **[1]**")
            embed.description = budget.take(text)
            _add_fields(embed, "Closest match", [line], budget)
        else:
            embed.description = budget.take(text)
    else:
        embed.description = budget.take(text)
    if footer:
        embed.set_footer(text=footer)
    return embed


_SENTENCE_END = re.compile(r"(?<=[.!?…\"”’)])\s+")


def context_embed(items: Sequence[tuple[int, Citation, str]]) -> discord.Embed:
    """The paragraphs around quotes (for "Show context"), each quote in bold.

    `items` holds (marker number, citation, paragraph text). Long paragraphs keep the quote
    and as many whole sentences around it as fit, with "…" where text was left out.
    """
    budget = _Budget()
    embed = discord.Embed(title=budget.take("Context"), colour=ANSWER_COLOUR)
    per_item = max(200, min(DESCRIPTION_MAX, budget.left - 200) // max(1, len(items)))
    parts: list[str] = []
    for n, c, paragraph in items:
        head = f"**[{n}] {clip(c.title or c.doc_id, 120)}** — paragraph {c.paragraph}\n"
        parts.append(head + _paragraph_with_quote(paragraph, c.text, per_item - dlen(head) - 2))
    embed.description = budget.take("\n\n".join(parts)[:DESCRIPTION_MAX])
    return embed


def _paragraph_with_quote(paragraph: str, quote_text: str, limit: int) -> str:
    flat = " ".join(paragraph.split())
    target = " ".join(quote_text.split())
    at = flat.find(target)
    if at < 0:  # the paragraph changed since the answer: show the quote alone
        return f"**{clip(target, limit - 4)}**"
    before = [s for s in _SENTENCE_END.split(flat[:at]) if s]
    after = [s for s in _SENTENCE_END.split(flat[at + len(target):]) if s]
    core = f"**{clip(target, limit - 8)}**"
    left: list[str] = []
    right: list[str] = []
    used = dlen(core)
    # Grow outwards one whole sentence at a time, alternating sides.
    while before or after:
        grew = False
        for side, pool, at_end in ((left, before, True), (right, after, False)):
            if not pool:
                continue
            sentence = escape(pool[-1] if at_end else pool[0])
            if used + dlen(sentence) + 1 + 2 <= limit:
                side.insert(0, sentence) if at_end else side.append(sentence)
                pool.pop(-1 if at_end else 0)
                used += dlen(sentence) + 1
                grew = True
        if not grew:
            break
    text = " ".join([*left, core, *right])
    if before:
        text = ELLIPSIS + " " + text
    if after:
        text = text + " " + ELLIPSIS
    return text


def timeline_embed(story: Timeline) -> discord.Embed:
    """A story's timeline: one dated quote per article, oldest first, each numbered with its
    source linked to the sentence; what was left out in the footer."""
    budget = _Budget()
    embed = discord.Embed(title=budget.take(clip(f"Timeline: {story.topic}", TITLE_MAX)),
                          colour=ANSWER_COLOUR)
    notes = []
    if story.time_range is not None:
        notes.append(f"only articles {story.time_range.describe()}")
    if story.more:
        notes.append(f"{plural(story.more, 'more dated article')} on it not shown")
    if story.undated:
        notes.append(f"{plural(story.undated, 'article')} on it without a date left out")
    footer = budget.take(" · ".join(notes)[:FOOTER_MAX])
    if not story.entries:
        embed.description = budget.take(
            "No dated article is about that." if story.undated
            else "The indexed articles don't cover that. Try other words for the story.")
    else:
        # each quote with its source, oldest first, while both fit (a quote is never shown
        # without its source); long quotes are cut to share the room evenly
        per = max(120, min(DESCRIPTION_MAX, budget.left) // (2 * len(story.entries)))
        lines: list[str] = []
        sources: list[str] = []
        used = spent = 0
        for n, c in enumerate(story.entries, 1):
            line = f"**{escape(c.date or '')}**\n> {clip(c.text, per)} **[{n}]**"
            source = source_line(n, c)
            if (used + dlen(line) + 2 > DESCRIPTION_MAX
                    or spent + dlen(line) + dlen(source) + 64 > budget.left):
                break
            lines.append(line)
            sources.append(source)
            used += dlen(line) + 2
            spent += dlen(line) + 2 + dlen(source) + 1
        hidden = len(story.entries) - len(lines)
        if hidden:
            footer = budget.take(f"{plural(hidden, 'later quote')} did not fit · ") + footer
        embed.description = budget.take("\n\n".join(lines))
        _add_fields(embed, "Sources", sources, budget)
    if footer:
        embed.set_footer(text=footer)
    return embed


def sources_embed(articles: Sequence[ArticleInfo], page: int, per_page: int) -> discord.Embed:
    """One page (0-based) of the indexed articles: title, link, sentences, when indexed."""
    pages = max(1, -(-len(articles) // per_page))
    page = min(max(page, 0), pages - 1)
    budget = _Budget()
    embed = discord.Embed(title=budget.take(f"Indexed articles ({len(articles)})"),
                          colour=ANSWER_COLOUR)
    lines = []
    for a in articles[page * per_page:(page + 1) * per_page]:
        title = clip(a.title or a.doc_id, 150).replace("[", "\\[").replace("]", "\\]")
        name = f"[{title}](<{_link_target(a.url)}>)" if a.url else f"**{title}**"
        lines.append(f"{name} — {plural(a.sentences, 'sentence')}, indexed "
                     f"{_when(a.indexed_at)}")
    if not lines:
        lines.append("No articles are indexed yet. An admin can add one with `/source add`.")
    embed.description = budget.take(_lines_that_fit(lines, budget))
    embed.set_footer(text=f"Page {page + 1}/{pages}")
    return embed


def _lines_that_fit(lines: Sequence[str], budget: _Budget) -> str:
    """As many of `lines` as fit in one embed description (whole lines only)."""
    description = ""
    for line in lines:
        candidate = f"{description}\n{line}" if description else line
        if dlen(candidate) > min(DESCRIPTION_MAX, budget.left - 64):
            break
        description = candidate
    return description


def new_articles_embed(articles: Sequence[NewArticle], shown: int = 10) -> discord.Embed:
    """"3 new articles indexed", with the first `shown` titles linked to their pages."""
    n = len(articles)
    embed = discord.Embed(title=f"📰 {plural(n, 'new article')} indexed",
                          colour=ANSWER_COLOUR)
    lines = []
    for a in articles[:shown]:
        title = clip(a.title, 150).replace("[", "\\[").replace("]", "\\]")
        line = f"• [{title}](<{_link_target(a.url)}>)" if a.url else f"• {title}"
        date = display_date(a.published)
        lines.append(line + (f" — {escape(date)}" if date else ""))
    if n > shown:
        lines.append(f"…and {n - shown} more (`/sources` lists them)")
    embed.description = "\n".join(lines)[:DESCRIPTION_MAX]
    return embed


def feeds_embed(feeds: Sequence[Feed]) -> discord.Embed:
    """The followed feeds: URL, articles, last check, last error."""
    budget = _Budget()
    embed = discord.Embed(title=budget.take(f"Followed feeds ({len(feeds)})"),
                          colour=ANSWER_COLOUR)
    lines = []
    for f in feeds:
        checked = _when(f.last_check) if f.last_check else "not checked yet"
        line = f"• <{_link_target(f.url)}> — {plural(f.articles, 'article')}, checked {checked}"
        if f.last_error:
            line += f"\n  ⚠️ {clip(f.last_error, 300)}"
        lines.append(line)
    if not lines:
        lines.append("No feeds are followed. An admin can add one with `/feed add`.")
    embed.description = budget.take(_lines_that_fit(lines, budget))
    return embed


def _when(iso: str) -> str:
    """An ISO time as a Discord timestamp (shown in each reader's own time zone)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return escape(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return discord.utils.format_dt(moment, "d")


def error_embed(text: str) -> discord.Embed:
    """A short message about something the user can fix. `text` is the bot's own markdown
    (`/reindex` shows as code): escape any user or article text in it with `escape`."""
    if dlen(text) > DESCRIPTION_MAX:
        text = text[: DESCRIPTION_MAX - 2] + ELLIPSIS
    return discord.Embed(description=text, colour=ERROR_COLOUR)


def embed_size(embed: discord.Embed) -> int:
    """The embed's size as Discord counts it towards the 6,000 limit."""
    total = dlen(embed.title or "") + dlen(embed.description or "")
    total += sum(dlen(f.name or "") + dlen(f.value or "") for f in embed.fields)
    total += dlen(embed.footer.text or "") + dlen(embed.author.name or "")
    return total
