"""Small generated datasets and helpers for tests, smoke runs and demos."""
from .synthetic_coco import make_synthetic_coco

__all__ = ['make_synthetic_coco']
