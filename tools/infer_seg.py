"""Segment a user's own volume with a trained segmentation model (configs/lidc, configs/lits,
configs/poc, configs/gsp): NIfTI file or DICOM series folder in, NIfTI label map out.

    python tools/infer_seg.py CONFIG CHECKPOINT INPUT [--out-dir DIR]
        [--input-type auto|nifti|dicom] [--no-hu-check] [--cfg-options KEY=VALUE ...]
        [--device cpu]

Writes (atomically) DIR/<name>_seg.nii.gz, the label map (uint8, 0 = background) on the
input's grid and in its frame (spacing, origin, direction), so it overlays the input in any
viewer (ITK-SNAP, 3D Slicer), and DIR/<name>_seg.json: per class, voxels, volume in mL,
connected components and the largest one's volume.  The config's test pipeline (minus its
Load step) prepares the volume exactly as in testing, and its model.test_cfg decides whole
volume or sliding windows (e.g. --cfg-options model.test_cfg.mode=slide
"model.test_cfg.window=(64,224,224)").  MR inputs (PROMISE12) need --no-hu-check; models of
several input channels (BraTS) are not supported here.  --out-dir is checked first (a folder,
or creatable, and writable; neither output file a folder), before the config or the volume is
read: one line ``error: --out-dir DIR: ...``.  See docs/inference.md.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(prog='infer_seg.py', description=__doc__.split('\n')[0],
                                epilog=__doc__[__doc__.index('Writes'):],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='NIfTI file (.nii / .nii.gz) or DICOM series folder')
    p.add_argument('--out-dir', default='infer_seg_out')
    p.add_argument('--input-type', default='auto', choices=('auto', 'nifti', 'dicom'))
    p.add_argument('--no-hu-check', action='store_true',
                   help='accept volumes without air (< -500 HU): MR, tight crops')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override config keys, e.g. model.test_cfg.mode=slide')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def _output_name(path: str) -> str:
    name = osp.basename(osp.normpath(path))
    for suffix in ('.nii.gz', '.nii'):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config

    from acsdet.apis import (dataset_class_names, label_statistics, load_segmentor,
                             save_label_map, segment_volume)
    from acsdet.fileio import read_volume
    from acsdet.utils.atomic_write import write_text_atomic
    from acsdet.utils.cli_types import check_output_dir
    name = _output_name(args.input)
    try:  # the output folder first: a run that cannot write stops before any work
        check_output_dir(args.out_dir, '--out-dir',
                         files=(f'{name}_seg.nii.gz', f'{name}_seg.json'))
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        volume = read_volume(args.input, args.input_type, check_hu=not args.no_hu_check)
        if volume.input_type not in ('nifti', 'dicom'):
            raise ValueError(f'{args.input}: {volume.input_type} input; segmentation takes a '
                             'NIfTI file or a DICOM series folder')
        model, cfg = load_segmentor(cfg, args.checkpoint, args.device)
        labels = segment_volume(model, cfg, volume)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    seg_path = osp.join(args.out_dir, f'{name}_seg.nii.gz')
    save_label_map(labels, volume, seg_path)
    classes = dataset_class_names(cfg, max(int(labels.max()) + 1, _num_classes(cfg)))
    stats = label_statistics(labels, volume.spacing, classes)
    summary = dict(input=osp.abspath(args.input), input_type=volume.input_type,
                   shape_zyx=list(volume.hu.shape), spacing_xyz_mm=list(volume.spacing),
                   config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                   test_cfg=dict(cfg.model.get('test_cfg') or {}), label_map=seg_path,
                   classes=stats)
    json_path = osp.join(args.out_dir, f'{name}_seg.json')
    write_text_atomic(json_path, json.dumps(summary, indent=1))
    found = ', '.join(f'{s["name"]} {s["volume_ml"]:.1f} mL ({s["components"]} parts)'
                      for s in stats) or 'no foreground class'
    print(f'{found} -> {seg_path}, {json_path}')
    return 0


def _num_classes(cfg) -> int:
    """The model's number of classes as the configs state it (0 if not found)."""
    network = cfg.model.get('network', {})
    for owner in (network, network.get('unet', {})):
        if 'num_classes' in owner:
            return int(owner['num_classes'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
