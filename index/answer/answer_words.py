"""The words inside a quoted sentence that answer the question: "**Jordan Bardella**, the
leader of ...".

For a question whose asked kind is known (`answer_types.question_type`: who, which
organisation, where, which country, how many, how much, what percentage, when ...),
`answer_span(question, sentence)` returns the character span, within the sentence, of the
expression of that kind that answers it, or None. Questions whose answer is the whole
sentence (why, how, what happened, yes/no, "Who is <name>?") get None, never a random
phrase.

How: the sentence's tokens are read once into candidate expressions (runs of capitalised
words with hints of person, organisation, place and country; number, money and percent
phrases; dates and durations). Candidates of the asked kind that add something (not all
their words are in the question) are scored by a small linear model over cheap features
(type match, how close they sit to the question's words in the sentence, whether they
stand before or after them as the question's role asks, position, length, quotation marks),
and the best one is the span. The weights are fitted on the Wikipedia training questions
by `training/fit_answer_words.py` (`answer_words_model.json`, a few hundred bytes);
`RULE_WEIGHTS` are the hand-set weights it is compared against.

Plain English wording, no parse: about 20 µs a sentence (median; 80 µs at the 90th
percentile, on the long Wikipedia sentences).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.answer import answer_types as at

# --- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?:[A-Z]\.){2,}"  # U.S., U.K.
                    r"|[’']\d\ds\b"  # ’90s
                    r"|\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s|bn|m|k)?\b%?"
                    r"|[^\W\d_]+(?:[’'&-][^\W\d_]+)*(?:[’']s\b)?"
                    r"|\S")


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    lower: str  # lower-cased, possessive "’s" removed


def tokens(sentence: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(sentence):
        text = m.group()
        lower = text.lower()
        if lower.endswith(("’s", "'s")) and len(lower) > 2 and lower[0].isalpha():
            lower = lower[:-2]
        out.append(Token(m.start(), m.end(), text, lower))
    return out


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_MONTHS = _set("january february march april may june july august september october "
               "november december jan feb mar apr jun jul aug sep sept oct nov dec")
_WEEKDAYS = _set("monday tuesday wednesday thursday friday saturday sunday")
_RELATIVE_DAYS = _set("yesterday today tomorrow tonight overnight")
_HOLIDAYS = _set("christmas easter thanksgiving halloween ramadan hanukkah diwali passover")
_RELATIVE_LEAD = _set("last next this early late mid earlier later")
_PERIODS = _set("week weekend month year decade century summer winter spring autumn fall "
                "season quarter morning afternoon evening night")
_TIME_UNITS = _set("second seconds minute minutes hour hours day days week weeks month months "
                   "year years decade decades century centuries")
_RELATIVE_AFTER = _set("ago later earlier before afterwards")
_MEASURES = _set("mile miles mph km kilometer kilometers kilometre kilometres meter meters "
                 "metre metres m ft foot feet inch inches yard yards acre acres hectare "
                 "hectares ton tons tonne tonnes kg kilogram kilograms gallon gallons liter "
                 "liters litre litres degree degrees square")
_ERAS = _set("ad bc a.d. b.c. ce bce")
_CLOCK = _set("a.m. p.m. am pm noon midnight")
_NUMBER_WORDS = _set("one two three four five six seven eight nine ten eleven twelve "
                     "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
                     "thirty forty fifty sixty seventy eighty ninety hundred thousand million "
                     "billion trillion dozen hundreds thousands millions billions dozens half "
                     "twice")
_ORDINALS = _set("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                 "twelfth nineteenth twentieth twenty-first")
_SCALE = _set("hundred thousand million billion trillion bn m k dozen")
_CURRENCY_SIGNS = _set("$ £ € ¥ us$")
_CURRENCY_WORDS = _set("dollar dollars euro euros pound pounds yen yuan rupee rupees franc "
                       "francs peso pesos ruble rubles rouble roubles cents bucks sterling")
_PERCENT_WORDS = _set("percent percentage %")
_NUMBER_LEAD = _set("about around approximately nearly almost roughly some over under only "
                    "just exactly up more less fewer least most than at")
_HONORIFICS = _set("mr mrs ms dr sir dame lord lady prof rev gen col sgt capt lt gov sen rep "
                   "st")
_CONNECTORS = _set("of de du da van von der den la le al el bin ibn y for the on and &")
_ORG_WORDS = at._ORG_WORDS | _set("inc corp ltd llc co plc")
_PLACE_WORDS = at._PLACE_WORDS
_PLACE_PREPS = at._PLACE_PREPS
_QUOTES = frozenset('"“”«»')
_COUNTRY_ABBREVIATIONS = _set("UK U.K. US U.S. USA U.S.A. UAE U.A.E. DRC")
_PLACE_AFTER = at._PLACE_WORDS | _set("border region area coast city town port capital")
_CONTINENTS = _set("europe european africa african asia asian arab arabs latin american")
#: words before a name that say it is a person's ("his counterpart Mette Frederiksen")
_PERSON_LEAD = _set("counterpart colleague wife husband son daughter mother father brother "
                    "sister spokesman spokeswoman spokesperson minister secretary chairman "
                    "chairwoman chief director president leader founder coach manager "
                    "captain player actor actress singer author writer")


@lru_cache(maxsize=1)
def _not_names() -> frozenset[str]:
    from index.storage.lexical import _stopwords

    dates = _MONTHS | _WEEKDAYS | _RELATIVE_DAYS | _HOLIDAYS
    return (_stopwords() | dates | {"i"}) - {"mr", "ms", "mrs", "dr"}


# --- candidates -----------------------------------------------------------------------------

NAME, COUNTRY_NAME, NUMBER, DATE, DURATION = range(5)


@dataclass(frozen=True)
class Candidate:
    """A typed expression of a sentence: tokens [first, last], characters [start, end)."""

    first: int
    last: int
    start: int
    end: int
    cat: int
    person: bool = False
    org: bool = False
    place: bool = False
    money: bool = False
    percent: bool = False
    year: bool = False
    word_number: bool = False
    multiword: bool = False
    continent: bool = False


def _is_number(t: Token) -> bool:
    return t.text[:1].isdigit() or t.lower in _NUMBER_WORDS


def _is_year(t: Token) -> bool:
    w = t.lower.rstrip("s")
    return (len(w) == 4 and w.isdigit() and 1000 <= int(w) <= 2099) or \
        (len(t.lower) == 4 and t.lower[0] in "’'" and t.lower.endswith("s"))


def _day_number(t: Token) -> bool:
    w = re.sub(r"(st|nd|rd|th)$", "", t.lower)
    return w.isdigit() and 1 <= int(w) <= 31


def candidates(toks: list[Token]) -> list[Candidate]:
    """Every typed expression of a tokenised sentence (they may overlap)."""
    out: list[Candidate] = []
    out += _names(toks)
    out += _numbers(toks)
    out += _dates(toks)
    return out


def _names(toks: list[Token]) -> list[Candidate]:
    not_names = _not_names()
    countries = at.country_words()
    subdivisions = at.place_words()
    n = len(toks)

    def cap(i: int) -> bool:
        t = toks[i]
        return t.text[:1].isupper() and t.lower not in not_names and t.text[:1].isalpha()

    out: list[Candidate] = []
    i = 0
    while i < n:
        honorific = toks[i].lower in _HONORIFICS and toks[i].text[:1].isupper() \
            and i + 1 < n and (cap(i + 1) or (toks[i + 1].text == "." and i + 2 < n
                                              and cap(i + 2)))
        if not (cap(i) or honorific):
            i += 1
            continue
        first = i
        j = i + 1 if not honorific else (i + 2 if toks[i + 1].text == "." else i + 1)
        last = i if not honorific else j
        while j < n and not _possessive(toks[last]):  # "June Myles’s Hooked Rugs": two
            if cap(j):
                last = j
            elif not (len(toks[j].text) == 1 and toks[j].text.isupper()  # initial "J."
                      or toks[j].text == "." and (len(toks[j - 1].text) == 1
                                                  or toks[j - 1].lower in _HONORIFICS)
                      or toks[j].text == "&"
                      or toks[j].lower in _CONNECTORS and toks[j].text[:1].islower()
                      and j + 1 < n and cap(j + 1)):
                break
            j += 1
        # "Although Ms. Shelley", "Reports of Mrs. Clinton": the name starts at the title
        titled = next((k for k in range(first + 1, last) if toks[k].lower in _HONORIFICS
                       and toks[k].text[:1].isupper()), None)
        runs = [(first, last, honorific)]
        if titled is not None:
            runs = [(titled, last, True)] + ([] if titled == first + 1 else runs)
        for first, last, titled_run in runs:
            out += _name(toks, first, last, titled_run, countries, subdivisions)
        i = max(j, i + 1)
    return out + _titles(toks)


def _possessive(t: Token) -> bool:
    return t.lower != t.text.lower()


def _titles(toks: list[Token]) -> list[Candidate]:
    """Titles in quotation marks: “Every Day I Fight.” (most words capitalised, unlike
    quoted speech)."""
    out = []
    opened = None
    for k, t in enumerate(toks):
        if t.text not in _QUOTES:
            continue
        if opened is None or t.text == "“":
            opened = k
            continue
        inner = [i for i in range(opened + 1, k) if toks[i].text[:1].isalnum()]
        opened = None
        if not inner or len(inner) > 10 or not toks[inner[0]].text[:1].isupper():
            continue
        long_words = [toks[i].text for i in inner if len(toks[i].text) > 3] or \
            [toks[inner[0]].text]
        if sum(w[:1].isupper() for w in long_words) * 2 > len(long_words):
            out.append(Candidate(inner[0], inner[-1], toks[inner[0]].start,
                                 toks[inner[-1]].end, NAME, org=True,
                                 multiword=len(inner) > 1))
    return out


def _name(toks: list[Token], first: int, last: int, honorific: bool,
          countries: frozenset[str], subdivisions: frozenset[str]) -> list[Candidate]:
    """The candidates of one run of capitalised words: the name, and countries in it."""
    n = len(toks)
    out: list[Candidate] = []
    if not (toks[last].text[:1].isupper() or toks[last].text[:1].isdigit()):
        return out
    the = first > 1 and toks[first - 1].text == "The"  # "The New York Times", mid-sentence
    words = [t.lower for t in toks[first:last + 1]]
    phrase = " ".join(words)
    prev = toks[first - 1].lower if first else ""
    prev2 = toks[first - 2].lower if first > 1 else ""
    is_country = phrase in countries or toks[first].text in _COUNTRY_ABBREVIATIONS \
        and first == last
    after = toks[last + 1].lower if last + 1 < n else ""
    place = is_country or phrase in subdivisions or prev in _PLACE_PREPS \
        or (prev == "the" and prev2 in _PLACE_PREPS) \
        or words[-1] in _PLACE_WORDS or after in _PLACE_AFTER
    org = any(w in _ORG_WORDS for w in words) or (
        len(toks[first].text) > 1 and toks[first].text.replace(".", "").isupper()
        and first == last) or prev == "the"
    person = honorific or prev in _HONORIFICS or prev in _PERSON_LEAD
    if is_country:
        out.append(Candidate(first, last, toks[first].start, _end(toks[last]), COUNTRY_NAME,
                             place=True, continent=phrase in _CONTINENTS))
        return out
    start = first - 1 if the else first
    out.append(Candidate(start, last, toks[start].start, _end(toks[last]), NAME,
                         person=person, org=org and not person, place=place,
                         multiword=first < last and words[-1] not in countries))
    return out + _countries_in(toks, first, last, countries)


def _end(t: Token) -> int:
    """A token's end without a possessive "’s"."""
    return t.end - 2 if t.lower != t.text.lower() and t.text.lower().endswith(("’s", "'s")) \
        else t.end


