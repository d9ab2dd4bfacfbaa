"""Models: the sentence encoder (ONNX Runtime, or torch to export it) and its tuning.
May import `index.errors`, `index.types` and `index.settings` only."""
