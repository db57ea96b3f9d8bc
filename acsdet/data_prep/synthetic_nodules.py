"""A generated malignancy-like nodule set (issue 17): smooth nodules ("benign") against
lobulated and spiculated ones ("malignant") in lung-like background, in the layout
``data_prep/lidc_to_npz.py`` writes, so every LIDC classification config runs on it.

Synthetic, and documented as such: the malignancy signs are the radiological textbook ones
(spiculation, lobulation), nothing here is learned from LIDC.  Design, fixed before the first
training run (in mm, so a crop of other size / spacing shows the same anatomy):

* background: lung parenchyma -850 HU + a smooth texture (white noise blurred with sigma 2 mm,
  std 40 HU) + noise (std 20 HU); 2-4 vessels, straight tubes of radius 0.8-2 mm at +40 HU
  crossing the crop at random;
* nodule near the centre (+-2 mm), soft tissue of -50 .. +60 HU (one value per nodule), its
  mask blurred by 0.6 voxel (partial volume); radius uniform in ``radius_mm`` (3-9 mm by
  default) for both classes;
* benign (label 0): an ellipsoid with axis ratios 0.85-1.15, smooth margin;
* malignant (label 1): lobulated (the sphere united with 3-6 lobes of 0.55-0.75 of its
  radius centred 0.75-0.95 radii out) with probability 0.8, and spiculated (5-12 spicules
  reaching 0.8-1.8 radii beyond the surface, of radius 1.0-1.6 mm at their base tapering to
  half) with probability 0.8, at least one of the two;
* 1-4 readers rate each nodule 1-5 (benign: 1 or 2, malignant: 4 or 5, either "3" with
  probability 0.15 per reader); the label is the mode of the ratings as
  ``lidc_to_npz.py`` computes it (:func:`acsdet.data_prep.malignancy_label`): nodules whose
  mode is 3 get a null label and are left out, as the paper does.

Output (``generate_synthetic_nodules``): ``OUT/nodules/synNNNNN.npz`` (``image`` HU int16,
``label`` uint8 nodule mask, ``spacing``, ``malignancy`` per-reader ratings int16) and
``OUT/lidc_nodules.json`` (``training`` / ``validation``, split 4:1 at random with ``seed``,
entries with ``malignancy_ratings``, ``malignancy_mode``, ``malignancy_label``, ``shape``).
Each nodule has its own seed (``SeedSequence([seed, index])``).
"""
import os.path as osp
from typing import Callable, Optional, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from .malignancy import malignancy_label, malignancy_mode
from .output_guard import check_writable
from .volume_prep import atomic_savez, seeded_split, write_split_json

__all__ = ['make_synthetic_nodule', 'generate_synthetic_nodules']

LUNG_HU = -850.0
VESSEL_HU = 40.0


