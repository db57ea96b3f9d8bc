"""Peak memory and time of gradient checkpointing (``with_cp``) and CPU bfloat16 autocast on
the truncated DenseNet-121 3D backbone (ACS convs), measured side by side in one run.

    .venv/bin/python benchmarks/bench_with_cp.py                 # 1x1x7x128x128, CPU
    .venv/bin/python benchmarks/bench_with_cp.py --size 256 --conv 3d

Settings: fp32, fp32 + with_cp, bf16 autocast (``torch.autocast('cpu', torch.bfloat16)``; CUDA:
``torch.autocast('cuda', torch.float16)``), bf16 + with_cp.  Peak memory: each setting in a fresh
process; on the CPU the peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) of
the first forward+backward pass above the resident set before it (activations + gradients +
workspace); on CUDA ``torch.cuda.max_memory_allocated`` above the memory held before the pass.
Time: median of ``--repeat`` later passes after one more warm-up, in the same process.
``--threads`` pins torch's intra-op threads (default 1, so runs on a shared 2-core machine are
comparable). Ratios are against fp32 without with_cp.
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

SETTINGS = (('fp32', False, False), ('fp32+with_cp', False, True), ('bf16', True, False),
            ('bf16+with_cp', True, True))


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _worker(args, amp: bool, with_cp: bool) -> dict:
    """Build, run, measure one setting; returns {'peak_mib', 'time_s'}."""
    from acsdet.models.backbones import TruncatedDenseNet3D
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    device = torch.device('cuda' if cuda else 'cpu')
    torch.manual_seed(0)
    model = TruncatedDenseNet3D(conv_type=args.conv, num_slices=args.slices,
                                with_cp=with_cp).to(device).train()
    x = torch.randn(1, 1, args.slices, args.size, args.size, device=device)
    ctx = (torch.autocast(device.type, dtype=torch.float16 if cuda else torch.bfloat16)
           if amp else nullcontext())

    def step():
        model.zero_grad(set_to_none=True)
        with ctx:
            outs = model(x)
        sum(o.float().square().mean() for o in outs).backward()
        if cuda:
            torch.cuda.synchronize()

    # memory of the first pass in a fresh process (a warm-up pass would leave freed blocks in
    # the allocator and hide them from VmHWM); it includes the parameter gradients
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # reset VmHWM to the current RSS
        base = _rss_kib('VmRSS') * 1024
    step()
    peak = torch.cuda.max_memory_allocated() if cuda else _rss_kib('VmHWM') * 1024
    step()  # warm-up before timing
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return dict(peak_mib=(peak - base) / 2**20, time_s=statistics.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=128, help='H = W. Default 128')
    p.add_argument('--slices', type=int, default=7, help='D. Default 7')
    p.add_argument('--conv', default='acs', help="conv_type. Default 'acs'")
    p.add_argument('--repeat', type=int, default=3, help='timed passes. Default 3')
    p.add_argument('--threads', type=int, default=1, help='torch threads. Default 1')
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args, args.worker[0] == '1', args.worker[1] == '1')))
        return
    base_cmd = [sys.executable, osp.abspath(__file__), '--size', str(args.size), '--slices',
                str(args.slices), '--conv', args.conv, '--repeat', str(args.repeat),
                '--threads', str(args.threads)]
    res = {}
    for name, amp, with_cp in SETTINGS:
        out = subprocess.run(base_cmd + ['--worker', str(int(amp)), str(int(with_cp))],
                             capture_output=True, text=True, check=True).stdout
        res[name] = json.loads(out.strip().splitlines()[-1])
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
    print(f'TruncatedDenseNet3D({args.conv}), input 1x1x{args.slices}x{args.size}x{args.size}, '
          f'forward+backward, {dev}, {args.threads} thread(s)')
    ref = res['fp32']
    print(f'{"setting":<14}{"peak MiB":>10}{"x fp32":>8}{"time s":>9}{"x fp32":>8}')
    for name, r in res.items():
        print(f'{name:<14}{r["peak_mib"]:>10.1f}{r["peak_mib"] / ref["peak_mib"]:>8.2f}'
              f'{r["time_s"]:>9.3f}{r["time_s"] / ref["time_s"]:>8.2f}')


if __name__ == '__main__':
    main()
