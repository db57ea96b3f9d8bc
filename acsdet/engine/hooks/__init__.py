from .froc_curve_hook import FROCCurveHook

__all__ = ['FROCCurveHook']
from .rng_state_hook import RNGStateHook  # noqa: E402

__all__ += ['RNGStateHook']
from .checkpoint_match_hook import CheckpointMatchHook, CheckpointMismatchError  # noqa: E402

__all__ += ['CheckpointMatchHook', 'CheckpointMismatchError']
from .ct_det_visualization_hook import CTDetVisualizationHook  # noqa: E402

__all__ += ['CTDetVisualizationHook']
