"""The one reader of volume files: training, evaluation and inference all read through
:func:`read_volume`, which returns a :class:`CTVolume`.

Accepted inputs (``input_type``):

- ``'nifti'``: a ``.nii`` / ``.nii.gz`` file, read with SimpleITK (never nibabel).  The raw
  header is checked first (NIfTI-1 / NIfTI-2, parsed here): SimpleITK silently turns a zero
  pixdim into 1 mm.  ``scl_slope`` / ``scl_inter`` are applied and the spacing is converted
  to mm from the header's ``xyzt_units`` (both by SimpleITK).
- ``'dicom'``: a folder holding one DICOM series (SimpleITK / GDCM; the series is sorted by
  ``ImagePositionPatient`` and RescaleSlope/Intercept are applied).  ``Modality`` must be CT.
  The slice positions are checked from the headers before the pixels are read
  (``check_slices``, :func:`check_slice_positions`): each file's position along the slice
  normal (``ImagePositionPatient . (row x column cosines)``); a duplicated position, a gap
  (a step over 1.5x the median: missing slices) or a slice more than max(0.05 mm, 1 % of the
  step) off the uniform grid is refused in one line naming the folder, the files, their
  positions and indices (SimpleITK would only warn and give every slice a wrong z).  Such a
  series is refused, not resampled.
- ``'metaimage'`` (``.mhd`` + data file, ``.mha``) and ``'nrrd'`` (``.nrrd``): SimpleITK,
  e.g. PROMISE12's ``CaseNN.mhd``.
- ``'npz'``: a prepared ``.npz`` (POC shapes, LIDC crops): the array named ``key``
  (``'image'`` or ``'label'``), already stored (D, H, W) (or (C, D, H, W) / (H, W) / (C, H, W),
  see ``allow_channels`` and ``spatial_dims``).  Its voxel spacing is the optional
  ``spacing`` array, stored (D, H, W) as ``data_prep/lidc_to_npz.py`` writes it; without one
  :attr:`CTVolume.spacing` is None.  A ``.npz`` has no patient frame (origin 0, identity
  direction).
- ``'png_series'``: a DeepLesion-style folder of 16-bit PNGs named ``<index:03d>.png``
  (HU = value - 32768).  PNGs carry no spacing: pass ``pixel_spacing`` and ``slice_interval``.
- ``'image'``: one picture.  A 16-bit single-channel PNG is read as DeepLesion HU; an 8-bit
  greyscale picture (or 3 identical channels) is mapped linearly from [0, 255] onto
  ``image_hu_range`` (default [-1024, 3071], the mapping of the real key slices in
  ``../shared/data/deeplesion_keyslices``).  8-bit pictures are accepted **only** when
  ``input_type='image'`` is given explicitly, since their HU are an assumption.

``'auto'`` picks the type from the path (``.nii``/``.nii.gz`` -> nifti, ``.mhd``/``.mha`` ->
metaimage, ``.nrrd`` -> nrrd, ``.npz`` -> npz, a folder with ``NNN.png`` files -> png_series,
any other folder -> dicom, a picture -> image if 16-bit).

Axis convention (the same for every format, every caller):

- ``hu`` is (D, H, W) = (z, y, x) = (slice, row, column) in the **file's own voxel order**,
  exactly as SimpleITK's ``GetArrayFromImage`` gives it: nothing is reoriented, flipped or
  resampled on reading (a NIfTI's (i, j, k) voxel is ``hu[k, j, i]``; a ``.npz`` array is
  taken as stored).  Multi-channel files (``allow_channels=True``: a 4D NIfTI such as the
  BraTS stack, a vector image, a (C, D, H, W) ``.npz``) put the channel first: (C, D, H, W).
- ``spacing`` is in SimpleITK's order (sx, sy, sz) = (column, row, slice) mm, i.e. the
  **reverse** of the array axes; :attr:`CTVolume.spacing_dhw` gives it in the array's
  (D, H, W) order, the order of the training pipelines' ``results['spacing']``.
- ``origin`` / ``direction`` are SimpleITK's (ITK / DICOM LPS mm; a NIfTI's RAS affine is
  flipped to LPS by SimpleITK): voxel ``(x, y, z)`` (column, row, slice; ITK continuous
  index, integer = voxel centre) sits at the patient point
  ``origin + direction @ (spacing * index)``, so a prediction on the ``hu`` grid can be
  written back in the input's frame (:func:`acsdet.apis.save_label_map`).

Reorientation (inference): ``read_volume(..., orient=True)`` / :func:`orient_axial` permute
and flip the axes (no interpolation) to the axial convention :data:`AXIAL_ORIENTATION`,
``'LPS'`` (SimpleITK's ``DICOMOrient(image, 'LPS')``: identity direction): ``hu`` (D, H, W)
with slices inferior -> superior, rows anterior -> posterior, columns patient right -> left,
i.e. a DICOM axial series as SimpleITK sorts it (the radiological in-plane view of the DICOM
pixel data, which DeepLesion's PNG slices keep; a PNG series or ``.npz`` has no patient frame,
reads with the identity direction and so is taken as already in it).  Origin, direction and
spacing follow, so patient coordinates stay true patient coordinates.  An oblique volume (an
index axis more than :data:`OBLIQUE_TOLERANCE_DEG` = 1 degree off every patient axis, e.g. a
gantry tilt) is refused in one line, not resampled; a smaller tilt is kept in ``direction``.
Training reads with the default ``orient=False`` (the arrays it has always read); detection
inference (:func:`acsdet.apis.infer_volume`) works in this convention.  In-plane anisotropic
spacing (sx != sy) is kept here (reported by ``spacing``); the detector resamples it to square
pixels for the model only (see :func:`acsdet.apis.infer_volume`).

Errors are one line naming the file: :class:`FileNotFoundError` for a missing path,
:class:`KeyError` for a ``.npz`` without ``key``, :class:`ValueError` for everything else
(unsupported suffix, unreadable / corrupt / truncated file, wrong number of dimensions).
Non-CT rules (``ValueError``): DICOM ``Modality`` other than CT; a colour picture (channels
differ); an 8-bit picture without ``input_type='image'``; a zero, negative or non-finite
spacing; NaN / infinite voxels (checked before any cast, the counts named); values that do
not look like HU (no voxel below -500 HU,
i.e. no air: MR and already-normalised volumes fail this; turn it off with
``check_hu=False`` for a tight crop inside the body, MR, or labels, as training does).
"""
import glob
import gzip
import os
import os.path as osp
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'CTVolume', 'read_volume', 'INPUT_TYPES', 'FILE_SUFFIXES', 'DEFAULT_IMAGE_HU_RANGE',
    'AXIAL_ORIENTATION', 'OBLIQUE_TOLERANCE_DEG', 'orientation_code', 'axial_reorientation',
    'orient_axial', 'orient_back', 'slice_plane', 'check_geometry', 'check_slice_positions'
]

