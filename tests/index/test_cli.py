"""The `citebot-index` command line, run through click's test runner on a real index."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import IndexSettings
from index.cli.main import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def run(bundled_settings: IndexSettings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(bundled_settings.data_dir))

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def test_ask_json_cites_bardella_with_a_span_that_slices_the_article(run) -> None:
    result = run("ask", "--json", "Who is the leader of the National Rally?")
    assert result.exit_code == 0
    answer = json.loads(result.output)
    top = answer["citations"][0]
    assert set(top) >= {"doc_id", "title", "url", "paragraph", "sentence", "start", "end",
                        "text", "score"}
    article = Path(__file__).parents[2] / "index" / "corpus" / "bardella-channel-pushbacks.txt"
    assert "Jordan Bardella" in top["text"]
    assert article.read_text(encoding="utf-8")[top["start"]:top["end"]] == top["text"]
    assert answer["abstained"] is False


def test_ask_json_gives_the_answer_words_at_their_offsets_in_the_article(run) -> None:
    article = (Path(__file__).parents[2] / "index" / "corpus"
               / "bardella-channel-pushbacks.txt").read_text(encoding="utf-8")
    top = json.loads(run("ask", "--json", "Who is the leader of the National Rally?")
                     .output)["citations"][0]
    span = top["answer"]
    assert span["text"] == "Jordan Bardella"
    assert article[span["start"]:span["end"]] == span["text"]
    assert top["start"] <= span["start"] < span["end"] <= top["end"]
    why = json.loads(run("ask", "--json", "Why do people cross the Channel?").output)
    assert all(c["answer"] is None for c in why["citations"])


def test_ask_bolds_the_answer_words_on_a_terminal_only(run, bundled_settings: IndexSettings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plain = run("ask", "Who is the leader of the National Rally?").output
    assert plain.startswith("[1] “Jordan Bardella, the leader") and "\x1b[" not in plain
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(bundled_settings.data_dir))
    tty = CliRunner().invoke(cli, ["ask", "Who is the leader of the National Rally?"],
                             color=True).output
    assert tty.startswith("[1] “\x1b[1mJordan Bardella\x1b[0m, the leader")
    why = CliRunner().invoke(cli, ["ask", "Why do people cross the Channel?"], color=True)
    assert "\x1b[1m" not in why.output


def test_ask_batch_prints_one_json_line_per_question(run, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "Who is Mette Frederiksen?"}\n"What is the GDP of France?"\n',
                     encoding="utf-8")
    result = run("ask", "--batch", str(batch), "--json")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["question"] for line in lines] == ["Who is Mette Frederiksen?",
                                                    "What is the GDP of France?"]
    assert [line["abstained"] for line in lines] == [False, True]


def test_ask_reads_like_a_citation_for_people(run) -> None:
    result = run("ask", "Who is the leader of the National Rally?")
    assert result.output.startswith("[1] “Jordan Bardella")
    assert "Bardella channel pushbacks, paragraph 1, sentence 2" in result.output


def test_ask_says_plainly_when_the_articles_do_not_say(run) -> None:
    result = run("ask", "Who is the president of the United States?")
    assert result.output.startswith("The indexed articles don't say.")


def test_sources_lists_the_bundled_article(run) -> None:
    result = run("sources")
    assert "Bardella channel pushbacks — 14 sentences" in result.output


def test_chat_answers_until_an_empty_line(run) -> None:
    result = run("chat", input="Who is Mette Frederiksen?\n\nnever asked\n")
    assert "Danish counterpart Mette Frederiksen" in result.output
    assert "never asked" not in result.output


def test_a_broken_batch_file_is_a_clear_error(run, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text("{not json\n", encoding="utf-8")
    result = run("ask", "--batch", str(batch))
    assert result.exit_code != 0 and "q.jsonl:1: not valid JSON" in result.output


def test_build_on_a_new_folder_reports_what_it_did(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.txt").write_text("One sentence here. And another.", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"\x00\x00")
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["build", str(tmp_path)])
    assert result.exit_code == 0
    assert "1 article, 2 sentences (1 embedded, 0 reused)" in result.output
    assert "b.txt: binary file" in result.output


def test_eval_skips_cleanly_without_evaluation_data(run, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("CITEBOT_EVAL_DIR", str(tmp_path / "absent"))
    result = run("eval")
    assert result.exit_code == 0
    assert "not found, skipped" in result.output


def test_batch_lines_of_one_conversation_are_read_as_follow_ups(run, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    first = "What does Bardella want to do with France's immigration policy?"
    batch.write_text("\n".join(json.dumps(line) for line in [
        {"question": first, "conversation": "c1"},
        {"question": "What would that include?"},  # no conversation: standalone
        {"question": "What would that include?", "conversation": "c1"},
    ]) + "\n", encoding="utf-8")
    result = run("ask", "--batch", str(batch), "--json")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["follow_up_of"] for line in lines] == [None, None, first]
    assert lines[2]["citations"][0]["text"].startswith("This includes relocating")


def test_chat_reads_follow_ups_and_new_starts_afresh(run) -> None:
    first = "Which treaty does Starmer want reinterpreted?"
    result = run("chat", input=f"{first}\nWho joined him in that call?\n/new\n"
                               "Who joined him in that call?\n\n")
    assert f"(read as a follow-up of: {first})" in result.output
    assert "Danish counterpart Mette Frederiksen" in result.output
    after_new = result.output.split("(a new conversation)")[1]
    assert "read as a follow-up" not in after_new and "Frederiksen" not in after_new


def test_eval_followups_scores_two_turn_conversations(run, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "eval"
    folder.mkdir()
    harbour = ("The harbour festival in Port Wexley drew forty thousand visitors on Saturday. "
               "The fireworks were paid for by the fishing cooperative.")
    with gzip.open(folder / "nyt_dev_documents.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"doc_id": "harbour", "title": "Harbour festival", "url": None,
                             "text": harbour}) + "\n")
    first = "What does Bardella want to do with France's immigration policy?"
    conversations = [
        {"id": "c1", "doc_id": "bardella-channel-pushbacks", "kind": "pronoun", "turns": [
            {"question": first, "gold": ["Mr Bardella wants to completely overhaul France’s "
                                         "immigration policy, which would combat crossings, "
                                         "he argues."]},
            {"question": "What would that include?", "gold": [
                "This includes relocating asylum processing to embassies and consulates in "
                "different countries, as well as “the systematic expulsion of foreign "
                "offenders and criminals” and prioritising French citizens for social "
                "housing and “assistance”."]}]},
        {"id": "c2", "doc_id": "bardella-channel-pushbacks", "kind": "switch",
         "doc_id_2": "harbour", "turns": [
             {"question": first, "gold": []},
             {"question": "How many visitors did the Port Wexley harbour festival draw?",
              "gold": ["The harbour festival in Port Wexley drew forty thousand visitors on "
                       "Saturday."]}]},
    ]
    (folder / "followups_dev.jsonl").write_text(
        "\n".join(json.dumps(c) for c in conversations) + "\n", encoding="utf-8")
    monkeypatch.setenv("CITEBOT_EVAL_DIR", str(folder))
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    figures = json.loads(run("eval", "--no-seed", "--no-nyt", "--followups", "--json").output)
    follow = figures["followups"]
    standalone = follow["follow-ups"].pop("standalone")  # asked alone: may or may not hit
    assert follow["follow-ups"] == {"n": 1, "correct": 1, "lenient": 1, "read_as_follow_up": 1}
    assert standalone in (0, 1)
    assert follow["switches"]["correct"] == 1 and follow["switches"]["read_as_follow_up"] == 0