def _countries_in(toks: list[Token], first: int, last: int,
                  countries: frozenset[str]) -> list[Candidate]:
    """Country names and demonyms inside a longer name ("the French government")."""
    out = []
    k = first
    while k <= last:
        two = f"{toks[k].lower} {toks[k + 1].lower}" if k < last else ""
        if two and two in countries:
            out.append(Candidate(k, k + 1, toks[k].start, _end(toks[k + 1]), COUNTRY_NAME,
                                 place=True))
            k += 2
            continue
        parts = toks[k].lower.split("-")
        name_start = k == first and k < last and toks[k].lower in _country_nouns() \
            and toks[k + 1].lower not in countries
        if not name_start and (toks[k].lower in countries or any(p in countries for p in parts)
                               or toks[k].text in _COUNTRY_ABBREVIATIONS):
            out.append(Candidate(k, k, toks[k].start, _end(toks[k]), COUNTRY_NAME,
                                 place=True, continent=toks[k].lower in _CONTINENTS))
        k += 1
    return out


@lru_cache(maxsize=1)
def _country_nouns() -> frozenset[str]:
    """Lower-cased one-word country names (not demonyms): "Jordan", "Chad", "Georgia"."""
    import pycountry

    names = {getattr(c, "common_name", c.name) for c in pycountry.countries}
    names |= {c.name for c in pycountry.countries}
    return frozenset(n.lower() for n in names if " " not in n)