INPUT_TYPES = ('auto', 'nifti', 'dicom', 'metaimage', 'nrrd', 'npz', 'png_series', 'image')
#: File name endings that ``'auto'`` maps to a volume type (lower case).
FILE_SUFFIXES = {'.nii.gz': 'nifti', '.nii': 'nifti', '.mhd': 'metaimage', '.mha': 'metaimage',
                 '.nrrd': 'nrrd', '.npz': 'npz'}
_PICTURE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
_SITK_TYPES = ('nifti', 'metaimage', 'nrrd')
#: 8-bit pictures: 0 -> -1024 HU, 255 -> 3071 HU (the shared real key slices' mapping).
DEFAULT_IMAGE_HU_RANGE = (-1024.0, 3071.0)
_PNG_SLICE = re.compile(r'^(\d+)\.png$')


@dataclass
class CTVolume:
    """A volume with its geometry, as :func:`read_volume` returns it (see the module
    docstring for the axis convention).

    Attributes:
        hu (np.ndarray): (D, H, W) = (z, y, x) (slice, row, column) in the file's voxel
            order (in the axial ``'LPS'`` convention when read with ``orient=True``),
            float32 Hounsfield units for CT (``dtype=None``: the stored values and type,
            e.g. labels); (C, D, H, W) for a multi-channel file read with
            ``allow_channels=True``; (H, W) / (C, H, W) for a 2D ``.npz`` read with
            ``spatial_dims=2``.
        spacing (tuple[float, ...] | None): (sx, sy, sz) mm: column, row, slice spacing (the
            reverse of the array axes; (sx, sy) for a 2D ``.npz``); None for a ``.npz``
            that stores none.
        origin (tuple[float, float, float]): Patient position (mm, LPS) of voxel (0, 0, 0).
        direction (np.ndarray): (3, 3) direction cosines (columns = x, y, z index axes).
        path (str): The file or folder read.
        input_type (str): One of ``nifti``, ``dicom``, ``metaimage``, ``nrrd``, ``npz``,
            ``png_series``, ``image``.
        slice_numbers (list[int]): Number of each slice in the source (file index for a PNG
            series, 0..D-1 otherwise).
    """
    hu: np.ndarray
    spacing: Optional[Tuple[float, ...]]
    origin: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    path: str = ''
    input_type: str = ''
    slice_numbers: list = field(default_factory=list)

    @property
    def spacing_dhw(self) -> Optional[Tuple[float, ...]]:
        """The spacing in the array's axis order, (D, H, W) = (sz, sy, sx) mm (the order of
        the training pipelines' ``results['spacing']``); None when the file stores none."""
        return None if self.spacing is None else tuple(self.spacing[::-1])

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

    @property
    def orientation(self) -> str:
        """Where the x, y, z index axes point in the patient, e.g. ``'LPS'`` (the axial
        convention of :func:`orient_axial`), ``'RAS'``, ``'PSL'`` (sagittal slices); see
        :func:`orientation_code`."""
        return orientation_code(self.direction)


#: The axial convention of :func:`orient_axial` (and of DICOM / DeepLesion): the x index
#: (column) runs to the patient's Left, y (row) to Posterior, z (slice) to Superior.
AXIAL_ORIENTATION = 'LPS'
#: Largest angle (degrees) between an index axis and its nearest patient axis that
#: :func:`orient_axial` accepts; the residual tilt stays in ``direction``.
OBLIQUE_TOLERANCE_DEG = 1.0
#: DICOM slice positions: a slice may lie this far (mm, or this fraction of the step, the
#: larger) off the uniform grid; two slices this close are the same position.
SLICE_POSITION_TOLERANCE_MM = 0.05
SLICE_POSITION_TOLERANCE_REL = 0.01
#: A step this many times the median step is a gap (missing slices).
SLICE_GAP_FACTOR = 1.5
_AXIS_NAMES = ('x (columns)', 'y (rows)', 'z (slices)')
_LETTERS = (('R', 'L'), ('A', 'P'), ('I', 'S'))  # LPS patient axis k: (- end, + end)
_PLANES = ('sagittal', 'coronal', 'axial')  # slices across patient axis k


