"""Decoding: per-pixel bin probabilities -> chroma (``rules``: the names and the temperature
rule, torch-free; ``decoders``: the tensor functions; ``ColourBins``: what they read of the bins,
a torch-free ``typing.Protocol``)."""
from colorclass.decoding.bins_protocol import ColourBins

__all__ = ["ColourBins"]