def _grid_mm(size: int, spacing: float) -> np.ndarray:
    """(3, size, size, size) voxel-centre coordinates in mm, centred on the crop."""
    axis = (np.arange(size) - (size - 1) / 2.0) * spacing
    return np.stack(np.meshgrid(axis, axis, axis, indexing='ij'))


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _segment_distance(grid: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Distance (mm) of every voxel to the segment a-b, and the position t in [0, 1] along it."""
    ab = b - a
    rel = grid - a[:, None, None, None]
    t = np.clip(np.tensordot(ab, rel, axes=1) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    closest = a[:, None, None, None] + ab[:, None, None, None] * t
    return np.linalg.norm(grid - closest, axis=0), t


def make_synthetic_nodule(rng: np.random.Generator, size: int = 48, spacing: float = 1.0,
                          malignant: Optional[bool] = None,
                          radius_mm: Sequence[float] = (3.0, 9.0)) -> dict:
    """One nodule crop.

    Args:
        rng (np.random.Generator): The nodule's random stream.
        size (int): Crop edge in voxels. Defaults to 48 (the paper's).
        spacing (float): Isotropic voxel size in mm. Defaults to 1.0.
        malignant (bool | None): The class; None draws it (p 0.5). Defaults to None.
        radius_mm (Sequence[float]): (low, high) of the nodule radius. Defaults to (3, 9).

    Returns:
        dict: ``image`` int16 HU (size, size, size), ``label`` uint8 mask, ``malignant``
        (bool), ``shape`` ('smooth' / 'lobulated' / 'spiculated' / 'lobulated+spiculated'),
        ``ratings`` (list of 1-4 ints in 1..5), ``radius_mm``.
    """
    if malignant is None:
        malignant = bool(rng.random() < 0.5)
    grid = _grid_mm(size, spacing)
    shape = (size, ) * 3
    texture = gaussian_filter(rng.standard_normal(shape), 2.0 / spacing)
    image = LUNG_HU + texture * (40.0 / max(texture.std(), 1e-12)) + \
        rng.normal(0.0, 20.0, size=shape)
    half = (size - 1) / 2.0 * spacing
    for _ in range(int(rng.integers(2, 5))):  # vessels crossing the crop
        p, d = rng.uniform(-half, half, 3), _unit(rng, 1)[0]
        dist, _ = _segment_distance(grid, p - 3 * half * d, p + 3 * half * d)
        image[dist <= rng.uniform(0.8, 2.0)] = VESSEL_HU + rng.normal(0, 15)
    centre = rng.uniform(-2, 2, 3)
    radius = rng.uniform(*radius_mm)
    rel = grid - centre[:, None, None, None]
    if not malignant:
        axes = radius * rng.uniform(0.85, 1.15, 3)
        mask = (sum((r / a) ** 2 for r, a in zip(rel, axes)) <= 1.0)
        kind = 'smooth'
    else:
        lobulated = rng.random() < 0.8
        spiculated = rng.random() < 0.8 or not lobulated
        mask = np.linalg.norm(rel, axis=0) <= radius
        if lobulated:
            for d in _unit(rng, int(rng.integers(3, 7))):
                c = d * radius * rng.uniform(0.75, 0.95)
                mask |= np.linalg.norm(rel - c[:, None, None, None], axis=0) <= \
                    radius * rng.uniform(0.55, 0.75)
        if spiculated:
            for d in _unit(rng, int(rng.integers(5, 13))):
                a = d * radius * 0.8
                b = d * radius * (1.0 + rng.uniform(0.8, 1.8))
                dist, t = _segment_distance(grid, a, b)
                mask |= dist <= rng.uniform(1.0, 1.6) * (1.0 - 0.5 * t)  # tapering
        kind = '+'.join(k for k, on in (('lobulated', lobulated), ('spiculated', spiculated))
                        if on)
    soft = gaussian_filter(mask.astype(np.float64), 0.6)
    density = rng.uniform(-50.0, 60.0)
    image = image * (1 - soft) + density * soft
    readers = int(rng.integers(1, 5))
    pool = (4, 5) if malignant else (1, 2)
    ratings = [3 if rng.random() < 0.15 else int(rng.choice(pool)) for _ in range(readers)]
    return dict(image=np.round(image).clip(-1024, 3071).astype(np.int16),
                label=mask.astype(np.uint8), malignant=malignant, shape=kind, ratings=ratings,
                radius_mm=float(radius))


def generate_synthetic_nodules(out_dir: str, num: int = 300, size: int = 48,
                               spacing: float = 1.0, val_ratio: float = 0.2, seed: int = 0,
                               radius_mm: Sequence[float] = (3.0, 9.0),
                               progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Write ``num`` nodules and the split json (layout in the module docstring).

    Args:
        out_dir (str): Output folder (``nodules/`` and ``lidc_nodules.json`` inside).
        num (int): Nodules (before the mode-3 ones are left out by the dataset).
            Defaults to 300.
        size (int): Crop edge in voxels. Defaults to 48.
        spacing (float): Voxel size in mm. Defaults to 1.0.
        val_ratio (float): Validation (test) share of the random split. Defaults to 0.2.
        seed (int): Base seed. Defaults to 0.
        radius_mm (Sequence[float]): (low, high) nodule radius in mm. Defaults to (3, 9).
        progress (callable | None): Called as ``progress(done, total)``.

    Returns:
        dict: the json's ``meta`` (counts per label, shapes, settings).

    Raises:
        ValueError: ``num`` < 2, ``size`` < 8, ``spacing`` <= 0 or a ``val_ratio`` outside
            [0, 1) (before anything is written).
        OutputNotWritableError: ``out_dir`` cannot be written (checked before any work).
    """
    if num < 2 or size < 8 or not spacing > 0 or not 0 <= val_ratio < 1:
        raise ValueError(f'synthetic nodules: num must be >= 2, size >= 8, spacing > 0 and '
                         f'val_ratio in [0, 1), got {num}, {size}, {spacing}, {val_ratio}')
    if len(radius_mm) != 2 or not 0 < radius_mm[0] <= radius_mm[1]:
        raise ValueError(f'synthetic nodules: radius_mm must be (low, high) with 0 < low <= '
                         f'high, got {tuple(radius_mm)}')
    check_writable(out_dir)
    entries, counts, kinds = {}, {'0': 0, '1': 0, 'null': 0}, {}
    for i in range(num):
        nod = make_synthetic_nodule(np.random.default_rng(np.random.SeedSequence([seed, i])),
                                    size, spacing, radius_mm=radius_mm)
        name = f'syn{i:05d}'
        ratings = np.asarray(nod['ratings'], np.int16)
        atomic_savez(osp.join(out_dir, 'nodules', name + '.npz'), image=nod['image'],
                     label=nod['label'], spacing=np.full(3, spacing, np.float32),
                     malignancy=ratings)
        label = malignancy_label(nod['ratings'])
        counts['null' if label is None else str(label)] += 1
        kinds[nod['shape']] = kinds.get(nod['shape'], 0) + 1
        entries[name] = dict(image=f'nodules/{name}.npz', malignancy_ratings=nod['ratings'],
                             malignancy_mode=malignancy_mode(nod['ratings']),
                             malignancy_label=label, shape=nod['shape'],
                             radius_mm=round(nod['radius_mm'], 2))
        if progress is not None:
            progress(i + 1, num)
    train, val = seeded_split(sorted(entries), val_ratio, seed)
    meta = dict(dataset='synthetic malignancy-like nodules (acsdet.data_prep.synthetic_nodules)',
                classes=['benign', 'malignant'], num=num, size=size, spacing=spacing,
                val_ratio=val_ratio, seed=seed, radius_mm=list(radius_mm), labels=counts,
                shapes=kinds,
                split=dict(training=len(train), validation=len(val)))
    write_split_json(osp.join(out_dir, 'lidc_nodules.json'), entries, train, val, meta)
    return meta