def _numbers(toks: list[Token]) -> list[Candidate]:
    out = []
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        if not _is_number(t) or (t.lower == "one" and i + 1 < n and toks[i + 1].lower == "of"):
            i += 1
            continue
        first = i
        while first > 0 and (toks[first - 1].lower in _NUMBER_LEAD
                             or toks[first - 1].lower in _CURRENCY_SIGNS
                             or (toks[first - 1].lower in {"a", "an"}
                                 and toks[first].lower in _SCALE)):
            first -= 1
        while first < i and toks[first].lower in {"at", "than"}:  # "at" alone leads nothing
            if toks[first].lower == "at" and toks[first + 1].lower in {"least", "most"}:
                break
            first += 1
        last = i
        j = i + 1
        while j < n:
            w = toks[j].lower
            if _is_number(toks[j]) or w in _SCALE:
                last = j
            elif w in {"and", "to", "-", "–", "point", "or"} and j + 1 < n \
                    and _is_number(toks[j + 1]):
                pass
            else:
                break
            j += 1
        money = toks[first].lower in _CURRENCY_SIGNS or any(
            tk.lower in _CURRENCY_SIGNS for tk in toks[first:i])
        percent = toks[last].text.endswith("%")
        if j < n and toks[j].lower in _PERCENT_WORDS:
            percent, last = True, j
        elif j + 1 < n and toks[j].lower == "per" and toks[j + 1].lower == "cent":
            percent, last = True, j + 1
        elif j < n and toks[j].lower in _CURRENCY_WORDS:
            money, last = True, j
        elif j < n and (toks[j].lower in _MEASURES or toks[j].text == "-" and j + 1 < n
                        and toks[j + 1].lower in _MEASURES):
            # "120 miles per hour", "a 3.14-mile run", "4,421 m"
            last = j if toks[j].text != "-" else j + 1
            while last + 1 < n and toks[last + 1].lower in _MEASURES:  # "square feet"
                last += 1
            if last + 2 < n and toks[last + 1].lower == "per" \
                    and toks[last + 2].lower in _TIME_UNITS | _MEASURES:
                last += 2
        if not money and first < i and toks[i - 1].lower in _CURRENCY_SIGNS:
            money = True
        # "twice a day", "three times a week": how often
        k = last + 1 + (last + 1 < n and toks[last + 1].lower in {"times", "time"})
        if k + 1 < n and toks[k].lower in {"a", "an", "per", "every", "each"} \
                and toks[k + 1].lower in _PERIODS | _TIME_UNITS:
            last = k + 1
        words = all(not tk.text[:1].isdigit() for tk in toks[i:last + 1])
        out.append(Candidate(first, last, toks[first].start, toks[last].end, NUMBER,
                             money=money, percent=percent,
                             year=first == last and _is_year(toks[i]), word_number=words))
        if j + 1 < n and toks[j].text == "-" and toks[j + 1].lower in _TIME_UNITS:
            j += 1  # "a 30-minute show"
        if j < n and toks[j].lower in _TIME_UNITS:
            end = j + 1 if j + 1 < n and toks[j + 1].lower == "ago" else j
            out.append(Candidate(first, end, toks[first].start, toks[end].end,
                                 DATE if toks[end].lower == "ago" else DURATION))
        i = max(j, i + 1)
    for i, t in enumerate(toks):  # "several years", "more than a decade ago", "decades"
        if t.lower in _TIME_UNITS and (i == 0 or not _is_number(toks[i - 1])):
            lead = i
            while lead and toks[lead - 1].lower in {"a", "an", "several", "few", "many"}:
                lead -= 1
            if lead == i and not (t.lower.endswith("s") and t.lower not in {"days", "hours"}):
                continue
            while lead and toks[lead - 1].lower in _NUMBER_LEAD - {"at", "some"}:
                lead -= 1
            end = i + 1 if i + 1 < len(toks) and toks[i + 1].lower in _RELATIVE_AFTER else i
            out.append(Candidate(lead, end, toks[lead].start, toks[end].end,
                                 DATE if end > i else DURATION))
    return out


