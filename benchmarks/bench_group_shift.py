"""Group Shift (GSP-Conv): op cost, network size, and a short POC 3D training run, side by side.

    .venv/bin/python benchmarks/bench_group_shift.py                     # everything, CPU-sized
    .venv/bin/python benchmarks/bench_group_shift.py --skip-poc          # op + size only
    .venv/bin/python benchmarks/bench_group_shift.py --poc-train 100 --poc-test 200 --iters 2000

1. Op: forward+backward time of GroupShift (one gather from a cached index table) next to a
   plain copy (``x.clone()``, the memory-bound floor), the same shift written as a Python loop
   over channel groups with reshape + ``torch.roll`` (checked equal), a 1x1x1 conv and a
   3x3x3 conv of the same width; median of ``--repeat`` interleaved rounds.
2. Size: parameters and forward conv multiply-adds per voxel of the tiny 3D U-Net with 3x3x3
   convs, the pointwise one and the pointwise one with Group Shift (GSP-Conv).
3. POC: the ACS paper's 3D proof-of-concept volumes (``acsdet.data_prep.poc_shapes``, 48^3,
   five solids), generated in memory; each network is trained for ``--iters`` Adam steps
   (lr 1e-3, soft Dice + cross-entropy, batch ``--batch``) and tested on whole volumes;
   Dice / IoU per case (cases without a class in prediction and ground truth left out) and
   Dice global, averaged over the 5 foreground classes (Table IV of the ACS paper reports Dice
   and mIoU over the 5 classes).
   The CPU-sized default (16 train / 8 test volumes, 60 steps, 4 stages of width 16..128) only
   shows the trend; the paper-sized run needs a GPU.

``--threads`` pins torch's intra-op threads (default: torch's choice).
"""
import argparse
import ast
import logging
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from acsdet.data_prep.poc_shapes import make_poc_sample, poc_sample_rng  # noqa: E402
from acsdet.evaluation.metrics import DiceMetric  # noqa: E402
from acsdet.models.layers import GroupShift  # noqa: E402
from acsdet.models.losses import soft_dice_loss  # noqa: E402
from acsdet.models.seg_networks import TinyUNet3D  # noqa: E402


def roll_loop_shift(x, groups, shift_ratio=0.5):
    """The same shift with a Python loop over channel groups (divisible sizes only)."""
    B, C, D, H, W = x.shape
    gd, gh, gw = groups
    G = gd * gh * gw
    cg = int(C * shift_ratio) // G
    d, h, w = D // gd, H // gh, W // gw
    out = x.clone()
    for k in range(1, G):
        xk = x[:, k * cg:(k + 1) * cg].reshape(B, cg, gd, d, gh, h, gw, w)
        xk = xk.permute(0, 1, 6, 4, 2, 3, 5, 7).reshape(B, cg, G, d, h, w)  # flat index (2)
        xk = torch.roll(xk, k, dims=2).reshape(B, cg, gw, gh, gd, d, h, w)
        out[:, k * cg:(k + 1) * cg] = xk.permute(0, 1, 4, 5, 3, 6, 2, 7).reshape(
            B, cg, D, H, W)
    return out


def bench_op(args, device):
    B, C, D, H, W = args.op_shape
    groups = tuple(args.op_groups)
    x = torch.randn(B, C, D, H, W, device=device, requires_grad=True)
    gs = GroupShift(groups, shift_ratio=0.5)
    assert torch.equal(gs(x), roll_loop_shift(x, groups)), 'roll loop differs'
    conv1 = nn.Conv3d(C, C, 1, bias=False).to(device)
    conv3 = nn.Conv3d(C, C, 3, padding=1, bias=False).to(device)
    ops = {'copy (x.clone())': lambda t: t.clone(),
           'GroupShift (gather)': gs,
           'shift as roll loop': lambda t: roll_loop_shift(t, groups),
           'Conv3d 1x1x1': conv1,
           'Conv3d 3x3x3': conv3}
    grad = torch.randn(B, C, D, H, W, device=device)
    times = {name: [] for name in ops}
    for _ in range(args.repeat + 1):
        for name, op in ops.items():
            x.grad = None
            if device.type == 'cuda':
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            op(x).backward(grad)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    print(f'\n== 1. op, forward+backward, x {tuple(x.shape)}, groups {groups}, '
          f'C_s = C/2, median of {args.repeat} ({device}) ==')
    ref = statistics.median(times['GroupShift (gather)'][1:])
    for name, ts in times.items():
        t = statistics.median(ts[1:])
        print(f'{name:24s} {t * 1e3:9.2f} ms   x{t / ref:6.2f} of GroupShift')


def conv_macs_per_voxel(net, size):
    """Forward conv multiply-adds divided by the input voxels, from hooks on a dry run."""
    macs = []

    def hook(m, inp, out):
        macs.append(out.numel() // out.shape[0] * m.weight[0].numel())

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, nn.Conv3d)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 1, *size))
    for h in handles:
        h.remove()
    return sum(macs) / float(np.prod(size))


