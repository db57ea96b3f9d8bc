"""Inference helpers used by the segmentors (MONAI's ``inferers``)."""
from .sliding_window import BLEND_MODES, blend_weights, sliding_window_inference, window_starts

__all__ = ['BLEND_MODES', 'sliding_window_inference', 'window_starts', 'blend_weights']
