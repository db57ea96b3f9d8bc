"""Reading and writing CT files: :func:`read_volume`, the one reader of volumes (NIfTI, DICOM
series, MetaImage / NRRD, ``.npz``, PNG series, single images) for training, evaluation and
inference, giving a :class:`CTVolume`; its geometry steps for inference (:func:`orient_axial`
to the axial ``'LPS'`` convention, :func:`check_geometry`, :func:`check_slice_positions` of a
DICOM series); and DeepLesion's 16-bit HU PNG slices."""
from .deeplesion_png import HU_OFFSET, read_hu_png, slice_path, write_hu_png
from .volume_io import (AXIAL_ORIENTATION, DEFAULT_IMAGE_HU_RANGE, FILE_SUFFIXES, INPUT_TYPES,
                        OBLIQUE_TOLERANCE_DEG, CTVolume, axial_reorientation, check_geometry,
                        check_slice_positions, orient_axial, orient_back, orientation_code,
                        read_volume, slice_plane)

__all__ = [
    'HU_OFFSET', 'read_hu_png', 'slice_path', 'write_hu_png', 'DEFAULT_IMAGE_HU_RANGE',
    'FILE_SUFFIXES', 'INPUT_TYPES', 'CTVolume', 'read_volume', 'AXIAL_ORIENTATION',
    'OBLIQUE_TOLERANCE_DEG', 'axial_reorientation', 'check_geometry', 'check_slice_positions',
    'orient_axial', 'orient_back', 'orientation_code', 'slice_plane'
]
