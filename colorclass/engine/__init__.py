"""The generic training engine (see trainer.py); filled in by the engine move."""