def _date_token(toks: list[Token], i: int) -> bool:
    t = toks[i]
    n = len(toks)
    nxt = toks[i + 1] if i + 1 < n else None
    prev = toks[i - 1] if i else None
    if t.lower.rstrip(".") in _MONTHS and t.text[:1].isupper():
        # "May" and "March" are months only beside a number or another date word
        return t.lower not in {"may", "march"} or (nxt is not None and nxt.text[:1].isdigit()) \
            or (prev is not None and (prev.text[:1].isdigit() or prev.lower in {"in", "of"}))
    if t.lower in _WEEKDAYS or t.lower in _RELATIVE_DAYS or _is_year(t):
        return True
    if t.lower in _HOLIDAYS and t.text[:1].isupper() or t.lower in {"eve", "day"} and (
            prev is not None and prev.lower in _HOLIDAYS):
        return True
    if prev is not None and prev.text == "." and i > 1:  # "Sept. 7"
        prev = toks[i - 2]
    if _day_number(t) and ((nxt is not None and nxt.lower.rstrip(".") in _MONTHS)
                           or (prev is not None and prev.lower.rstrip(".") in _MONTHS)):
        return True
    if t.lower in _ERAS and ((prev is not None and _is_year(prev))
                             or (nxt is not None and _is_year(nxt))):
        return True
    if t.lower in _CLOCK and (t.lower in {"noon", "midnight"}
                              or (prev is not None and prev.text[:1].isdigit())):
        return True
    if t.text[:1].isdigit() and nxt is not None and nxt.lower in _CLOCK:
        return True
    if t.lower in _RELATIVE_LEAD and nxt is not None and (
            nxt.lower in _PERIODS or nxt.lower in _WEEKDAYS or nxt.lower in _MONTHS):
        return True
    if t.lower in _PERIODS and prev is not None and (
            prev.lower in _RELATIVE_LEAD or prev.lower in _WEEKDAYS
            or prev.lower in _RELATIVE_DAYS):
        return True
    if t.lower in {"century", "centuries"} and prev is not None and _ordinal(prev):
        return True
    return _ordinal(t) and nxt is not None and nxt.lower in {"century", "centuries"}


