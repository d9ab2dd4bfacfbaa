"""The bot's own SQLite file: every answer shown (so its buttons work after a restart and
`/stats` counts across restarts), the 👍/👎 feedback on it, kept with the question and the
cited sentences, and the conversations answers belong to (which message showed an answer,
which answer it followed up), so a follow-up is read in its context after a restart too;
the answer channels; and running totals that outlive the questions they count.

What people wrote is deleted on request (`forget_user`), after `retention_days`
(`delete_older_than`) and with the server the bot leaves (`forget_guild`); deleted rows are
overwritten (`secure_delete`) and the write-ahead log emptied, so no copy stays in the file.
docs/PRIVACY.md lists every table."""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index import Answer, Citation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at REAL NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    user_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    confidence REAL NOT NULL,
    citations TEXT NOT NULL,         -- JSON list of Citation.to_json()
    seconds REAL                     -- time taken to answer (NULL in stores made before it)
);
CREATE TABLE IF NOT EXISTS turns (
    answer_id INTEGER PRIMARY KEY REFERENCES answers(id),
    previous_id INTEGER REFERENCES answers(id),  -- the answer this one followed up, or NULL
    message_id INTEGER                           -- the message that showed the answer
);
CREATE INDEX IF NOT EXISTS turns_by_message ON turns(message_id);
CREATE INDEX IF NOT EXISTS answers_by_asker ON answers(user_id, channel_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    user_id INTEGER NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
CREATE INDEX IF NOT EXISTS answers_by_time ON answers(asked_at);
CREATE INDEX IF NOT EXISTS answers_by_guild ON answers(guild_id);
CREATE INDEX IF NOT EXISTS turns_by_previous ON turns(previous_id);
CREATE INDEX IF NOT EXISTS feedback_by_user ON feedback(user_id);
CREATE TABLE IF NOT EXISTS answer_channels (
    channel_id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    style TEXT NOT NULL CHECK (style IN ('thread', 'reply')),
    forum INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS totals (  -- counts only: nobody's data
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredAnswer:
    id: int
    question: str
    guild_id: int | None
    citations: tuple[Citation, ...]
    user_id: int = 0
    channel_id: int | None = None
    asked_at: float = 0.0
    abstained: bool = False
    confidence: float = 0.0

    def as_answer(self) -> Answer:
        """The answer as the core's conversation context takes it (an abstention keeps the
        closest sentence it showed)."""
        if self.abstained:
            return Answer(self.question, (), True, self.confidence,
                          self.citations[0] if self.citations else None)
        return Answer(self.question, self.citations, False, self.confidence)


@dataclass(frozen=True)
class AnswerChannel:
    """A channel (or forum, `forum`) where every question is answered, in a thread or as a
    reply (`style`)."""

    channel_id: int
    guild_id: int
    style: str = "thread"
    forum: bool = False


@dataclass(frozen=True)
class Forgotten:
    """What `forget_user` deleted."""

    questions: int
    votes: int


@dataclass(frozen=True)
class Vote:
    answer_id: int
    user_id: int
    vote: int
    question: str
    citations: tuple[Citation, ...]


class AnswerStore:
    """Synchronous and quick; the bot calls it through `asyncio.to_thread`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
            if "seconds" not in columns:  # a store from an older version
                db.execute("ALTER TABLE answers ADD COLUMN seconds REAL")
            # a store from before the totals: they start at what it holds
            db.execute("INSERT OR IGNORE INTO totals (name, value) SELECT 'answers', COUNT(*)"
                       " FROM answers")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten, not left behind
        return db

    def record_answer(self, answer: Answer, *, user_id: int, guild_id: int | None,
                      channel_id: int | None, seconds: float | None = None,
                      previous_id: int | None = None) -> int:
        """Store an answer shown to a user, and how long it took; returns its id (used in
        button custom ids). `previous_id` is the answer it was read as a follow-up of."""
        shown = answer.citations or ((answer.closest,) if answer.closest else ())
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO answers (asked_at, guild_id, channel_id, user_id, question,"
                " abstained, confidence, citations, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), guild_id, channel_id, user_id, answer.question,
                 int(answer.abstained), answer.confidence,
                 json.dumps([c.to_json() for c in shown]), seconds),
            )
            answer_id = int(cur.lastrowid or 0)
            db.execute("INSERT INTO turns (answer_id, previous_id) VALUES (?, ?)",
                       (answer_id, previous_id))
            db.execute("UPDATE totals SET value = value + 1 WHERE name = 'answers'")
            return answer_id

    def set_message(self, answer_id: int, message_id: int) -> None:
        """Remember the message that showed `answer_id` (replies to it are follow-ups)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO turns (answer_id, message_id) VALUES (?, ?) ON CONFLICT"
                       " (answer_id) DO UPDATE SET message_id = excluded.message_id",
                       (answer_id, message_id))

    def answer_stats(self, recent: int = 1000) -> tuple[int, float | None]:
        """How many answers were ever given (a running total: deleting questions does not
        lower it), and the median time of the last `recent` stored ones (None before the
        first)."""
        with closing(self._connect()) as db:
            count = db.execute("SELECT value FROM totals WHERE name = 'answers'").fetchone()[0]
            times = [row[0] for row in db.execute(
                "SELECT seconds FROM answers WHERE seconds IS NOT NULL ORDER BY id DESC"
                " LIMIT ?", (recent,))]
        return int(count), (statistics.median(times) if times else None)

    def get_answer(self, answer_id: int) -> StoredAnswer | None:
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM answers WHERE id = ?",
                             (answer_id,)).fetchone()
        return None if row is None else _stored(row)

    def answer_shown_in(self, message_id: int) -> StoredAnswer | None:
        """The answer that the message `message_id` showed, if it showed one."""
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM answers WHERE id ="
                             " (SELECT answer_id FROM turns WHERE message_id = ?)",
                             (message_id,)).fetchone()
        return None if row is None else _stored(row)

    def last_answer(self, user_id: int, channel_id: int, since: float = 0.0
                    ) -> StoredAnswer | None:
        """The latest answer given to `user_id` in `channel_id` at or after `since`."""
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM answers WHERE user_id = ? AND"
                             " channel_id = ? AND asked_at >= ? ORDER BY id DESC LIMIT 1",
                             (user_id, channel_id, since)).fetchone()
        return None if row is None else _stored(row)

    def conversation(self, answer_id: int, turns: int = 3) -> list[StoredAnswer]:
        """`answer_id` and the answers it followed up, at most `turns`, oldest first."""
        chain: list[StoredAnswer] = []
        current: int | None = answer_id
        with closing(self._connect()) as db:
            while current is not None and len(chain) < turns:
                row = db.execute(f"SELECT {_COLUMNS} FROM answers WHERE id = ?",
                                 (current,)).fetchone()
                if row is None:
                    break
                chain.append(_stored(row))
                link = db.execute("SELECT previous_id FROM turns WHERE answer_id = ?",
                                  (current,)).fetchone()
                current = link[0] if link and link[0] != current else None
        return chain[::-1]

    def record_vote(self, answer_id: int, user_id: int, vote: int) -> bool:
        """Store (or change) one user's vote on an answer; False if the answer is unknown."""
        with closing(self._connect()) as db, db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote,"
                " voted_at = excluded.voted_at",
                (answer_id, user_id, vote, time.time()),
            )
        return True

    def votes(self) -> list[Vote]:
        """Every vote with its question and cited sentences, oldest first."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT f.answer_id, f.user_id, f.vote, a.question, a.citations"
                " FROM feedback f JOIN answers a ON a.id = f.answer_id ORDER BY f.voted_at"
            ).fetchall()
        return [Vote(r[0], r[1], r[2], r[3], _citations(r[4])) for r in rows]


    # -- people's data ---------------------------------------------------------------------

    def forget_user(self, user_id: int) -> Forgotten:
        """Delete everything stored about `user_id`: their questions with the answers shown
        and the conversation links to them, others' votes on those answers, and their own
        votes."""
        with closing(self._connect()) as db:
            with db:
                votes = db.execute("DELETE FROM feedback WHERE user_id = ?",
                                   (user_id,)).rowcount
                questions, _ = _delete_answers(db, "user_id = ?", (user_id,))
            _empty_log(db)
        return Forgotten(questions, votes)

    def delete_older_than(self, cutoff: float) -> tuple[int, int]:
        """Delete questions asked (with their answers and votes) and votes cast before
        `cutoff` (Unix time); returns (questions, votes) deleted."""
        with closing(self._connect()) as db:
            with db:
                questions, on_them = _delete_answers(db, "asked_at < ?", (cutoff,))
                votes = db.execute("DELETE FROM feedback WHERE voted_at < ?",
                                   (cutoff,)).rowcount
            _empty_log(db)
        return questions, votes + on_them

    def forget_guild(self, guild_id: int) -> tuple[int, int, int]:
        """Delete a server's questions (with their answers and votes) and its answer
        channels; returns (questions, votes, channels) deleted."""
        with closing(self._connect()) as db:
            with db:
                questions, votes = _delete_answers(db, "guild_id = ?", (guild_id,))
                channels = db.execute("DELETE FROM answer_channels WHERE guild_id = ?",
                                      (guild_id,)).rowcount
            _empty_log(db)
        return questions, votes, channels

    # -- answer channels ---------------------------------------------------------------------

    def set_answer_channel(self, channel: AnswerChannel) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO answer_channels (channel_id, guild_id, style, forum)"
                       " VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET"
                       " style = excluded.style, forum = excluded.forum",
                       (channel.channel_id, channel.guild_id, channel.style,
                        int(channel.forum)))

    def remove_answer_channel(self, channel_id: int) -> bool:
        with closing(self._connect()) as db, db:
            return db.execute("DELETE FROM answer_channels WHERE channel_id = ?",
                              (channel_id,)).rowcount > 0

    def answer_channels(self) -> list[AnswerChannel]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT channel_id, guild_id, style, forum FROM answer_channels"
                              " ORDER BY channel_id").fetchall()
        return [AnswerChannel(r[0], r[1], r[2], bool(r[3])) for r in rows]


def _delete_answers(db: sqlite3.Connection, where: str, params: tuple[Any, ...]
                    ) -> tuple[int, int]:
    """Delete the answers matching `where`, the votes on them and their turns (later turns
    that followed them up start afresh); returns (answers, votes) deleted."""
    chosen = f"SELECT id FROM answers WHERE {where}"
    votes = db.execute(f"DELETE FROM feedback WHERE answer_id IN ({chosen})", params).rowcount
    db.execute(f"UPDATE turns SET previous_id = NULL WHERE previous_id IN ({chosen})", params)
    db.execute(f"DELETE FROM turns WHERE answer_id IN ({chosen})", params)
    answers = db.execute(f"DELETE FROM answers WHERE {where}", params).rowcount
    return answers, votes


def _empty_log(db: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the file and empty it: deleted rows live on in the log
    until then."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


_COLUMNS = ("id, question, guild_id, citations, user_id, channel_id, asked_at, abstained,"
            " confidence")


def _stored(row: Any) -> StoredAnswer:
    return StoredAnswer(row[0], row[1], row[2], _citations(row[3]), row[4], row[5], row[6],
                        bool(row[7]), row[8])


def _citations(raw: str) -> tuple[Citation, ...]:
    return tuple(Citation.from_json(item) for item in json.loads(raw))
