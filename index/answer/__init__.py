"""Answering: an opened index (`engine.Index`), how an answer is chosen (`rank`), answer
types and follow-ups. May import storage, models, ingest and the base modules, not building."""