def _ordinal(t: Token) -> bool:
    return t.lower in _ORDINALS or re.fullmatch(r"\d+(?:st|nd|rd|th)", t.lower) is not None


def _dates(toks: list[Token]) -> list[Candidate]:
    out = []
    n = len(toks)
    flags = [_date_token(toks, i) for i in range(n)]
    i = 0
    while i < n:
        if not flags[i]:
            i += 1
            continue
        first = last = i
        j = i + 1
        while j < n:
            if flags[j]:
                last = j
            elif toks[j].text in {",", "of", "the", "."} and j + 1 < n and flags[j + 1]:
                pass
            else:
                break
            j += 1
        if first and toks[first - 1].lower == "the" and _ordinal(toks[first]):
            first -= 1
        out.append(Candidate(first, last, toks[first].start, toks[last].end, DATE,
                             year=first == last and _is_year(toks[first])))
        i = j
    return out


# --- the question ---------------------------------------------------------------------------

#: question kinds that a few words of the sentence can answer
SPAN_KINDS = frozenset({at.PERSON, at.ORG, at.PLACE, at.COUNTRY, at.NUMBER, at.MONEY,
                        at.PERCENT, at.DATE})
#: candidate categories that answer each kind: strongly (the hint fits) or weakly
GROUPS = ("name", "number", "date")
_GROUP = {at.PERSON: 0, at.ORG: 0, at.PLACE: 0, at.COUNTRY: 0, at.NUMBER: 1, at.MONEY: 1,
          at.PERCENT: 1, at.DATE: 2}

_ROLE_AUX = _set("do does did will would can could should may might must")
_BE = _set("is was are were")
_IDENTITY = re.compile(r"^\W*(?i:who|what)\s+(?i:is|was|are|were)\s+(?:[A-Z][\w’'.-]*\s*)+\W*$")
#: "What is the name of ...", "What is X called": a name answers
_NAME_ASKED = re.compile(r"\bname\s+of\b|\bnamed?\b|\bcalled\b", re.IGNORECASE)



@dataclass(frozen=True)
class Question:
    kind: int
    lower: str
    stems: frozenset[str]
    role: int  # 0 none, 1 the subject is asked for, 2 the object
    long: bool  # "how long": a duration answers
    unit: str = ""  # the stem of what "how many ..." counts


