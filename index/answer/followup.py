"""Follow-up questions: reading a question in the context of the conversation so far.

People do not ask one perfect question. After "Who leads the National Rally?" they ask
"What did he say about patrols?", "And Starmer?" or "What would that involve?". Such a
question lacks what its earlier turn supplies. `read(question, context, article_text)`
decides how to read it, with general rules of English, not an LLM:

1. **A follow-up needs a marker** that points back: a pronoun (he, she, it, they, that,
   his, them ...), an elliptical fragment ("And Starmer?", "What about the pact?",
   "How many?", "Why?"), or a definite reference ("the deal", "that treaty") whose noun the
   conversation already used. A question without any is answered as if new.
2. **A topic switch names its own subject.** A capitalised word (a name, mostly) that the
   conversation never used - not in its questions, quotes or quoted articles - means the
   question brings its own subject ("Who won the 2022 World Cup?"): answered as if new,
   unless it still cannot stand alone (a pronoun before any name, as in "Who does he
   reckon will win Britain's election?", or an elliptical opener).
3. **What a follow-up borrows** from the latest turn that had an answer: its question's
   words (the subject a pronoun stands for, the verb "And Starmer?" elides), and when that
   question asked for a person or thing ("Who ...?", "Which ...?"), the names its quote
   added (so "he" after "Who leads the party?" is the leader; a pronoun after "Who ...?"
   borrows only those names: the person answered is the subject now, not the role asked
   about, while "And Reform UK?" still borrows "Who leads"). These words extend the
   question for BM25, and their embedding is added, at a lower weight, to the question's.
4. **The article the conversation is about is a strong prior, not a filter**: the quoted
   article's sentences get a fixed score bonus. Another article still wins when it
   answers much better, and a follow-up the article does not answer is refused as usual.
5. **Something new**: the top quotes of the last two turns are not quoted again; the
   asker has them in front of them. (As a mere score penalty they still won too often,
   since the borrowed words are the very words they answered.)

`index.answer.engine.Index.answer(question, context=...)` applies the reading; with no context
(or a question read as new) the answer is exactly the standalone one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.storage.lexical import WORD, _stopwords, tokenize
from index.types import Answer, Citation

#: pronouns that stand for a person, and for a thing, a group or an earlier statement
PERSON_PRONOUNS = frozenset({"he", "him", "his", "himself", "she", "her", "hers", "herself"})
OTHER_PRONOUNS = frozenset({"it", "its", "itself", "they", "them", "their", "theirs",
                            "themselves", "that", "this", "those", "these", "there"})
#: "there" after these is existential ("Is there a deadline?"), not a place pointed back to
BE = frozenset({"is", "are", "was", "were", "be", "been"})
#: words that start a clause after "said that ..."
CLAUSE_STARTS = frozenset({"a", "an", "the", "he", "she", "it", "they", "we", "i", "you",
                           "this", "these", "those", "his", "her", "its", "their", "there"})
#: modal verbs (not in the stop word list): "What would that involve?" points back
MODALS = frozenset({"would", "could", "might", "must", "may", "shall", "can", "will", "should"})
#: openers of an elliptical question: the rest of it is borrowed from the previous one
ELLIPSIS_OPENERS = re.compile(
    r"^\s*(and|but|also|so|what about|how about|what of|and what about|and how about)\b",
    re.IGNORECASE)
DETERMINERS = frozenset({"the", "that", "this", "those", "these", "such"})
#: question words that ask for a person or a thing: their answer becomes the next subject
ENTITY_QUESTIONS = frozenset({"who", "whom", "whose", "which", "what"})

#: weight of the borrowed words' embedding, added to the question's own
BORROWED_WEIGHT = 0.6
#: fused-score bonus of the sentences of the article the conversation is about (fused
#: scores of good answers run from about 4 to 15)
ARTICLE_PRIOR = 3.0
#: the previous turn as evidence: the last top quote's embedding joins the question's at
#: this weight, and the sentences near it get a bonus NEAR_PRIOR * exp(-distance /
#: NEAR_SCALE) (distance in sentences). Fitted on the generated training conversations
#: (`training/fit_followup.py`): neither pays (quote weight 0.3: 105/170 against 109/170;
#: near bonus 1.0: 111/170 but 53/74 held out against 54/74), so both stay 0 (no cost)
QUOTE_WEIGHT = 0.0
NEAR_PRIOR = 0.0
NEAR_SCALE = 2.0


@dataclass(frozen=True)
class Reading:
    """How a question is read: `kind` is 'standalone' (no context), 'switch' (it names its
    own subject), 'new' (no marker points back), or 'pronoun', 'ellipsis', 'definite'
    (a follow-up of the turn whose question is `follow_up_of`)."""

    question: str
    kind: str
    follow_up_of: str | None = None
    borrowed: str = ""
    """The words borrowed from earlier turns (empty unless a follow-up)."""
    prior_doc_ids: tuple[str, ...] = ()
    """The articles the conversation is about (a score bonus, not a filter)."""
    quoted: tuple[Citation, ...] = ()
    """The top quotes of the recent turns (not quoted again)."""

    @property
    def is_follow_up(self) -> bool:
        return self.follow_up_of is not None

    @property
    def expanded(self) -> str:
        """The question with what it borrowed, as BM25 reads it."""
        return f"{self.question} {self.borrowed}".strip()


def words(text: str) -> list[str]:
    return WORD.findall(text)


def names(text: str) -> list[str]:
    """Capitalised words after the first (the first word of a question is capitalised
    anyway), stop words excepted: names, mostly."""
    stop = _stopwords()
    found = words(text)[1:]
    return [w for w in found if w[:1].isupper() and w.lower() not in stop and not w.isdigit()]


def is_pronoun(word: str, previous: str = "", following: str = "") -> bool:
    """Whether lower-cased `word` (between `previous` and `following`) is a pronoun that
    may point back."""
    if word == "there" and previous in BE:
        return False
    if (word == "that" and previous and previous not in _stopwords() | MODALS
            and following and (following not in _stopwords() or following in CLAUSE_STARTS)):
        # "the cases that go to trial", "said that a ...": a clause, not a reference
        # ("allowed that before?" still is one)
        return False
    return word in PERSON_PRONOUNS or word in OTHER_PRONOUNS


def pointing_back(question: str) -> str | None:
    """'pronoun' or 'ellipsis' when `question` cannot stand alone: a pronoun with no name
    before it in the question, an elliptical opener, or at most one content word."""
    stop = _stopwords()
    seen_name = False
    found = words(question)
    lowered = [w.lower() for w in found]
    for i, (w, low) in enumerate(zip(found, lowered, strict=True)):
        around = (lowered[i - 1] if i else "", lowered[i + 1] if i + 1 < len(found) else "")
        if is_pronoun(low, *around) and not seen_name:
            return "pronoun"
        seen_name = seen_name or (i > 0 and w[:1].isupper() and low not in stop)
    if ELLIPSIS_OPENERS.match(question) or len(tokenize(question)) <= 1:
        return "ellipsis"
    return None


def marker(question: str, known_stems: set[str]) -> str | None:
    """The reference that points back to an earlier turn ('pronoun', 'ellipsis',
    'definite'), or None."""
    lowered = [w.lower() for w in words(question)]
    back = pointing_back(question)
    if back:
        return back
    if any(is_pronoun(w, lowered[i - 1], lowered[i + 1] if i + 1 < len(lowered) else "")
           for i, w in enumerate(lowered) if i):
        return "pronoun"
    for det, noun in zip(lowered, lowered[1:], strict=False):
        if det in DETERMINERS and set(tokenize(noun)) & known_stems:
            return "definite"
    return None


def read(question: str, context: Sequence[Answer],
         article_text: Callable[[str], str]) -> Reading:
    """How to read `question` after the turns in `context` (oldest first).

    `article_text(doc_id)` gives the text of a quoted article ("" when unknown).
    """
    turns = [a for a in context if a.citations or a.closest is not None]
    if not turns:
        return Reading(question, "standalone")
    # the top quote of each recent turn: runners-up were shown less prominently, and a
    # follow-up may well ask about one of them ("And the Calais border?")
    quoted = tuple(_shown(a)[0] for a in turns[-2:])
    doc_ids = tuple(dict.fromkeys(c.doc_id for c in _shown(turns[-1])[:1]))
    conversation = " ".join([*(a.question for a in turns[-2:]),
                             *(c.text for a in turns[-2:] for c in _shown(a)),
                             *(article_text(d) for d in doc_ids)])
    known_words = {w.lower() for w in words(conversation)}
    own = [n for n in names(question) if n.lower() not in known_words]
    if own and pointing_back(question) is None:
        return Reading(question, "switch")
    kind = marker(question, set(tokenize(conversation)))
    if kind is None:
        return Reading(question, "new")
    last = turns[-1]
    return Reading(question, kind, follow_up_of=last.question, borrowed=borrow(last, kind),
                   prior_doc_ids=doc_ids, quoted=quoted)


def borrow(turn: Answer, kind: str = "pronoun") -> str:
    """What a follow-up takes from `turn`: its question's words, plus the names its quote
    added when it asked for a person or thing. A pronoun after "Who ...?" stands for the
    person answered: then only those names."""
    parts = [turn.question]
    first = words(turn.question)[:1]
    shown = _shown(turn)
    if first and first[0].lower() in ENTITY_QUESTIONS and shown:
        asked = {w.lower() for w in words(turn.question)}
        added = [n for n in names(shown[0].text) if n.lower() not in asked]
        if added and kind == "pronoun" and first[0].lower() in ("who", "whom"):
            parts = []  # the person answered is the subject now, not the role asked about
        parts.append(" ".join(dict.fromkeys(added)))
    return " ".join(p for p in parts if p)



def _shown(answer: Answer) -> tuple[Citation, ...]:
    if answer.citations:
        return answer.citations
    return (answer.closest,) if answer.closest is not None else ()