def orientation_code(direction) -> str:
    """Three letters: the patient direction (ITK / DICOM LPS: L/R, P/A, S/I) of the x, y, z
    index axes, from the nearest patient axis of each ``direction`` column; the same as
    SimpleITK's ``DICOMOrientImageFilter.GetOrientationFromDirectionCosines`` for
    axis-aligned directions (identity -> ``'LPS'``).

    Args:
        direction (array-like): (3, 3) direction cosines, columns = x, y, z index axes (or
            the 9 numbers row-major).
    """
    d = np.asarray(direction, np.float64).reshape(3, 3)
    code = ''
    for a in range(3):
        k = int(np.argmax(np.abs(d[:, a])))
        code += _LETTERS[k][int(d[k, a] > 0)]
    return code


def axial_reorientation(direction, path: str = '',
                        tolerance_deg: float = OBLIQUE_TOLERANCE_DEG
                        ) -> Tuple[Tuple[int, int, int], Tuple[bool, bool, bool]]:
    """How to permute and flip the index axes of a volume to reach :data:`AXIAL_ORIENTATION`.

    Args:
        direction (array-like): (3, 3) direction cosines (columns = x, y, z index axes).
        path (str): Named in the error. Default: ``''``.
        tolerance_deg (float): Largest accepted angle between an index axis and its nearest
            patient axis. Default: :data:`OBLIQUE_TOLERANCE_DEG`.

    Returns:
        tuple: ``axes`` (3 ints) and ``flips`` (3 bools): the new index axis ``b`` (x, y, z)
        is the old index axis ``axes[b]``, reversed where ``flips[b]``; ``((0, 1, 2),
        (False,) * 3)`` for a volume already in the convention.

    Raises:
        ValueError: Invalid (non-finite, zero) or oblique direction cosines (one line naming
            ``path``, the axis and its angle): an oblique volume is refused, not resampled.
    """
    d = np.asarray(direction, np.float64).reshape(3, 3)
    norms = np.linalg.norm(d, axis=0)
    if not np.isfinite(d).all() or not (norms > 1e-6).all():
        raise ValueError(f'{path}: direction cosines {np.round(d, 4).ravel().tolist()} are not '
                         'valid (non-finite or a zero axis)')
    unit = d / norms
    patient = np.argmax(np.abs(unit), axis=0)  # nearest patient axis of each index axis
    angles = np.degrees(np.arccos(np.clip(np.abs(unit[patient, np.arange(3)]), 0.0, 1.0)))
    worst = int(np.argmax(angles))
    if angles[worst] > tolerance_deg or len(set(patient.tolist())) < 3:
        raise ValueError(
            f'{path}: oblique volume: index axis {_AXIS_NAMES[worst]} is '
            f'{angles[worst]:.1f} degrees off the nearest patient axis (direction '
            f'{np.round(d, 4).ravel().tolist()}), over the {tolerance_deg:g} degree tolerance: '
            'oblique volumes are not reoriented; resample it onto an axial grid first')
    axes = tuple(int(np.flatnonzero(patient == b)[0]) for b in range(3))
    flips = tuple(bool(unit[b, axes[b]] < 0) for b in range(3))
    return axes, flips


def orient_axial(volume: 'CTVolume', tolerance_deg: float = OBLIQUE_TOLERANCE_DEG
                 ) -> 'CTVolume':
    """The volume in the axial convention :data:`AXIAL_ORIENTATION` (``'LPS'``, as
    SimpleITK's ``DICOMOrient(image, 'LPS')``): ``hu`` (D, H, W) with slices inferior ->
    superior, rows anterior -> posterior, columns patient right -> left (a DICOM axial series
    as SimpleITK sorts it, and DeepLesion's radiological view).  Axes are only permuted and
    flipped (no interpolation, voxel values unchanged); spacing, origin and direction follow,
    so every voxel keeps its patient position (:meth:`CTVolume.index_to_physical`), and
    patient coordinates computed on the result are the input's.

    Args:
        volume (CTVolume): ``hu`` (D, H, W) or (C, D, H, W).
        tolerance_deg (float): See :func:`axial_reorientation`.

    Returns:
        CTVolume: ``volume`` itself when already in the convention, else a new one
        (``slice_numbers`` follow the slices when the slice axis stays, else 0..D-1).

    Raises:
        ValueError: Oblique or invalid direction (see :func:`axial_reorientation`).
    """
    axes, flips = axial_reorientation(volume.direction, volume.path, tolerance_deg)
    if axes == (0, 1, 2) and not any(flips):
        return volume
    hu = volume.hu
    lead = hu.ndim - 3  # a leading channel axis stays first
    sizes = hu.shape[::-1][:3]  # index axes x, y, z: W, H, D
    hu = np.transpose(hu, list(range(lead)) + [lead + 2 - axes[b] for b in (2, 1, 0)])
    for b in range(3):
        if flips[b]:
            hu = np.flip(hu, axis=lead + 2 - b)
    corner = np.zeros(3)  # old index of the new voxel (0, 0, 0)
    for b in range(3):
        corner[axes[b]] = sizes[axes[b]] - 1 if flips[b] else 0
    spacing = volume.spacing
    scale = np.ones(3) if spacing is None else np.asarray(spacing, np.float64)
    old_dir = np.asarray(volume.direction, np.float64).reshape(3, 3)
    origin = corner * scale @ old_dir.T + np.asarray(volume.origin, np.float64)
    direction = np.stack([old_dir[:, axes[b]] * (-1.0 if flips[b] else 1.0) for b in range(3)],
                         axis=1)
    if axes[2] == 2 and len(volume.slice_numbers) == sizes[2]:
        numbers = list(volume.slice_numbers)[::-1] if flips[2] else list(volume.slice_numbers)
    else:
        numbers = list(range(sizes[axes[2]]))
    return CTVolume(hu=np.ascontiguousarray(hu),
                    spacing=None if spacing is None else tuple(spacing[a] for a in axes),
                    origin=tuple(float(o) for o in origin), direction=direction,
                    path=volume.path, input_type=volume.input_type, slice_numbers=numbers)


