"""Moved to `index.fetch` (the CLI fetches feeds too); kept so older imports keep working."""

from index.fetch import Fetched, FetchRefused, fetch_article, is_public, with_source_url

__all__ = ["FetchRefused", "Fetched", "fetch_article", "is_public", "with_source_url"]
