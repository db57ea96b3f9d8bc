"""Forward+backward time and peak memory of ACS vs the reference algorithm, 2.5D and 3D.

Compares, for each layer shape (B, Cin -> Cout, D, H = W), K = 3, "same" padding:

* ``acs``      -- :func:`acsdet.models.layers.acs_conv3d` (memory-lean autograd Function),
* ``acs_ref``  -- Algorithm 1 of the paper: three ``F.conv3d`` + ``torch.cat`` (plain autograd),
* ``2.5d``     -- one ``F.conv3d`` with the (1, K, K) kernel (same weight, same FLOPs),
* ``3d``       -- one ``F.conv3d`` with a K x K x K kernel (K times the FLOPs),

plus whole converted DenseNet-121 trunks (``torchvision.models.densenet121().features``).

Time: median CPU time (``time.process_time``) of ``--repeats`` forward+backward passes, the
methods interleaved so that load changes hit them alike.  CPU time rather than wall time: with
one thread it does not count the time the process waits for a core on a busy machine (cache
and memory-bandwidth contention from other processes still show).

Peak memory: a fresh subprocess per case runs one warm-up pass, resets the kernel's peak
resident-set counter (``/proc/self/clear_refs``) and reports ``VmHWM - VmRSS`` over one
forward+backward (inputs and weights excluded), with glibc's mmap threshold fixed so that freed
buffers leave the resident set.  Linux only.

With ``--device cuda`` (when a GPU is there) the same cases run on the GPU: wall time between
``torch.cuda.synchronize()`` calls and peak memory from ``torch.cuda.max_memory_allocated``
over one forward+backward, minus the memory allocated before it (inputs and weights).

``--blocking`` adds a section explaining the CPU result: the forward+backward time of a 2.5D
conv on the first layer shape as its number of output channels grows (8, 11, 16, 21, 22, 32):
oneDNN computes output channels in blocks (16 floats per AVX-512 register), so a view of 11
channels costs as much as one of 16, and ACS's three narrow views cost about
``sum(ceil16(view channels)) / Cout`` of the 2.5D conv (1.5x for 32 or 64 output channels).

Usage::

    python benchmarks/bench_layers.py [--threads 1] [--repeats 5] [--no-memory] [--quick]
                                      [--device cpu|cuda] [--blocking]

``torch.set_num_threads(--threads)`` is applied in every process (default 1: the figures
then do not depend on how busy the other cores are).
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LAYER_SHAPES = [(2, 128, 32, 7, 128), (2, 64, 64, 7, 128), (1, 256, 256, 7, 64)]
LAYER_METHODS = ['acs', 'acs_ref', '2.5d', '3d']
NET_SHAPE = (1, 3, 8, 128, 128)  # (B, C, D, H, W) for the DenseNet-121 trunk, keep_depth
NET_METHODS = ['acs', 'acs_ref', '2.5d']


DEVICE = 'cpu'


def layer_case(method, shape):
    """(inputs, fn) of one layer case; fn() runs forward + backward."""
    from acsdet.models.layers import acs_conv3d, acs_conv3d_reference
    b, cin, cout, d, hw = shape
    torch.manual_seed(0)
    x = torch.randn(b, cin, d, hw, hw, device=DEVICE, requires_grad=True)
    k = 3
    w_shape = (cout, cin, k, k, k) if method == '3d' else (cout, cin, k, k)
    w = torch.randn(*w_shape, device=DEVICE, requires_grad=True)
    fwd = {
        'acs': lambda: acs_conv3d(x, w, None, 1, 1),
        'acs_ref': lambda: acs_conv3d_reference(x, w, None, 1, 1),
        '2.5d': lambda: F.conv3d(x, w.unsqueeze(2), None, 1, (0, 1, 1)),
        '3d': lambda: F.conv3d(x, w, None, 1, 1),
    }[method]

    def run():
        out = fwd()
        out.backward(torch.ones_like(out))
        del out
        x.grad = w.grad = None  # every pass allocates its gradients afresh

    return run


class _RefACSConv(torch.nn.Conv2d):
    """ACSConv running the reference algorithm (for the whole-network comparison)."""

    def forward(self, x):
        from acsdet.models.layers import acs_conv3d_reference
        return acs_conv3d_reference(x, self.weight, self.bias, self.stride, self.padding,
                                    self.dilation, self.groups, self.kernel_split)


def net_case(method, shape):
    import torchvision

    from acsdet.models.converters import convert_2d_to_3d
    torch.manual_seed(0)
    trunk = torchvision.models.densenet121().features
    trunk = convert_2d_to_3d(trunk, 'acs' if method == 'acs_ref' else method,
                             keep_depth=True).to(DEVICE)
    if method == 'acs_ref':
        for m in trunk.modules():
            if type(m).__name__ == 'ACSConv':
                m.__class__ = type('ACSConvRef', (type(m), ), {'forward': _RefACSConv.forward})
    x = torch.randn(*shape, device=DEVICE)

    def run():
        trunk(x).sum().backward()
        trunk.zero_grad(set_to_none=True)  # every pass allocates its gradients afresh

    return run


def make_case(kind, method, shape):
    return layer_case(method, shape) if kind == 'layer' else net_case(method, shape)


def _status_mib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'/proc/self/status has no {field}')


def peak_memory_child(kind, method, shape):
    """Run in a fresh process: print the peak resident-set growth (MiB) of one fwd+bwd."""
    run = make_case(kind, method, shape)  # inputs and weights allocated here
    run()  # warm-up: oneDNN primitives, autograd and allocator state
    gc.collect()
    base = _status_mib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the peak resident set (VmHWM) to the current one
    run()
    print(json.dumps({'peak_mib': _status_mib('VmHWM') - base}))


def peak_memory_cuda(kind, method, shape):
    """Peak CUDA memory (MiB) allocated by one forward+backward, inputs and weights excluded."""
    run = make_case(kind, method, shape)
    run()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    run()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    del run
    torch.cuda.empty_cache()
    return peak


def peak_memory(kind, method, shape, threads):
    if DEVICE == 'cuda':
        return peak_memory_cuda(kind, method, shape)
    cmd = [sys.executable, os.path.abspath(__file__), '--child', kind, method,
           ','.join(map(str, shape)), '--threads', str(threads)]
    # a fixed mmap threshold: every large buffer is mmap-ed and returned when freed, so the
    # resident set follows the live tensors instead of glibc's retained heap
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='131072')
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])['peak_mib']


def timings(kind, methods, shape, repeats):
    return timings_of({m: make_case(kind, m, shape) for m in methods}, repeats)


def _timed(run):
    """CPU time of ``run()`` (seconds); on the GPU, synchronised wall time."""
    if DEVICE == 'cuda':
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        run()
        torch.cuda.synchronize()
        return time.perf_counter() - t0
    t0 = time.process_time()
    run()
    return time.process_time() - t0


BLOCKING_COUTS = (8, 11, 16, 21, 22, 32)


def blocking_section(shape, repeats):
    """Print fwd+bwd time of a 2.5D conv vs its output channels (oneDNN's channel blocks)."""
    b, cin, _, d, hw = shape
    torch.manual_seed(0)
    x = torch.randn(b, cin, d, hw, hw, device=DEVICE, requires_grad=True)
    runs = {}
    for cout in BLOCKING_COUTS:
        w = torch.randn(cout, cin, 1, 3, 3, device=DEVICE, requires_grad=True)

        def run(w=w):
            out = F.conv3d(x, w, None, 1, (0, 1, 1))
            out.backward(torch.ones_like(out))
            x.grad = w.grad = None

        runs[cout] = run
    t = timings_of(runs, repeats)
    print(f'\n2.5D conv fwd+bwd vs output channels, B={b} Cin={cin} D={d} H=W={hw} '
          '(ACS views of 128->32 have 11, 11, 10 channels)')
    for cout in BLOCKING_COUTS:
        print(f'  Cout {cout:>3}: {1000 * t[cout]:8.1f} ms   x {t[cout] / t[32]:.2f} of Cout 32'
              f'   ({cout / 32:.2f} of its FLOPs)')


def timings_of(runs, repeats):
    for run in runs.values():
        run()  # warm-up
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, run in runs.items():
            times[k].append(_timed(run))
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--quick', action='store_true', help='first layer shape only')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument('--blocking', action='store_true',
                        help='add the output-channel blocking section')
    parser.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = args.device
    if DEVICE == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    if args.child:
        kind, method, shape = args.child
        peak_memory_child(kind, method, tuple(int(v) for v in shape.split(',')))
        return
    cases = [('layer', s, LAYER_METHODS) for s in LAYER_SHAPES[:1 if args.quick else None]]
    if not args.quick:
        cases.append(('net', NET_SHAPE, NET_METHODS))
    gpu = f', {torch.cuda.get_device_name()}' if DEVICE == 'cuda' else ''
    print(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s){gpu}, '
          f'{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}')
    header = f'{"case":<34}{"method":<9}{"fwd+bwd ms":>11}{"x 2.5D":>8}{"peak MiB":>10}' \
             f'{"x 2.5D":>8}'
    print(header)
    print('-' * len(header))
    for kind, shape, methods in cases:
        t = timings(kind, methods, shape, args.repeats)
        mem = {} if args.no_memory else {
            m: peak_memory(kind, m, shape, args.threads) for m in methods}
        name = (f'layer B={shape[0]} {shape[1]}->{shape[2]} D={shape[3]} H=W={shape[4]}'
                if kind == 'layer' else 'DenseNet-121 trunk {}x{}x{}x{}x{}'.format(*shape))
        for m in methods:
            mem_txt = '' if args.no_memory else \
                f'{mem[m]:>10.0f}{mem[m] / mem["2.5d"]:>8.2f}'
            print(f'{name:<34}{m:<9}{1000 * t[m]:>11.1f}{t[m] / t["2.5d"]:>8.2f}{mem_txt}')
        if 'acs_ref' in t:
            print(f'{"":<34}reference / acs time: {t["acs_ref"] / t["acs"]:.2f}')
    if args.blocking:
        blocking_section(LAYER_SHAPES[0], args.repeats)
    print(f'load average at the end {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
