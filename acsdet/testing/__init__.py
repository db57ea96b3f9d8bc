"""Small generated datasets and helpers for tests, smoke runs and demos."""
from .published_froc import published_froc_sens_at
from .synthetic_coco import make_synthetic_coco

__all__ = ['make_synthetic_coco', 'published_froc_sens_at']
