from .deeplesion_coco import convert_deeplesion
from .deeplesion_dataset import DeepLesionDataset
from .deeplesion_demo import make_demo_deeplesion, prepare_demo_deeplesion
from .deeplesion_demo_dataset import DeepLesionDemoDataset
from .deeplesion_info import DLInfoError, DLInfoRecord, read_dl_info
from .recist_grabcut import recist_ellipse_mask, recist_grabcut_mask
from .slice_interpolation import blend_slices, slice_blend_plan
from .transforms import *  # noqa: F401,F403

__all__ = [
    'DeepLesionDataset', 'DeepLesionDemoDataset', 'convert_deeplesion', 'make_demo_deeplesion',
    'prepare_demo_deeplesion', 'DLInfoError', 'DLInfoRecord', 'read_dl_info',
    'recist_grabcut_mask', 'recist_ellipse_mask', 'slice_blend_plan', 'blend_slices'
]
from .poc_shapes import (POC_CLASSES, generate_poc_shapes, load_poc_sample,  # noqa: E402
                         make_poc_sample, poc_sample_rng)

__all__ += ['POC_CLASSES', 'generate_poc_shapes', 'load_poc_sample', 'make_poc_sample',
            'poc_sample_rng']
from .volume_dataset import VolumeDataset  # noqa: E402

__all__ += ['VolumeDataset']
