from .checkpoint_match_hook import CheckpointMatchHook, CheckpointMismatchError
from .ct_det_visualization_hook import CTDetVisualizationHook
from .froc_curve_hook import FROCCurveHook
from .roc_curve_hook import ROCCurveHook
from .rng_state_hook import RNGStateHook
from .seg_visualization_hook import SegVisualizationHook
from .validate_on_resume_hook import ValidateOnResumeHook

__all__ = [
    'FROCCurveHook', 'RNGStateHook', 'CheckpointMatchHook', 'CheckpointMismatchError',
    'CTDetVisualizationHook', 'SegVisualizationHook', 'ValidateOnResumeHook', 'ROCCurveHook'
]
