"""The CPU-sized GSP-Conv benchmark (issue 15): a large-object set where a pointwise network
cannot tell the target from its neighbours, and a small-object twin where it can.

The GSP-Conv paper's Table 1 claim is that replacing every 3x3x3 conv of the tiny 3D U-Net by a
pointwise one costs a lot when the target is large compared with a pointwise network's
receptive field (PROMISE12, prostate: 87.3 -> 65.5 mDice) and little when the targets are
small and told apart by their local intensities (BraTS18, tumours: 80.5 -> 79.6).  PROMISE12
and BraTS18 are not on these machines; these two generated sets have those two properties by
construction.  Both share the grid, spacing, intensity scale, texture and noise:

* grid 16 x 48 x 48 voxels (D, H, W), spacing (2.5, 1.0, 1.0) mm (PROMISE12-like
  anisotropy), one channel;
* image = 1.0 on every body (``body_contrast``) + a smooth texture (white noise blurred with
  sigma (1, 2, 2) voxels, scaled to std 0.1) + white noise (std 0.1), the same everywhere:
  a contrast-to-noise ratio of 7, so a voxel's intensity says reliably whether it is in a
  body;

``organ`` (large objects, label 1 = the target organ):

* the target: a lobed ellipsoid near the centre (centre jitter +-1 slice, +-4 voxels in-plane;
  semi-axes 3-5 slices and 8-13 voxels, radius modulated by ``1 + 0.12 cos(k theta + phi)``
  in-plane, k in {2, 3});
* two neighbours with exactly the target's intensity and texture, 0-2 voxels away (so they
  touch about a third of the time): an anterior flattened ellipsoid (bladder-like, smaller H
  index) and a posterior tube running through all slices (rectum-like, larger H index).
  Neither is labelled.  The target is told from them only by its shape (it ends within the
  stack, they are wider or run through it) and its position between them: a voxel's
  intensity says "body", not which body.

``lesion`` (small objects, labels 1 = rim / oedema, 2 = core, nested as BraTS' regions):

* 1-3 lesions at random non-overlapping positions, each an ellipsoid of in-plane semi-axes
  3-6 voxels and 1.5-3 slices, with a core of 40-60 % of its size; the rim has the bodies'
  contrast (1.0) and the core twice it (2.0): a voxel's intensity names its class up to the
  noise, so a pointwise network has what it needs locally.

``meta.json`` of each set holds the design constants and statistics computed from the written
volumes (object volumes, foreground fraction and the Dice a per-voxel intensity threshold
reaches: the best any purely local rule can do on intensity alone), see
docs/gsp_conv.md.  Each sample has its own seed (``SeedSequence([seed, set, split,
index])``), so sample ``i`` does not depend on the counts.  The design was fixed before the
first table run (issue 15) and is not tuned to the results.

Layout: ``<out>/gsp_<set>/{train,test}/NNNNN.npz`` with ``image`` float32 (D, H, W),
``label`` uint8 (D, H, W) and ``spacing`` float64 (3, ) mm, the ``.npz`` format
``VolumeDataset`` / ``LoadVolumeFromFile`` read.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, Iterable, Optional, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.ndimage import label as connected_components

from acsdet.utils.atomic_write import atomic_file_path, write_text_atomic
from .output_guard import check_writable
from .volume_prep import atomic_savez

__all__ = ['GSP_BENCH_SETS', 'GSP_BENCH_SHAPE', 'GSP_BENCH_SPACING', 'GSP_BENCH_COUNTS',
           'gsp_bench_rng', 'make_gsp_bench_sample', 'generate_gsp_bench',
           'gsp_bench_contact_sheet']

#: set name -> class names (label order).
GSP_BENCH_SETS: Dict[str, Tuple[str, ...]] = {
    'organ': ('background', 'organ'),
    'lesion': ('background', 'rim', 'core'),
}
GSP_BENCH_SHAPE = (16, 48, 48)            # (D, H, W) voxels
GSP_BENCH_SPACING = (2.5, 1.0, 1.0)       # (D, H, W) mm
GSP_BENCH_COUNTS = {'train': 40, 'test': 20}
_SET_CODES = {'organ': 1, 'lesion': 2}
_SPLIT_CODES = {'train': 0, 'test': 1, 'val': 2}

BODY_CONTRAST = 1.0
TEXTURE_STD = 0.1
TEXTURE_SIGMA = (1.0, 2.0, 2.0)
NOISE_STD = 0.1


def gsp_bench_rng(seed: int, name: str, split: str, index: int) -> np.random.Generator:
    """The random stream of one sample (independent of the counts)."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), _SET_CODES[name], _SPLIT_CODES[split], int(index)]))


