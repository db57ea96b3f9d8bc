"""Small generated datasets and helpers for tests, smoke runs and demos."""
from .published_froc import published_froc_sens_at
from .synthetic_coco import make_synthetic_coco

__all__ = ['make_synthetic_coco', 'published_froc_sens_at']
from .synthetic_volumes import (make_brats_like, make_lidc_like, make_lits_like,  # noqa: E402
                                make_promise12_like)

__all__ += ['make_lidc_like', 'make_lits_like', 'make_promise12_like', 'make_brats_like']
from .scripts import load_script  # noqa: E402

__all__ += ['load_script']
