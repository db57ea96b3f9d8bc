"""Tiny datasets in the PUBLIC formats of LIDC-IDRI, LiTS, PROMISE12 and BraTS18, for tests,
smoke runs and config checks of the converters in ``data_prep/`` (see
docs/segmentation_data.md for the layouts).

Every generator is deterministic (``seed``), writes into ``root`` and returns what it wrote
(arrays in (D, H, W) order, spacings in mm as (D, H, W)) so a test can compare a converter's
output with the ground truth.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['make_lidc_like', 'make_lits_like', 'make_promise12_like', 'make_brats_like',
           'ball_mask']


def ball_mask(shape: Sequence[int], centre: Sequence[float], radii: Sequence[float]) -> np.ndarray:
    """Boolean ellipsoid ``sum(((idx - centre) / radii) ** 2) <= 1`` of ``shape`` (D, H, W)."""
    grid = np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing='ij')
    dist = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii))
    return dist <= 1.0


def _save_nifti(array_dhw: np.ndarray, spacing_dhw: Sequence[float], path: str) -> None:
    """Save a (D, H, W) or (C, D, H, W) array as NIfTI (nibabel order (X, Y, Z[, C]))."""
    import nibabel as nib
    arr = array_dhw.transpose(2, 1, 0) if array_dhw.ndim == 3 else \
        array_dhw.transpose(3, 2, 1, 0)
    affine = np.diag(list(spacing_dhw[::-1]) + [1.0])
    nib.save(nib.Nifti1Image(np.ascontiguousarray(arr), affine), path)


def make_lits_like(root: str, num_cases: int = 3, shape: Tuple[int, int, int] = (12, 32, 32),
                   spacing: Tuple[float, float, float] = (2.5, 0.8, 0.8),
                   seed: int = 0) -> Dict[int, dict]:
    """LiTS training data: ``root/Training Batch 1/volume-N.nii`` and ``segmentation-N.nii``
    (int16 HU; labels 0 background, 1 liver, 2 tumour), N = 0 .. num_cases - 1.

    Returns:
        dict: N -> ``dict(image=(D, H, W) int16, label=(D, H, W) uint8, spacing=(D, H, W))``.
    """
    rng = np.random.default_rng(seed)
    folder = osp.join(root, 'Training Batch 1')
    os.makedirs(folder, exist_ok=True)
    cases = {}
    for n in range(num_cases):
        d, h, w = shape
        image = rng.normal(-80, 30, size=shape).round()           # soft tissue / fat
        liver = ball_mask(shape, (d / 2, h / 2, w / 2 + rng.uniform(-2, 2)),
                          (d / 3, h / 3, w / 3))
        tumour = ball_mask(shape, (d / 2, h / 2, w / 2), (d / 8 + 1, h / 10 + 1, w / 10 + 1))
        label = np.zeros(shape, np.uint8)
        label[liver] = 1
        label[liver & tumour] = 2
        image[label == 1] += 160
        image[label == 2] += 110
        image = image.clip(-1024, 3071).astype(np.int16)
        _save_nifti(image, spacing, osp.join(folder, f'volume-{n}.nii'))
        _save_nifti(label, spacing, osp.join(folder, f'segmentation-{n}.nii'))
        cases[n] = dict(image=image, label=label, spacing=tuple(spacing))
    return cases


def make_promise12_like(root: str, num_cases: int = 3,
                        shape: Tuple[int, int, int] = (8, 32, 32),
                        spacing: Tuple[float, float, float] = (3.6, 0.625, 0.625),
                        seed: int = 0) -> Dict[str, dict]:
    """PROMISE12 training data: ``root/CaseNN.mhd`` (+ ``.raw``, T2 MR intensities int16)
    and ``root/CaseNN_segmentation.mhd`` (+ ``.raw``, 0 background / 1 prostate).

    Returns:
        dict: ``'CaseNN'`` -> ``dict(image=(D, H, W) int16, label=(D, H, W) uint8,
        spacing=(D, H, W))``.
    """
    import SimpleITK as sitk
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    cases = {}
    for n in range(num_cases):
        name = f'Case{n:02d}'
        d, h, w = shape
        label = ball_mask(shape, (d / 2, h / 2 + rng.uniform(-2, 2), w / 2),
                          (d / 3, h / 4, w / 4)).astype(np.uint8)
        image = (rng.normal(300, 40, size=shape) + 250 * label).clip(0, 4000).astype(np.int16)
        for array, path in ((image, name + '.mhd'), (label, name + '_segmentation.mhd')):
            img = sitk.GetImageFromArray(array)
            img.SetSpacing(tuple(float(s) for s in spacing[::-1]))
            sitk.WriteImage(img, osp.join(root, path))
        cases[name] = dict(image=image, label=label, spacing=tuple(spacing))
    return cases


BRATS_MODALITIES = ('flair', 't1', 't1ce', 't2')


def make_brats_like(root: str, num_cases: int = 3, shape: Tuple[int, int, int] = (16, 24, 24),
                    seed: int = 0) -> Dict[str, dict]:
    """BraTS18 training data: ``root/{HGG,LGG}/<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz``
    (1 mm isotropic; labels 0 background, 1 necrotic / non-enhancing core, 2 oedema,
    4 enhancing tumour), cases alternating HGG / LGG.

    Returns:
        dict: case -> ``dict(image=(4, D, H, W) float32 in the order flair, t1, t1ce, t2,
        label=(D, H, W) uint8 with the original labels {0, 1, 2, 4}, spacing=(1, 1, 1))``.
    """
    rng = np.random.default_rng(seed)
    cases = {}
    for n in range(num_cases):
        grade = ('HGG', 'LGG')[n % 2]
        case = f'Brats18_TST_{n:d}_1'
        folder = osp.join(root, grade, case)
        os.makedirs(folder, exist_ok=True)
        d, h, w = shape
        centre = (d / 2, h / 2 + rng.uniform(-1, 1), w / 2)
        brain = ball_mask(shape, (d / 2, h / 2, w / 2), (d / 2.2, h / 2.2, w / 2.2))
        oedema = ball_mask(shape, centre, (d / 4, h / 4, w / 4))
        core = ball_mask(shape, centre, (d / 6, h / 6, w / 6))
        enh = core & ~ball_mask(shape, centre, (d / 10, h / 10, w / 10))
        label = np.zeros(shape, np.uint8)
        label[oedema] = 2
        label[core] = 1
        label[enh] = 4
        label[~brain] = 0
        image = np.zeros((4, ) + tuple(shape), np.float32)
        for c in range(4):
            vol = rng.normal(400 + 100 * c, 30, size=shape) + 150 * (label > 0) + \
                90 * c * (label == 4)
            image[c] = np.where(brain, vol, 0).round()
        for c, mod in enumerate(BRATS_MODALITIES):
            _save_nifti(image[c].astype(np.float32), (1.0, 1.0, 1.0),
                        osp.join(folder, f'{case}_{mod}.nii.gz'))
        _save_nifti(label, (1.0, 1.0, 1.0), osp.join(folder, f'{case}_seg.nii.gz'))
        cases[case] = dict(image=image, label=label, spacing=(1.0, 1.0, 1.0))
    return cases


def _dicom_uid(*parts: int) -> str:
    return '1.2.826.0.1.3680043.2.1125.' + '.'.join(str(p) for p in parts)


def _write_dicom_series(hu: np.ndarray, spacing: Sequence[float], folder: str,
                        patient_id: str, study_uid: str, series_uid: str,
                        z0: float) -> List[Tuple[float, str]]:
    """Write ``hu`` (D, H, W) int16 as one axial CT slice per file; slice k at z = z0 + k dz.

    Returns:
        list[tuple[float, str]]: (z position in mm, SOP instance UID) per slice.
    """
    import SimpleITK as sitk
    dz, dy, dx = spacing
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    slices = []
    for k in range(hu.shape[0]):
        img = sitk.GetImageFromArray(hu[k:k + 1].astype(np.int16))
        img.SetSpacing((dx, dy, dz))
        z = z0 + k * dz
        img.SetOrigin((-100.0, -120.0, z))
        sop = f'{series_uid}.{k + 1}'
        tags = {
            '0008|0060': 'CT', '0008|0016': '1.2.840.10008.5.1.4.1.1.2', '0008|0018': sop,
            '0010|0020': patient_id, '0020|000d': study_uid, '0020|000e': series_uid,
            '0020|0013': str(k + 1), '0020|0032': f'-100\\-120\\{z:g}',
            '0020|0037': '1\\0\\0\\0\\1\\0', '0028|0030': f'{dy:g}\\{dx:g}',
            '0018|0050': f'{dz:g}', '0028|1052': '0', '0028|1053': '1',
        }
        for tag, value in tags.items():
            img.SetMetaData(tag, value)
        writer.SetFileName(osp.join(folder, f'{k + 1:06d}.dcm'))
        writer.Execute(img)
        slices.append((z, sop))
    return slices


def _reader_xml(series_uid: str, study_uid: str, sessions: List[List[dict]]) -> str:
    """LIDC XML text: ``sessions`` = per reader a list of nodules
    ``dict(id, malignancy | None, rois=[(z, sop, [(x, y), ...], inclusion)])``."""
    ns = 'http://www.nih.gov'
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<LidcReadMessage xmlns="{ns}" uid="1.3.6.1.4.1.14519.5.2.1.6279.6001.0">',
           '<ResponseHeader><Version>1.8.1</Version>',
           f'<StudyInstanceUID>{study_uid}</StudyInstanceUID>',
           f'<SeriesInstanceUid>{series_uid}</SeriesInstanceUid></ResponseHeader>']
    for r, nodules in enumerate(sessions):
        out.append('<readingSession><annotationVersion>3.12</annotationVersion>'
                   f'<servicingRadiologistID>reader{r}</servicingRadiologistID>')
        for nod in nodules:
            out.append(f'<unblindedReadNodule><noduleID>{nod["id"]}</noduleID>')
            if nod.get('malignancy') is not None:
                out.append('<characteristics><subtlety>5</subtlety>'
                           f'<malignancy>{nod["malignancy"]}</malignancy></characteristics>')
            for z, sop, points, inclusion in nod['rois']:
                out.append(f'<roi><imageZposition>{z:g}</imageZposition>'
                           f'<imageSOP_UID>{sop}</imageSOP_UID>'
                           f'<inclusion>{"TRUE" if inclusion else "FALSE"}</inclusion>')
                out.extend(f'<edgeMap><xCoord>{x}</xCoord><yCoord>{y}</yCoord></edgeMap>'
                           for x, y in points)
                out.append('</roi>')
            out.append('</unblindedReadNodule>')
        out.append('<nonNodule><nonNoduleID>nn1</nonNoduleID><imageZposition>0</imageZposition>'
                   '<imageSOP_UID>x</imageSOP_UID><locus><xCoord>3</xCoord><yCoord>3</yCoord>'
                   '</locus></nonNodule></readingSession>')
    out.append('</LidcReadMessage>')
    return '\n'.join(out)


def _mask_rois(mask: np.ndarray, slices: List[Tuple[float, str]]) -> list:
    """Per slice of a (D, H, W) mask: its outer contours as LIDC edge maps (x = column)."""
    import cv2
    rois = []
    for k in range(mask.shape[0]):
        if not mask[k].any():
            continue
        contours, _ = cv2.findContours(mask[k].astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        for cnt in contours:
            rois.append((slices[k][0], slices[k][1], [(int(x), int(y)) for x, y in cnt[:, 0]],
                         True))
    return rois


#: Per-patient malignancy ratings of the two readers of :func:`make_lidc_like` (cycled).
LIDC_LIKE_RATINGS = ((2, 4), (4, 5), (3, 3), (1, 2))


def make_lidc_like(root: str, num_patients: int = 2, shape: Tuple[int, int, int] = (16, 40, 40),
                   spacing: Tuple[float, float, float] = (1.25, 0.7, 0.7),
                   seed: int = 0) -> Dict[str, dict]:
    """LIDC-IDRI (TCIA layout): ``root/LIDC-IDRI-000N/<study uid>/<series uid>/`` holding one
    DICOM file per axial CT slice (int16 HU, z ascending from z0 = -50 mm + N) and the
    readers' ``069.xml``.  Each patient has one nodule marked by 2 readers (reader 0 a ball
    of in-plane radius 4 voxels, reader 1 of radius 5), plus a "nodule < 3 mm" (a single
    edge-map point, which converters skip) and a non-nodule.  The readers' malignancy
    ratings cycle over the patients through :data:`LIDC_LIKE_RATINGS`: (2, 4) (a tie: mode 2,
    benign), (4, 5) (mode 4, malignant), (3, 3) (mode 3: left out), (1, 2) (benign), ...

    Returns:
        dict: patient id -> ``dict(hu=(D, H, W) int16, spacing=(D, H, W), z=[z of slice k],
        series_uid, reader_masks=[(D, H, W) bool, (D, H, W) bool], centre=(d, h, w),
        ratings=[reader 0, reader 1])``.
    """
    rng = np.random.default_rng(seed)
    patients = {}
    for n in range(1, num_patients + 1):
        pid = f'LIDC-IDRI-{n:04d}'
        study_uid, series_uid = _dicom_uid(n, 1), _dicom_uid(n, 1, 2)
        folder = osp.join(root, pid, study_uid, series_uid)
        os.makedirs(folder, exist_ok=True)
        d, h, w = shape
        centre = (d / 2 + int(rng.integers(-1, 2)), h / 2 + int(rng.integers(-3, 4)),
                  w / 2 + int(rng.integers(-3, 4)))
        rad_d = 4 * spacing[1] / spacing[0]
        masks = [ball_mask(shape, centre, (rad_d * r / 4, r, r)) for r in (4, 5)]
        hu = rng.normal(-800, 40, size=shape)
        hu[masks[0]] = rng.normal(40, 20, size=int(masks[0].sum()))
        hu = hu.round().clip(-1024, 3071).astype(np.int16)
        slices = _write_dicom_series(hu, spacing, folder, pid, study_uid, series_uid,
                                     z0=-50.0 + n)
        small = dict(id='small1', malignancy=None,
                     rois=[(slices[1][0], slices[1][1], [(2, 2)], True)])
        ratings = LIDC_LIKE_RATINGS[(n - 1) % len(LIDC_LIKE_RATINGS)]
        sessions = [[dict(id=f'r{r}n1', malignancy=ratings[r], rois=_mask_rois(m, slices))]
                    + ([small] if r == 0 else []) for r, m in enumerate(masks)]
        with open(osp.join(folder, '069.xml'), 'w') as f:
            f.write(_reader_xml(series_uid, study_uid, sessions))
        patients[pid] = dict(hu=hu, spacing=tuple(spacing), z=[s[0] for s in slices],
                             series_uid=series_uid, reader_masks=masks, centre=centre,
                             ratings=list(ratings))
    return patients
