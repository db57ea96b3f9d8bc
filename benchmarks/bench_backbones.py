"""Forward+backward time and peak memory of the truncated DenseNet-121 backbone with 2.5D, ACS
and 3D convolutions (and of the full DeepLesion Mask R-CNN), measured side by side in one run.

    .venv/bin/python benchmarks/bench_backbones.py                      # CPU-sized: 1x7x128x128
    .venv/bin/python benchmarks/bench_backbones.py --size 512 --repeat 1   # the paper's input
    .venv/bin/python benchmarks/bench_backbones.py --detector            # also the full detector

Time: median of ``--repeat`` forward+backward passes after one warm-up pass, batch 1, training
mode, the conv types interleaved in every round (a varying load on a shared machine hits them
alike).  Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` above the memory held before a
pass; on the CPU, in a fresh process per conv type, the peak resident set (``VmHWM``, reset
through ``/proc/self/clear_refs``) of the first pass above the resident set before it, i.e.
activations + gradients + workspace.  FLOPs: forward multiply-adds counted with
``torch.utils.flop_counter``.
Targets (docs/detector.md): ACS time <= 1.25 x 2.5D time; the 3D / ACS time ratio is reported
next to the 3D / ACS FLOP ratio.  ``--threads`` pins torch's intra-op threads (default: torch's
own choice) so runs on a shared machine are comparable.
"""
import argparse
import copy
import os.path as osp
import statistics
import subprocess
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


def backbone_step(model, x):
    model.zero_grad(set_to_none=True)
    outs = model(x)
    sum(o.float().mean() for o in outs).backward()


def detector_step(model, data):
    model.zero_grad(set_to_none=True)
    batch = model.data_preprocessor(copy.deepcopy(data), training=True)
    loss, _ = model.parse_losses(model.loss(batch['inputs'], batch['data_samples']))
    loss.backward()


def build(what, conv, args, device):
    """(model, step input) of a backbone or a detector with the given conv type."""
    torch.manual_seed(0)
    if what == 'backbone':
        from acsdet.models.backbones import TruncatedDenseNet3D
        net = TruncatedDenseNet3D(conv_type=conv, num_slices=args.slices).to(device).train()
        x = torch.randn(1, 1, args.slices, args.size, args.size, device=device)
        return net, x
    from mmengine.config import Config

    from acsdet.registry import MODELS
    cfg = copy.deepcopy(Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/maskrcnn_densenet3d_deeplesion.py')).model)
    cfg.backbone.conv_type = conv
    cfg.backbone.num_slices = cfg.neck.num_slices = args.slices
    model = MODELS.build(cfg).to(device).train()
    return model, _detector_data(args.slices, args.size, device)


def _step_fn(what):
    return backbone_step if what == 'backbone' else detector_step


def measure_memory(what, conv, args, device) -> float:
    """Peak memory (MiB) of the first forward+backward, in a fresh process on the CPU."""
    if device.type == 'cuda':
        model, inp = build(what, conv, args, device)
        _step_fn(what)(model, inp)  # warm-up: cuDNN workspaces, allocator
        with PeakMemory(device) as mem:
            _step_fn(what)(model, inp)
        return mem.peak_mib
    cmd = [sys.executable, osp.abspath(__file__), '--_memory-worker', what, conv,
           '--size', str(args.size), '--slices', str(args.slices)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def _memory_worker(what, conv, args, device):
    model, inp = build(what, conv, args, device)
    with PeakMemory(device) as mem:
        _step_fn(what)(model, inp)
    print(mem.peak_mib)


def measure_times(what, convs, args, device):
    """Median fwd+bwd time per conv type; the types are interleaved in every round so a
    varying load on a shared machine affects them alike."""
    built = {c: build(what, c, args, device) for c in convs}
    step = _step_fn(what)
    for c in convs:
        step(*built[c])  # warm-up
    times = {c: [] for c in convs}
    for _ in range(args.repeat):
        for c in convs:
            _sync(device)
            t0 = time.perf_counter()
            step(*built[c])
            _sync(device)
            times[c].append(time.perf_counter() - t0)
    return {c: statistics.median(t) for c, t in times.items()}


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
    parser.add_argument('--_memory-worker', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    from acsdet.apis import register_all_modules
    register_all_modules()
    if args._memory_worker:
        _memory_worker(*args._memory_worker, args, device)
        return

    print(f'device={device} threads={torch.get_num_threads()} input=1x1x{args.slices}x'
          f'{args.size}x{args.size} repeat={args.repeat} (median, conv types interleaved)')
    rows = {c: {} for c in args.conv_types}
    for conv in args.conv_types:
        net, x = build('backbone', conv, args, device)
        rows[conv]['params'] = sum(p.numel() for p in net.parameters())
        rows[conv]['gmacs'] = forward_flops(net, x) / 1e9
        del net
    whats = ['backbone'] + (['detector'] if args.detector else [])
    for what in whats:
        for conv, t in measure_times(what, args.conv_types, args, device).items():
            rows[conv][f'{what}_time'] = t
        for conv in args.conv_types:
            rows[conv][f'{what}_mem'] = measure_memory(what, conv, args, device)

    head = f'{"conv":>5} {"params":>11} {"GMACs":>7} {"backbone s":>11} {"peak MiB":>9}'
    if args.detector:
        head += f' {"detector s":>11} {"peak MiB":>9}'
    print(head)
    for conv, r in rows.items():
        line = (f'{conv:>5} {r["params"]:>11,} {r["gmacs"]:>7.2f} {r["backbone_time"]:>11.3f} '
                f'{r["backbone_mem"]:>9.0f}')
        if args.detector:
            line += f' {r["detector_time"]:>11.3f} {r["detector_mem"]:>9.0f}'
        print(line)
    for what in whats:
        if {'acs', '2.5d'} <= rows.keys():
            ratio = rows['acs'][f'{what}_time'] / rows['2.5d'][f'{what}_time']
            print(f'{what}: ACS / 2.5D time {ratio:.2f}x (target <= 1.25x: '
                  f'{"met" if ratio <= 1.25 else "NOT met"}), memory '
                  f'{rows["acs"][f"{what}_mem"] / rows["2.5d"][f"{what}_mem"]:.2f}x')
        if {'acs', '3d'} <= rows.keys():
            ratio = rows['3d'][f'{what}_time'] / rows['acs'][f'{what}_time']
            print(f'{what}: 3D / ACS time {ratio:.2f}x'
                  f' vs backbone FLOPs {rows["3d"]["gmacs"] / rows["acs"]["gmacs"]:.2f}x, memory '
                  f'{rows["3d"][f"{what}_mem"] / rows["acs"][f"{what}_mem"]:.2f}x')


if __name__ == '__main__':
    main()
