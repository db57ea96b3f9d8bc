"""The proof-of-concept (POC) shapes datasets of the ACS paper (appendix, last section).

* 2D: a blank 48 x 48 image is cut into four 24 x 24 quadrants; 3 of the 4 get a circle or a
  square (equal probability) of random size at a random place inside the quadrant.
* 3D: a blank 48 x 48 x 48 volume is cut into eight 24^3 octants; 4 of the 8 get a sphere,
  cube, cylinder, cone or pyramid (equal probability) of random size at a random place inside
  the octant.
* Both: N(0, 0.5) Gaussian noise (standard deviation 0.5, as the authors' generator) is added
  to the binary foreground image; shapes never overlap (one per quadrant / octant).

Details the appendix leaves open follow the authors' ``experiments/poc/generate_poc_data.py``
(M3DV/ACSConv): sizes (diameter / side a, height h) are uniform integers in [5, 24]; sphere
and cube use a only; counts are 10000 train / 2000 test 2D images and 100 train / 200 test 3D
volumes.

Orientation (``orientation=``):

* ``'uniform'`` (the default, this project's first rule): cylinders, cones and pyramids get a
  random one of their 6 axis-aligned orientations (axis along D, H or W, apex at either end).
* ``'authors'``: what the authors' generator does.  It passes three random multiples of 90
  degrees to every shape function, but only the cone and the pyramid turn (three successive
  ``rot90`` of a shape whose axis is the last one): their axis lies along D with probability
  1/2, along H or W with 1/4 each, the apex at either end with 1/2.  The cylinder ignores the
  angles: its axis is always along W.  (Under ``'uniform'`` a third of the cylinders stand
  along D, where every axial slice is a disc, which a 2.5D network cannot tell from a ball or
  a cone slice; under ``'authors'`` none do.)

Every sample has its own random stream, ``SeedSequence([seed, dim, split, index])``, so sample
``i`` is the same whatever the requested counts.

Folder layout written by :func:`generate_poc_shapes`::

    <out_dir>/poc_2d/meta.json            classes, counts, seed, noise, size
    <out_dir>/poc_2d/{train,test}/00000.npz ...
    <out_dir>/poc_3d/meta.json
    <out_dir>/poc_3d/{train,test}/00000.npz ...

Each ``.npz`` holds ``image`` (float32, (48, 48) or (48, 48, 48) as (D, H, W)) and ``label``
(uint8, same shape; 0 = background, then the class ids of ``POC_CLASSES``).
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, Iterable, Optional, Tuple

import numpy as np

from acsdet.utils.atomic_write import atomic_savez, write_text_atomic

from .output_guard import check_writable

__all__ = [
    'POC_CLASSES', 'POC_DEFAULT_COUNTS', 'POC_SIZE', 'POC_NOISE_STD', 'POC_ORIENTATIONS',
    'check_orientation', 'make_poc_sample', 'poc_sample_rng', 'generate_poc_shapes',
    'load_poc_sample', 'poc_shape_mask'
]

#: Class names by label (0 = background), per dataset dimension.
POC_CLASSES: Dict[str, Tuple[str, ...]] = {
    '2d': ('background', 'circle', 'square'),
    '3d': ('background', 'sphere', 'cube', 'cylinder', 'cone', 'pyramid'),
}
#: Sample counts of the authors' generator.
POC_DEFAULT_COUNTS: Dict[str, Dict[str, int]] = {
    '2d': {'train': 10000, 'test': 2000},
    '3d': {'train': 100, 'test': 200},
}
POC_SIZE = 48
POC_PIECE = 24
POC_MIN_SHAPE = 5
POC_NOISE_STD = 0.5
_SHAPES_PER_SAMPLE = {'2d': 3, '3d': 4}
#: Orientation rules of the 3D elongated shapes (module docstring).
POC_ORIENTATIONS = ('uniform', 'authors')
_SPLIT_CODES = {'train': 0, 'test': 1, 'val': 2}


def _disk(a: int) -> np.ndarray:
    """(a, a) disk of diameter a."""
    y, x = np.indices((a, a))
    c = (a - 1) / 2
    return np.sqrt((y - c)**2 + (x - c)**2) <= a / 2


def _radius_profile(a: int, h: int, chebyshev: bool) -> np.ndarray:
    """(h, a, a) cone (Euclidean) or pyramid (Chebyshev) with apex at slice 0, base a."""
    r = np.linspace(0, a / 2, h).reshape(h, 1, 1)
    y, x = np.indices((a, a))
    c = (a - 1) / 2
    dist = np.maximum(np.abs(y - c), np.abs(x - c)) if chebyshev else \
        np.sqrt((y - c)**2 + (x - c)**2)
    return dist[None] <= r


def poc_shape_mask(name: str, a: int, h: Optional[int] = None) -> np.ndarray:
    """Boolean mask of one POC shape in its canonical orientation (axis along dim 0).

    Args:
        name (str): 'circle', 'square' (2D); 'sphere', 'cube', 'cylinder', 'cone',
            'pyramid' (3D).
        a (int): Diameter / side.
        h (int, optional): Height of cylinder, cone and pyramid (apex at index 0).

    Returns:
        ndarray: bool, (a, a) for 2D shapes, (a, a, a) for sphere / cube, (h, a, a) else.
    """
    if name == 'circle':
        return _disk(a)
    if name == 'square':
        return np.ones((a, a), bool)
    if name == 'sphere':
        z, y, x = np.indices((a, a, a))
        c = (a - 1) / 2
        return np.sqrt((z - c)**2 + (y - c)**2 + (x - c)**2) <= a / 2
    if name == 'cube':
        return np.ones((a, a, a), bool)
    if h is None:
        raise ValueError(f'POC shape {name!r} needs a height h')
    if name == 'cylinder':
        return np.broadcast_to(_disk(a), (h, a, a)).copy()
    if name == 'cone':
        return _radius_profile(a, h, chebyshev=False)
    if name == 'pyramid':
        return _radius_profile(a, h, chebyshev=True)
    raise ValueError(f'unknown POC shape {name!r}')


def poc_sample_rng(seed: int, dim: str, split: str, index: int) -> np.random.Generator:
    """The random stream of one sample: ``SeedSequence([seed, 2 or 3, split code, index])``."""
    if split not in _SPLIT_CODES:
        raise ValueError(f'POC split must be one of {sorted(_SPLIT_CODES)}, got {split!r}')
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), int(dim[0]), _SPLIT_CODES[split], int(index)]))


def _orient(mask: np.ndarray, name: str, orientation: str,
            rng: np.random.Generator) -> np.ndarray:
    """Turn a canonical (axis along dim 0, apex at index 0) elongated shape by the rule."""
    if orientation == 'uniform':
        if rng.integers(2):
            mask = mask[::-1]                                  # apex at either end
        return np.moveaxis(mask, 0, int(rng.integers(3)))      # axis along D, H or W
    # 'authors': the shape function builds the axis along the last array axis
    mask = np.moveaxis(mask, 0, 2)
    if name == 'cylinder':                                     # ignores its angles
        return mask
    for k, axes in zip(rng.integers(4, size=3), ((0, 1), (0, 2), (1, 2))):
        mask = np.rot90(mask, int(k), axes)
    return mask


def check_orientation(orientation: str) -> str:
    """Return ``orientation`` or raise a one-line error naming the allowed rules."""
    if orientation not in POC_ORIENTATIONS:
        raise ValueError(f'POC orientation must be one of {list(POC_ORIENTATIONS)}, got '
                         f'{orientation!r}')
    return orientation


def make_poc_sample(dim: str, rng: np.random.Generator,
                    orientation: str = 'uniform') -> Tuple[np.ndarray, np.ndarray]:
    """One POC image / volume.

    Args:
        dim (str): '2d' or '3d'.
        rng (np.random.Generator): Random stream, e.g. from :func:`poc_sample_rng`.
        orientation (str): ``'uniform'`` or ``'authors'`` (module docstring); 3D only.
            Defaults to ``'uniform'``.

    Returns:
        tuple: ``image`` float32 (48, 48) or (48, 48, 48), binary foreground + N(0, 0.5)
        noise; ``label`` uint8 of the same shape (see :data:`POC_CLASSES`).
    """
    if dim not in POC_CLASSES:
        raise ValueError(f"POC dim must be '2d' or '3d', got {dim!r}")
    check_orientation(orientation)
    ndim = int(dim[0])
    names = POC_CLASSES[dim][1:]
    label = np.zeros((POC_SIZE, ) * ndim, np.uint8)
    pieces = rng.choice(2**ndim, _SHAPES_PER_SAMPLE[dim], replace=False)
    for piece in pieces:
        cls = int(rng.integers(len(names)))
        a, h = (int(v) for v in rng.integers(POC_MIN_SHAPE, POC_PIECE + 1, size=2))
        mask = poc_shape_mask(names[cls], a, h)
        if names[cls] in ('cylinder', 'cone', 'pyramid'):
            mask = _orient(mask, names[cls], orientation, rng)
        # piece bits: bit 0 -> last axis half, bit 1 -> next axis, bit 2 -> first axis (3D)
        corner = [((int(piece) >> (ndim - 1 - ax)) & 1) * POC_PIECE for ax in range(ndim)]
        start = [c + int(rng.integers(POC_PIECE - s + 1)) for c, s in zip(corner, mask.shape)]
        region = tuple(slice(s, s + n) for s, n in zip(start, mask.shape))
        label[region][mask] = cls + 1
    image = (label > 0).astype(np.float32)
    image += rng.normal(0.0, POC_NOISE_STD, size=image.shape).astype(np.float32)
    return image, label


def generate_poc_shapes(out_dir: str,
                        seed: int = 0,
                        counts: Optional[Dict[str, Dict[str, int]]] = None,
                        dims: Iterable[str] = ('2d', '3d'),
                        orientation: str = 'uniform',
                        progress: Optional[Callable[[str, str, int, int], None]] = None
                        ) -> Dict[str, dict]:
    """Write the POC datasets (layout in the module docstring).

    Args:
        out_dir (str): Root folder; ``poc_2d`` / ``poc_3d`` are created inside.
        seed (int): Base seed. Defaults to 0.
        counts (dict | None): ``{dim: {split: n}}`` overriding :data:`POC_DEFAULT_COUNTS`
            per entry (splits: train, test, val). Defaults to None.
        dims (iterable[str]): Which of '2d', '3d' to write. Defaults to both.
        orientation (str): Rule of the 3D elongated shapes, ``'uniform'`` or ``'authors'``
            (module docstring). Defaults to ``'uniform'``.
        progress (callable | None): Called as ``progress(dim, split, done, total)``.

    Returns:
        dict: ``{dim: meta}``, the content of each ``meta.json``.

    Raises:
        ValueError: A bad dim or count.
        OutputNotWritableError: ``out_dir`` cannot be written (checked before any sample is
            made).
    """
    dims = list(dims)
    check_orientation(orientation)
    for dim in dims:
        if dim not in POC_CLASSES:
            raise ValueError(f"POC dim must be '2d' or '3d', got {dim!r}")
    check_writable(out_dir)
    metas = {}
    for dim in dims:
        if dim not in POC_CLASSES:
            raise ValueError(f"POC dim must be '2d' or '3d', got {dim!r}")
        dim_counts = dict(POC_DEFAULT_COUNTS[dim])
        dim_counts.update((counts or {}).get(dim, {}))
        for split, n in dim_counts.items():
            if split not in _SPLIT_CODES:
                raise ValueError(f'POC counts[{dim!r}]: unknown split {split!r}')
            if int(n) < 0:
                raise ValueError(f'POC counts[{dim!r}][{split!r}] must be >= 0, got {n}')
        root = osp.join(out_dir, f'poc_{dim}')
        for split, n in dim_counts.items():
            os.makedirs(osp.join(root, split), exist_ok=True)
            for i in range(int(n)):
                image, label = make_poc_sample(dim, poc_sample_rng(seed, dim, split, i),
                                               orientation)
                atomic_savez(osp.join(root, split, f'{i:05d}.npz'), image=image, label=label)
                if progress is not None:
                    progress(dim, split, i + 1, int(n))
        meta = dict(dataset=f'ACS proof-of-concept {dim}', classes=list(POC_CLASSES[dim]),
                    counts={k: int(v) for k, v in dim_counts.items()}, seed=int(seed),
                    size=POC_SIZE, piece=POC_PIECE, min_shape=POC_MIN_SHAPE,
                    noise_std=POC_NOISE_STD, orientation=orientation if dim == '3d' else None,
                    files='{split}/{index:05d}.npz',
                    keys={'image': 'float32', 'label': 'uint8'})
        write_text_atomic(osp.join(root, 'meta.json'), json.dumps(meta, indent=2))
        metas[dim] = meta
    return metas


def load_poc_sample(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read one POC ``.npz``.

    Args:
        path (str): File written by :func:`generate_poc_shapes`.

    Returns:
        tuple: ``image`` float32 and ``label`` uint8, both (48, 48) or (48, 48, 48).
    """
    with np.load(path) as data:
        for key in ('image', 'label'):
            if key not in data.files:
                raise KeyError(f'{path}: missing key {key!r} (has {sorted(data.files)})')
        image, label = data['image'], data['label']
    if image.shape != label.shape:
        raise ValueError(f'{path}: image shape {image.shape} != label shape {label.shape}')
    return image.astype(np.float32, copy=False), label.astype(np.uint8, copy=False)
