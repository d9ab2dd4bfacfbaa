"""The bot's Prometheus metrics, served on 127.0.0.1:`metrics_port` when it is not 0.

Each bot has its own `CollectorRegistry` (not prometheus-client's global one), so several
bots can run in one process (the tests do). Shard processes each serve their own port;
Prometheus sums them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from bot.log import get_logger

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from index import Index

log = get_logger(__name__)

#: Where a question came from.
ENTRY_POINTS = ("slash", "mention", "reply", "prefix", "dm", "channel")

#: Answer latency buckets (seconds): answers take tens of milliseconds, a queue seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters, gauges and the latency histogram of one bot."""

    def __init__(self, gateway_latency: Callable[[], float] | None = None) -> None:
        self.registry = r = CollectorRegistry()
        # what the global registry would carry: process memory, CPU, open files; Python
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(GC_COLLECTOR)
        self.questions = Counter("citebot_questions", "Questions received, by entry point",
                                 ["entry"], registry=r)
        self.answers = Counter("citebot_answers", "Questions answered, by outcome: answer "
                               "(sentences quoted) or refusal (the articles don't say)",
                               ["outcome"], registry=r)
        self.answer_seconds = Histogram("citebot_answer_seconds", "Time to answer a question "
                                        "(waiting for the index thread included)",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("citebot_errors", "Failures while handling a question, command "
                              "or event (details in the log)", ["where"], registry=r)
        self.rate_limited = Counter("citebot_rate_limited", "Questions refused because the "
                                    "user asked too fast", registry=r)
        self.shed = Counter("citebot_answer_channel_shed", "Questions in answer channels "
                            "left unanswered because the channel was over its per-minute cap",
                            registry=r)
        self.index = Info("citebot_index", "The index version being served", registry=r)
        self.articles = Gauge("citebot_index_articles", "Articles in the served index",
                              registry=r)
        self.sentences = Gauge("citebot_index_sentences", "Sentences in the served index",
                               registry=r)
        self.reindex_seconds = Gauge("citebot_last_reindex_seconds", "Duration of the last "
                                     "reindex run by this process", registry=r)
        self.reindex_success = Gauge("citebot_last_reindex_success", "1 if the last reindex "
                                     "run by this process succeeded, 0 if it failed",
                                     registry=r)
        self.reindex_time = Gauge("citebot_last_reindex_timestamp_seconds", "When the last "
                                  "reindex run by this process ended (Unix time)", registry=r)
        self.gateway_latency = Gauge("citebot_gateway_latency_seconds", "Heartbeat round trip "
                                     "to the Discord gateway (NaN before the first one)",
                                     registry=r)
        if gateway_latency is not None:
            self.gateway_latency.set_function(lambda: _finite(gateway_latency()))
        for entry in ENTRY_POINTS:  # present (at 0) from the start, so rates work at once
            self.questions.labels(entry)
        for outcome in ("answer", "refusal"):
            self.answers.labels(outcome)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def index_opened(self, index: Index) -> None:
        self.index.info({"version": index.version})
        self.articles.set(index.article_count)
        self.sentences.set(index.sentence_count)

    def reindexed(self, seconds: float, ok: bool, ended_at: float) -> None:
        self.reindex_seconds.set(seconds)
        self.reindex_success.set(1 if ok else 0)
        self.reindex_time.set(ended_at)

    # -- the endpoint ----------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._server is not None

    def serve(self, port: int) -> None:
        """Serve /metrics on 127.0.0.1:`port` (from a daemon thread)."""
        from prometheus_client import start_http_server

        self._server, self._thread = start_http_server(port, addr="127.0.0.1",
                                                       registry=self.registry)
        log.info("metrics at http://127.0.0.1:%d/metrics", port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.nan
