"""One module per feature; each has an `async def setup(bot)` that `CiteBot` loads."""