def orient_back(array: np.ndarray, volume: 'CTVolume',
                tolerance_deg: float = OBLIQUE_TOLERANCE_DEG) -> np.ndarray:
    """The inverse of :func:`orient_axial` for an array on the oriented grid (e.g. a label
    map predicted there): back to ``volume``'s voxel order, exactly (axes only).

    Args:
        array (np.ndarray): (..., D', H', W'), the shape of ``orient_axial(volume).hu``'s
            last three axes.
        volume (CTVolume): The volume as read (not oriented).
        tolerance_deg (float): See :func:`axial_reorientation`.

    Returns:
        np.ndarray: (..., D, H, W) on ``volume``'s grid.
    """
    axes, flips = axial_reorientation(volume.direction, volume.path, tolerance_deg)
    out = np.asarray(array)
    lead = out.ndim - 3
    for b in range(3):
        if flips[b]:
            out = np.flip(out, axis=lead + 2 - b)
    source = [axes.index(c) for c in range(3)]  # oriented axis holding the volume's axis c
    out = np.transpose(out, list(range(lead)) + [lead + 2 - source[c] for c in (2, 1, 0)])
    return np.ascontiguousarray(out)


def slice_plane(direction) -> str:
    """``'axial'``, ``'coronal'`` or ``'sagittal'``: the plane of the slices (the patient
    axis nearest to the z index axis of ``direction`` is across them)."""
    d = np.asarray(direction, np.float64).reshape(3, 3)
    return _PLANES[int(np.argmax(np.abs(d[:, 2])))]


def check_geometry(volume: 'CTVolume') -> None:
    """One-line :class:`ValueError` naming ``volume.path`` unless the voxels are finite
    (the count of NaN / infinite ones), the spacing (when there is one) positive and finite,
    the origin finite and the direction a valid, non-singular (3, 3) matrix: the checks
    :func:`read_volume` makes, for a :class:`CTVolume` built in memory."""
    path = volume.path
    _check_finite(path, np.asarray(volume.hu))
    if volume.spacing is not None:
        _check_spacing(path, volume.spacing, len(volume.spacing))
    origin = np.asarray(volume.origin, np.float64)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        raise ValueError(f'{path}: origin {origin.tolist()} is not 3 finite numbers (mm)')
    d = np.asarray(volume.direction, np.float64)
    if d.size != 9 or not np.isfinite(d).all() or abs(np.linalg.det(d.reshape(3, 3))) < 1e-6:
        raise ValueError(f'{path}: direction {d.ravel().tolist()} is not a valid 3x3 '
                         'direction matrix (non-finite or singular)')


def check_slice_positions(positions: Sequence[float], names: Sequence[str], source: str,
                          tolerance_mm: float = SLICE_POSITION_TOLERANCE_MM,
                          tolerance_rel: float = SLICE_POSITION_TOLERANCE_REL,
                          gap_factor: float = SLICE_GAP_FACTOR) -> Optional[float]:
    """Refuse slice positions that a uniform grid does not fit: a duplicated position, a
    gap (a step over ``gap_factor`` times the median: missing slices), or a slice further
    than ``max(tolerance_mm, tolerance_rel * step)`` from the uniform grid through the first
    and the last slice (the grid SimpleITK gives the series: spacing ``(last - first) /
    (n - 1)``).

    Args:
        positions (Sequence[float]): (N,) mm along the slice normal, ascending (the reading
            order).
        names (Sequence[str]): (N,) file names, named in the errors.
        source (str): The series folder, named first in the errors.
        tolerance_mm, tolerance_rel, gap_factor: See above. Defaults:
            :data:`SLICE_POSITION_TOLERANCE_MM` (0.05 mm), :data:`SLICE_POSITION_TOLERANCE_REL`
            (1 %), :data:`SLICE_GAP_FACTOR` (1.5).

    Returns:
        float | None: The uniform step (mm); None for fewer than two slices.

    Raises:
        ValueError: One line naming ``source``, the files, their positions and slice indices.
    """
    p = np.asarray(positions, np.float64)
    n = len(p)
    if n < 2:
        return None
    steps = np.diff(p)
    dup = np.flatnonzero(steps <= tolerance_mm)
    if dup.size:
        i = int(dup[0])
        raise ValueError(f'{source}: duplicated slice: {names[i]} and {names[i + 1]} (slices '
                         f'{i} and {i + 1} of {n}) are both at {p[i]:.3f} mm along the slice '
                         'normal; remove one of them')
    median = float(np.median(steps))
    gaps = np.flatnonzero(steps > gap_factor * median)
    if gaps.size:
        i = int(gaps[0])
        missing = max(1, int(round(steps[i] / median)) - 1)
        raise ValueError(f'{source}: missing slice: a {steps[i]:.3f} mm gap between {names[i]} '
                         f'({p[i]:.3f} mm) and {names[i + 1]} ({p[i + 1]:.3f} mm) (slices {i} '
                         f'and {i + 1} of {n}), {steps[i] / median:.1f}x the median step '
                         f'{median:.3f} mm: about {missing} slice(s) missing')
    step = (p[-1] - p[0]) / (n - 1)
    off = p - (p[0] + step * np.arange(n))
    tol = max(tolerance_mm, tolerance_rel * step)
    k = int(np.argmax(np.abs(off)))
    if abs(off[k]) > tol:
        raise ValueError(f'{source}: uneven slice spacing: {names[k]} (slice {k} of {n}) is at '
                         f'{p[k]:.3f} mm, {off[k]:+.3f} mm off the uniform {step:.3f} mm grid '
                         f'from {p[0]:.3f} to {p[-1]:.3f} mm (steps {steps.min():.3f} to '
                         f'{steps.max():.3f} mm, tolerance {tol:.3f} mm)')
    return float(step)


