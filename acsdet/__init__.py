"""acsdet: ACS convolutions and 3D-context lesion detection in CT on MMDetection 3."""
from .version import __version__

__all__ = ['__version__']
