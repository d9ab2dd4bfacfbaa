"""Training: the scripts that fit what citebot ships (the answer ranker, the encoder tuning);
`benchmarks/` only measures. See training/README.md."""
