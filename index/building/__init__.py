"""Building: a new index version from the sources (`builder`), and the feed update that
fetches and then builds (`update`). May import storage, models, ingest and the base modules."""
