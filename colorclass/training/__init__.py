"""Training: the colourisation task given to the engine, its losses and the runner behind
``train-classifier``."""
