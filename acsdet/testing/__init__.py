"""Small generated datasets and helpers for tests, smoke runs and demos."""
from .pretrained import with_2d_weights
from .published_froc import published_froc_sens_at
from .scripts import load_script
from .synthetic_coco import make_synthetic_coco
from .synthetic_volumes import make_brats_like, make_lidc_like, make_lits_like, make_promise12_like

__all__ = [
    'make_synthetic_coco', 'published_froc_sens_at', 'make_lidc_like', 'make_lits_like',
    'make_promise12_like', 'make_brats_like', 'load_script', 'with_2d_weights'
]