#: a name is asked for, of no particular kind ("What is the name of ...?")
NAMED = 100
_GROUP[NAMED] = 0
#: words after an auxiliary that start the question's own subject ("Who did *he* meet?")
_SUBJECT_START = _set("the a an he she it they we you i his her their its this that these "
                      "those")


@lru_cache(maxsize=4096)
def read_question(question: str) -> Question | None:
    """What a question asks for, when a few words can answer it (None: the whole sentence)."""
    kind = at.question_type(question)
    if kind == at.OTHER and _NAME_ASKED.search(question):
        kind = NAMED
    elif kind == at.COUNTRY and re.match(r"\W*where\b", question, re.IGNORECASE):
        kind = at.PLACE  # "Where is she from?": a town answers as well as a country
    if kind not in SPAN_KINDS and kind != NAMED or _IDENTITY.match(question):
        return None
    from index.storage.lexical import _stemmer, _stopwords

    stop = _stopwords()
    words = [t.lower for t in tokens(question) if t.lower[:1].isalnum()]
    stems = frozenset(_stemmer().stemWords([w for w in words if w not in stop]))
    counted = re.search(r"\bhow\s+(?:many|much)\s+([\w’'-]+)", question, re.IGNORECASE)
    unit = _stemmer().stemWord(counted.group(1).lower()) if counted else ""
    role = 0
    m = re.search(r"\b(?:who|whom|which\s+\w+|what\s+\w+)\s+([\w’']+)(?:\s+([\w’']+))?",
                  question, re.IGNORECASE)
    if _GROUP[kind] == 0 and m is not None:
        after, then = m.group(1), m.group(2) or ""
        # "Who did Bardella tell?" asks for an object; "Who would win?" for a subject
        role = 2 if m.group(0).lower().startswith("whom") or after.lower() in _ROLE_AUX and (
            then.lower() in _SUBJECT_START or then[:1].isupper()) else 1
    long = re.search(r"\bhow\s+long\b|\bhow\s+old\b", question, re.IGNORECASE) is not None
    return Question(kind, " ".join(words), stems, role, long, unit)


# --- scoring --------------------------------------------------------------------------------

FEATURES = ("strong", "weak", "multiword", "in_question", "near", "window", "before", "after",
            "subject", "object", "position", "initial", "length", "quoted", "bracketed",
            "comma_after", "word_number", "year", "continent", "left2", "right2", "unit",
            "appositive", "proximity", "past_appositive",
            "in_description")


def _match(q: Question, c: Candidate) -> int:
    """2: the candidate is of the asked kind; 1: it may be; 0: it is not."""
    k = q.kind
    if k == NAMED:
        return 2 if c.cat == NAME and (c.multiword or c.person or c.org) else \
            (1 if c.cat in (NAME, COUNTRY_NAME) else 0)
    if k == at.PERSON:
        return (2 if c.person else 1) if c.cat == NAME and not c.place else 0
    if k == at.ORG:
        return (2 if c.org else 1) if c.cat == NAME and not c.person else 0
    if k == at.PLACE:
        if c.cat == COUNTRY_NAME:
            return 2
        return (2 if c.place else 1) if c.cat == NAME and not c.person else 0
    if k == at.COUNTRY:
        if c.cat == COUNTRY_NAME:
            return 1 if c.continent else 2
        return 1 if c.cat == NAME and c.place else 0
    if k == at.NUMBER:
        if c.cat == DURATION and q.long:
            return 2
        return (1 if c.year else 2) if c.cat == NUMBER else 0
    if k == at.MONEY:
        return (2 if c.money else 1) if c.cat == NUMBER and not c.year else 0
    if k == at.PERCENT:
        return (2 if c.percent else 1) if c.cat == NUMBER and not c.year else 0
    if k == at.DATE:
        if c.cat == DURATION:
            return 2 if q.long else 1
        return 2 if c.cat == DATE else (1 if c.cat == NUMBER and not q.long and c.year else 0)
    return 0


