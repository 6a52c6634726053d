"""``python -m colorclass``: same as the ``colorclass`` command."""
import sys

from colorclass.cli import main

sys.exit(main())
