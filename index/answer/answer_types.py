"""Answer-type evidence: what kind of thing a question asks for, and whether a sentence holds
an expression of that kind.

`question_type` reads the question's wording ("how many" asks for a number, "which
country" for a country or nationality, "why" for a reason ...). `expressions` finds, in a
sentence, the typed expressions an answer could be: numbers and number words, money,
percentages, dates, times and durations, names of people and organisations, places,
countries and demonyms (country names from `pycountry`, demonyms derived from them by
English suffix rules plus a short table of irregular ones), reasons ("because", "due to"),
quoted speech and "said" attributions.

Everything here is plain English wording that holds for any news text; nothing is keyed to
particular questions. Sentence expressions are computed once per sentence and remembered
(`TypeEvidence`), so a question costs only the sentences it has not seen before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

# --- the kinds ------------------------------------------------------------------------------

PERSON, ORG, PLACE, COUNTRY, NUMBER, MONEY, PERCENT, DATE, REASON, YESNO, OTHER = range(11)
QUESTION_TYPES = ("person", "organisation", "place", "country", "number", "money", "percent",
                  "date", "reason", "yesno", "other")

# sentence expression kinds (bits)
E_NUMBER, E_MONEY, E_PERCENT, E_DATE, E_DURATION, E_PERSON, E_ORG, E_PLACE, E_COUNTRY, \
    E_REASON, E_QUOTE, E_PROPER = (1 << i for i in range(12))

#: which sentence expressions answer each question type
ANSWERED_BY = {
    PERSON: E_PERSON,
    ORG: E_ORG | E_PROPER,
    PLACE: E_PLACE | E_COUNTRY,
    COUNTRY: E_COUNTRY,
    NUMBER: E_NUMBER | E_MONEY | E_PERCENT,
    MONEY: E_MONEY,
    PERCENT: E_PERCENT,
    DATE: E_DATE | E_DURATION,
    REASON: E_REASON,
    YESNO: 0,
    OTHER: 0,
}

# --- the question ---------------------------------------------------------------------------

_ORG_NOUNS = (r"compan(?:y|ies)|organi[sz]ations?|groups?|teams?|agenc(?:y|ies)|universit(?:y|ies)"
              r"|colleges?|part(?:y|ies)|firms?|newspapers?|networks?|clubs?|bands?|banks?"
              r"|institutions?|businesses|business|corporations?|brands?|airlines?|schools?"
              r"|departments?|ministr(?:y|ies)|committees?|councils?|courts?|publications?"
              r"|magazines?|channels?|studios?|labels?|manufacturers?|retailers?|chains?"
              r"|charit(?:y|ies)|foundations?|unions?|leagues?|government")
_PLACE_NOUNS = (r"city|cities|towns?|states?|places?|locations?|regions?|neighbou?rhoods?"
                r"|streets?|areas?|provinces?|count(?:y|ies)|continents?|villages?|islands?"
                r"|borough|district|venues?|stadium|airport|capital|island|park|building"
                r"|river|mountain|ocean|sea|lake|site")
_COUNTRY_NOUNS = r"country|countries|nations?|nationality|nationalities|ethnicity"
_PERSON_NOUNS = (r"person|people|man|men|woman|women|players?|actors?|actress|singers?"
                 r"|artists?|writers?|authors?|officials?|leaders?|members?|president"
                 r"|director|coach|candidate|senator|judge|scientists?|individual|politician"
                 r"|executive|spokes(?:man|woman|person)|governor|mayor|king|queen|emperor"
                 r"|ruler|architect|composer|musician|chef|designer|founder|owner|reporter"
                 r"|journalist|photographer|athlete|manager|minister|general|doctor")
_DATE_NOUNS = (r"year|years|date|day|days|month|months|time|decade|century|period|era|season"
               r"|age|week|hour|morning|night|evening|afternoon|weekday")
_WH = r"(?:what|which)(?:\s+\w+)?\s+(?:{})\b"


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_Q_RULES: list[tuple[re.Pattern[str], int]] = [
    (_c(r"\b(?:what|which)\s+(?:percent(?:age)?|share|proportion|fraction|rate)\b"
        r"|\bhow\s+much\s+of\b|\bpercent(?:age)?\s+of\b"), PERCENT),
    (_c(r"\bhow\s+much\b[^?]*\b(?:cost|pay|paid|spen[dt]|worth|price|money|earn|earned|fund"
        r"|raise|raised|charge|charged|sell|sold|budget|salary|fine|fined|dollars?|owe|lose"
        r"|lost|invest|invested|revenue|profit|bid|offer|offered)"
        r"|\b(?:what|which)\s+(?:was|is|were|are)?\s*(?:the\s+)?(?:price|cost|amount|salary"
        r"|budget|fee|fine|revenue|value)\b"), MONEY),
    (_c(r"\bhow\s+(?:many|much|old|big|large|tall|far|high|long\s+(?:is|was|are|were)\s+the"
        r"|fast|deep|heavy|often)\b|\b(?:what|which)\s+(?:number|amount|quantity|age|size"
        r"|rank|score|total|sum)\b"), NUMBER),
    (_c(r"\bwhen\b|\bhow\s+long\b|\bhow\s+soon\b|" + _WH.format(_DATE_NOUNS)
        + r"|\bsince\s+when\b"), DATE),
    (_c(r"\bwhy\b|\b(?:what|which)\s+(?:\w+\s+)?(?:reasons?|causes?|caused|led|motivated"
        r"|prompted)\b|\bhow\s+come\b|\bfor\s+what\s+purpose\b"), REASON),
    (_c(_WH.format(_COUNTRY_NOUNS) + r"|\bwhere\b[^?]*\bfrom\b"), COUNTRY),
    (_c(r"\bwhere\b|" + _WH.format(_PLACE_NOUNS)), PLACE),
    (_c(_WH.format(_ORG_NOUNS)), ORG),
    (_c(r"\bwho(?:m|se)?\b|" + _WH.format(_PERSON_NOUNS)), PERSON),
]
_YESNO = _c(r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had"
            r"|may|might|must)\b")


_FIRST_WH = _c(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b")


@lru_cache(maxsize=4096)
def question_type(question: str) -> int:
    """The kind of answer `question` asks for (an index into QUESTION_TYPES).

    The question's first wh-word decides ("In what city was ..." asks for a place; "What
    happens when ..." asks for no particular kind); a question without one that opens
    with an auxiliary verb is yes/no.
    """
    first = _FIRST_WH.search(question)
    if first is None:
        return YESNO if _YESNO.search(question) else OTHER
    for pattern, kind in _Q_RULES:
        m = pattern.search(question, first.start())
        if m is not None and m.start() == first.start():
            return kind
    return OTHER


# --- sentence expressions -------------------------------------------------------------------

def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NUMBER_WORDS = _set("one two three four five six seven eight nine ten eleven twelve thirteen "
                     "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty "
                     "forty fifty sixty seventy eighty ninety hundred hundreds thousand "
                     "thousands million millions billion billions trillion trillions dozen "
                     "dozens half twice double triple first second third fourth fifth sixth "
                     "seventh eighth ninth tenth single couple several")
_SCALE = _set("million millions billion billions trillion thousand hundred bn m k")
_CURRENCY_SIGNS = _set("$ £ € ¥")
_CURRENCY_WORDS = _set("dollar dollars euro euros pound pounds yen yuan rupees rupee francs "
                       "pesos rubles roubles cents bucks")
_PERCENT_WORDS = _set("percent percentage %")
_MONTHS = _set("january february march april may june july august september october november "
               "december jan. feb. aug. sept. sep. oct. nov. dec.")
_DATE_WORDS = _set("monday tuesday wednesday thursday friday saturday sunday yesterday today "
                   "tomorrow tonight noon midnight ago a.m. p.m. century centuries decade "
                   "decades spring summer fall autumn winter weekend")
_TIME_UNITS = _set("second seconds minute minutes hour hours day days week weeks month months "
                   "year years decade decades century centuries")
_DURATION_LEAD = _set("a an several few many") | _NUMBER_WORDS
_REASON_WORDS = _set("because due owing result order reason reasons since thanks caused "
                     "blamed attributed aimed intended meant why so prompted led")
_QUOTE_WORDS = _set("said says say told according added asked explained wrote argued noted "
                    "recalled")
_QUOTE_MARKS = frozenset({'"', "“", "”"})
_HONORIFICS = _set("mr mr. mrs mrs. ms ms. dr dr. gov gov. sen sen. rep rep. gen gen. col. "
                   "lt. sgt. capt. prof. rev. president senator governor mayor judge justice "
                   "pope king queen prince princess minister chancellor secretary coach "
                   "officer detective sir dame lord lady")
_ORG_WORDS = _set("inc inc. corp corp. co. ltd ltd. llc company corporation university "
                  "college institute association party department ministry council committee "
                  "commission bank group agency foundation federation league club union "
                  "society times post journal news network airline airlines motors records "
                  "studio studios church school hospital court congress parliament senate "
                  "army navy police board fund center centre museum orchestra team service "
                  "services systems technologies entertainment industries holdings partners "
                  "administration")
_ORG_NOUNS_LOWER = _set("company firm agency group organization organisation government")
_PLACE_PREPS = _set("in at from near across outside inside into throughout toward towards to")
_PLACE_WORDS = _set("city county street avenue road river island islands mountain mountains "
                    "lake valley bay beach park square bridge station airport stadium "
                    "province state region coast sea ocean peninsula heights village borough "
                    "hall arena")
_TOKEN = re.compile(r"[$£€¥%\"“”]|\d[\d,.:]*%?|[A-Za-z][A-Za-z'’.-]*")


#: demonyms that English suffix rules do not produce
_IRREGULAR_DEMONYMS = {
    "Afghanistan": "Afghan", "China": "Chinese", "Cyprus": "Cypriot", "Denmark": "Danish Dane",
    "Finland": "Finnish Finn", "France": "French Frenchman Frenchwoman",
    "Germany": "German", "Greece": "Greek", "Iceland": "Icelandic Icelander",
    "Ireland": "Irish Irishman", "Israel": "Israeli", "Japan": "Japanese",
    "Netherlands": "Dutch Dutchman", "New Zealand": "Kiwi Zealander", "Norway": "Norwegian",
    "Philippines": "Filipino Filipina Philippine", "Poland": "Polish Pole",
    "Portugal": "Portuguese", "Spain": "Spanish Spaniard", "Sweden": "Swedish Swede",
    "Switzerland": "Swiss", "Thailand": "Thai", "Turkey": "Turkish Turk",
    "United Kingdom": "British Briton Britain English Scottish Welsh England Scotland Wales",
    "United States": "American America U.S. US U.S.A. USA", "Vietnam": "Vietnamese",
    "Viet Nam": "Vietnamese", "Korea": "Korean", "Russian Federation": "Russian Russia",
    "Iran, Islamic Republic of": "Iranian Iran Persian", "Syrian Arab Republic": "Syrian Syria",
    "Myanmar": "Burmese Burma", "Lebanon": "Lebanese", "Sudan": "Sudanese",
    "Senegal": "Senegalese", "Nepal": "Nepali Nepalese", "Bangladesh": "Bangladeshi",
    "Pakistan": "Pakistani", "Uzbekistan": "Uzbek", "Kazakhstan": "Kazakh",
    "Kyrgyzstan": "Kyrgyz", "Tajikistan": "Tajik", "Turkmenistan": "Turkmen",
    "Yemen": "Yemeni", "Iraq": "Iraqi", "Kuwait": "Kuwaiti", "Qatar": "Qatari",
    "Saudi Arabia": "Saudi", "Oman": "Omani", "Bahrain": "Bahraini", "Somalia": "Somali",
    "Taiwan, Province of China": "Taiwanese Taiwan", "Congo": "Congolese",
    "Ghana": "Ghanaian", "Peru": "Peruvian", "Argentina": "Argentine Argentinian",
    "Czechia": "Czech", "Slovakia": "Slovak", "Croatia": "Croat Croatian",
    "Serbia": "Serb Serbian", "Bosnia and Herzegovina": "Bosnian", "Madagascar": "Malagasy",
    "Holy See (Vatican City State)": "Vatican", "Palestine, State of": "Palestinian Palestine",
    "Korea, Republic of": "Korean South Korea", "Wales": "Welsh",
    "Korea, Democratic People's Republic of": "Korean North Korea",
    "Venezuela, Bolivarian Republic of": "Venezuelan Venezuela",
    "Bolivia, Plurinational State of": "Bolivian Bolivia", "Malta": "Maltese",
    "Tanzania, United Republic of": "Tanzanian Tanzania", "Lao People's Democratic Republic":
    "Laotian Lao Laos", "Moldova, Republic of": "Moldovan Moldova", "Monaco": "Monegasque",
    "Guinea": "Guinean", "Togo": "Togolese", "Gabon": "Gabonese", "Bhutan": "Bhutanese",
    "Cabo Verde": "Cape Verdean", "Côte d'Ivoire": "Ivorian Ivory Coast",
}


def _demonym_guesses(name: str) -> set[str]:
    """English demonyms of a country name by suffix rules (extra guesses never match)."""
    out = set()
    if name.endswith("ia"):
        out.add(name + "n")
    elif name.endswith("a"):
        out |= {name + "n", name[:-1] + "an", name[:-1] + "ian"}
    elif name.endswith(("o", "e")):
        out |= {name[:-1] + "an", name + "an", name[:-1] + "ian"}
    elif name.endswith("y"):
        out |= {name[:-1] + "ian", name[:-1] + "ish"}
    elif name.endswith("stan"):
        out.add(name[:-4] + "i")
    elif name.endswith("land"):
        out |= {name[:-4] + "ish", name + "er"}
    else:
        out |= {name + "ian", name + "i", name + "ese", name + "an"}
    return out


@lru_cache(maxsize=1)
def country_words() -> frozenset[str]:
    """Lower-cased country names, their common short forms, and demonyms."""
    import pycountry

    words: set[str] = set()
    for c in pycountry.countries:
        names = {c.name, getattr(c, "common_name", c.name), getattr(c, "official_name", c.name)}
        for name in names:
            words.add(name)
            short = name.split(",")[0].strip()
            words.add(short)
            for w in (name, short):
                words |= _demonym_guesses(w)
        for key in names:
            words.update(_IRREGULAR_DEMONYMS.get(key, "").split())
    for name, extra in _IRREGULAR_DEMONYMS.items():
        words.add(name)
        words.update(extra.split())
    words |= {"Europe", "European", "Africa", "African", "Asia", "Asian", "Latin American",
              "Arab", "Arabs", "Kurdish", "Kurd", "Kurds", "Uighur", "Hispanic", "Brit",
              "Soviet", "Soviet Union", "Scot", "Scots", "Catalan", "Basque", "Flemish"}
    return frozenset(w.lower() for w in words if w)


@lru_cache(maxsize=1)
def place_words() -> frozenset[str]:
    """Lower-cased names of countries' subdivisions (states, provinces, regions)."""
    import pycountry

    return frozenset(s.name.lower() for s in pycountry.subdivisions)