def features(q: Question, toks: list[Token], stems: list[str],
             cands: list[Candidate]) -> tuple[list[Candidate], np.ndarray]:
    """The candidates of the asked kind that add something to the question, and their
    features (one row each, columns `FEATURES`)."""
    n = max(1, len(toks))
    matched = [i for i, s in enumerate(stems) if s and _related(s, q.stems)]
    # shares of the question's words that the sentence holds (words it lacks dilute nothing)
    present = max(1, len({stems[i] for i in matched}))
    kept: list[Candidate] = []
    rows: list[list[float]] = []
    quote_depth = _inside(toks, _QUOTES)
    bracket_depth = _inside(toks, frozenset("()"))
    owner = _appositive_owners(toks, cands)
    for c in cands:
        m = _match(q, c)
        if not m:
            continue
        inside = [stems[k] for k in range(c.first, c.last + 1) if stems[k]]
        shared = sum(s in q.stems for s in inside) / max(1, len(inside))
        content = [t.lower for t in toks[c.first:c.last + 1] if t.lower[:1].isalnum()]
        # adds nothing the question did not say; a name whose last word the question says
        # is the one it names ("Who denounced Starmer's deal?" is not answered by Starmer)
        if not content or shared >= 1.0 or " ".join(content) in q.lower or (
                c.cat == NAME and stems[c.last] in q.stems
                and toks[c.last].lower not in _ORG_WORDS | _PLACE_WORDS):
            continue
        # words in a phrase that describes another name ("X, the leader of Y,") are not near
        # this one; those of its own description are next to it
        outside = [k for k in matched if (k < c.first or k > c.last)
                   and owner.get(k, c.first) == c.first]
        dist = min((c.first - k if k < c.first else k - c.last for k in outside), default=n)
        # each question word counted once, at its closest place: 1 / (1 + distance)
        close: dict[str, float] = {}
        for k in outside:
            d = 1 if k in owner else (c.first - k if k < c.first else k - c.last)
            close[stems[k]] = max(close.get(stems[k], 0.0), 1.0 / (1.0 + d))
        proximity = sum(close.values())
        window = len({stems[k] for k in outside if c.first - 6 <= k <= c.last + 6})
        before = bool(outside) and c.last < outside[0]
        after = bool(outside) and c.first > outside[-1]
        rows.append([
            float(m == 2), float(m == 1), float(c.multiword), shared, 1.0 / (1.0 + dist),
            window / present, float(before), float(after),
            float(q.role == 1 and before), float(q.role == 2 and after),
            c.first / n, float((c.first == 0 or toks[c.first - 1].text in _QUOTES)
                               and c.cat == NAME and not (c.person or c.org or c.place)),
            math.log1p(c.last - c.first + 1), float(quote_depth[c.first]),
            float(bracket_depth[c.first]),
            float(c.last + 1 < len(toks) and toks[c.last + 1].text == ","),
            float(c.word_number), float(c.year), float(c.continent),
            float(sum(1 for k in outside if c.first - 2 <= k < c.first)),
            float(sum(1 for k in outside if c.last < k <= c.last + 2)),
            float(bool(q.unit) and q.unit in stems[c.last + 1:c.last + 3]),
            float(_appositive(toks, stems, q, c)), proximity / present,
            _past_appositive(toks, outside, c), float(c.first in owner)])
        kept.append(c)
    return kept, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


_DETERMINERS = _set("the a an his her its their our whose")


def _appositive(toks: list[Token], stems: list[str], q: Question, c: Candidate) -> bool:
    """"X, the leader of ...," or "the first president, X": a phrase that opens with a
    determiner, set off by a comma next to the candidate, holds words of the question."""
    n = len(toks)
    after = c.last + 1
    if after + 1 < n and toks[after].text == "," and toks[after + 1].lower in _DETERMINERS:
        end = next((k for k in range(after + 1, min(n, after + 16)) if toks[k].text in ",.;"),
                   min(n, after + 16))
        if any(s in q.stems for s in stems[after + 2:end] if s):
            return True
    before = c.first - 1
    if before > 0 and toks[before].text == ",":
        start = next((k for k in range(before - 1, max(-1, before - 12), -1)
                      if toks[k].text in ",.;" or toks[k].lower in _DETERMINERS), None)
        if start is not None and toks[start].lower in _DETERMINERS:
            return any(s in q.stems for s in stems[start:before] if s)
    return False


