from .load_deeplesion_annotations import LoadDeepLesionAnnotations
from .load_multi_slice import LoadDeepLesionSlices
from .nonzero_normalize import NormalizeNonzeroVolume
from .pack_multi_slice import PackMultiSliceDetInputs, project_index_points
from .random_shift_scale_rotate import RandomShiftScaleRotate, pixel_to_index_affine
from .slice_interpolation import SliceBlendPlan, blend_slices, slice_blend_plan
from .volume_rotation import RandomRotateVolume, rotate_volume
from .volume_scaling import RandomScaleVolume
from .volume_transforms import (CenterCropVolume, ClipNormalizeVolume, LoadVolumeFromFile,
                                PackVolumeInputs,
                                RandomCropVolume, RandomFlipVolume, RandomRot90Volume,
                                ResampleVolume)

__all__ = [
    'LoadDeepLesionSlices', 'LoadDeepLesionAnnotations', 'RandomShiftScaleRotate',
    'PackMultiSliceDetInputs', 'project_index_points', 'pixel_to_index_affine',
    'SliceBlendPlan', 'slice_blend_plan', 'blend_slices', 'LoadVolumeFromFile',
    'ClipNormalizeVolume', 'RandomCropVolume', 'RandomFlipVolume', 'RandomRot90Volume',
    'ResampleVolume', 'PackVolumeInputs', 'RandomRotateVolume', 'rotate_volume',
    'NormalizeNonzeroVolume', 'RandomScaleVolume', 'CenterCropVolume'
]
