"""colorclass: classification-based image colourisation.

Pipeline: photos -> quantize (fit bins) -> encode targets -> network -> loss -> decode
-> colour image -> metrics / reports. See docs/ARCHITECTURE.md for the module map.
"""

__version__ = "0.1.0"