@lru_cache(maxsize=1)
def _not_names() -> frozenset[str]:
    from index.storage.lexical import _stopwords

    return _stopwords() | _MONTHS | _DATE_WORDS | {"i"}


def expressions(text: str) -> dict[int, tuple[str, ...]]:
    """The typed expressions in a sentence: {kind bit: lower-cased matched strings}.

    One pass over its tokens with set look-ups (about 20 µs a sentence)."""
    tokens = _TOKEN.findall(text)
    lower = [t.lower().rstrip(".,") if not t.endswith(("a.m.", "p.m.")) else t.lower()
             for t in tokens]
    lower = [w[:-2] if w.endswith(("’s", "'s")) else w for w in lower]
    n = len(tokens)
    found: dict[int, list[str]] = {}

    def add(bit: int, value: str) -> None:
        found.setdefault(bit, []).append(value)

    countries = country_words()
    subdivisions = place_words()
    not_names = _not_names()
    cap = [t[:1].isupper() and lower[i] not in not_names for i, t in enumerate(tokens)]
    for i, t in enumerate(tokens):
        w = lower[i]
        prev = lower[i - 1] if i else ""
        nxt = lower[i + 1] if i + 1 < n else ""
        digit = t[:1].isdigit()
        if digit or w in _NUMBER_WORDS:
            add(E_NUMBER, w)
            if digit and len(w) == 4 and w[:2] in {"15", "16", "17", "18", "19", "20"} \
                    and w.isdigit():
                add(E_DATE, w)
            if t.endswith("%") or nxt in _PERCENT_WORDS or (nxt == "per" and i + 2 < n
                                                            and lower[i + 2] == "cent"):
                add(E_PERCENT, w)
            if prev in _CURRENCY_SIGNS or nxt in _CURRENCY_WORDS or (
                    nxt in _SCALE and i + 2 < n and lower[i + 2] in _CURRENCY_WORDS):
                add(E_MONEY, w)
            if nxt in _TIME_UNITS or (nxt in _SCALE and i + 2 < n
                                      and lower[i + 2] in _TIME_UNITS):
                add(E_DURATION, f"{w} {nxt}")
            if nxt in {"a.m.", "p.m.", "am", "pm"}:
                add(E_DATE, w)
        elif w in _TIME_UNITS and prev in _DURATION_LEAD:
            add(E_DURATION, f"{prev} {w}")
        if w in _MONTHS and t[:1].isupper() or w in _DATE_WORDS:
            add(E_DATE, w)
        if w in _REASON_WORDS:
            add(E_REASON, w)
        if w in _QUOTE_WORDS or t in _QUOTE_MARKS:
            add(E_QUOTE, w)
        if w in _ORG_NOUNS_LOWER and not t[:1].isupper():
            add(E_ORG, w)
        if not cap[i]:
            continue
        if i > 0:
            add(E_PROPER, w)
        two = f"{w} {nxt}" if nxt else ""
        if two in countries or w in countries:
            add(E_COUNTRY, two if two in countries else w)
            add(E_PLACE, two if two in countries else w)
        elif w in subdivisions or two in subdivisions:
            add(E_PLACE, w)
        if prev in _PLACE_PREPS and w not in _ORG_WORDS:
            add(E_PLACE, w)
        if w in _PLACE_WORDS and i and cap[i - 1]:
            add(E_PLACE, lower[i - 1])
        if prev in _HONORIFICS:
            add(E_PERSON, w)
        elif w in _ORG_WORDS and i and cap[i - 1]:
            add(E_ORG, lower[i - 1])
        elif len(t) > 1 and t.replace(".", "").replace("&", "").isupper() and len(w) > 1:
            add(E_ORG, w)
        elif i + 1 < n and cap[i + 1] and nxt not in _ORG_WORDS and nxt not in _PLACE_WORDS \
                and w not in countries and nxt not in countries:
            add(E_PERSON, f"{w} {nxt}")
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}