def _appositive_owners(toks: list[Token], cands: list[Candidate]) -> dict[int, int]:
    """Token -> first token of the name it describes, for the tokens of phrases set off by
    commas right after a name and opening with a determiner ("X, the leader of Y, said")."""
    owner: dict[int, int] = {}
    n = len(toks)
    for c in cands:
        after = c.last + 1
        if c.cat not in (NAME, COUNTRY_NAME) or after + 1 >= n or toks[after].text != "," \
                or toks[after + 1].lower not in _DETERMINERS:
            continue
        end = next((k for k in range(after + 1, min(n, after + 16)) if toks[k].text in ",.;"),
                   None)
        if end is not None:
            for k in range(after + 1, end):
                owner.setdefault(k, c.first)
    return owner


def _past_appositive(toks: list[Token], matched: list[int], c: Candidate) -> float:
    """1 / (1 + distance) to the question's next word after a phrase set off by commas
    right after the candidate ("Jordan Bardella, the leader of ..., also denounced")."""
    comma = c.last + 1
    if comma >= len(toks) or toks[comma].text != ",":
        return 0.0
    close = next((k for k in range(comma + 1, min(len(toks), comma + 16))
                  if toks[k].text == ","), None)
    if close is None:
        return 0.0
    return max((1.0 / (k - close) for k in matched if k > close), default=0.0)


def _related(stem: str, stems: frozenset[str]) -> bool:
    """The stem is one of `stems`, or one of them is its start or starts with it, both of
    four letters or more ("lead" and "leader")."""
    if stem in stems:
        return True
    return len(stem) >= 4 and any(
        len(s) >= 4 and abs(len(s) - len(stem)) <= 3 and (s.startswith(stem)
                                                         or stem.startswith(s))
        for s in stems)


def _inside(toks: list[Token], marks: frozenset[str]) -> list[bool]:
    """Per token: inside a pair of quotation marks (or brackets)."""
    out = []
    depth = False
    for t in toks:
        if t.text in marks:
            depth = t.text != ")" if marks == frozenset("()") else not depth
        out.append(depth and t.text not in marks)
    return out


#: hand-set weights (the rules alone): of the asked kind, new, close to the question's words
_RULES = {"strong": 1.5, "multiword": 1.0, "in_question": -1.0, "near": 2.0, "window": 1.0,
          "subject": 0.5, "object": 0.5, "position": -0.3, "initial": -1.0, "length": 0.2,
          "bracketed": -0.3, "comma_after": 0.2, "word_number": -0.3, "year": -1.0,
          "continent": -1.0}
RULE_WEIGHTS = {g: {f: _RULES.get(f, 0.0) for f in FEATURES} for g in GROUPS}

MODEL_PATH = Path(__file__).with_name("answer_words_model.json")


@lru_cache(maxsize=1)
def learned_weights() -> dict[str, np.ndarray]:
    """The fitted weights per group (the rules' when the model file is absent)."""
    try:
        data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return weights_array(RULE_WEIGHTS)
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{MODEL_PATH} was fitted for other features; run "
                         "training/fit_answer_words.py --write")
    return {g: np.asarray(data["weights"][g], dtype=np.float64) for g in GROUPS}


def weights_array(weights: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
    return {g: np.array([weights[g][f] for f in FEATURES]) for g in GROUPS}


@lru_cache(maxsize=2048)
def _sentence(sentence: str) -> tuple[list[Token], list[str], list[Candidate]]:
    from index.storage.lexical import _stemmer, _stopwords

    toks = tokens(sentence)
    stop = _stopwords()
    words = [t.lower if t.lower[:1].isalnum() and t.lower not in stop else "" for t in toks]
    stems = [s if w else "" for w, s in zip(words, _stemmer().stemWords(words), strict=True)]
    return toks, stems, candidates(toks)


def answer_span(question: str, sentence: str,
                weights: dict[str, np.ndarray] | None = None) -> tuple[int, int] | None:
    """The span [start, end) of `sentence` (character offsets) holding the words that
    answer `question`, or None when the question's answer is the whole sentence or the
    sentence holds no new expression of the asked kind."""
    q = read_question(question)
    if q is None:
        return None
    toks, stems, cands = _sentence(sentence)
    kept, x = features(q, toks, stems, cands)
    if not kept:
        return None
    w = (weights or learned_weights())[GROUPS[_GROUP[q.kind]]]
    best = kept[int(np.argmax(x @ w))]
    return best.start, best.end


def answers_kind(question: str) -> bool:
    """Whether a few words can answer `question` (a kind is asked, not the whole sentence)."""
    return read_question(question) is not None
