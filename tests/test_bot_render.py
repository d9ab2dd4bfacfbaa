"""How answers look: Discord's size limits, visible cuts, links that highlight the quote."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import markdown, render
from index import Answer, Citation


def citation(text: str, n: int = 1, *, title: str = "An article",
             url: str | None = "https://news.example/a") -> Citation:
    return Citation(f"doc-{n}", title, url, n, 1, 0, len(text), text, 0.9)


def answer(*texts: str, **kw: object) -> Answer:
    return Answer("What happened?", tuple(citation(t, i, **kw) for i, t in  # type: ignore[arg-type]
                                          enumerate(texts, 1)), False, 0.9)


def assert_within_limits(embed: object) -> None:
    data = embed.to_dict()  # type: ignore[attr-defined]
    assert render.dlen(data.get("title", "")) <= render.TITLE_MAX
    assert render.dlen(data.get("description", "")) <= render.DESCRIPTION_MAX
    fields = data.get("fields", [])
    assert len(fields) <= render.FIELDS_MAX
    for f in fields:
        assert 0 < render.dlen(f["name"]) <= render.FIELD_NAME_MAX
        assert 0 < render.dlen(f["value"]) <= render.FIELD_VALUE_MAX
    assert render.embed_size(embed) <= render.EMBED_TOTAL_MAX  # type: ignore[arg-type]


def test_quotes_are_numbered_and_sourced() -> None:
    embed = render.answer_embed(answer("First fact.", "Second fact."), version="v1")
    assert embed.description == "> First fact. **[1]**\n\n> Second fact. **[2]**"
    value = embed.fields[0].value or ""
    assert value.startswith("**[1]** [An article](<https://news.example/a#:~:text=First%20fact.>)")
    assert "**[2]**" in value and "paragraph 2, sentence 1" in value


def test_a_quote_too_long_for_discord_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    embed = render.answer_embed(answer(text))
    assert_within_limits(embed)
    body = (embed.description or "").removeprefix("> ").removesuffix(" **[1]**")
    assert body.endswith("…")
    assert re.fullmatch(r"(word\d+ )*word\d+…", body)  # whole words only


def test_quotes_that_do_not_fit_are_dropped_whole_with_a_note() -> None:
    long = "x " * 1500
    embed = render.answer_embed(answer(long.strip() + ".", long.strip() + "!", "Short one."))
    assert_within_limits(embed)
    assert "**[2]**" not in (embed.description or "")
    assert "**[2]**" not in "".join(f.value or "" for f in embed.fields)  # nor its source
    assert "2 more quotes did not fit" in (embed.footer.text or "")


def test_markdown_and_mentions_in_quotes_stay_inert_text() -> None:
    embed = render.answer_embed(answer("**Bold** claim to @everyone and <@123>."))
    assert "\\*\\*Bold\\*\\*" in (embed.description or "")
    assert "@everyone" in (embed.description or "")


def test_fragment_links_highlight_the_sentence() -> None:
    short = render.fragment_link("https://n.example/a?id=1#top", "It was a one-in-one-out deal.")
    assert short == ("https://n.example/a?id=1#:~:text="
                     "It%20was%20a%20one%2Din%2Done%2Dout%20deal.")
    long = render.fragment_link("https://n.example/a", "The UK will be allowed to push small "
                                "boats back into French waters, he said.")
    assert long == "https://n.example/a#:~:text=The%20UK%20will%20be,French%20waters%2C%20he%20said."


def test_a_citation_without_url_names_its_title_only() -> None:
    embed = render.answer_embed(answer("A fact.", url=None))
    assert embed.fields[0].value == "**[1]** An article — paragraph 1, sentence 1"


def test_abstention_says_so_and_shows_the_closest_only_when_asked() -> None:
    closest = citation("Nearly relevant.")
    abstained = Answer("Q?", (), True, 0.45, closest)
    plain = render.answer_embed(abstained)
    assert "The indexed articles don't say" in (plain.description or "")
    assert "Nearly relevant" not in (plain.description or "")
    shown = render.answer_embed(abstained, show_closest=True)
    assert "**not** an answer" in (shown.description or "")
    assert "> Nearly relevant. **[1]**" in (shown.description or "")


def test_context_bolds_the_quote_inside_its_paragraph() -> None:
    paragraph = "Before it. The quoted sentence. After it."
    embed = render.context_embed([(1, citation("The quoted sentence."), paragraph)])
    assert "Before it. **The quoted sentence.** After it." in (embed.description or "")


def test_context_of_a_huge_paragraph_keeps_the_quote_and_marks_cuts() -> None:
    before = " ".join(f"Earlier sentence {i}." for i in range(400))
    after = " ".join(f"Later sentence {i}." for i in range(400))
    embed = render.context_embed([(1, citation("The quoted sentence."),
                                   f"{before} The quoted sentence. {after}")])
    text = embed.description or ""
    assert render.dlen(text) <= render.DESCRIPTION_MAX
    assert "Earlier sentence 399. **The quoted sentence.** Later sentence 0." in text
    assert text.split("\n", 1)[1].startswith("… ") and text.endswith(" …")


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(min_size=1, max_size=6000), min_size=1, max_size=5),
       title=st.text(min_size=1, max_size=400),
       question=st.text(min_size=1, max_size=600))
def test_any_answer_fits_every_discord_limit(texts: list[str], title: str, question: str
                                             ) -> None:
    cits = tuple(citation(t, i, title=title) for i, t in enumerate(texts, 1))
    embed = render.answer_embed(Answer(question, cits, False, 0.9), version="v" * 40)
    assert_within_limits(embed)
    description = embed.description or ""
    shown = re.findall(r"\*\*\[(\d+)\]\*\*", description)
    assert shown == [str(i) for i in range(1, len(shown) + 1)] and shown  # at least the best
    sources = "\n".join(f.value or "" for f in embed.fields)
    assert all(f"**[{n}]**" in sources for n in shown)


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=3000), limit=st.integers(2, 2000))
def test_clip_fits_and_marks_every_cut(text: str, limit: int) -> None:
    clipped = render.clip(text, limit)
    assert render.dlen(clipped) <= limit
    if clipped != render.escape(text):
        assert clipped.endswith("…")


@given(st.lists(st.text(min_size=1, max_size=2000), min_size=1, max_size=25),
       st.text(min_size=1, max_size=300))
@settings(max_examples=40, deadline=None)
def test_any_timeline_fits_every_discord_limit(texts: list[str], topic: str) -> None:
    import datetime as dt

    from index import Timeline, TimeRange

    entries = tuple(Citation(f"doc-{i}", "T" * 200, "https://news.example/" + "x" * 300, 1, 1,
                             0, len(t), t, 0.9, f"2026-11-{i % 28 + 1:02d}")
                    for i, t in enumerate(texts))
    story = Timeline(topic, entries, undated=3, more=7,
                     time_range=TimeRange(dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    embed = render.timeline_embed(story)
    assert_within_limits(embed)
    assert "**[1]**" in (embed.description or "")  # at least the first quote is shown


def test_a_long_timeline_shows_what_fits_and_says_how_many_did_not() -> None:
    entries = tuple(Citation(f"doc-{i}", "T" * 200, "https://news.example/" + "x" * 300, 1, 1,
                             0, 1900, "word " * 380, 0.9, f"2026-11-{i + 1:02d}")
                    for i in range(25))
    from index import Timeline

    embed = render.timeline_embed(Timeline("A story", entries))
    assert_within_limits(embed)
    shown = (embed.description or "").count("**[")
    assert 1 <= shown < 25
    assert embed.footer.text and embed.footer.text.startswith(f"{25 - shown} later quotes did")


def test_a_time_answer_says_its_range_first() -> None:
    import datetime as dt
    from dataclasses import replace

    from index import TimeRange

    dated = replace(answer("First fact."), time_range=TimeRange(dt.date(2026, 12, 1),
                                                                dt.date(2026, 12, 2)),
                    undated_left_out=1)
    embed = render.answer_embed(dated)
    assert embed.description == ("*From articles of 1–2 Dec 2026 · 1 undated article left "
                                 "out*\n\n> First fact. **[1]**")
    assert_within_limits(embed)


def marked_citation(text: str, words: str, n: int = 1) -> Citation:
    """A citation of `text` (at offset 100 of its article) whose answer is `words` in it."""
    at = text.index(words)
    return Citation(f"doc-{n}", "An article", None, n, 1, 100, 100 + len(text), text, 0.9,
                    None, 100 + at, 100 + at + len(words))


def body(description: str, n: int = 1) -> str:
    return description.removeprefix("> ").removesuffix(f" **[{n}]**")


def bold_parts(markdown: str) -> list[str]:
    """The text inside bold markers that are not escaped."""
    unescaped = re.sub(r"\\.", "\x01\x01", markdown)  # escaped characters are not markup
    return [markdown[m.start(1):m.end(1)] for m in re.finditer(r"\*\*(.+?)\*\*", unescaped)]


def test_the_answer_words_are_bold_inside_the_quote() -> None:
    text = "Jordan Bardella, the leader of the far-right National Rally party, spoke."
    embed = render.answer_embed(Answer("Who?", (marked_citation(text, "Jordan Bardella"),),
                                       False, 0.9))
    assert embed.description == ("> **Jordan Bardella**, the leader of the far-right National "
                                 "Rally party, spoke. **[1]**")


def test_markdown_characters_in_a_marked_quote_stay_inert_and_the_bold_holds() -> None:
    text = "He said *all* of_it ~~went~~ to `Ann_Lee` | **$5*000** and \\ #1 > _rest_."
    for words in ("Ann_Lee", "$5*000", "He", "rest"):
        embed = render.answer_embed(Answer("Who?", (marked_citation(text, words),), False, 0.9))
        quote = body(embed.description or "")
        assert markdown.plain(quote) == text  # every character of the quote shows as itself
        assert [markdown.plain(b) for b in bold_parts(quote)] == [words]


def test_a_long_marked_quote_keeps_its_bold_when_the_answer_words_fit() -> None:
    text = "In 2026 " + " ".join(f"word{i}" for i in range(2000))
    embed = render.answer_embed(Answer("When?", (marked_citation(text, "2026"),), False, 0.9))
    assert_within_limits(embed)
    quote = body(embed.description or "")
    assert quote.startswith("In **2026** word0") and quote.endswith("…")


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(blacklist_characters="<>\r", blacklist_categories=("Cs",)),
                    min_size=1, max_size=5000),
       at=st.integers(0, 5000), size=st.integers(1, 40))
def test_any_marked_quote_fits_and_shows_its_text_with_one_bold_part(text: str, at: int,
                                                                     size: int) -> None:
    words = text[min(at, len(text) - 1):][:size]
    if not words.strip() or words != words.strip():
        return  # answer words are never blank nor padded
    c = marked_citation(text, words)
    embed = render.answer_embed(Answer("Q?", (c,), False, 0.9))
    assert_within_limits(embed)
    quote = body(embed.description or "")
    flat = " ".join(text.split())
    if not quote.endswith("…"):
        assert markdown.plain(quote) == flat
        assert [markdown.plain(b) for b in bold_parts(quote)] == [" ".join(words.split())]
