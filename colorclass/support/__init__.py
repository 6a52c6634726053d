"""Neutral helpers every layer may use: atomic files, device choice, size limits, errors.

Imports nothing else of colorclass (the training engine uses it too).
"""
