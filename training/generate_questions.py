"""Generate training questions from every sentence of the training articles, by rules.

One deterministic command (no model, no parse: regular expressions, citebot's own answer
types and capitalised-name heuristics; about 10 seconds):

    python training/generate_questions.py [--out /work/scratch/generated.jsonl.gz]
        [--nyt-fit]

Each sentence of `../shared/train/wiki_train_documents.jsonl.gz` (and with `--nyt-fit`,
of the NYT dev articles that only questions 800–1499 ask about, never an article of
questions 0–799) gives up to one question of each kind:

- `who`: a sentence that opens with a capitalised name followed by a lower-case verb
  ("Jordan Bardella, the leader of ..., said ...") → "Who said ...?", answer the name;
- `when`: a date ("in 1998", "on March 3", "March 3, 2004", "last week") → "When ...?"
  with the date phrase taken out;
- `howmany`: a number before a noun ("12 people", "three ships") → "How many people ...?",
  money ("$4 million", "20 euros") → "How much ...?";
- `where`: "in/at/from" + a place or country name (pycountry, the place words of
  `index/answer/answer_types.py`) → "Where ...?";
- `cloze`: a capitalised name inside the sentence replaced by "what" ("... signed with
  what?").

A question keeps only the words near its answer (the clause around it, at most
WINDOW words each side) and drops every third lower-case content word, so that it shares
words with its sentence about as much as a person's question does, not all of them.
Negatives are not written: the ranker is fitted listwise over all the candidates of the
question (every sentence of its article among them), and the abstention fit asks each
question again with its own article left out.

The output has the format of `wiki_train_questions.jsonl.gz` (`qid`, `question`,
`doc_id`, `answer`, `answer_start` within the article's text) plus `kind`. It is written
under /work/scratch (never into the repository).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.answer import answer_types  # noqa: E402

KINDS = ("who", "when", "howmany", "where", "cloze")
WINDOW = 9
_WORD = re.compile(r"\S+")
_NAME = r"(?:[A-Z][a-z]+(?:[-'’][A-Za-z]+)?|[A-Z]\.)"
_NAMES = rf"{_NAME}(?:\s+(?:de |van |von |al-|bin )?{_NAME})+"
_HONORIFIC = r"(?:Mr\.|Mrs\.|Ms\.|Dr\.|Gov\.|Sen\.|Rep\.|Gen\.|President|Prime Minister)\s+"
_WHO = re.compile(rf"^(?P<a>(?:{_HONORIFIC})?{_NAMES})(?:,[^,]{{3,80}},)?\s+"
                  r"(?P<v>(?:has |had |was |is |will |would )?"
                  r"[a-z]+(?:ed|s|id|ew|ote|an|on|ook))\b")
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November"
          r"|December|Jan\.|Feb\.|Aug\.|Sept\.|Oct\.|Nov\.|Dec\.)")
_WHEN = re.compile(
    rf"\b(?:(?:in|on|since|by|until|from|during)\s+)?(?P<a>(?:(?:early|late|mid-?)\s*)?"
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:,\s+\d{{4}})?|{_MONTH}\s+\d{{4}}|{_MONTH}|\d{{1,2}}\s+{_MONTH}"
    rf"(?:\s+\d{{4}})?|(?:1[5-9]|20)\d\d(?:s)?|(?:last|next|this)\s+(?:week|month|year|spring"
    r"|summer|fall|autumn|winter|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)))\b")
_NUMBER_WORDS = ("two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
                 "|thirty|forty|fifty|hundreds|thousands|dozens|millions")
_HOWMANY = re.compile(rf"\b(?P<a>(?:about |nearly |more than |at least |some )?(?:\d[\d,.]*"
                      rf"(?:\s+(?:million|billion|thousand|hundred))?|{_NUMBER_WORDS}))\s+"
                      r"(?:of\s+)?(?P<n>(?:[a-z]+\s+)?[a-z]{3,}s)\b")
_HOWMUCH = re.compile(r"(?P<a>(?:[$£€]\s?\d[\d,.]*(?:\s+(?:million|billion|trillion))?)"
                      r"|\d[\d,.]*(?:\s+(?:million|billion))?\s+(?:dollars|euros|pounds|yen))")
_WHERE = re.compile(rf"\b(?P<p>in|at|from|near)\s+(?:the\s+)?(?P<a>{_NAME}(?:\s+{_NAME})*)")
_CLOZE = re.compile(rf"(?<=\s)(?P<a>{_NAMES})")
_STOP_WORDS = ("the a an of to in on at and or for with by from as that this is was were are "
               "be been it its his her their he she they which who")
_STOP = frozenset(_STOP_WORDS.split())


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _window(words: list[str], keep_from: int, keep_to: int) -> list[str]:
    """The clause around words[keep_from:keep_to] (at most WINDOW words each side)."""
    lo = max(0, keep_from - WINDOW)
    hi = min(len(words), keep_to + WINDOW)
    for i in range(keep_from - 1, lo - 1, -1):
        if words[i].endswith((";", ":")):
            lo = i + 1
            break
    for i in range(keep_to, hi):
        if words[i].endswith((";", ":", ".")):
            hi = i + 1
            break
    return words[lo:keep_from] + words[keep_from:keep_to] + words[keep_to:hi]


def _thin(words: list[str], salt: str) -> list[str]:
    """Drop every third lower-case content word (offset chosen by a hash of `salt`)."""
    out, k = [], _stable(salt) % 3
    for w in words:
        bare = w.strip(".,;:\"“”'()").lower()
        if w[:1].islower() and bare not in _STOP and len(bare) > 3:
            k += 1
            if k % 3 == 0:
                continue
        out.append(w)
    return out


def _clean(words: list[str]) -> str:
    text = " ".join(words).strip(" ,;:.\"“”")
    return re.sub(r"\s+([,;:])", r"\1", re.sub(r"\s{2,}", " ", text))


def _ask(lead: str, before: str, after: str, salt: str) -> str:
    """A question from the words around an answer: `lead` + thinned window."""
    b, a = _WORD.findall(before), _WORD.findall(after)
    words = _window(b + a, len(b), len(b))
    body = _clean(_thin(words, salt))
    first = body.split(" ", 1)[0]
    if first.lower() in _STOP:
        body = first.lower() + body[len(first):]
    return f"{lead} {body}?".replace("  ", " ")


def questions_of(sentence: str, offset: int, places: frozenset[str]) -> Iterator[
        dict[str, Any]]:
    """The generated questions of one sentence (answer offsets within the article)."""
    salt = f"{offset}:{sentence[:40]}"
    m = _WHO.match(sentence)
    if m:
        rest = sentence[m.start("v"):]
        yield {"kind": "who", "question": _ask("Who", "", rest, salt),
               "answer": m["a"], "answer_start": offset + m.start("a")}
    m = _WHEN.search(sentence)
    if m and m.start() > 0:
        yield {"kind": "when", "question": _ask("When", sentence[:m.start()],
                                                sentence[m.end():], salt),
               "answer": m["a"], "answer_start": offset + m.start("a")}
    m = _HOWMUCH.search(sentence)
    if m:
        yield {"kind": "howmany", "question": _ask("How much", sentence[:m.start()],
                                                   sentence[m.end():], salt),
               "answer": m["a"], "answer_start": offset + m.start("a")}
    else:
        m = _HOWMANY.search(sentence)
        if m and not re.fullmatch(r"(?:1[5-9]|20)\d\d", m["a"]):
            yield {"kind": "howmany",
                   "question": _ask(f"How many {m['n']}", sentence[:m.start()],
                                    sentence[m.end():], salt),
                   "answer": m["a"], "answer_start": offset + m.start("a")}
    for m in _WHERE.finditer(sentence):
        name = m["a"].lower()
        if name in places or name.split()[-1] in places or name.split()[0] in places:
            yield {"kind": "where", "question": _ask("Where", sentence[:m.start()],
                                                     sentence[m.end():], salt),
                   "answer": m["a"], "answer_start": offset + m.start("a")}
            break
    m = _CLOZE.search(sentence)
    if m and (_WHO.match(sentence) is None or m.start() > 0):
        yield {"kind": "cloze", "question": _ask("", sentence[:m.start()] + " what",
                                                 sentence[m.end():], salt).strip(),
               "answer": m["a"], "answer_start": offset + m.start("a")}


def generate(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    places = answer_types.country_words() | answer_types.place_words()
    out = []
    for doc in documents:
        text = doc["text"]
        for s, (a, b) in enumerate(doc["sent_spans"]):
            sentence = text[a:b]
            if len(sentence) < 30:
                continue
            for k, q in enumerate(questions_of(sentence, a, places)):
                assert text[q["answer_start"]:q["answer_start"] + len(q["answer"])] \
                    == q["answer"]
                if len(q["question"].split()) < 4:
                    continue
                out.append({"qid": f"gen-{doc['doc_id']}-{s}-{k}", "doc_id": doc["doc_id"],
                            **q})
    return out


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/scratch/generated.jsonl.gz"))
    parser.add_argument("--nyt-fit", action="store_true",
                        help="also the NYT dev articles of questions 800-1499 only")
    args = parser.parse_args()
    started = time.perf_counter()
    from index.cli import evaluate

    docs = load_jsonl(evaluate.eval_dir().parent / "train" / "wiki_train_documents.jsonl.gz")
    found = generate(docs)
    if args.nyt_fit:
        nyt_docs = load_jsonl(evaluate.eval_dir() / evaluate.NYT_DOCS)
        qs = evaluate.nyt_questions(evaluate.eval_dir())
        report = {str(q["doc_id"]) for q in qs[:800]}
        fit = {str(q["doc_id"]) for q in qs[800:1500]} - report
        for q in generate([d for d in nyt_docs if str(d["doc_id"]) in fit]):
            found.append({**q, "kind": "nyt-" + q["kind"]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as fh:
        for q in found:
            fh.write(json.dumps(q) + "\n")
    counts: dict[str, int] = {}
    for q in found:
        counts[q["kind"]] = counts.get(q["kind"], 0) + 1
    print(f"wrote {len(found)} questions to {args.out} in "
          f"{time.perf_counter() - started:.1f} s: {json.dumps(counts)}")


if __name__ == "__main__":
    main()
