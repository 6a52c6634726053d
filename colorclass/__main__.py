"""``python -m colorclass``: same as the ``colorclass`` command."""
import sys

from .cli import main

sys.exit(main())
