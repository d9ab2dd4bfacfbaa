"""Storage: index versions on disk, the sentence store (SQLite), the vectors (FAISS) and the
lexical postings. May import `index.errors`, `index.types` and `index.settings` only."""
