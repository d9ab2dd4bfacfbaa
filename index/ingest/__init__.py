"""Ingestion: reading sources (files, pages, feeds) into articles and splitting them into
paragraphs and sentences. May import `index.errors`, `index.types` and `index.settings` only."""
