from .load_deeplesion_annotations import LoadDeepLesionAnnotations
from .load_multi_slice import LoadDeepLesionSlices
from .pack_multi_slice import PackMultiSliceDetInputs, project_index_points
from .random_shift_scale_rotate import RandomShiftScaleRotate, pixel_to_index_affine

__all__ = [
    'LoadDeepLesionSlices', 'LoadDeepLesionAnnotations', 'RandomShiftScaleRotate',
    'PackMultiSliceDetInputs', 'project_index_points', 'pixel_to_index_affine'
]
from .volume_transforms import (ClipNormalizeVolume, LoadVolumeFromFile,  # noqa: E402
                                PackVolumeInputs, RandomCropVolume, RandomFlipVolume,
                                RandomRot90Volume, ResampleVolume, read_volume)

__all__ += ['LoadVolumeFromFile', 'ClipNormalizeVolume', 'RandomCropVolume',
            'RandomFlipVolume', 'RandomRot90Volume', 'ResampleVolume', 'PackVolumeInputs',
            'read_volume']
from .volume_rotation import RandomRotateVolume, rotate_volume  # noqa: E402

__all__ += ['RandomRotateVolume', 'rotate_volume']
from .nonzero_normalize import NormalizeNonzeroVolume  # noqa: E402

__all__ += ['NormalizeNonzeroVolume']
from .volume_scaling import RandomScaleVolume  # noqa: E402

__all__ += ['RandomScaleVolume']
