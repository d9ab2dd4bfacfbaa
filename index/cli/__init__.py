"""The front ends: the `citebot-index` commands (`main`), the feed commands and the evaluation
harness. May import every room of `index`; nothing in `index` imports it."""
