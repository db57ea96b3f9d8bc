#!/usr/bin/env python
"""LIDC-IDRI (TCIA DICOM series + the readers' XML) -> one 48^3 crop per nodule as ``.npz``
(``image`` HU int16, ``label`` uint8) and a split json that ``VolumeDataset`` reads.

    python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc
    python data_prep/lidc_to_npz.py data/LIDC-IDRI data/lidc --size 64 --label-rule first

Input: the TCIA download, ``ROOT/LIDC-IDRI-NNNN/<study>/<series>/*.dcm`` with the XML of
the series in the same folder (or the separate "LIDC-XML-only" set via ``--xml-dir``; XMLs
are matched to series by SeriesInstanceUid, chest radiograph XMLs are skipped).

Per series: each reader's ``unblindedReadNodule`` (nodules >= 3 mm; those drawn as a single
point, < 3 mm, and ``nonNodule`` marks are skipped) becomes a mask: every ``roi``'s edge map
filled with ``cv2.fillPoly`` on the slice whose SOP instance UID (else ``imageZposition``)
it names, ``inclusion FALSE`` rois cut out.  Marks of different readers are one nodule when
they touch or lie within ``--cluster-tol`` mm (default: the in-plane pixel spacing), the
rule of pylidc's ``cluster_annotations``.  Label (``--label-rule``):

* ``consensus`` (default): voxels marked by at least ``--agreement`` (0.5) of the readers
  who marked the nodule (LIDC's common 50 % consensus);
* ``first``: the first reader's mask (the ACS paper: "we choose one of the up to 4
  annotations").

Crop: ``--size``^3 voxels (48, the paper's) at ``--spacing`` mm (1.0 isotropic; 0 keeps the
CT's voxels) centred on the mean of the readers' mask centroids; image trilinear (outside
the scan: -1024 HU), label = the readers' masks interpolated and thresholded.

Output: ``OUT/nodules/<patient>_nNN.npz`` (keys image, label, spacing, centre_vox,
num_readers, malignancy, patient_id, series_uid) and ``OUT/lidc_nodules.json`` with
"training" / "validation" lists split 4:1 by patient (the paper splits 4:1 at random;
grouping by patient keeps one patient's nodules on one side), seeded by ``--seed``.  Each
entry also holds the nodule's malignancy as the paper defines it (section IV-B): the
readers' ratings (``malignancy_ratings``, one per reader, 0 = not rated), their mode
(``malignancy_mode``; ties: the lower) and ``malignancy_label`` 0 (mode 1-2), 1 (4-5) or null
(3: left out by the classification dataset; ``acsdet/data_prep/malignancy.py``), so the
segmentation and the classification configs read one file.
Re-runs rewrite the same files.  A run is all-or-nothing: its files replace the old ones only
when every series has been converted, so a run that fails on a later series leaves OUT as it
was; OUT gets a write probe before any work.  The labels are drawn on the CT's own slices
(there is no separate label volume whose grid could differ).  See docs/segmentation_data.md.
"""
import argparse
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

from acsdet.data_prep.malignancy import malignancy_label, malignancy_mode
from acsdet.data_prep.volume_prep import (add_split_args, atomic_savez, check_writable, progress,
                                          run_converter, seeded_split, write_split_json)

AIR_HU = -1024


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='LIDC-IDRI folder (DICOM series searched recursively)')
    p.add_argument('out_dir', help='output folder (nodules/*.npz, lidc_nodules.json)')
    p.add_argument('--xml-dir', help='extra folder of LIDC XML files (searched recursively)')
    p.add_argument('--size', type=int, default=48, help='crop edge in voxels (default: 48)')
    p.add_argument('--spacing', type=float, default=1.0,
                   help='crop voxel size in mm, 0 = the CT\'s own voxels (default: 1.0)')
    p.add_argument('--label-rule', choices=['consensus', 'first'], default='consensus',
                   help='how the readers\' masks become the label (default: consensus)')
    p.add_argument('--agreement', type=float, default=0.5,
                   help='consensus: least fraction of the readers (default: 0.5)')
    p.add_argument('--cluster-tol', type=float,
                   help='mm between two readers\' marks of one nodule (default: pixel spacing)')
    add_split_args(p, 'patients')
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- XML

def _text(elem, tag: str, where: str) -> str:
    child = elem.find(f'{{*}}{tag}')
    if child is None or child.text is None:
        raise ValueError(f'{where}: missing <{tag}>')
    return child.text.strip()


