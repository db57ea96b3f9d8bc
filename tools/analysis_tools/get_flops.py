"""Parameters and FLOPs (multiply-adds) of a segmentation config's network, by mmengine's
counter (``acsdet.models.utils.count_complexity``: convolutions and linear layers; Group
Shift, batch norm, pooling and upsampling count 0).

    .venv/bin/python tools/analysis_tools/get_flops.py configs/gsp/gsp_unet_brats18.py \
        --shape 128 128 128

prints ``params`` and ``flops`` (and ``--json`` writes them) for one (1, C, D, H, W) input; C
is the network's ``in_channels`` (else its first convolution's) unless ``--in-channels``
is given.  Errors are one line,
exit code 2.
"""
import argparse
import json
import os.path as osp
import sys

from acsdet.utils.cli_types import positive_int


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--shape', type=positive_int, nargs='+', required=True, metavar='N',
                   help='spatial input size, (D, H, W) or (H, W) for a 2D network')
    p.add_argument('--in-channels', type=positive_int, default=None)
    p.add_argument('--json', default=None, help='write {"params", "flops", ...} here')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config {args.config} not found', file=sys.stderr)
        return 2
    if len(args.shape) not in (2, 3):
        print(f'error: --shape takes 2 or 3 sizes >= 1, got {args.shape}', file=sys.stderr)
        return 2
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.models.utils import count_complexity
    from acsdet.registry import MODELS
    from acsdet.utils.atomic_write import write_text_atomic
    register_all_modules()
    model = MODELS.build(Config.fromfile(args.config).model)
    network = getattr(model, 'network', model)
    channels = args.in_channels or getattr(network, 'in_channels', None)
    if channels is None:  # the first convolution's
        import torch.nn as nn
        convs = [m for m in network.modules() if isinstance(m, nn.modules.conv._ConvNd)]
        channels = convs[0].in_channels if convs else None
    if channels is None:
        print(f'error: {args.config}: the network has no in_channels; give --in-channels',
              file=sys.stderr)
        return 2
    shape = (1, int(channels), *args.shape)
    try:
        info = count_complexity(network, shape)
    except (RuntimeError, ValueError) as err:
        print(f'error: {args.config}: input {shape}: {str(err).splitlines()[0]}',
              file=sys.stderr)
        return 2
    result = dict(config=args.config, network=type(network).__name__, input=list(shape),
                  **info)
    print(f'{type(network).__name__} on {shape}: {info["params"] / 1e6:.3f} M parameters, '
          f'{info["flops"] / 1e9:.3f} GFLOPs (multiply-adds)')
    if args.json:
        write_text_atomic(args.json, json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