def _grid() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.meshgrid(*[np.arange(s, dtype=np.float64) for s in GSP_BENCH_SHAPE],
                       indexing='ij')


def _ellipsoid(centre, radii, lobes: Optional[Tuple[int, float, float]] = None) -> np.ndarray:
    """Boolean (D, H, W) ellipsoid; ``lobes=(k, amplitude, phase)`` modulates its radius by
    ``1 + amplitude * cos(k * theta + phase)``, theta the in-plane angle about the centre."""
    z, y, x = _grid()
    dz, dy, dx = (z - centre[0]) / radii[0], (y - centre[1]) / radii[1], \
        (x - centre[2]) / radii[2]
    r = np.sqrt(dz**2 + dy**2 + dx**2)
    if lobes is None:
        return r <= 1.0
    k, amp, phase = lobes
    theta = np.arctan2(dy, dx)
    return r <= 1.0 + amp * np.cos(k * theta + phase)


def _tube_along_depth(centre_hw, radius) -> np.ndarray:
    """Boolean (D, H, W) cylinder through every slice."""
    _, y, x = _grid()
    return (y - centre_hw[0])**2 + (x - centre_hw[1])**2 <= radius**2


def _texture_and_noise(rng: np.random.Generator) -> np.ndarray:
    texture = gaussian_filter(rng.standard_normal(GSP_BENCH_SHAPE), TEXTURE_SIGMA)
    texture *= TEXTURE_STD / max(texture.std(), 1e-12)
    return texture + rng.normal(0.0, NOISE_STD, size=GSP_BENCH_SHAPE)


