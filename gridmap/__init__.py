"""GridMap: the planning desk for grid-based social governance (网格化社会治理).

The library (everything outside :mod:`gridmap.app`) imports without Qt.
"""

from gridmap.errors import GridMapError

__all__ = ["GridMapError", "__version__"]
__version__ = "0.1.0"
