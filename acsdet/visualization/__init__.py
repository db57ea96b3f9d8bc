"""CT-window visualisation: windows and a ``DetLocalVisualizer`` for CT slices."""
from .ct_det_visualizer import CTDetLocalVisualizer
from .ct_window import CT_WINDOWS, apply_window, window_bounds

__all__ = ['CTDetLocalVisualizer', 'CT_WINDOWS', 'apply_window', 'window_bounds']