def parse_lidc_xml(path: str) -> Optional[dict]:
    """Read one LIDC XML file.

    Returns:
        dict | None: ``dict(series_uid, readers=[[nodule, ...] per readingSession])`` with
        ``nodule = dict(id, malignancy, rois=[dict(z, sop, inclusion, points (N, 2) x, y)])``
        (nodules drawn as a single point skipped); None for a non-CT (radiograph) file.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f'{path}: not valid XML ({err})') from None
    if not root.tag.endswith('LidcReadMessage'):
        return None
    header = root.find('{*}ResponseHeader')
    if header is None:
        raise ValueError(f'{path}: no <ResponseHeader>')
    series_uid = _text(header, 'SeriesInstanceUid', path)
    readers = []
    for r, session in enumerate(root.findall('{*}readingSession')):
        nodules = []
        for nod in session.findall('{*}unblindedReadNodule'):
            nid = nod.findtext('{*}noduleID', default='?').strip()
            where = f'{path}: reader {r} nodule {nid}'
            rois = []
            for roi in nod.findall('{*}roi'):
                try:
                    z = float(_text(roi, 'imageZposition', where))
                    points = np.array([[int(float(e.findtext('{*}xCoord'))),
                                        int(float(e.findtext('{*}yCoord')))]
                                       for e in roi.findall('{*}edgeMap')], np.int32)
                except (TypeError, ValueError) as err:
                    msg = str(err) if str(err).startswith(path) else f'{where}: bad roi ({err})'
                    raise ValueError(msg) from None
                if len(points) == 0:
                    raise ValueError(f'{where}: roi at z={z:g} has no <edgeMap>')
                inclusion = roi.findtext('{*}inclusion', default='TRUE').strip().upper()
                rois.append(dict(z=z, sop=roi.findtext('{*}imageSOP_UID', default='').strip(),
                                 inclusion=inclusion == 'TRUE', points=points))
            if sum(len(roi['points']) for roi in rois) <= 1:
                continue  # < 3 mm: a single point, no outline
            malignancy = nod.findtext('{*}characteristics/{*}malignancy')
            nodules.append(dict(id=nid, rois=rois,
                                malignancy=int(malignancy) if malignancy else 0))
        readers.append(nodules)
    return dict(series_uid=series_uid, readers=readers)


# ----------------------------------------------------------------------------- DICOM

def find_series(root: str) -> Dict[str, str]:
    """SeriesInstanceUID -> folder, for every folder holding ``.dcm`` files."""
    import SimpleITK as sitk
    series = {}
    for folder, _, files in os.walk(root):
        if not any(f.lower().endswith('.dcm') for f in files):
            continue
        for sid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder):
            series.setdefault(sid, folder)
    return series


def read_series(folder: str, series_uid: str) -> dict:
    """HU volume (D, H, W), spacing (D, H, W), z of every slice, SOP UID -> slice index."""
    import SimpleITK as sitk
    reader = sitk.ImageSeriesReader()
    files = reader.GetGDCMSeriesFileNames(folder, series_uid)
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        image = reader.Execute()
    except RuntimeError:
        raise ValueError(f'{folder}: cannot read DICOM series {series_uid}') from None
    hu = sitk.GetArrayFromImage(image)
    depth = hu.shape[0]
    z = np.array([image.TransformIndexToPhysicalPoint((0, 0, k))[2] for k in range(depth)])
    sops = {}
    for k in range(depth):
        if reader.HasMetaDataKey(k, '0008|0018'):
            sops[reader.GetMetaData(k, '0008|0018').strip()] = k
    patient = reader.GetMetaData(0, '0010|0020').strip() \
        if reader.HasMetaDataKey(0, '0010|0020') else ''
    return dict(hu=hu, spacing=tuple(float(s) for s in image.GetSpacing()[::-1]), z=z,
                sops=sops, patient=patient)


# ----------------------------------------------------------------------------- masks

def nodule_mask(nodule: dict, scan: dict, where: str) -> dict:
    """One reader's mask as ``dict(offset=(d, h, w), mask=bool (d, h, w))`` (its bbox)."""
    import cv2
    height, width = scan['hu'].shape[1:]
    slices = []
    for roi in nodule['rois']:
        k = scan['sops'].get(roi['sop'])
        if k is None:
            dist = np.abs(scan['z'] - roi['z'])
            k = int(dist.argmin())
            if dist[k] > 0.5 * abs(scan['spacing'][0]) + 1e-3:
                raise ValueError(f'{where}: imageZposition {roi["z"]:g} matches no slice '
                                 f'(z {scan["z"].min():g} .. {scan["z"].max():g})')
        pts = roi['points']
        if (pts < 0).any() or (pts[:, 0] >= width).any() or (pts[:, 1] >= height).any():
            raise ValueError(f'{where}: edge map outside the {height} x {width} slice')
        slices.append((k, roi))
    ks = [k for k, _ in slices]
    pts = np.concatenate([roi['points'] for _, roi in slices])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    k0 = min(ks)
    mask = np.zeros((max(ks) - k0 + 1, y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    for inclusion in (True, False):  # cut the exclusions out after all inclusions
        for k, roi in slices:
            if roi['inclusion'] == inclusion:
                plane = np.ascontiguousarray(mask[k - k0])
                cv2.fillPoly(plane, [roi['points'] - [x0, y0]], int(inclusion))
                mask[k - k0] = plane
    return dict(offset=(k0, int(y0), int(x0)), mask=mask.astype(bool))


def _voxels_mm(ann: dict, spacing) -> np.ndarray:
    idx = np.argwhere(ann['mask']) + np.asarray(ann['offset'])
    return idx * np.asarray(spacing)


def cluster_annotations(anns: List[dict], spacing, tol: float) -> List[List[int]]:
    """Group annotations of different readers whose voxels lie within ``tol`` mm."""
    from scipy.spatial import cKDTree
    parent = list(range(len(anns)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    points = [_voxels_mm(a, spacing) for a in anns]
    trees = [cKDTree(p) for p in points]
    for i in range(len(anns)):
        for j in range(i + 1, len(anns)):
            if anns[i]['reader'] == anns[j]['reader']:
                continue
            dist, _ = trees[i].query(points[j], k=1, distance_upper_bound=tol + 1e-6)
            if np.isfinite(dist).any():
                parent[find(j)] = find(i)
    groups = defaultdict(list)
    for i in range(len(anns)):
        groups[find(i)].append(i)
    return list(groups.values())


def crop_nodule(scan: dict, anns: List[dict], args) -> dict:
    """The ``args.size``^3 crop (image HU int16, label uint8) of one nodule cluster."""
    from scipy import ndimage
    spacing = np.asarray(scan['spacing'])
    readers = sorted({a['reader'] for a in anns})
    centroids = []
    for r in readers:
        pts = np.concatenate([np.argwhere(a['mask']) + a['offset'] for a in anns
                              if a['reader'] == r])
        centroids.append(pts.mean(0))
    centre = np.mean(centroids, axis=0)
    k = args.size
    if args.spacing > 0:
        step = args.spacing / spacing
        axes = [c + (np.arange(k) - (k - 1) / 2) * s for c, s in zip(centre, step)]
        out_spacing = (args.spacing, ) * 3
    else:
        axes = [np.round(c) - k // 2 + np.arange(k) for c in centre]
        out_spacing = tuple(spacing)
    # the part of the scan the crop samples (+1 voxel for the interpolation)
    lo = [max(0, int(np.floor(a.min())) - 1) for a in axes]
    hi = [min(n, int(np.ceil(a.max())) + 2) for a, n in zip(axes, scan['hu'].shape)]
    lo = [min(l_, h) for l_, h in zip(lo, hi)]
    grid = np.meshgrid(*[a - l_ for a, l_ in zip(axes, lo)], indexing='ij')
    region = tuple(slice(l_, h) for l_, h in zip(lo, hi))
    local = scan['hu'][region].astype(np.float32)
    if local.size == 0:
        image = np.full((k, ) * 3, AIR_HU, np.float32)
    else:
        image = ndimage.map_coordinates(local, grid, order=1, mode='constant', cval=AIR_HU)
    # readers' masks in the same local frame
    votes = np.zeros((len(readers), ) + local.shape, np.float32)
    for a in anns:
        src = tuple(slice(max(o, l_), min(o + m, h)) for o, m, l_, h in
                    zip(a['offset'], a['mask'].shape, lo, hi))
        if any(s.start >= s.stop for s in src):
            continue
        dst = tuple(slice(s.start - l_, s.stop - l_) for s, l_ in zip(src, lo))
        part = a['mask'][tuple(slice(s.start - o, s.stop - o) for s, o in zip(src, a['offset']))]
        r = readers.index(a['reader'])
        votes[r][dst] = np.maximum(votes[r][dst], part)
    if args.label_rule == 'first':
        target, threshold = votes[0], 0.5
    else:
        target, threshold = votes.mean(0), args.agreement - 1e-6
    if local.size == 0:
        label = np.zeros((k, ) * 3, np.uint8)
    else:
        frac = ndimage.map_coordinates(target, grid, order=1, mode='constant', cval=0)
        label = (frac >= max(threshold, 1e-6)).astype(np.uint8)
    malignancy = np.array([max(a['malignancy'] for a in anns if a['reader'] == r)
                           for r in readers], np.int16)
    return dict(image=np.round(image).clip(-32768, 32767).astype(np.int16), label=label,
                spacing=np.asarray(out_spacing, np.float32),
                centre_vox=np.asarray(centre, np.float32), num_readers=len(readers),
                malignancy=malignancy)


# ----------------------------------------------------------------------------- main

def convert(args) -> dict:
    root, out_dir = osp.abspath(args.root), osp.abspath(args.out_dir)
    if not osp.isdir(root):
        raise FileNotFoundError(f'LIDC-IDRI root folder not found: {root}')
    if args.size < 1 or args.spacing < 0 or not 0 < args.agreement <= 1:
        raise ValueError(f'--size must be >= 1, --spacing >= 0 and --agreement in (0, 1], '
                         f'got {args.size}, {args.spacing}, {args.agreement}')
    check_writable(out_dir)
    series = find_series(root)
    if not series:
        raise FileNotFoundError(f'{root}: no DICOM (.dcm) series found')
    xml_files = sorted({osp.join(folder, n) for top in [root] + ([args.xml_dir] if
                        args.xml_dir else []) for folder, _, files in os.walk(top)
                        for n in files if n.lower().endswith('.xml')})
    by_series = defaultdict(list)
    skipped = 0
    for path in xml_files:
        content = parse_lidc_xml(path)
        if content is None or content['series_uid'] not in series:
            skipped += 1
            continue
        by_series[content['series_uid']].append((path, content))
    if not by_series:
        raise FileNotFoundError(f'{root}: no LIDC XML file names one of the '
                                f'{len(series)} DICOM series found')
    entries, patient_of, counters = {}, {}, defaultdict(int)
    malignancy_counts = {'0': 0, '1': 0, 'null': 0}
    for sid in progress(sorted(by_series), 'LIDC series', args.quiet):
        folder = series[sid]
        scan = read_series(folder, sid)
        patient = scan['patient'] or osp.relpath(folder, root).split(os.sep)[0]
        anns = []
        for path, content in by_series[sid]:
            for r, nodules in enumerate(content['readers']):
                for nod in nodules:
                    where = f'{path}: reader {r} nodule {nod["id"]}'
                    ann = nodule_mask(nod, scan, where)
                    ann.update(reader=(path, r), malignancy=nod['malignancy'])
                    if ann['mask'].any():
                        anns.append(ann)
        if not anns:
            continue
        tol = args.cluster_tol if args.cluster_tol is not None else max(scan['spacing'][1:])
        clusters = cluster_annotations(anns, scan['spacing'], tol)
        crops = [crop_nodule(scan, [anns[i] for i in c], args) for c in clusters]
        for crop in sorted(crops, key=lambda c: tuple(c['centre_vox'])):
            name = f'{patient}_n{counters[patient]:02d}'
            counters[patient] += 1
            atomic_savez(osp.join(out_dir, 'nodules', name + '.npz'), patient_id=patient,
                         series_uid=sid, **crop)
            ratings = [int(r) for r in crop['malignancy']]
            label = malignancy_label(ratings)
            entries[name] = dict(image=f'nodules/{name}.npz', malignancy_ratings=ratings,
                                 malignancy_mode=malignancy_mode(ratings),
                                 malignancy_label=label)
            malignancy_counts['null' if label is None else str(label)] += 1
            patient_of[name] = patient
    if not entries:
        raise ValueError(f'{root}: the XML files mark no nodule >= 3 mm')
    train_p, val_p = seeded_split(sorted(set(patient_of.values())), args.val_ratio, args.seed)
    val_p = set(val_p)
    names = sorted(entries)
    meta = dict(dataset='LIDC-IDRI', classes=['background', 'nodule'], size=args.size,
                spacing=args.spacing, label_rule=args.label_rule, agreement=args.agreement,
                cluster_tol=args.cluster_tol, val_ratio=args.val_ratio, seed=args.seed,
                patients=dict(training=sorted(train_p), validation=sorted(val_p)),
                skipped_xml=skipped, malignancy_labels=malignancy_counts,
                malignancy_rule='mode of the readers\' ratings (ties: the lower); 3 -> null '
                '(left out), 1-2 -> 0, 4-5 -> 1')
    out = osp.join(out_dir, 'lidc_nodules.json')
    write_split_json(out, entries, [n for n in names if patient_of[n] not in val_p],
                     [n for n in names if patient_of[n] in val_p], meta)
    return dict(out=out, nodules=len(entries), patients=len(set(patient_of.values())),
                skipped=skipped)


def main(argv=None) -> int:
    return run_converter(convert, parse_args(argv), lambda i: (
        f'wrote {i["out"]}: {i["nodules"]} nodules of {i["patients"]} patients '
        f'({i["skipped"]} XML files without a matching CT series skipped)'))


if __name__ == '__main__':
    sys.exit(main())
