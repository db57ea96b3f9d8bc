"""Feature mAUC without training (the ACS paper's Table IV, first column) of a POC U-Net config.

Builds the model of CONFIG as training would start it (seeded, ``init_weights()``: the 2D
weights of a "p." config are loaded, an "r." config keeps its random initialisation), puts
it in eval mode, and for every volume of the test split takes the decoder block's output of
its :class:`~acsdet.models.seg_networks.PocUNet2D` (``features``), upsampled x2 (trilinear)
to the volume size, as the authors' notebook does (their feature path upsamples the second
block's output by nearest neighbour: ``--inner-upsample nearest``, the default; ``model``
uses the network's own trilinear).  Each channel's ROC AUC against the foreground mask (any
shape) over all voxels of all volumes, then the mean of ``max(AUC, 1 - AUC)`` (the authors'
figure) and the plain mean (``acsdet.evaluation.functional.feature_auc``).

    .venv/bin/python tools/analysis_tools/poc_feature_mauc.py configs/poc/authors_acs_p_poc3d.py \
        --out work_dirs/mauc_acs_p.json

The JSON (written atomically) holds both means, the per-channel AUCs, the volume count,
the seed and the wall time.  Errors (missing config / data / checkpoint, a network without
``features``) are one line, exit code 2.
"""
import argparse
import glob
import json
import os.path as osp
import sys
import time

from acsdet.utils.cli_types import positive_int


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='a POC config whose network holds a PocUNet2D')
    p.add_argument('--data-root', default=None,
                   help="folder with <split>/*.npz (default: the config's test data_root)")
    p.add_argument('--split', default='test')
    p.add_argument('--inner-upsample', default='nearest', choices=['nearest', 'model'],
                   help="upsampling of the second block's output in the feature path "
                   "(default nearest, the authors' notebook)")
    p.add_argument('--batch', type=positive_int, default=20,
                   help='volumes per forward (default 20)')
    p.add_argument('--seed', type=int, default=0, help='seed of the initialisation (default 0)')
    p.add_argument('--out', default=None, help='JSON result (default: print only)')
    return p.parse_args(argv)


def poc_unet(model):
    """The PocUNet2D inside a VolumeSegmentor / ConvertedUNet3D (or the model itself)."""
    for m in model.modules():
        if type(m).__name__ == 'PocUNet2D':
            return m
    raise ValueError(f'{type(model).__name__} holds no PocUNet2D (no features to score)')


def collect(unet, files, batch: int, inner_upsample):
    """(C, N) features and (N,) foreground of all voxels of ``files``."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from acsdet.data_prep.poc_shapes import load_poc_sample
    feats, masks = [], []
    with torch.no_grad():
        for lo in range(0, len(files), batch):
            pairs = [load_poc_sample(f) for f in files[lo:lo + batch]]
            x = torch.from_numpy(np.stack([img for img, _ in pairs]))[:, None]
            f = unet.features(x, inner_upsample)
            f = F.interpolate(f, scale_factor=2, mode='trilinear' if f.dim() == 5 else 'bilinear',
                              align_corners=False)
            feats.append(f.movedim(1, 0).reshape(f.shape[1], -1).numpy())
            masks.append(np.stack([lab for _, lab in pairs]).reshape(-1) > 0)
    return np.concatenate(feats, 1), np.concatenate(masks)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config {args.config} not found', file=sys.stderr)
        return 2
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.runner import set_random_seed

    from acsdet.apis import register_all_modules
    from acsdet.evaluation.functional import channel_aucs, feature_mauc
    from acsdet.registry import MODELS
    from acsdet.utils.atomic_write import write_text_atomic
    register_all_modules()
    MMLogger.get_instance('poc_feature_mauc', log_level='WARNING')  # no per-tensor init log
    cfg = Config.fromfile(args.config)
    root = args.data_root or cfg.test_dataloader.dataset.data_root
    files = sorted(glob.glob(osp.join(root, args.split, '*.npz')))
    if not files:
        print(f'error: no volumes {osp.join(root, args.split, "*.npz")}', file=sys.stderr)
        return 2
    if args.out:
        from acsdet.data_prep.output_guard import check_writable
        check_writable(osp.dirname(osp.abspath(args.out)))
    t0 = time.time()
    set_random_seed(args.seed)
    try:
        model = MODELS.build(cfg.model)
        model.init_weights()
        unet = poc_unet(model)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as err:
        print(f'error: {args.config}: {err}', file=sys.stderr)
        return 2
    model.eval()
    feats, mask = collect(unet, files, args.batch,
                          None if args.inner_upsample == 'model' else args.inner_upsample)
    t_feat = time.time() - t0
    aucs = channel_aucs(feats, mask)
    result = dict(config=osp.abspath(args.config), data_root=osp.abspath(root), split=args.split,
                  volumes=len(files), voxels=int(mask.size), foreground=float(mask.mean()),
                  channels=int(feats.shape[0]), inner_upsample=args.inner_upsample,
                  seed=args.seed, **feature_mauc(aucs), aucs=[float(a) for a in aucs],
                  seconds=time.time() - t0, feature_seconds=t_feat,
                  torch_threads=torch.get_num_threads())
    del feats, np
    if args.out:
        write_text_atomic(args.out, json.dumps(result, indent=1))
    print(f'poc_feature_mauc: {osp.basename(args.config)}: mAUC {100 * result["mauc"]:.1f} '
          f'(plain mean {100 * result["mauc_raw"]:.1f}) over {len(files)} volumes, '
          f'{result["channels"]} channels, {result["seconds"]:.0f} s', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