def _novel(strings: tuple[str, ...], question: str) -> bool:
    """Whether any expression is not already in the question (an answer adds something)."""
    for s in strings:
        core = s.strip(" .,\"“”'")
        if core and core not in question:
            return True
    return False


class TypeEvidence:
    """Typed expressions of the sentences of one index version, computed on first use."""

    def __init__(self, text_of: Callable[[int], str], rows: int) -> None:
        self.text_of = text_of
        self._memo: list[dict[int, tuple[str, ...]] | None] = [None] * rows

    def of(self, row: int) -> dict[int, tuple[str, ...]]:
        found = self._memo[row]
        if found is None:
            found = expressions(self.text_of(row))
            self._memo[row] = found
        return found

    def matches(self, rows: np.ndarray, kind: int, question: str) -> np.ndarray:
        """Per row: 1.0 when it holds an expression of the kind `kind` asks for that the
        question does not already contain; 0.0 otherwise (and for untyped questions)."""
        bits = ANSWERED_BY[kind]
        out = np.zeros(len(rows), dtype=np.float32)
        if not bits:
            return out
        q = question.lower()
        for i, row in enumerate(rows):
            found = self.of(int(row))
            for bit, strings in found.items():
                if bit & bits and _novel(strings, q):
                    out[i] = 1.0
                    break
        return out

    def has(self, rows: np.ndarray, bit: int, question: str) -> np.ndarray:
        """Per row: 1.0 when it holds a new (not in the question) expression of kind `bit`."""
        out = np.zeros(len(rows), dtype=np.float32)
        q = question.lower()
        for i, row in enumerate(rows):
            strings = self.of(int(row)).get(bit)
            if strings and _novel(strings, q):
                out[i] = 1.0
        return out
