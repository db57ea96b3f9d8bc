"""Read a user's CT into Hounsfield units with its voxel spacing and patient frame.

Accepted inputs (``input_type``):

- ``'nifti'``: a ``.nii`` / ``.nii.gz`` file (read with SimpleITK).  Values are taken as HU.
- ``'dicom'``: a folder holding one DICOM series (SimpleITK / GDCM; the series is sorted by
  ``ImagePositionPatient`` and RescaleSlope/Intercept are applied).  ``Modality`` must be CT.
- ``'png_series'``: a DeepLesion-style folder of 16-bit PNGs named ``<index:03d>.png``
  (HU = value - 32768).  PNGs carry no spacing: pass ``pixel_spacing`` and ``slice_interval``.
- ``'image'``: one picture.  A 16-bit single-channel PNG is read as DeepLesion HU; an 8-bit
  greyscale picture (or 3 identical channels) is mapped linearly from [0, 255] onto
  ``image_hu_range`` (default [-1024, 3071], the mapping of the real key slices in
  ``../shared/data/deeplesion_keyslices``).  8-bit pictures are accepted **only** when
  ``input_type='image'`` is given explicitly, since their HU are an assumption.

``'auto'`` picks the type from the path (``.nii``/``.nii.gz`` -> nifti, a folder with
``NNN.png`` files -> png_series, any other folder -> dicom, ``.png`` -> image if 16-bit).

Non-CT rules (each a one-line ``ValueError`` naming the file): DICOM ``Modality`` other than
CT; a colour picture (channels differ); an 8-bit picture without ``input_type='image'``;
a zero, negative or non-finite spacing; NIfTI/DICOM values that do not look like HU (no
voxel below -500 HU, i.e. no air: MR and already-normalised volumes fail this; turn it off
with ``check_hu=False`` for a tight crop inside the body).

The volume is kept in SimpleITK's frame: array axes (z, y, x) = (slice, row, column); voxel
``(x, y, z)`` (column, row, slice; ITK continuous index, integer = voxel centre) sits at the
patient point ``origin + direction @ (spacing * index)`` (ITK / DICOM LPS millimetres).
"""
import glob
import io
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['CTVolume', 'read_volume', 'INPUT_TYPES', 'DEFAULT_IMAGE_HU_RANGE']

INPUT_TYPES = ('auto', 'nifti', 'dicom', 'png_series', 'image')
#: 8-bit pictures: 0 -> -1024 HU, 255 -> 3071 HU (the shared real key slices' mapping).
DEFAULT_IMAGE_HU_RANGE = (-1024.0, 3071.0)
_PNG_SLICE = re.compile(r'^(\d+)\.png$')


@dataclass
class CTVolume:
    """A CT volume in HU with its geometry.

    Attributes:
        hu (np.ndarray): (D, H, W) float32 Hounsfield units (slice, row, column).
        spacing (tuple[float, float, float]): (sx, sy, sz) mm: column, row, slice spacing.
        origin (tuple[float, float, float]): Patient position (mm) of voxel (0, 0, 0).
        direction (np.ndarray): (3, 3) direction cosines (columns = x, y, z index axes).
        path (str): The file or folder read.
        input_type (str): One of ``nifti``, ``dicom``, ``png_series``, ``image``.
        slice_numbers (list[int]): Number of each slice in the source (file index for a PNG
            series, 0..D-1 otherwise).
    """
    hu: np.ndarray
    spacing: Tuple[float, float, float]
    origin: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    path: str = ''
    input_type: str = ''
    slice_numbers: list = field(default_factory=list)

    def index_to_physical(self, index) -> np.ndarray:
        """ITK continuous index(es) (x, y, z) -> patient mm, same as SimpleITK's
        ``TransformContinuousIndexToPhysicalPoint``.

        Args:
            index (array-like): (..., 3) column, row, slice (integer = voxel centre).

        Returns:
            np.ndarray: (..., 3) float64 patient coordinates in mm.
        """
        idx = np.asarray(index, np.float64) * np.asarray(self.spacing, np.float64)
        return idx @ np.asarray(self.direction, np.float64).T + np.asarray(self.origin)

    def physical_to_index(self, point) -> np.ndarray:
        """Inverse of :meth:`index_to_physical`: (..., 3) mm -> (..., 3) continuous index."""
        rel = np.asarray(point, np.float64) - np.asarray(self.origin)
        idx = rel @ np.linalg.inv(np.asarray(self.direction, np.float64)).T
        return idx / np.asarray(self.spacing, np.float64)