def _organ_sample(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    d, h, w = GSP_BENCH_SHAPE
    centre = (d / 2 - 0.5 + rng.uniform(-1, 1), h / 2 - 0.5 + rng.uniform(-4, 4),
              w / 2 - 0.5 + rng.uniform(-4, 4))
    radii = (rng.uniform(3, 5), rng.uniform(8, 12), rng.uniform(9, 13))
    lobes = (int(rng.integers(2, 4)), 0.12, rng.uniform(0, 2 * np.pi))
    target = _ellipsoid(centre, radii, lobes)
    # anterior (smaller H) flattened ellipsoid, 0-2 voxels from the target's H extent
    gap_a = rng.uniform(0, 2)
    radii_a = (rng.uniform(3, 6), rng.uniform(5, 8), rng.uniform(10, 15))
    centre_a = (centre[0] + rng.uniform(-1, 1),
                centre[1] - radii[1] * (1 + lobes[1]) - gap_a - radii_a[1],
                centre[2] + rng.uniform(-3, 3))
    anterior = _ellipsoid(centre_a, radii_a)
    # posterior (larger H) tube through all slices
    gap_p = rng.uniform(0, 2)
    radius_p = rng.uniform(4, 6)
    posterior = _tube_along_depth(
        (centre[1] + radii[1] * (1 + lobes[1]) + gap_p + radius_p,
         centre[2] + rng.uniform(-3, 3)), radius_p)
    bodies = target | anterior | posterior
    label = target.astype(np.uint8)
    image = BODY_CONTRAST * bodies + _texture_and_noise(rng)
    return image.astype(np.float32), label


def _lesion_sample(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    d, h, w = GSP_BENCH_SHAPE
    label = np.zeros(GSP_BENCH_SHAPE, np.uint8)
    image = _texture_and_noise(rng)
    num = int(rng.integers(1, 4))
    placed = 0
    for _ in range(200):  # rejection sampling of non-overlapping lesions
        if placed == num:
            break
        radii = (rng.uniform(1.5, 3), rng.uniform(3, 6), rng.uniform(3, 6))
        centre = tuple(rng.uniform(r + 1, s - 2 - r) for r, s in zip(radii, (d, h, w)))
        outer = _ellipsoid(centre, radii)
        # one voxel of background between lesions
        if (gaussian_filter(outer.astype(float), 1.0) > 0.05)[label > 0].any():
            continue
        core = _ellipsoid(centre, tuple(r * rng.uniform(0.4, 0.6) for r in radii))
        label[outer] = 1
        label[core & outer] = 2
        placed += 1
    image += BODY_CONTRAST * (label == 1) + 2 * BODY_CONTRAST * (label == 2)
    return image.astype(np.float32), label


def make_gsp_bench_sample(name: str, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """One volume of the set ``name`` ('organ' or 'lesion').

    Returns:
        tuple: ``image`` float32 (16, 48, 48) and ``label`` uint8 (16, 48, 48), axes (D, H, W).
    """
    if name not in GSP_BENCH_SETS:
        raise ValueError(f'GSP bench set must be one of {sorted(GSP_BENCH_SETS)}, got {name!r}')
    return (_organ_sample if name == 'organ' else _lesion_sample)(rng)


def _dice(pred: np.ndarray, gt: np.ndarray) -> float:
    denom = pred.sum() + gt.sum()
    return 1.0 if denom == 0 else 2.0 * float((pred & gt).sum()) / float(denom)


def _statistics(name: str, samples) -> dict:
    """Per-set figures for the docs, from (image, label) pairs."""
    classes = GSP_BENCH_SETS[name]
    voxel_ml = float(np.prod(GSP_BENCH_SPACING)) / 1000.0
    stats = dict(foreground_fraction=float(np.mean([(lab > 0).mean() for _, lab in samples])))
    for c in range(1, len(classes)):
        vols = np.array([(lab == c).sum() for _, lab in samples], np.float64)
        stats[f'{classes[c]}_voxels_mean'] = float(vols.mean())
        stats[f'{classes[c]}_voxels_std'] = float(vols.std())
        stats[f'{classes[c]}_ml_mean'] = float(vols.mean() * voxel_ml)
    if name == 'organ':
        # the best a per-voxel intensity rule can do: threshold half-way to the contrast
        stats['threshold_dice_mean'] = float(np.mean(
            [_dice(img > BODY_CONTRAST / 2, lab == 1) for img, lab in samples]))
        stats['bodies_per_target_voxels'] = float(np.mean(
            [(img > BODY_CONTRAST / 2).sum() / max((lab == 1).sum(), 1)
             for img, lab in samples]))
    else:
        stats['lesions_per_volume_mean'] = float(np.mean(
            [_count_components(lab > 0) for _, lab in samples]))
        for c, (lo, hi) in ((1, (0.5, 1.5)), (2, (1.5, np.inf))):
            stats[f'threshold_dice_{classes[c]}_mean'] = float(np.mean(
                [_dice((img > lo * BODY_CONTRAST) & (img <= hi * BODY_CONTRAST), lab == c)
                 for img, lab in samples]))
    return stats


def _count_components(mask: np.ndarray) -> int:
    return int(connected_components(mask)[1])


def generate_gsp_bench(out_dir: str,
                       seed: int = 0,
                       counts: Optional[Dict[str, int]] = None,
                       sets: Iterable[str] = ('organ', 'lesion'),
                       progress: Optional[Callable[[str, str, int, int], None]] = None
                       ) -> Dict[str, dict]:
    """Write the benchmark sets (layout in the module docstring).

    Args:
        out_dir (str): Root folder; ``gsp_organ`` / ``gsp_lesion`` are created inside.
        seed (int): Base seed. Defaults to 0.
        counts (dict | None): ``{split: n}`` overriding :data:`GSP_BENCH_COUNTS` per entry
            (splits train, test, val). Defaults to None.
        sets (iterable[str]): Which of 'organ', 'lesion'. Defaults to both.
        progress (callable | None): Called as ``progress(set, split, done, total)``.

    Returns:
        dict: ``{set: meta}``, the content of each ``meta.json``.

    Raises:
        ValueError: An unknown set or split, or a negative count (before anything is written).
        OutputNotWritableError: ``out_dir`` cannot be written (checked before any work).
    """
    sets = list(sets)
    for name in sets:
        if name not in GSP_BENCH_SETS:
            raise ValueError(f'GSP bench set must be one of {sorted(GSP_BENCH_SETS)}, '
                             f'got {name!r}')
    split_counts = dict(GSP_BENCH_COUNTS)
    split_counts.update(counts or {})
    for split, n in split_counts.items():
        if split not in _SPLIT_CODES:
            raise ValueError(f'GSP bench counts: unknown split {split!r} (known: '
                             f'{sorted(_SPLIT_CODES)})')
        if int(n) < 0:
            raise ValueError(f'GSP bench counts[{split!r}] must be >= 0, got {n}')
    check_writable(out_dir)
    metas = {}
    for name in sets:
        root = osp.join(out_dir, f'gsp_{name}')
        samples = []
        for split, n in split_counts.items():
            os.makedirs(osp.join(root, split), exist_ok=True)
            for i in range(int(n)):
                image, label = make_gsp_bench_sample(name, gsp_bench_rng(seed, name, split, i))
                atomic_savez(osp.join(root, split, f'{i:05d}.npz'), image=image, label=label,
                             spacing=np.asarray(GSP_BENCH_SPACING, np.float64))
                samples.append((image, label))
                if progress is not None:
                    progress(name, split, i + 1, int(n))
        meta = dict(dataset=f'GSP-Conv CPU benchmark, {name} set', classes=list(
            GSP_BENCH_SETS[name]), counts={k: int(v) for k, v in split_counts.items()},
            seed=int(seed), shape=list(GSP_BENCH_SHAPE), spacing_mm=list(GSP_BENCH_SPACING),
            body_contrast=BODY_CONTRAST, texture_std=TEXTURE_STD,
            texture_sigma=list(TEXTURE_SIGMA), noise_std=NOISE_STD,
            files='{split}/{index:05d}.npz',
            keys={'image': 'float32', 'label': 'uint8', 'spacing': 'float64 (D, H, W) mm'},
            statistics=_statistics(name, samples) if samples else {})
        write_text_atomic(osp.join(root, 'meta.json'), json.dumps(meta, indent=2))
        metas[name] = meta
    return metas


def gsp_bench_contact_sheet(root: str, out_png: str, num: int = 6, split: str = 'train',
                            zoom: int = 2) -> str:
    """A PNG of the written sets: per set one row of ``num`` volumes, each as its most
    labelled axial slice, plain and with the labels outlined (red rim / organ, green core).

    Args:
        root (str): The folder :func:`generate_gsp_bench` wrote (``gsp_<set>/`` inside).
        out_png (str): Output file (written atomically).
        num (int): Volumes per set. Defaults to 6.
        split (str): Defaults to 'train'.
        zoom (int): Nearest-neighbour magnification. Defaults to 2.

    Returns:
        str: ``out_png``.

    Raises:
        FileNotFoundError: No set, or a set with fewer than ``num`` volumes, under ``root``.
    """
    import cv2
    rows = []
    for name in GSP_BENCH_SETS:
        folder = osp.join(root, f'gsp_{name}', split)
        if not osp.isdir(folder):
            continue
        files = sorted(f for f in os.listdir(folder) if f.endswith('.npz'))[:num]
        if len(files) < num:
            raise FileNotFoundError(f'{folder}: {len(files)} volumes, the sheet needs {num}')
        tiles = []
        for file in files:
            with np.load(osp.join(folder, file)) as data:
                image, label = data['image'], data['label']
            z = int(np.argmax((label > 0).sum(axis=(1, 2))))
            grey = np.clip((image[z] + 0.5) / (2 * BODY_CONTRAST + 1.0) * 255, 0, 255)
            plain = cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2BGR)
            outlined = plain.copy()
            for c, colour in ((1, (0, 0, 255)), (2, (0, 255, 0))):
                contours, _ = cv2.findContours((label[z] == c).astype(np.uint8),
                                               cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(outlined, contours, -1, colour, 1)
            tiles.append(np.concatenate([plain, outlined], axis=1))
        rows.append(np.concatenate(tiles, axis=1))
    if not rows:
        raise FileNotFoundError(f'{root}: no gsp_<set>/{split}/ folder to draw')
    sheet = cv2.resize(np.concatenate(rows, axis=0), None, fx=zoom, fy=zoom,
                       interpolation=cv2.INTER_NEAREST)
    with atomic_file_path(out_png) as tmp:
        if not cv2.imwrite(tmp, sheet):
            raise OSError(f'cv2 could not write {out_png}')
    return out_png