def _check_spacing(path: str, spacing: Sequence[float], ndim: int = 3) -> Tuple[float, ...]:
    sp = tuple(float(s) for s in spacing)
    if len(sp) != ndim or not all(np.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f'{path}: voxel spacing {sp} is missing, zero or negative '
                         '(a CT needs positive spacing in mm)')
    return sp


def _check_hu(path: str, hu: np.ndarray) -> None:
    low, high = float(hu.min()), float(hu.max())
    if low > -500:
        raise ValueError(f'{path}: values span [{low:g}, {high:g}], which does not look like CT '
                         'in HU (no air below -500 HU); pass check_hu=False (--no-hu-check) '
                         'for a crop without air')


def _check_layout(path: str, array: np.ndarray, spatial_dims: int, allow_channels: bool) -> None:
    if array.ndim == spatial_dims or (allow_channels and array.ndim == spatial_dims + 1):
        if array.size == 0:
            raise ValueError(f'{path}: image is empty (shape {tuple(array.shape)})')
        return
    axes = '(D, H, W)' if spatial_dims == 3 else '(H, W)'
    if allow_channels:
        axes += ' or (C, D, H, W)' if spatial_dims == 3 else ' or (C, H, W)'
    raise ValueError(f'{path}: image must be {axes}, got shape {tuple(array.shape)}')


def _check_finite(path: str, array: np.ndarray) -> None:
    """One-line error naming the file and the counts of NaN / infinite voxels."""
    if array.dtype.kind not in 'fc':
        return
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        nan = int(np.count_nonzero(np.isnan(array)))
        raise ValueError(_nonfinite_message(path, nan, bad - nan, array.size))


def _nonfinite_message(path: str, nan: int, inf: int, size: int) -> str:
    return (f'{path}: volume holds NaN or infinite values ({nan} NaN and {inf} infinite of '
            f'{size} voxels)')


def _finish(path: str, array: np.ndarray, dtype, check_hu: bool) -> np.ndarray:
    """The common last step of every format: finite check (before the cast: NaN cast to an
    integer type becomes an arbitrary number), cast, HU check."""
    _check_finite(path, array)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if check_hu:
        _check_hu(path, array)
    return np.ascontiguousarray(array)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _last_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[-1] if text else type(err).__name__


def _from_sitk(image, path: str, input_type: str, check_hu: bool, dtype,
               allow_channels: bool) -> CTVolume:
    """A SimpleITK image -> :class:`CTVolume` (the only place arrays leave SimpleITK)."""
    import SimpleITK as sitk
    ncomp = image.GetNumberOfComponentsPerPixel()
    if image.GetDimension() == 4 and image.GetSize()[3] == 1 and ncomp == 1:
        image = image[:, :, :, 0]
    dim = image.GetDimension()
    array = sitk.GetArrayFromImage(image)  # (z, y, x), (t, z, y, x) or (z, y, x, c)
    if ncomp > 1:
        array = np.moveaxis(array, -1, 0)  # channel first: (c, z, y, x)
    _check_layout(path, array, 3, allow_channels)
    spacing = _check_spacing(path, image.GetSpacing()[:3])
    origin = tuple(float(o) for o in image.GetOrigin()[:3])
    direction = np.asarray(image.GetDirection(), np.float64).reshape(dim, dim)[:3, :3]
    array = _finish(path, array, dtype, check_hu)
    return CTVolume(hu=array, spacing=spacing, origin=origin, direction=direction.copy(),
                    path=path, input_type=input_type,
                    slice_numbers=list(range(array.shape[-3])))


class _NiftiHeader(NamedTuple):
    """The raw NIfTI header fields :func:`read_volume` checks."""
    ndim: int
    zooms: Tuple[float, float, float]  # pixdim[1:4]
    data_end: Optional[int]  # end of the voxel data in bytes (None: sizes invalid)
    version: int  # 1 or 2
    datatype: int
    vox_offset: float
    order: str  # byte order, '<' or '>'