def _check_spacing(path: str, spacing: Sequence[float]) -> Tuple[float, float, float]:
    sp = tuple(float(s) for s in spacing)
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f'{path}: voxel spacing {sp} is missing, zero or negative '
                         '(a CT needs positive spacing in mm)')
    return sp


def _check_hu(path: str, hu: np.ndarray) -> None:
    low, high = float(hu.min()), float(hu.max())
    if low > -500:
        raise ValueError(f'{path}: values span [{low:g}, {high:g}], which does not look like CT '
                         'in HU (no air below -500 HU); pass check_hu=False (--no-hu-check) '
                         'for a crop without air')


def _from_sitk(image, path: str, input_type: str, check_hu: bool) -> CTVolume:
    import SimpleITK as sitk
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f'{path}: expected a 3D single-channel CT volume, got dimension '
                         f'{image.GetDimension()} with {image.GetNumberOfComponentsPerPixel()} '
                         'components per voxel')
    spacing = _check_spacing(path, image.GetSpacing())
    hu = sitk.GetArrayFromImage(image).astype(np.float32)  # (z, y, x)
    if not np.isfinite(hu).all():
        raise ValueError(f'{path}: volume holds NaN or infinite values')
    if check_hu:
        _check_hu(path, hu)
    return CTVolume(hu=hu, spacing=spacing, origin=tuple(image.GetOrigin()),
                    direction=np.asarray(image.GetDirection(), np.float64).reshape(3, 3),
                    path=path, input_type=input_type, slice_numbers=list(range(hu.shape[0])))


def _read_nifti(path: str, check_hu: bool) -> CTVolume:
    import nibabel as nib
    import SimpleITK as sitk
    # nibabel and SimpleITK both silently turn a zero pixdim into 1 mm (a log line only), so
    # read the raw header without nibabel's fixes and check it first.
    from nibabel.openers import ImageOpener
    try:
        with ImageOpener(path) as f:
            raw = f.read(540)
        nifti2 = 540 in (int.from_bytes(raw[:4], 'little'), int.from_bytes(raw[:4], 'big'))
        header_cls = nib.Nifti2Header if nifti2 else nib.Nifti1Header
        hdr = header_cls.from_fileobj(io.BytesIO(raw), check=False)
        zooms = tuple(float(z) for z in hdr['pixdim'][1:4])
        ndim = int(hdr['dim'][0])
    except Exception as err:  # nibabel raises several types for a damaged file
        msg = str(err).splitlines()[0] if str(err) else ''
        raise ValueError(f'{path}: not a readable NIfTI file ({type(err).__name__}: {msg})'
                         ) from None
    if ndim < 3:
        raise ValueError(f'{path}: expected a 3D volume, got {ndim}D')
    _check_spacing(path, zooms)
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as err:
        raise ValueError(f'{path}: not a readable NIfTI file '
                         f'({str(err).strip().splitlines()[-1]})') from None
    return _from_sitk(image, path, 'nifti', check_hu)


def _read_dicom(folder: str, check_hu: bool) -> CTVolume:
    import SimpleITK as sitk
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(folder)
    if not series:
        raise ValueError(f'{folder}: no DICOM series found in the folder')
    if len(series) > 1:
        raise ValueError(f'{folder}: holds {len(series)} DICOM series ({", ".join(series)}); '
                         'point to a folder with one series')
    files = reader.GetGDCMSeriesFileNames(folder, series[0])
    head = sitk.ImageFileReader()
    head.SetFileName(files[0])
    head.LoadPrivateTagsOn()
    head.ReadImageInformation()
    modality = head.GetMetaData('0008|0060').strip() if head.HasMetaDataKey('0008|0060') else ''
    if modality.upper() != 'CT':
        raise ValueError(f'{files[0]}: DICOM Modality is {modality or "missing"!r}, expected '
                         "'CT' (only CT in HU is supported)")
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as err:
        raise ValueError(f'{folder}: DICOM series unreadable '
                         f'({str(err).strip().splitlines()[-1]})') from None
    return _from_sitk(image, folder, 'dicom', check_hu)


def _read_picture(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'{path}: not a readable image')
    return img


