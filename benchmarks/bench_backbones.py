"""Forward+backward time and peak memory of the truncated DenseNet-121 backbone with 2.5D, ACS
and 3D convolutions (and of the full DeepLesion Mask R-CNN), measured side by side in one run.

    .venv/bin/python benchmarks/bench_backbones.py                      # CPU-sized: 1x7x128x128
    .venv/bin/python benchmarks/bench_backbones.py --size 512 --repeat 1   # the paper's input
    .venv/bin/python benchmarks/bench_backbones.py --detector            # also the full detector

Time: median of ``--repeat`` forward+backward passes after one warm-up pass, batch 1, training
mode.  Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` above the memory held before the
pass; on the CPU the process's peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs``) above the resident set before the pass, i.e. activations + gradients +
workspace.  FLOPs: forward multiply-adds counted with ``torch.utils.flop_counter``.
Targets (docs/detector.md): ACS time <= 1.25 x 2.5D time; the 3D / ACS time ratio is reported
next to the 3D / ACS FLOP ratio.  ``--threads`` pins torch's intra-op threads (default: torch's
own choice) so runs on a shared machine are comparable.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


class PeakMemory:
    """Peak memory (MiB) above the level at ``__enter__``; CUDA or CPU resident set."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mib = float('nan')

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # reset VmHWM to the current RSS
            self.base = _rss_kib('VmRSS') * 1024
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = _rss_kib('VmHWM') * 1024
        self.peak_mib = (peak - self.base) / 2**20
        return False


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def forward_flops(model, x) -> float:
    from torch.utils.flop_counter import FlopCounterMode
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train()
    return counter.get_total_flops() / 2  # multiply-adds


def time_backbone(model, x, repeat, device):
    def step():
        model.zero_grad(set_to_none=True)
        outs = model(x)
        sum(o.float().mean() for o in outs).backward()

    model.train()
    step()  # warm-up
    times = []
    with PeakMemory(device) as mem:
        for _ in range(repeat):
            _sync(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), mem.peak_mib


def time_detector(model, data, repeat, device):
    def step():
        model.zero_grad(set_to_none=True)
        batch = model.data_preprocessor(copy.deepcopy(data), training=True)
        losses = model.loss(batch['inputs'], batch['data_samples'])
        loss, _ = model.parse_losses(losses)
        loss.backward()

    model.train()
    step()
    times = []
    with PeakMemory(device) as mem:
        for _ in range(repeat):
            _sync(device)
            t0 = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), mem.peak_mib


def _detector_data(num_slices, size, device):
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    mask = np.zeros((1, size, size), np.uint8)
    a, b = size // 3, size // 2
    mask[0, a:b, a:b] = 1
    s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                    scale_factor=(1., 1.)))
    s.gt_instances = InstanceData(bboxes=torch.tensor([[a, a, b, b]], dtype=torch.float32),
                                  labels=torch.tensor([0]), masks=BitmapMasks(mask, size, size))
    return dict(inputs=[torch.randn(1, num_slices, size, size)], data_samples=[s])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=128, help='H = W (default 128)')
    parser.add_argument('--slices', type=int, default=7, help='D (default 7)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--detector', action='store_true', help='also the full Mask R-CNN')
    parser.add_argument('--conv-types', nargs='+', default=['2.5d', 'acs', '3d'])
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    from mmengine.config import Config

    from acsdet.models.backbones import TruncatedDenseNet3D
    from acsdet.registry import MODELS
    from acsdet.utils import register_all_modules
    register_all_modules()

    x = torch.randn(1, 1, args.slices, args.size, args.size, device=device)
    print(f'device={device} threads={torch.get_num_threads()} input=1x1x{args.slices}x'
          f'{args.size}x{args.size} repeat={args.repeat} (median)')
    rows = {}
    for conv in args.conv_types:
        torch.manual_seed(0)
        net = TruncatedDenseNet3D(conv_type=conv, num_slices=args.slices).to(device)
        params = sum(p.numel() for p in net.parameters())
        macs = forward_flops(net, x)
        t, mem = time_backbone(net, x, args.repeat, device)
        rows[conv] = dict(params=params, gmacs=macs / 1e9, time=t, mem=mem)
        del net
    if args.detector:
        cfg_path = osp.join(REPO, 'configs/_base_/models/maskrcnn_densenet3d_deeplesion.py')
        data = _detector_data(args.slices, args.size, device)
        for conv in args.conv_types:
            cfg = copy.deepcopy(Config.fromfile(cfg_path).model)
            cfg.backbone.conv_type = conv
            cfg.backbone.num_slices = cfg.neck.num_slices = args.slices
            torch.manual_seed(0)
            model = MODELS.build(cfg).to(device)
            t, mem = time_detector(model, data, args.repeat, device)
            rows[conv].update(det_time=t, det_mem=mem)
            del model

    head = f'{"backbone":>9} {"params":>11} {"GMACs":>8} {"fwd+bwd s":>10} {"peak MiB":>9}'
    if args.detector:
        head += f' {"det fwd+bwd s":>14} {"det peak MiB":>13}'
    print(head)
    for conv, r in rows.items():
        line = (f'{conv:>9} {r["params"]:>11,} {r["gmacs"]:>8.2f} {r["time"]:>10.3f} '
                f'{r["mem"]:>9.0f}')
        if args.detector:
            line += f' {r["det_time"]:>14.3f} {r["det_mem"]:>13.0f}'
        print(line)
    if {'acs', '2.5d'} <= rows.keys():
        ratio = rows['acs']['time'] / rows['2.5d']['time']
        print(f'ACS / 2.5D time: {ratio:.2f}x (target <= 1.25x: '
              f'{"met" if ratio <= 1.25 else "NOT met"})')
        if args.detector:
            print(f'ACS / 2.5D detector time: '
                  f'{rows["acs"]["det_time"] / rows["2.5d"]["det_time"]:.2f}x')
    if {'acs', '3d'} <= rows.keys():
        print(f'3D / ACS time: {rows["3d"]["time"] / rows["acs"]["time"]:.2f}x  vs  3D / ACS '
              f'FLOPs: {rows["3d"]["gmacs"] / rows["acs"]["gmacs"]:.2f}x')


if __name__ == '__main__':
    main()
