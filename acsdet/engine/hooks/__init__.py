from .froc_curve_hook import FROCCurveHook

__all__ = ['FROCCurveHook']