def _nifti_header(path: str) -> _NiftiHeader:
    """The raw header, without the fixes readers apply (SimpleITK turns a zero pixdim into
    1 mm)."""
    opener = gzip.open if path.lower().endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read(540)
    except Exception as err:  # gzip / OS errors of a damaged file
        raise ValueError(f'{path}: not a readable NIfTI file ({type(err).__name__}: '
                         f'{_first_line(err)})') from None
    if len(raw) >= 4:
        for order in '<>':
            size = struct.unpack(order + 'i', raw[:4])[0]
            if size == 348 and len(raw) >= 348:  # NIfTI-1
                dim = struct.unpack_from(order + '8h', raw, 40)
                pixdim = struct.unpack_from(order + '8f', raw, 76)
                datatype, bitpix = struct.unpack_from(order + '2h', raw, 70)
                vox_offset = struct.unpack_from(order + 'f', raw, 108)[0]
            elif size == 540 and len(raw) >= 540:  # NIfTI-2
                dim = struct.unpack_from(order + '8q', raw, 16)
                pixdim = struct.unpack_from(order + '8d', raw, 104)
                datatype, bitpix = struct.unpack_from(order + '2h', raw, 12)
                vox_offset = struct.unpack_from(order + 'q', raw, 168)[0]
            else:
                continue
            ndim = int(dim[0])
            sizes = [int(d) for d in dim[1:1 + ndim]] if 0 < ndim <= 7 else []
            data_end = None
            if sizes and all(d > 0 for d in sizes) and bitpix > 0 and np.isfinite(vox_offset):
                data_end = int(vox_offset) + int(np.prod(sizes, dtype=np.int64)) * bitpix // 8
            return _NiftiHeader(ndim, tuple(float(p) for p in pixdim[1:4]), data_end,
                                1 if size == 348 else 2, int(datatype), float(vox_offset),
                                order)
    raise ValueError(f'{path}: not a readable NIfTI file (no NIfTI-1 / NIfTI-2 header: '
                     f'{len(raw)} bytes, header size field not 348 or 540)')


#: NIfTI datatype codes of floating-point voxels (float32, float64, complex64, complex128).
_NIFTI_FLOAT_TYPES = {16: 'f4', 64: 'f8', 32: 'c8', 1792: 'c16'}


def _check_nifti_finite(path: str, header: _NiftiHeader) -> None:
    """SimpleITK's NIfTI reader turns NaN and infinite voxels into 0, silently: count them
    in the raw voxel data of a floating-point NIfTI (streamed, 16 MB at a time)."""
    code = _NIFTI_FLOAT_TYPES.get(header.datatype)
    if code is None or header.data_end is None:
        return
    dt = np.dtype(header.order + code)
    start = int(header.vox_offset)
    left = header.data_end - start
    chunk = max(1, (1 << 24) // dt.itemsize) * dt.itemsize
    nan = bad = count = 0
    opener = gzip.open if path.lower().endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            f.seek(start)
            while left > 0:
                buf = f.read(min(chunk, left))
                if not buf:
                    break
                left -= len(buf)
                values = np.frombuffer(buf, dt, count=len(buf) // dt.itemsize)
                count += values.size
                finite = np.isfinite(values)
                if not finite.all():
                    bad += int(values.size - np.count_nonzero(finite))
                    nan += int(np.count_nonzero(np.isnan(values)))
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f'{path}: not a readable NIfTI file (truncated or corrupt: '
                         f'{_first_line(err)})') from None
    if bad:
        raise ValueError(_nonfinite_message(path, nan, bad - nan, count))


def _check_nifti_complete(path: str, data_end: int) -> None:
    """SimpleITK fills the missing voxels of a truncated NIfTI with zeros, silently: check
    that the file holds all ``data_end`` bytes (a ``.gz``: its trailer's size first, a full
    decompression only when that differs, e.g. a multi-member gzip)."""
    if not path.lower().endswith('.gz'):
        have = osp.getsize(path)
        if have < data_end:
            raise ValueError(f'{path}: not a readable NIfTI file (truncated: {have} of '
                             f'{data_end} bytes)')
        return
    with open(path, 'rb') as f:
        f.seek(-4, os.SEEK_END)
        if struct.unpack('<I', f.read(4))[0] == data_end % 2 ** 32:
            return
    have = 0
    try:
        with gzip.open(path, 'rb') as f:
            while have < data_end:
                chunk = f.read(1 << 24)
                if not chunk:
                    break
                have += len(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f'{path}: not a readable NIfTI file (truncated or corrupt gzip: '
                         f'{_first_line(err)})') from None
    if have < data_end:
        raise ValueError(f'{path}: not a readable NIfTI file (truncated: {have} of '
                         f'{data_end} bytes once decompressed)')


def _read_sitk_file(path: str, input_type: str, check_hu: bool, dtype,
                    allow_channels: bool) -> CTVolume:
    import SimpleITK as sitk
    if input_type == 'nifti':
        header = _nifti_header(path)
        if header.ndim < 3:
            raise ValueError(f'{path}: expected a 3D volume, got {header.ndim}D')
        _check_spacing(path, header.zooms)
        if header.data_end is not None:
            _check_nifti_complete(path, header.data_end)
        _check_nifti_finite(path, header)
    try:
        image = sitk.ReadImage(path)
    except RuntimeError as err:
        if input_type != 'nifti':
            raise ValueError(f'{path}: SimpleITK cannot read it ({_last_line(err)})') from None
        if header.version == 2:
            raise ValueError(f'{path}: not a readable NIfTI file (a NIfTI-2 file, which this '
                             'SimpleITK does not read; save it as NIfTI-1)') from None
        raise ValueError(f'{path}: not a readable NIfTI file ({_last_line(err)})') from None
    return _from_sitk(image, path, input_type, check_hu, dtype, allow_channels)


def _read_npz(path: str, key: str, check_hu: bool, dtype, spatial_dims: int,
              allow_channels: bool) -> CTVolume:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # zipfile / numpy raise several types for a damaged file
        raise ValueError(f'{path}: not a readable .npz file ({type(err).__name__}: '
                         f'{_first_line(err)})') from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f'{path}: not a readable .npz file (a single .npy array, not an '
                         'archive of named arrays)')
    with data:
        if key not in data.files:
            raise KeyError(f'{path}: missing key {key!r} (has {sorted(data.files)})')
        try:
            array = data[key]
            stored = data['spacing'] if 'spacing' in data.files and key != 'spacing' else None
        except Exception as err:
            raise ValueError(f'{path}: not a readable .npz file ({type(err).__name__}: '
                             f'{_first_line(err)})') from None
    _check_layout(path, array, spatial_dims, allow_channels)
    spacing = None
    if stored is not None:  # stored in the array's (D, H, W) order: reverse to (x, y, z)
        spacing = _check_spacing(path, np.asarray(stored, np.float64).ravel()[::-1],
                                 spatial_dims)
    array = _finish(path, array, dtype, check_hu)
    return CTVolume(hu=array, spacing=spacing, path=path, input_type='npz',
                    slice_numbers=list(range(array.shape[-3])) if spatial_dims == 3 else [0])


