#!/usr/bin/env python
"""Write the 2D backbone of a trained checkpoint as a torchvision-format state dict.

    python tools/model_converters/export_2d_backbone.py CHECKPOINT OUT.pth
        [--prefix backbone.] [--out-prefix features.] [--stem-key conv0.weight]

The checkpoint is a detector (or any model) whose ``--prefix`` part was trained with 2D
kernels: e.g. the 2D lesion detector of configs/deeplesion_mini/ (TruncatedDenseNet3D with
conv_type='2.5d' on one slice).  OUT.pth holds ``features.conv0.weight`` (64, 3, 7, 7) ...
exactly as torchvision's DenseNet-121, so a 3D-context model loads it with the same
``init_cfg=dict(type='Pretrained', checkpoint=OUT.pth)`` that takes the ImageNet file (direct
for ACS / 2.5D, I3D-inflated for 3D).  The file is written atomically, weights only.
Errors (a missing or unreadable checkpoint, no key under the prefix, a 3D kernel) are one line,
exit status 2, nothing written.
"""
import argparse
import os.path as osp
import sys

import torch

from acsdet.models.converters import export_2d_state_dict
from acsdet.utils.atomic_write import atomic_file_path
from acsdet.utils.safe_checkpoint import read_state_dict


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('checkpoint', help='trained checkpoint (mmengine .pth or a state dict)')
    p.add_argument('out', help='output .pth (torchvision key format)')
    p.add_argument('--prefix', default='backbone.', help="part to export (default: backbone.)")
    p.add_argument('--out-prefix', default='features.',
                   help='prefix of the written keys (default: features., torchvision DenseNet)')
    p.add_argument('--stem-key', default='conv0.weight',
                   help="1-channel stem written as RGB (default: conv0.weight; '' = none)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if not osp.isdir(osp.dirname(osp.abspath(args.out))):
            raise FileNotFoundError(f'output folder does not exist: '
                                    f'{osp.dirname(osp.abspath(args.out))}')
        state = read_state_dict(args.checkpoint, strip_common=())
        out = export_2d_state_dict(state, args.prefix, args.out_prefix, args.stem_key or None)
        with atomic_file_path(args.out, '.pth') as tmp:
            torch.save(out, tmp)
    except (FileNotFoundError, KeyError, ValueError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'export_2d_backbone.py: error: {msg}', file=sys.stderr)
        return 2
    print(f'{len(out)} tensors from {args.checkpoint} ({args.prefix}*) -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
