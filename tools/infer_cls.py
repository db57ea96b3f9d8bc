"""Malignancy probability of a nodule with a trained classifier (configs/lidc/cls_*): a nodule
crop (.npz, as data_prep/lidc_to_npz.py writes) or a CT volume (NIfTI file, DICOM series
folder, MetaImage, .npz volume) and the nodule's centre.

    python tools/infer_cls.py CONFIG CHECKPOINT CROP.npz
    python tools/infer_cls.py CONFIG CHECKPOINT CT.nii.gz --centre 41 250 198     # d h w voxels
    python tools/infer_cls.py CONFIG CHECKPOINT CT.nii.gz --centre-mm -80.5 12 -130  # x y z
        [--spacing 1.0] [--json OUT.json] [--cfg-options KEY=VALUE ...] [--device cpu]

Prints one line, e.g. ``CT.nii.gz: malignant 0.873 (benign 0.127)``.  With a centre, a cube of
the test pipeline's crop size is resampled around it at --spacing mm (the converter's, 1 mm by
default; air outside the scan); without one the input is classified as a crop.  Then the
config's test pipeline (minus its Load step) and the model, exactly as tools/test.py.  --json
writes the probabilities (atomically).  See docs/classification.md.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction

    from acsdet.utils.cli_types import positive_float
    p = argparse.ArgumentParser(prog='infer_cls.py', description=__doc__.split('\n')[0],
                                epilog=__doc__[__doc__.index('Prints'):],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='nodule crop (.npz) or CT volume (NIfTI, DICOM folder, ...)')
    where = p.add_mutually_exclusive_group()
    where.add_argument('--centre', type=float, nargs=3, metavar=('D', 'H', 'W'),
                       help='nodule centre as a voxel index of the volume array (slice, row, '
                       'column)')
    where.add_argument('--centre-mm', type=float, nargs=3, metavar=('X', 'Y', 'Z'),
                       help='nodule centre in patient coordinates (mm, the file\'s frame)')
    p.add_argument('--spacing', type=positive_float, default=1.0,
                   help='crop voxel size in mm when cropping around a centre (default 1.0)')
    p.add_argument('--json', help='also write the probabilities to this file')
    p.add_argument('--no-hu-check', action='store_true',
                   help='accept inputs without air (< -500 HU), e.g. tight crops')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from acsdet.apis import (classify_crop, dataset_class_names, inference_crop_size,
                             load_classifier, nodule_crop)
    from acsdet.fileio import read_volume
    from acsdet.utils.atomic_write import write_text_atomic
    from acsdet.utils.cli_types import check_output_dir

    try:  # the output folder first: a run that cannot write stops before any work
        if args.json:
            check_output_dir(osp.dirname(osp.abspath(args.json)), '--json',
                             files=(osp.basename(args.json), ))
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model, cfg = load_classifier(cfg, args.checkpoint, args.device)
        volume = read_volume(args.input, check_hu=not args.no_hu_check)
        if args.centre is not None or args.centre_mm is not None:
            size = inference_crop_size(cfg) or (48, 48, 48)
            centre = args.centre
            if centre is None:  # (x, y, z) continuous index -> (d, h, w)
                centre = volume.physical_to_index(args.centre_mm)[::-1]
            hu, spacing = nodule_crop(volume, centre, size, args.spacing), (args.spacing, ) * 3
        else:
            hu, spacing = volume.hu, volume.spacing_dhw
        probs = classify_crop(model, cfg, hu, spacing)
    except (OSError, ValueError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    names = dataset_class_names(cfg, len(probs))
    order = sorted(range(len(probs)), key=lambda k: -probs[k])
    top = order[0]
    positive = len(probs) - 1
    rest = ', '.join(f'{names[k]} {probs[k]:.3f}' for k in range(len(probs)) if k != positive)
    print(f'{args.input}: {names[positive]} {probs[positive]:.3f} ({rest}); predicted '
          f'{names[top]}')
    if args.json:
        write_text_atomic(args.json, json.dumps(dict(
            input=args.input, centre=args.centre, centre_mm=args.centre_mm,
            probabilities={n: float(p) for n, p in zip(names, probs)},
            predicted=names[top]), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