def _dicom_numbers(reader, tag: str, count: int) -> Optional[np.ndarray]:
    """A DICOM DS value with ``count`` numbers (``'a\\b\\c'``), None when missing or
    malformed."""
    if not reader.HasMetaDataKey(tag):
        return None
    try:
        values = np.array([float(v) for v in reader.GetMetaData(tag).strip().split('\\')])
    except ValueError:
        return None
    return values if values.shape == (count,) and np.isfinite(values).all() else None


def _sorted_checked_slices(folder: str, files: Sequence[str]) -> list:
    """The series' files sorted by their position along the slice normal
    (ImagePositionPatient . (row cosines x column cosines), from the headers only), after
    :func:`check_slice_positions`: same orientation in every file, no duplicated position,
    no gap, even steps."""
    import SimpleITK as sitk
    head = sitk.ImageFileReader()
    positions, first_iop = [], None
    for f in files:
        head.SetFileName(f)
        try:
            head.ReadImageInformation()
        except RuntimeError as err:
            raise ValueError(f'{f}: DICOM header unreadable ({_last_line(err)})') from None
        ipp = _dicom_numbers(head, '0020|0032', 3)
        iop = _dicom_numbers(head, '0020|0037', 6)
        if ipp is None or iop is None:
            raise ValueError(f'{folder}: {osp.basename(f)} has no valid ImagePositionPatient / '
                             'ImageOrientationPatient (0020|0032, 0020|0037), so the slice '
                             'positions cannot be checked')
        if first_iop is None:
            first_iop = iop
            normal = np.cross(iop[:3], iop[3:])
            normal /= max(np.linalg.norm(normal), 1e-12)
        elif np.abs(iop - first_iop).max() > 1e-4:
            raise ValueError(f'{folder}: slices differ in orientation: {osp.basename(files[0])} '
                             f'has ImageOrientationPatient {first_iop.tolist()}, '
                             f'{osp.basename(f)} has {iop.tolist()}')
        positions.append(float(ipp @ normal))
    order = np.argsort(positions, kind='stable')
    files = [files[i] for i in order]
    check_slice_positions([positions[i] for i in order], [osp.basename(f) for f in files],
                          folder)
    return files


def _read_dicom(folder: str, check_hu: bool, dtype, check_slices: bool = True) -> CTVolume:
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
    if check_slices and len(files) > 1:
        files = _sorted_checked_slices(folder, files)
    reader.SetFileNames(files)
    try:
        image = reader.Execute()
    except RuntimeError as err:
        raise ValueError(f'{folder}: DICOM series unreadable ({_last_line(err)})') from None
    return _from_sitk(image, folder, 'dicom', check_hu, dtype, allow_channels=False)


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
        from acsdet.fileio.deeplesion_png import HU_OFFSET
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


def _type_from_path(path: str) -> str:
    lower = path.lower()
    if osp.isdir(path):
        return 'png_series' if any(_PNG_SLICE.match(f) for f in os.listdir(path)) else 'dicom'
    for suffix, input_type in FILE_SUFFIXES.items():
        if lower.endswith(suffix):
            return input_type
    if lower.endswith(_PICTURE_SUFFIXES):
        return 'image'
    raise ValueError(f'{path}: unknown volume format (expected .npz, .nii, .nii.gz, .mhd, .mha '
                     f'or .nrrd), nor a DICOM / PNG-series folder or a picture '
                     f'({", ".join(_PICTURE_SUFFIXES)}); pass input_type (one of '
                     f'{INPUT_TYPES[1:]})')


