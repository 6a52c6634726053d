"""Evaluation: metrics (shared with training-time validation), baselines, evaluate,
calibrate and picture grids."""
