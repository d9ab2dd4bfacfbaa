"""Errors a user can cause; callers show `str(exc)` as it is."""


class IndexError_(Exception):
    """Base class: the message names the file involved and what to run."""


class IndexNotFound(IndexError_):
    """No index has been built yet in the data directory."""


class IndexDamaged(IndexError_):
    """An index file is missing or corrupt."""


class BuildInProgress(IndexError_):
    """Another build holds the lock."""


class ArticleRejected(IndexError_):
    """An article offered to `add_article` cannot be used (empty, binary, too large...)."""


class NothingToIndex(IndexError_):
    """A build found no usable article in its sources; nothing was changed."""


class DateNotUnderstood(IndexError_):
    """A `since`/`until` date that cannot be read ("since: blorp")."""


class IndexUnreachable(IndexError_):
    """The index's server (Milvus) does not answer: the asker is told to try again shortly,
    and the next question tries again."""

    MESSAGE = "the index is unreachable, try again shortly"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)