def networks(args):
    widths = tuple(2**i for i in range(args.stages))
    groups = args.groups[:args.stages]
    common = dict(in_channels=1, num_classes=6, base_channels=args.base_channels,
                  channel_multipliers=widths, spatial_groups=groups)
    return {
        '3x3x3 UNet': dict(kernel_size=3, gs_position=None, **common),
        'pointwise UNet': dict(kernel_size=1, gs_position=None, **common),
        f'GSP UNet ({args.gs_position})': dict(kernel_size=1, gs_position=args.gs_position,
                                               **common),
    }


def bench_size(args):
    print(f'\n== 2. size: tiny 3D U-Net, {args.stages} stages, base width '
          f'{args.base_channels}, groups {args.groups[:args.stages]} ==')
    base = None
    for name, cfg in networks(args).items():
        torch.manual_seed(0)
        net = TinyUNet3D(**cfg)
        params = sum(p.numel() for p in net.parameters())
        convw = sum(m.weight.numel() for m in net.modules() if isinstance(m, nn.Conv3d))
        macs = conv_macs_per_voxel(net, (16, 16, 16))
        base = base or (convw, macs)
        print(f'{name:24s} params {params / 1e6:7.3f} M   conv weights {convw:9d} '
              f'(/{base[0] / convw:5.1f})   conv MACs/voxel {macs:10.0f} (/{base[1] / macs:5.1f})')


def poc_data(split, n, seed):
    images, labels = [], []
    for i in range(n):
        image, label = make_poc_sample('3d', poc_sample_rng(seed, '3d', split, i))
        images.append(torch.from_numpy(image)[None])
        labels.append(torch.from_numpy(label.astype(np.int64)))
    return torch.stack(images), torch.stack(labels)


def bench_poc(args, device):
    print(f'\n== 3. POC 3D: {args.poc_train} train / {args.poc_test} test volumes 48^3, '
          f'{args.iters} Adam steps, batch {args.batch} ({device}) ==')
    x_tr, y_tr = poc_data('train', args.poc_train, args.seed)
    x_te, y_te = poc_data('test', args.poc_test, args.seed)
    print(f'{"model":24s} {"Dice":>6s} {"mIoU":>6s} {"Dice g.":>7s} {"params":>9s} '
          f'{"train s":>8s} {"loss":>6s}')
    for name, cfg in networks(args).items():
        torch.manual_seed(args.seed)
        net = TinyUNet3D(**cfg).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        rng = np.random.default_rng(args.seed)
        net.train()
        t0 = time.perf_counter()
        for _ in range(args.iters):
            idx = torch.from_numpy(rng.choice(len(x_tr), args.batch, replace=False))
            x, y = x_tr[idx].to(device), y_tr[idx].to(device)
            logits = net(x)
            loss = soft_dice_loss(logits, y) + F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - t0
        net.eval()
        metric = DiceMetric(num_classes=6, with_iou=True, empty_score=None)
        with torch.no_grad():
            for i in range(0, len(x_te), args.batch):
                pred = net(x_te[i:i + args.batch].to(device)).argmax(1).cpu()
                metric.process({}, [dict(pred_seg=p, gt_seg=g)
                                    for p, g in zip(pred, y_te[i:i + args.batch])])
        m = metric.compute_metrics(metric.results)
        params = sum(p.numel() for p in net.parameters())
        print(f'{name:24s} {100 * m["per_case/mean"]:6.1f} {100 * m["per_case_iou/mean"]:6.1f} '
              f'{100 * m["global/mean"]:7.1f} {params / 1e6:8.3f}M {train_s:8.1f} '
              f'{loss.item():6.3f}', flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--threads', type=int, help='torch intra-op threads')
    p.add_argument('--repeat', type=int, default=5, help='op timing rounds (default: 5)')
    p.add_argument('--op-shape', type=int, nargs=5, default=[2, 64, 16, 64, 64],
                   metavar=('B', 'C', 'D', 'H', 'W'))
    p.add_argument('--op-groups', type=int, nargs=3, default=[2, 4, 4])
    p.add_argument('--skip-op', action='store_true')
    p.add_argument('--skip-size', action='store_true')
    p.add_argument('--skip-poc', action='store_true')
    p.add_argument('--stages', type=int, default=4)
    p.add_argument('--base-channels', type=int, default=16)
    p.add_argument('--groups', type=ast.literal_eval,
                   default=[(2, 2, 2), (2, 2, 2), (2, 4, 4), (2, 3, 3), (1, 3, 3)],
                   help='per-stage (g_d, g_h, g_w), a Python list of tuples')
    p.add_argument('--gs-position', default='CSC')
    p.add_argument('--poc-train', type=int, default=16)
    p.add_argument('--poc-test', type=int, default=8)
    p.add_argument('--iters', type=int, default=60)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # DiceMetric's summary line
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}')
    if not args.skip_op:
        bench_op(args, device)
    if not args.skip_size:
        bench_size(args)
    if not args.skip_poc:
        bench_poc(args, device)


if __name__ == '__main__':
    main()
