"""`citebot-index` (also `python -m index`): build, ask, timeline, list sources, evaluate,
chat."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from index.cli.common import ProgressBar, plural, print_report, run_build, settings_of, user_errors
from index.cli.feeds import feed, update_command
from index.errors import IndexNotFound
from index.settings import IndexSettings, index_settings
from index.types import SHARED, Answer, Citation, Source, Timeline, TimeRange

if TYPE_CHECKING:
    from index.answer.engine import Index


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the index lives (default: CITEBOT_DATA_DIR or ./data).")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """Answer questions about news articles with the exact sentences that answer them.

    Settings come from CITEBOT_* environment variables and citebot.toml
    (see docs/SETTINGS.md).
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    with user_errors():
        overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
        ctx.obj = index_settings(**overrides)


# --- build ---------------------------------------------------------------------------------

@cli.command("build")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--collection", default=SHARED, help="Collection the given paths belong to.")
@click.pass_context
def build_command(ctx: click.Context, paths: tuple[Path, ...], collection: str) -> None:
    """Index articles (default: the configured sources) into a new version, atomically.

    PATHS are files or folders of .txt, .md, .html and .jsonl(.gz) articles. Unchanged
    articles reuse their embeddings; the previous version keeps serving until the switch.
    """
    settings = settings_of(ctx)
    sources = [Source(p, collection) for p in paths] if paths else None
    with user_errors():
        print_report(run_build(settings, sources))


@cli.command("export-model")
@click.pass_context
def export_model(ctx: click.Context) -> None:
    """Export the embedding model to ONNX (and int8) for the ONNX Runtime encoder.

    Done by the first build anyway; run it ahead (e.g. while deploying) so that no later
    command needs torch. The export goes to the `model_cache` folder.
    """
    from index.models.embed import export_folder, export_onnx, resolve_model_path, tuning_for

    settings = settings_of(ctx)
    with user_errors():
        if settings.encoder != "onnx":
            raise click.ClickException("the encoder setting is 'torch': nothing to export")
        path = resolve_model_path(settings.model)
        folder = export_onnx(path, export_folder(settings), settings.quantize,
                             tuning_for(settings.model, settings.tune_encoder))
    for file in sorted(folder.iterdir()):
        click.echo(f"{file}  {file.stat().st_size / 1e6:.1f} MB")


# --- ask ------------------------------------------------------------------------------------

def open_index(settings: IndexSettings, build_if_missing: bool = False) -> Index:
    from index.answer.engine import Index

    try:
        return Index.open(settings)
    except IndexNotFound:
        if not build_if_missing:
            raise
        click.echo(f"No index in {settings.data_dir} yet; building it from "
                   f"{', '.join(str(p) for p in settings.sources)} ...", err=True)
        print_report(run_build(settings))
        return Index.open(settings)


def format_citation(n: int, c: Citation) -> str:
    """The quote, its answer words in bold (ANSI; `click.echo` drops it when the output is
    not a terminal), and where it comes from."""
    dated = f", {c.date}" if c.date else ""
    where = f"{c.title}{dated}, paragraph {c.paragraph}, sentence {c.sentence} " \
            f"(characters {c.start}–{c.end})"
    before, words, after = c.marked()
    quote = before + click.style(words, bold=True) + after if words else c.text
    lines = [f"[{n}] “{quote}”", f"    — {where}"]
    if c.url:
        lines.append(f"      {c.url}")
    return "\n".join(lines)


def format_answer(answer: Answer) -> str:
    notes = []
    if answer.follow_up_of is not None:
        notes.append(f"(read as a follow-up of: {answer.follow_up_of})")
    if answer.time_range is not None:
        notes.append(f"({time_note(answer.time_range, answer.undated_left_out)})")
    return "\n".join([*notes, _format_quotes(answer)])


def time_note(when: TimeRange, undated: int) -> str:
    """"from articles of 1 Dec 2026; 2 undated articles left out"."""
    text = "newest articles preferred" if when.recency else f"from articles {when.describe()}"
    if undated:
        text += f"; {plural(undated, 'undated article')} left out"
    return text


def _format_quotes(answer: Answer) -> str:
    if answer.abstained:
        text = "The indexed articles don't say."
        if answer.closest is not None:
            text += ("\nClosest sentence (not an answer):\n"
                     + format_citation(1, answer.closest))
        return text
    return "\n".join(format_citation(i, c) for i, c in enumerate(answer.citations, 1))


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help="JSONL file of questions ({\"question\": ...} or a plain string a line). "
                   "Lines with the same \"conversation\": \"<id>\" are the turns of one "
                   "conversation, in file order: each may be a follow-up of the earlier ones.")
