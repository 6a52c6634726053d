"""hints: user colour points -- the hints file, training-time simulation, Levin's optimisation
baseline and colour suggestions.

Pipeline: photo + hints.json -> **hints** (points -> planes) -> network input [L, a/110, b/110, mask]
-> decode -> colour image; and network probabilities at a pixel -> **suggest** -> swatches.

Modules (import the one you need; this package imports nothing, so it stays cheap and torch-free):

* ``points``   -- the hints file format (parse, check, write) and ``hint_planes``, the one
  normalisation of the network's hint input. Torch-free.
* ``simulate`` -- training-time user simulation (Zhang et al. 2017) on torch batches, and fixed-seed
  points for evaluation. Imports torch.
* ``levin``    -- Levin, Lischinski and Weiss 2004 "Colorization using Optimization" (sparse solve).
  Torch-free.
* ``suggest``  -- the k most likely distinct colours at a pixel and a swatch PNG. Torch-free.
* ``srgb``     -- torch-free NumPy twin of ``colorclass.color`` for single colours.
"""