def _picture_to_hu(path: str, img: np.ndarray, explicit: bool,
                   image_hu_range: Sequence[float]) -> np.ndarray:
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[:, :, :3]
        if img.shape[2] != 1 and not all(np.array_equal(img[:, :, 0], img[:, :, c])
                                         for c in range(1, img.shape[2])):
            raise ValueError(f'{path}: colour image (channels differ), not a CT slice')
        img = img[:, :, 0]
    if img.dtype == np.uint16:
        from acsdet.datasets.deeplesion_png import HU_OFFSET
        return img.astype(np.float32) - np.float32(HU_OFFSET)
    if img.dtype != np.uint8:
        raise ValueError(f'{path}: unsupported pixel type {img.dtype} (expected 16-bit '
                         'DeepLesion PNG or 8-bit greyscale)')
    if not explicit:
        raise ValueError(f'{path}: 8-bit image has no HU; pass input_type="image" '
                         '(--input-type image) to map 0..255 linearly onto '
                         f'{list(image_hu_range)} HU')
    low, high = (float(v) for v in image_hu_range)
    return img.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)


def _spacing_or_default(pixel_spacing, slice_interval):
    return (float(pixel_spacing or 1.0), float(pixel_spacing or 1.0), float(slice_interval or 2.0))


def read_volume(path: str, input_type: str = 'auto', pixel_spacing: Optional[float] = None,
                slice_interval: Optional[float] = None,
                image_hu_range: Sequence[float] = DEFAULT_IMAGE_HU_RANGE,
                check_hu: bool = True) -> CTVolume:
    """Read a CT from a NIfTI file, a DICOM series folder, a PNG series or one picture.

    Args:
        path (str): File or folder.
        input_type (str): One of :data:`INPUT_TYPES`. Default: ``'auto'``.
        pixel_spacing (float, optional): In-plane mm per pixel for PNG inputs (which store
            none). Default: None (1 mm).
        slice_interval (float, optional): Slice interval in mm for a PNG series. Default:
            None (2 mm, the model's interval: no resampling).
        image_hu_range (Sequence[float]): HU of grey levels 0 and 255 for 8-bit pictures.
            Default: (-1024, 3071).
        check_hu (bool): Reject NIfTI/DICOM volumes without air (< -500 HU). Default: True.

    Returns:
        CTVolume: ``hu`` (D, H, W) float32 and the geometry.
    """
    if input_type not in INPUT_TYPES:
        raise ValueError(f'input_type must be one of {INPUT_TYPES}, got {input_type!r}')
    if not osp.exists(path):
        raise FileNotFoundError(f'input not found: {path}')
    lower = path.lower()
    explicit = input_type != 'auto'
    if input_type == 'auto':
        if osp.isdir(path):
            pngs = [f for f in os.listdir(path) if _PNG_SLICE.match(f)]
            input_type = 'png_series' if pngs else 'dicom'
        elif lower.endswith(('.nii', '.nii.gz')):
            input_type = 'nifti'
        elif lower.endswith(('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')):
            input_type = 'image'
        else:
            raise ValueError(f'{path}: cannot tell the input type from the name; pass '
                             f'input_type (one of {INPUT_TYPES[1:]})')
    if input_type in ('dicom', 'png_series') and not osp.isdir(path):
        raise ValueError(f'{path}: input_type {input_type!r} needs a folder')
    if input_type in ('nifti', 'image') and osp.isdir(path):
        raise ValueError(f'{path}: input_type {input_type!r} needs a file, got a folder')

    if input_type == 'nifti':
        return _read_nifti(path, check_hu)
    if input_type == 'dicom':
        return _read_dicom(path, check_hu)
    spacing = _check_spacing(path, _spacing_or_default(pixel_spacing, slice_interval))
    if input_type == 'image':
        hu = _picture_to_hu(path, _read_picture(path), explicit, image_hu_range)
        return CTVolume(hu=hu[None], spacing=spacing, path=path, input_type='image',
                        slice_numbers=[0])
    # png_series
    from acsdet.datasets.deeplesion_png import read_hu_png
    files = sorted(glob.glob(osp.join(path, '*.png')))
    numbered = sorted((int(m.group(1)), f) for f in files
                      if (m := _PNG_SLICE.match(osp.basename(f))))
    if not numbered:
        raise ValueError(f'{path}: no slices named NNN.png in the folder')
    numbers = [n for n, _ in numbered]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        raise ValueError(f'{path}: slice numbers are not consecutive (missing {missing[:5]})')
    slices = []
    for _, f in numbered:
        try:
            slices.append(read_hu_png(f))
        except (ValueError, OSError) as err:
            raise ValueError(f'{f}: {str(err).splitlines()[0]}') from None
    if len({s.shape for s in slices}) != 1:
        raise ValueError(f'{path}: slices differ in size')
    return CTVolume(hu=np.stack(slices), spacing=spacing, path=path, input_type='png_series',
                    slice_numbers=numbers)