def read_volume(path: str, input_type: str = 'auto', pixel_spacing: Optional[float] = None,
                slice_interval: Optional[float] = None,
                image_hu_range: Sequence[float] = DEFAULT_IMAGE_HU_RANGE,
                check_hu: bool = True, *, key: str = 'image', dtype=np.float32,
                spatial_dims: int = 3, allow_channels: bool = False, orient: bool = False,
                check_slices: bool = True) -> CTVolume:
    """Read a volume file or folder: NIfTI, DICOM series, MetaImage, NRRD, ``.npz``, PNG
    series or one picture (the only reader of volumes in acsdet; see the module docstring
    for the formats and the axis convention).

    Args:
        path (str): File or folder.
        input_type (str): One of :data:`INPUT_TYPES`. Default: ``'auto'`` (from the path).
        pixel_spacing (float, optional): In-plane mm per pixel for PNG inputs (which store
            none). Default: None (1 mm).
        slice_interval (float, optional): Slice interval in mm for a PNG series. Default:
            None (2 mm, the model's interval: no resampling).
        image_hu_range (Sequence[float]): HU of grey levels 0 and 255 for 8-bit pictures.
            Default: (-1024, 3071).
        check_hu (bool): Reject NIfTI / DICOM / MetaImage / NRRD / ``.npz`` volumes without
            air (< -500 HU). Default: True (training reads with False: MR, labels).
        key (str): Array of a ``.npz`` to read (``'image'``, ``'label'``). Default:
            ``'image'``; ignored by the other formats.
        dtype: Type of ``hu``. Default: float32; None keeps the stored type (labels).
        spatial_dims (int): 3 (volumes); 2 reads a 2D ``.npz`` ((H, W) / (C, H, W)).
            Default: 3.
        allow_channels (bool): Accept a leading channel axis, (C, D, H, W) (4D NIfTI, vector
            images, ``.npz``). Default: False (one channel, as the inference APIs take).
        orient (bool): Reorient to the axial convention (:func:`orient_axial`: slices
            inferior -> superior, rows anterior -> posterior, columns right -> left; axes
            permuted / flipped only, the geometry follows) and refuse an oblique volume.
            Default: False (the file's voxel order, as training reads; detection inference
            reads with True).
        check_slices (bool): DICOM: refuse a series with a duplicated slice position, a gap
            (missing slices) or uneven steps (:func:`check_slice_positions`), from the
            headers, before the pixels are read. Default: True.

    Returns:
        CTVolume: ``hu`` (D, H, W) and the geometry (``spacing`` (sx, sy, sz)).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        KeyError: A ``.npz`` without ``key``.
        ValueError: Anything else (one line naming the file).
    """
    if input_type not in INPUT_TYPES:
        raise ValueError(f'input_type must be one of {INPUT_TYPES}, got {input_type!r}')
    if spatial_dims not in (2, 3):
        raise ValueError(f'spatial_dims must be 2 or 3, got {spatial_dims}')
    if not osp.exists(path):
        raise FileNotFoundError(f'input not found: {path}')
    explicit = input_type != 'auto'
    if input_type == 'auto':
        input_type = _type_from_path(path)
    if input_type in ('dicom', 'png_series') and not osp.isdir(path):
        raise ValueError(f'{path}: input_type {input_type!r} needs a folder')
    if input_type not in ('dicom', 'png_series') and osp.isdir(path):
        raise ValueError(f'{path}: input_type {input_type!r} needs a file, got a folder')
    if spatial_dims == 2 and input_type != 'npz':
        raise ValueError(f'{path}: 2D arrays (spatial_dims=2) are read from .npz files only, '
                         f'not from {input_type} input')

    volume = _read(path, input_type, explicit, pixel_spacing, slice_interval, image_hu_range,
                   check_hu, key, dtype, spatial_dims, allow_channels, check_slices)
    return orient_axial(volume) if orient and spatial_dims == 3 else volume


def _read(path: str, input_type: str, explicit: bool, pixel_spacing, slice_interval,
          image_hu_range, check_hu: bool, key: str, dtype, spatial_dims: int,
          allow_channels: bool, check_slices: bool) -> CTVolume:
    """:func:`read_volume` once the arguments are checked and the type is known."""
    if input_type == 'npz':
        return _read_npz(path, key, check_hu, dtype, spatial_dims, allow_channels)
    if input_type in _SITK_TYPES:
        return _read_sitk_file(path, input_type, check_hu, dtype, allow_channels)
    if input_type == 'dicom':
        return _read_dicom(path, check_hu, dtype, check_slices)
    spacing = _check_spacing(path, _spacing_or_default(pixel_spacing, slice_interval))
    if input_type == 'image':
        hu = _picture_to_hu(path, _read_picture(path), explicit, image_hu_range)
        return CTVolume(hu=_finish(path, hu[None], dtype, False), spacing=spacing, path=path,
                        input_type='image', slice_numbers=[0])
    # png_series
    from acsdet.fileio.deeplesion_png import read_hu_png
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
    return CTVolume(hu=_finish(path, np.stack(slices), dtype, False), spacing=spacing,
                    path=path, input_type='png_series', slice_numbers=numbers)
