from .froc_metric import FROCMetric

__all__ = ['FROCMetric']
