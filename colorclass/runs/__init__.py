"""Run folders: the experiment config (``experiment``), a trained run loaded for inference and
its records (``loading``). Import the submodule you need: ``experiment`` is torch-free."""
