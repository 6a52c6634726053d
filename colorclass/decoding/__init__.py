"""Decoding: per-pixel bin probabilities -> chroma (``rules``: the names and the temperature
rule, torch-free; ``decoders``: the tensor functions)."""
