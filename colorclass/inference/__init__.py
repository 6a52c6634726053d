"""Inference: the one way from a photo to colour (``network``: the tensor steps), and
colourising files (``colorize_files``)."""
