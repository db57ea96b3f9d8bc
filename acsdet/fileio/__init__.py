"""Reading and writing CT files: :func:`read_volume`, the one reader of volumes (NIfTI, DICOM
series, MetaImage / NRRD, ``.npz``, PNG series, single images) for training, evaluation and
inference, giving a :class:`CTVolume`; and DeepLesion's 16-bit HU PNG slices."""
from .deeplesion_png import HU_OFFSET, read_hu_png, slice_path, write_hu_png
from .volume_io import DEFAULT_IMAGE_HU_RANGE, FILE_SUFFIXES, INPUT_TYPES, CTVolume, read_volume

__all__ = [
    'HU_OFFSET', 'read_hu_png', 'slice_path', 'write_hu_png', 'DEFAULT_IMAGE_HU_RANGE',
    'FILE_SUFFIXES', 'INPUT_TYPES', 'CTVolume', 'read_volume'
]