@click.option("-k", "--max-citations", type=int, default=None, help="At most this many quotes.")
@click.option("--collection", "collections", multiple=True,
              help="Search only these collections (repeatable; '' is the shared one).")
@click.option("--since", metavar="DATE", help="Quote only articles published on or after "
              "DATE (2026-12-01, '3 March', Monday, yesterday ...).")
@click.option("--until", metavar="DATE", help="Quote only articles published on or before "
              "DATE.")
@click.option("--today", metavar="DATE", help="Read time words (yesterday, this week, "
              "since Monday) as if today were DATE (default: today in the time_zone setting).")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool, batch: Any,
        max_citations: int | None, collections: tuple[str, ...], since: str | None,
        until: str | None, today: str | None) -> None:
    """Answer QUESTION with the sentences that answer it, or say the articles don't.

    A question that names a time ("What did Starmer say yesterday?", "in November",
    "since Monday", "before 3 March") is answered from the articles published then, and
    one that asks for the latest prefers the newest; the answer says which, and how many
    articles without a date were left out (`--json`: time_range, undated_left_out).
    """
    settings = settings_of(ctx)
    now = as_of(today, settings)
    questions: list[tuple[str, str | None]] = []  # (question, conversation id)
    if batch is not None:
        for lineno, line in enumerate(batch, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise click.ClickException(f"{batch.name}:{lineno}: not valid JSON") from None
            text = item.get("question") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise click.ClickException(f"{batch.name}:{lineno}: no \"question\" string")
            conversation = item.get("conversation") if isinstance(item, dict) else None
            if conversation is not None and not isinstance(conversation, str | int):
                raise click.ClickException(
                    f"{batch.name}:{lineno}: \"conversation\" must be a string id")
            questions.append((text, None if conversation is None else str(conversation)))
    if question:
        questions.append((question, None))
    if not questions:
        raise click.UsageError("give a QUESTION or --batch FILE")
    with user_errors():
        idx = open_index(settings, build_if_missing=True)
        turns: dict[str, list[Answer]] = {}
        for i, (q, conversation) in enumerate(questions):
            context = turns.setdefault(conversation, []) if conversation is not None else []
            answer = idx.answer(q, k=max_citations, collections=collections or None,
                                context=tuple(context), since=since, until=until, now=now)
            context.append(answer)
            if as_json:
                click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
            else:
                if len(questions) > 1:
                    click.echo(("\n" if i else "") + f"Q: {q}")
                click.echo(format_answer(answer))


def as_of(today: str | None, settings: IndexSettings) -> dt.datetime | None:
    """`--today DATE` as the moment (noon of that day in the time_zone setting)."""
    if today is None:
        return None
    try:
        day = dt.date.fromisoformat(today.strip())
    except ValueError:
        raise click.BadParameter(f"{today!r} is not a date like 2026-12-02",
                                 param_hint="--today") from None
    return dt.datetime.combine(day, dt.time(12), settings.zone())


# --- timeline -------------------------------------------------------------------------------

def format_timeline(story: Timeline) -> str:
    lines = []
    for c in story.entries:
        lines += [f"{c.date}  “{c.text}”", f"    — {c.title}, paragraph {c.paragraph}, "
                  f"sentence {c.sentence}" + (f"\n      {c.url}" if c.url else "")]
    notes = []
    if story.time_range is not None:
        notes.append(f"only articles {story.time_range.describe()}")
    if story.more:
        notes.append(f"{plural(story.more, 'more dated article')} on it not shown (-n)")
    if story.undated:
        notes.append(f"{plural(story.undated, 'article')} on it without a date left out")
    if not story.entries:
        lines.append("No dated article is about that." if story.undated else
                     "The indexed articles don't cover that.")
    return "\n".join(lines + ([f"({'; '.join(notes)})"] if notes else []))


@cli.command("timeline")
@click.argument("topic")
@click.option("-n", "--quotes", type=click.IntRange(1, 25), default=8, show_default=True,
              help="At most this many quotes (the articles most clearly about the topic).")
@click.option("--json", "as_json", is_flag=True, help="The timeline as one JSON object.")
@click.option("--collection", "collections", multiple=True,
              help="Only these collections (repeatable; '' is the shared one).")
@click.option("--since", metavar="DATE", help="Only articles published on or after DATE.")
@click.option("--until", metavar="DATE", help="Only articles published on or before DATE.")
@click.option("--today", metavar="DATE", help="Read time words as if today were DATE.")
@click.pass_context
def timeline_command(ctx: click.Context, topic: str, quotes: int, as_json: bool,
                     collections: tuple[str, ...], since: str | None, until: str | None,
                     today: str | None) -> None:
    """How the story of TOPIC developed: dated quotes, one per article, oldest first.

    Only articles about TOPIC are quoted (judged as an answer is: each article's best
    sentence must pass the abstention threshold); articles about it without a date are
    counted, not placed.
    """
    settings = settings_of(ctx)
    now = as_of(today, settings)
    with user_errors():
        idx = open_index(settings, build_if_missing=True)
        story = idx.timeline(topic, quotes, collections=collections or None, since=since,
                             until=until, now=now)
    click.echo(json.dumps(story.to_json(), ensure_ascii=False) if as_json
               else format_timeline(story))


# --- sources --------------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List the indexed articles."""
    with user_errors():
        idx = open_index(settings_of(ctx))
        items = idx.sources()
        for a in items:
            if as_json:
                click.echo(json.dumps(a.__dict__, ensure_ascii=False))
            else:
                coll = f" [{a.collection}]" if a.collection else ""
                click.echo(f"{a.doc_id}{coll}: {a.title} — {plural(a.sentences, 'sentence')}, "
                           f"indexed {a.indexed_at}" + (f"\n    {a.url}" if a.url else ""))
        if not as_json:
            click.echo(f"{plural(len(items), 'article')}, "
                       f"{plural(idx.sentence_count, 'sentence')}, "
                       f"index {idx.version}.")


# --- eval -----------------------------------------------------------------------------------

@cli.command("eval")
@click.option("--limit", type=int, default=800, show_default=True,
              help="Questions of the NYT dev split to ask (0: all).")
@click.option("--offset", type=int, default=0, show_default=True)
@click.option("--seed/--no-seed", default=True, help="Score seed_dev.jsonl.")
@click.option("--nyt/--no-nyt", default=True, help="Score the NYT dev split.")
@click.option("--leave-out/--no-leave-out", default=True,
              help="Also ask each question without its own article (abstention figures).")
@click.option("--followups", is_flag=True,
              help="Also score the two-turn conversations of followups_dev.jsonl (indexes "
                   "the bundled article with the NYT documents).")
@click.option("--distractors", is_flag=True,
              help="Add the 48 Wikipedia training articles (../shared/train) to the NYT "
                   "index as articles no question asks about (index: eval-nyt-distractors).")
@click.option("--conversations", type=click.Path(path_type=Path, dir_okay=False),
              help="Also score generated two-turn conversations (a file written by "
                   "training/generate_conversations.py) over the Wikipedia training "
                   "articles (index: eval-wiki).")
@click.option("--conversations-split", default="held", show_default=True,
              type=click.Choice(["held", "train"]))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def eval_command(ctx: click.Context, limit: int, offset: int, seed: bool, nyt: bool,
                 leave_out: bool, followups: bool, distractors: bool,
                 conversations: Path | None, conversations_split: str,
                 as_json: bool) -> None:
    """Score answer quality on the evaluation data (skipped cleanly when it is absent).

    Indexes go to <data-dir>/eval-seed, <data-dir>/eval-nyt (eval-nyt-distractors with
    --distractors) and <data-dir>/eval-followups (reused when re-run).
    """
    from index.cli import evaluate

    settings = settings_of(ctx)
    folder = evaluate.eval_dir()
    figures: dict[str, Any] = {}
    with user_errors():
        if seed and (folder / evaluate.SEED).is_file():
            idx = evaluate.seed_index(evaluate.scratch_settings(settings, "eval-seed"))
            seeds = evaluate.seed_results(idx, folder)
            answerable = [r for r in seeds if r.answerable]
            refused = [r for r in seeds if not r.answerable]
            figures["seed"] = {
                "answerable": len(answerable),
                "top_citation_correct": sum(r.correct for r in answerable),
                "unanswerable": len(refused),
                "refused": sum(r.correct for r in refused),
                "wrong": [r.id for r in seeds if not r.correct],
            }
        elif seed:
            click.echo(f"seed: {folder / evaluate.SEED} not found, skipped", err=True)
        extra = evaluate.distractor_documents(folder) if distractors else None
        if extra is not None and not extra.is_file():
            click.echo(f"nyt: {extra} not found, the distractors are skipped", err=True)
            extra = None
        if nyt and (folder / evaluate.NYT_DOCS).is_file():
            nyt_settings = evaluate.scratch_settings(
                settings, "eval-nyt" if extra is None else "eval-nyt-distractors")
            idx = evaluate.nyt_index(nyt_settings, folder, progress=ProgressBar(
                sys.stderr.isatty()), distractors=extra)
            questions = evaluate.nyt_questions(folder)[offset:]
            if limit:
                questions = questions[:limit]
            started = time.perf_counter()
            results = list(evaluate.nyt_results(idx, questions, leave_out))
            scores = evaluate.summarize(results, settings.abstain_threshold)
            figures["nyt"] = scores.to_json() | {
                "offset": offset, "sentences": idx.sentence_count,
                "articles": idx.article_count, "distractors": extra is not None,
                "seconds_per_question": round((time.perf_counter() - started)
                                              / max(1, len(results)), 4),
            }
        elif nyt:
            click.echo(f"nyt: {folder / evaluate.NYT_DOCS} not found, skipped", err=True)
        if followups and all((folder / name).is_file()
                             for name in (evaluate.FOLLOWUPS, evaluate.NYT_DOCS)):
            idx = evaluate.followup_index(
                evaluate.scratch_settings(settings, "eval-followups"), folder,
                progress=ProgressBar(sys.stderr.isatty()))
            figures["followups"] = followup_figures(*evaluate.followup_results(idx, folder))
            if (folder / evaluate.NYT_QUESTIONS).is_file():
                unrelated = evaluate.unrelated_turns(idx, evaluate.nyt_questions(folder)[:300])
                figures["followups"]["after an unrelated turn"] = unrelated.__dict__
        elif followups:
            click.echo(f"followups: {folder / evaluate.FOLLOWUPS} or the NYT documents not "
                       "found, skipped", err=True)
        if conversations is not None:
            if not conversations.is_file():
                raise click.UsageError(f"{conversations} not found: write it with "
                                       "`python training/generate_conversations.py`")
            if evaluate.distractor_documents(folder).is_file():
                idx = evaluate.conversation_index(
                    evaluate.scratch_settings(settings, "eval-wiki"), folder,
                    progress=ProgressBar(sys.stderr.isatty()))
                figures["conversations"] = evaluate.conversation_results(
                    idx, conversations, conversations_split).__dict__ | {
                        "split": conversations_split}
            else:
                click.echo(f"conversations: {evaluate.distractor_documents(folder)} not "
                           "found, skipped", err=True)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    if "seed" in figures:
        s = figures["seed"]
        click.echo(f"seed_dev: top citation correct {s['top_citation_correct']}/"
                   f"{s['answerable']}, unanswerable refused {s['refused']}/"
                   f"{s['unanswerable']}" + (f"; wrong: {', '.join(s['wrong'])}"
                                             if s["wrong"] else ""))
    if "nyt" in figures:
        n = figures["nyt"]
        click.echo(f"NYT dev ({n['questions']} questions from #{offset}, {n['articles']} "
                   f"articles{' with the Wikipedia distractors' if n['distractors'] else ''}"
                   f", {n['sentences']} sentences, whole corpus): MRR {n['mrr']:.3f}  "
                   f"P@1 {n['p1']:.3f}  R@5 {n['r5']:.3f}")
        if n["auroc"] is not None:
            click.echo(f"abstention: AUROC {n['auroc']:.3f}; at threshold "
                       f"{settings.abstain_threshold:g}: answered {n['answered']:.1%} of "
                       f"answerable, refused {n['refused_without_article']:.1%} with the "
                       "article left out")
        click.echo(f"answer span, when the top quote is right: the dataset's answer inside "
                   f"the bold words {n['span_right']:.1%} (its first answer at its offsets "
                   f"{n['span_right_first']:.1%}); answer words shown for "
                   f"{n['span_shown']:.1%} of right top quotes")
    if "conversations" in figures:
        c = figures["conversations"]
        n = max(1, c["conversations"])
        click.echo(f"generated conversations ({c['split']}, {c['conversations']}): turn 2 right "
                   f"in context {c['correct_in_context']} ({c['correct_in_context'] / n:.0%}), "
                   f"asked alone {c['correct_alone']} ({c['correct_alone'] / n:.0%}); read as "
                   f"follow-ups {c['read_as_follow_up']}; turn 1 right {c['turn1_correct']}")
    if "followups" in figures:
        f = figures["followups"]
        click.echo(f"followups_dev, turn 2 (index: bundled article + NYT dev documents; "
                   f"turn 1 correct {f['turn 1']['correct']}/{f['turn 1']['n']}):")
        for name in ("follow-ups", "switches", "unanswerable refused"):
            g = f[name]
            n = max(1, g["n"])
            click.echo(f"  {name}: {g['correct']}/{g['n']} ({g['correct'] / n:.0%}; lenient "
                       f"{g['lenient']}/{g['n']}), read as follow-ups {g['read_as_follow_up']}"
                       f"/{g['n']}; the same questions asked standalone: {g['standalone']}/"
                       f"{g['n']} ({g['standalone'] / n:.0%})")
        click.echo("  per kind: " + ", ".join(f"{k} {v}" for k, v in f["per kind"].items()))
        u = f.get("after an unrelated turn")
        if u:
            click.echo(f"  NYT questions 0-299 asked right after a question about another "
                       f"article ({u['questions']}): read as follow-ups "
                       f"{u['read_as_follow_up']}; top citation correct {u['correct_after']} "
                       f"(asked alone: {u['correct_alone']})")
        if f["wrong"]:
            click.echo(f"  wrong: {', '.join(f['wrong'])}")


def followup_figures(first: list[Any], second: list[Any], alone: list[Any]
                     ) -> dict[str, Any]:
    """Turn-2 accuracy per group of kinds (strict and lenient), the same questions asked
    standalone, and turn-1 accuracy."""
    from index.cli.evaluate import FOLLOW_UP_KINDS

    groups = {"follow-ups": FOLLOW_UP_KINDS, "switches": ("switch",),
              "unanswerable refused": ("unanswerable",)}
    out: dict[str, Any] = {}
    for name, kinds in groups.items():
        chosen = [i for i, r in enumerate(second) if r.kind in kinds]
        out[name] = {
            "n": len(chosen),
            "correct": sum(second[i].correct for i in chosen),
            "lenient": sum(second[i].lenient for i in chosen),
            "read_as_follow_up": sum(second[i].read_as_follow_up for i in chosen),
            "standalone": sum(alone[i].correct for i in chosen),
        }
    out["per kind"] = {kind: f"{sum(r.correct for r in second if r.kind == kind)}/"
                              f"{sum(r.kind == kind for r in second)}"
                       for kind in dict.fromkeys(r.kind for r in second)}
    out["turn 1"] = {"n": len(first), "correct": sum(r.correct for r in first)}
    out["wrong"] = [r.id for r in second if not r.correct]
    return out


# --- chat -----------------------------------------------------------------------------------

#: earlier answers a chat question may borrow from
CHAT_TURNS = 3


def chat_loop(settings: IndexSettings, stdin: Any = None) -> None:
    """Terminal Q&A on the same engine as the bot; builds the index first if needed."""
    stdin = stdin or sys.stdin
    idx = open_index(settings, build_if_missing=True)
    titles = ", ".join(a.title for a in idx.sources()[:3])
    more = "" if idx.article_count <= 3 else f" and {idx.article_count - 3} more"
    click.echo(f"citebot — ask about {titles}{more}. Follow-ups are read in context; /new "
               "starts afresh. Empty line or Ctrl-D to quit.")
    conversation: list[Answer] = []
    while True:
        if stdin.isatty():
            click.echo("? ", nl=False)
        line = stdin.readline()
        if not line or not line.strip():
            return
        if line.strip() == "/new":
            conversation.clear()
            click.echo("(a new conversation)\n")
            continue
        answer = idx.answer(line.strip(), context=tuple(conversation[-CHAT_TURNS:]))
        conversation.append(answer)
        click.echo(format_answer(answer) + "\n")


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Ask questions in the terminal (the default when no Discord token is set)."""
    with user_errors():
        chat_loop(settings_of(ctx))


cli.add_command(feed)
cli.add_command(update_command)


def main() -> None:
    cli(prog_name="citebot-index")


if __name__ == "__main__":
    main()
