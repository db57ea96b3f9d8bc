"""Forward+backward time of every distinct convolution of the shipped backbones, float32 vs
bfloat16 autocast on the CPU (``tools/train.py --amp``, ``CPUAmpOptimWrapper``).

oneDNN (PyTorch's CPU convolution library) has pathological bfloat16 paths: the bfloat16
weight gradient of ``F.conv3d`` with a flat (1, 3, 3) kernel on a (2, 128, 7, 128, 128) input
did not finish in a minute (float32: 0.3 s).  Such a call cannot be interrupted in-process, so
every measurement runs in a worker subprocess that the parent kills when a call exceeds its
timeout (the result is then marked ``TIMEOUT``) and restarts for the next measurement.

What is measured, for each image size of ``--sizes`` and each shipped model:

* ``densenet``: ``TruncatedDenseNet3D`` of the DeepLesion detectors
  (``configs/acs_maskrcnn_deeplesion*.py``, ``configs/{2.5d,3d}_maskrcnn_deeplesion*.py``):
  conv types of ``--conv-types`` (acs, 2.5d, 3d), ``--slices`` (3, 7, 9), batch ``--batch``
  (2, the batch of ``configs/_base_/datasets/deeplesion_multislice.py``), input
  (B, 1, D, size, size) (the configs resize to 512).
* ``fcn`` (with ``--models densenet,fcn``): ``FCNResNet3D`` (ResNet-18) of
  ``configs/lidc/fcn_r18_*_lidc.py``, 48^3 crops, batch ``--fcn-batch`` (8, the batch of
  ``configs/_base_/datasets/lidc_nodules.py``; its float32 forward alone takes about a minute
  on two cores, so a bounded run may need a smaller one); one group after the sizes.

The convolutions are collected with forward hooks on one float32 forward (no grad) of the
model at that size; the dtype each conv's input has under autocast is read from a second,
tiny forward under autocast (pooling and ``torch.cat`` with a float32 operand return
float32 under CPU autocast, so some convs get float32 input).  Convs with the same layer class,
channels, kernel, stride, padding, dilation, groups, bias and input shape are measured once.

Each distinct conv is timed alone: the layer, a random input of the recorded shape (requiring
grad unless it is the model input) and a random dense output gradient; one forward +
backward per call, CPU time of the worker (``time.process_time``, with ``--threads 1``, the
default: on a shared machine it does not count the waits for a core; wall time
``time.perf_counter`` with more threads), the median of ``--repeats`` calls after
a warm-up call, the variants interleaved call by call so that load changes hit them alike:

* ``fp32``        -- float32, as without ``--amp``;
* ``bf16``        -- under ``torch.autocast('cpu', dtype=torch.bfloat16)`` as shipped;
* ``bf16_stock``  -- the same with the bfloat16 routing of
  ``acsdet.models.layers.flat_conv`` switched off (the oneDNN path before the routing);
  only where that module exists;
* ``bf16_nofallback`` -- ``bf16`` with the float32 fallback for the shapes that measured
  slower in bfloat16 (``flat_conv.BF16_FLOAT32_FALLBACK``) switched off: every routed conv
  in bfloat16 (the shipped behaviour before the fallback); only where that switch exists.

A bfloat16 call gets ``max(--min-timeout-s, --timeout-factor x its float32 time)``.
``--budget-s`` bounds the whole run: a size whose estimated float32 cost alone
(3 x forward time x calls) exceeds the remaining budget is skipped, and once the budget is
spent the remaining convs are reported as not run.  ``--whole`` adds the forward+backward of
each whole densenet (float32 vs autocast) at the sizes of ``--whole-sizes``.

Results go to ``--out`` (JSON) and the same path with ``.md`` (the tables), both written
atomically (``acsdet.utils.atomic_write``) after every size, so an interrupted run keeps
what it measured.

Usage::

    python benchmarks/bench_amp.py [--sizes 64,128,256,512] [--models densenet,fcn]
        [--conv-types acs,2.5d,3d] [--slices 3,7,9] [--batch 2] [--repeats 3]
        [--threads 1] [--budget-s 1500] [--whole --whole-sizes 128]
        [--out /tmp/bench_amp.json]
"""
import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CONV_CLASSES = ('ACSConv', 'Conv2_5d', 'InflatedConv3d', 'MeanACSConv', 'SoftACSConv',
                'Conv3d')
#: A relative error (output, input or weight gradient vs float32) above this is flagged BAD
#: (bfloat16 rounding gives about 4e-3).
ERR_BAD = 0.05
#: The input crop of the LIDC segmentation configs (configs/_base_/datasets/lidc_nodules.py).
FCN_CROP, FCN_BATCH = 48, 8


# ----------------------------------------------------------------------------- the worker
class _Worker:
    """Runs in the subprocess: builds models / layers and times them on request."""

    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        self.cache = {}
        # one thread: CPU time (does not count waiting for a core on a busy machine);
        # several: wall time (CPU time would count the threads' spinning)
        self.clock = time.process_time if threads == 1 else time.perf_counter

    # --- models
    def build_model(self, model):
        import torch

        from acsdet.models.backbones import TruncatedDenseNet3D
        from acsdet.models.seg_networks import FCNResNet3D
        torch.manual_seed(0)
        if model['name'] == 'densenet':
            net = TruncatedDenseNet3D(conv_type=model['conv_type'],
                                      num_slices=model['slices'])
            shape = (model['batch'], 1, model['slices'], model['size'], model['size'])
        elif model['name'] == 'fcn':
            net = FCNResNet3D(num_classes=2, in_channels=1, depth=18,
                              conv_type=model['conv_type'])
            shape = (model['batch'], 1) + (model['size'], ) * 3
        else:
            raise ValueError(f'unknown model {model["name"]!r}')
        return net.train(), shape

    def collect(self, model):
        """Distinct conv specs of one float32 forward, their autocast input dtypes."""
        torch = self.torch
        net, shape = self.build_model(model)
        specs = {}

        def hook_for(name, store):
            def hook(module, args):
                x = args[0]
                store[name] = (module, tuple(x.shape), x.dtype, x is model_input[0])
            return hook

        model_input = [None]
        records = {}
        handles = [m.register_forward_pre_hook(hook_for(n, records))
                   for n, m in net.named_modules() if type(m).__name__ in CONV_CLASSES]
        x = torch.randn(shape)
        model_input[0] = x
        t0 = time.perf_counter()
        with torch.no_grad():
            net(x)
        fwd_s = time.perf_counter() - t0
        # the dtypes under autocast, from a tiny forward
        small = shape[:3] + (32, 32) if model['name'] == 'densenet' else shape[:2] + (16, ) * 3
        tiny = {}
        for h in handles:
            h.remove()
        handles = [m.register_forward_pre_hook(hook_for(n, tiny))
                   for n, m in net.named_modules() if type(m).__name__ in CONV_CLASSES]
        xs = torch.randn(small)
        model_input[0] = xs
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
            net(xs)
        for h in handles:
            h.remove()
        for name, (m, in_shape, _, is_input) in records.items():
            amp_dtype = str(tiny[name][2]).replace('torch.', '') if name in tiny else 'bfloat16'
            spec = layer_spec(m, in_shape, not is_input, amp_dtype)
            key = json.dumps(spec, sort_keys=True)
            if key not in specs:
                specs[key] = dict(spec=spec, modules=[])
            specs[key]['modules'].append(name)
        return dict(fwd_s=fwd_s, convs=list(specs.values()), n_calls=len(records))

    def whole(self, model, variant, n=1):
        torch = self.torch
        key = ('whole', json.dumps(model, sort_keys=True))
        if key not in self.cache:
            self.cache.clear()
            net, shape = self.build_model(model)
            x = torch.randn(shape)

            def run():
                out = net(x)
                out = out if torch.is_tensor(out) else torch.cat(
                    [o.float().flatten() for o in out])
                out.float().sum().backward()
                net.zero_grad(set_to_none=True)

            self.cache[key] = run
        return self._timed(self.cache[key], variant, n)

    # --- single layers
    def layer(self, spec, variant, n=1, check=False):
        """Seconds per forward+backward of the conv of ``spec``; with ``check``, one more
        forward+backward whose output and gradients are compared with the float32 ones
        (kept from the float32 check in this worker): {'t', 'err': relative L2 errors}."""
        torch = self.torch
        skey = json.dumps(spec, sort_keys=True)
        key = (skey, variant)
        if key not in self.cache:
            for k in [k for k in self.cache if k[0] != skey]:  # one conv at a time
                del self.cache[k]
            torch.manual_seed(0)
            m = build_layer(spec)
            dtype = torch.float32 if variant == 'fp32' else getattr(torch, spec['amp_dtype'])
            x = torch.randn(spec['input']).to(dtype).requires_grad_(spec['input_grad'])
            with _variant_ctx(variant):
                out_shape = m(x).shape
            g = torch.randn(out_shape)  # the same gradient values for every variant

            def run(keep=False):
                y = m(x)
                y.backward(g.to(y.dtype))
                res = None
                if keep:
                    res = dict(out=y.detach().float(), grad_w=m.weight.grad.float(),
                               grad_x=None if x.grad is None else x.grad.float())
                x.grad = None
                m.zero_grad(set_to_none=True)
                return res

            self.cache[key] = run
        run = self.cache[key]
        err = None
        if check:
            with _variant_ctx(variant):
                res = run(keep=True)
            if variant == 'fp32':
                self.cache[(skey, 'ref')] = res
            elif (skey, 'ref') in self.cache:
                ref = self.cache[(skey, 'ref')]
                err = {k: _rel_err(res[k], ref[k]) for k in res if res[k] is not None}
        return dict(t=self._timed(run, variant, n), err=err)

    def _timed(self, run, variant, n):
        """Seconds per call of ``run`` over ``n`` back-to-back calls."""
        with _variant_ctx(variant):
            t0 = self.clock()
            for _ in range(n):
                run()
            return (self.clock() - t0) / n


def _rel_err(a, b):
    """||a - b|| / ||b|| (float64); NaN when ``a`` holds NaN or inf."""
    a, b = a.double(), b.double()
    if not bool(a.isfinite().all()):
        return float('nan')
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


class _variant_ctx:
    """fp32: nothing; bf16: CPU autocast; bf16_stock: autocast with the routing off;
    bf16_nofallback: autocast with the float32 fallback off."""

    def __init__(self, variant):
        self.variant = variant
        self.autocast = None
        self.old = None

    def __enter__(self):
        import torch
        if self.variant == 'fp32':
            return self
        if self.variant == 'bf16_stock':
            flat_conv = _flat_conv_module()
            self.old = flat_conv.BF16_ROUTING
            flat_conv.BF16_ROUTING = False
        if self.variant == 'bf16_nofallback':
            flat_conv = _flat_conv_module()
            self.old_fallback = flat_conv.BF16_FLOAT32_FALLBACK
            flat_conv.BF16_FLOAT32_FALLBACK = False
        self.autocast = torch.autocast('cpu', dtype=torch.bfloat16)
        self.autocast.__enter__()
        return self

    def __exit__(self, *exc):
        if self.autocast is not None:
            self.autocast.__exit__(*exc)
        if self.old is not None:
            _flat_conv_module().BF16_ROUTING = self.old
        if self.variant == 'bf16_nofallback':
            _flat_conv_module().BF16_FLOAT32_FALLBACK = self.old_fallback


def _flat_conv_module():
    try:
        from acsdet.models.layers import flat_conv
    except ImportError:
        return None
    return flat_conv if hasattr(flat_conv, 'BF16_ROUTING') else None


def layer_spec(m, in_shape, input_grad, amp_dtype):
    """A JSON-able description of conv module ``m`` on input shape ``in_shape``."""
    spec = dict(cls=type(m).__name__, cin=m.in_channels, cout=m.out_channels,
                kernel=list(m.kernel_size), stride=list(m.stride), padding=list(m.padding),
                dilation=list(m.dilation), groups=m.groups, bias=m.bias is not None,
                input=list(in_shape), input_grad=bool(input_grad), amp_dtype=amp_dtype)
    if hasattr(m, 'kernel_split'):
        spec['kernel_split'] = list(m.kernel_split)
    return spec


def build_layer(spec):
    import torch.nn as nn

    from acsdet.models import layers
    cls = nn.Conv3d if spec['cls'] == 'Conv3d' else getattr(layers, spec['cls'])
    k = spec['kernel'] if spec['cls'] == 'Conv3d' else spec['kernel'][0]
    kwargs = dict(stride=tuple(spec['stride']), padding=tuple(spec['padding']),
                  dilation=tuple(spec['dilation']), groups=spec['groups'], bias=spec['bias'])
    if 'kernel_split' in spec:
        kwargs['kernel_split'] = tuple(spec['kernel_split'])
    return cls(spec['cin'], spec['cout'], k if isinstance(k, int) else tuple(k), **kwargs)


def worker_main(threads):
    """The worker's loop: one JSON request per stdin line, one JSON answer per stdout line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not break the protocol
    w = _Worker(threads)
    out.write(json.dumps(dict(ready=True)) + '\n')
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req['op'] == 'collect':
                res = w.collect(req['model'])
            elif req['op'] == 'layer':
                res = w.layer(req['spec'], req['variant'], req.get('n', 1),
                              req.get('check', False))
            elif req['op'] == 'whole':
                res = dict(t=w.whole(req['model'], req['variant'], req.get('n', 1)))
            else:
                raise ValueError(req['op'])
        except Exception as e:  # report, keep serving
            res = dict(error=f'{type(e).__name__}: {e}')
        out.write(json.dumps(res) + '\n')
        out.flush()


# ----------------------------------------------------------------------------- the parent
class Timeout(Exception):
    pass


class WorkerDied(Exception):
    """The worker exited during a request (e.g. glibc's abort on a corrupted heap)."""


class WorkerPool:
    """One worker subprocess; killed and restarted when a request exceeds its timeout."""

    def __init__(self, threads):
        self.threads = threads
        self.proc = None
        self.restarts = 0
        self.generation = 0

    def _start(self):
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads))
        self.stderr = tempfile.TemporaryFile(mode='w+')
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '--worker', '--threads',
             str(self.threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, env=env, cwd=ROOT, start_new_session=True)
        self.generation += 1
        self._read(300)  # the ready line (imports)

    def ensure_started(self):
        if self.proc is None:
            self._start()

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise Timeout()
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.stderr.seek(0)
            tail = [ln.strip() for ln in self.stderr.read().splitlines() if ln.strip()]
            raise WorkerDied(f'exit code {code}' + (f': {tail[-1][:120]}' if tail else ''))
        return json.loads(line)

    def kill(self):
        if self.proc is not None:
            try:  # the worker's own process group (start_new_session): it and its threads
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
            self.stderr.close()
            self.restarts += 1

    def request(self, req, timeout):
        """Send ``req``; its answer, or raise Timeout (the worker is then killed)."""
        self.ensure_started()
        self.proc.stdin.write(json.dumps(req) + '\n')
        self.proc.stdin.flush()
        try:
            res = self._read(timeout)
        except (Timeout, WorkerDied):
            self.kill()
            raise
        if 'error' in res:
            raise RuntimeError(res['error'])
        return res

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


def timed_variants(pool, make_req, variants, repeats, timeout_for, min_call_s=0.05):
    """Interleaved timing of ``variants``: {variant: dict(t=median s | None, all, timeout)}.

    Each variant gets a warm-up call (oneDNN builds its primitives) in every worker it runs
    in; a variant that exceeds its timeout once (``timeout`` = the limit) is not called again.
    A timed call repeats the forward+backward ``n`` times back to back (``n`` from the first
    variant's warm-up, so that a call lasts about ``min_call_s``: sub-millisecond convs are
    not measured by one scheduler tick) and reports the time per forward+backward.
    """
    times = {v: [] for v in variants}
    dead, crashed, warmed, errs = {}, {}, {}, {}
    n = None
    for _ in range(repeats):
        for v in variants:
            if v in dead:
                continue
            try:
                pool.ensure_started()
                if warmed.get(v) != pool.generation:
                    warm = pool.request(dict(make_req(v), n=1, check=True),
                                        2 * timeout_for(v, times, 1))
                    t_warm = warm['t']
                    if warm.get('err') is not None:
                        errs[v] = warm['err']
                    warmed[v] = pool.generation
                    if n is None:
                        n = max(1, min(100, int(min_call_s / max(t_warm, 1e-6))))
                times[v].append(pool.request(dict(make_req(v), n=n),
                                             timeout_for(v, times, n))['t'])
            except Timeout:
                dead[v] = timeout_for(v, times, 1)
            except WorkerDied as e:
                dead[v] = None
                crashed[v] = str(e)
    return {v: dict(t=statistics.median(times[v]) if times[v] and v not in dead else None,
                    all=[round(t, 5) for t in times[v]], timeout=dead.get(v), n=n,
                    crash=crashed.get(v), err=errs.get(v))
            for v in variants}


def fmt_t(r):
    if r is None:
        return 'n/a'
    if r.get('crash'):
        return f'CRASH ({r["crash"]})'
    if r['t'] is None:
        return f'TIMEOUT >{r["timeout"]:.0f} s' if r['timeout'] else 'n/a'
    return f'{1000 * r["t"]:.1f}'


def max_err(r):
    """The largest relative error of output / input gradient / weight gradient vs float32
    (NaN if any is NaN), or None when not checked."""
    if r is None or not r.get('err'):
        return None
    vals = list(r['err'].values())
    return float('nan') if any(v != v for v in vals) else max(vals)


def fmt_err(r):
    e = max_err(r)
    if e is None:
        return 'n/a'
    return 'NaN' if e != e else f'{e:.0e}' + (' BAD' if e > ERR_BAD else '')


def fmt_ratio(r, ref):
    if r is not None and r.get('crash'):
        return 'crash'
    if r is None or ref is None or ref['t'] is None:
        return 'n/a'
    if r['t'] is None:
        return f'>{r["timeout"] / ref["t"]:.0f}' if r['timeout'] else 'n/a'
    return f'{r["t"] / ref["t"]:.2f}'


def ratio_value(r, ref):
    """Numeric ratio for sorting (a timeout counts as its lower bound)."""
    if r is not None and r.get('crash'):
        return float('inf')
    if r is None or ref is None or ref['t'] is None:
        return None
    if r['t'] is None:
        return r['timeout'] / ref['t'] if r['timeout'] else None
    return r['t'] / ref['t']


def _short_dtype(name):
    return {'float32': 'fp32', 'bfloat16': 'bf16'}.get(name, name)


def conv_text(spec):
    k = 'x'.join(map(str, spec['kernel']))
    extra = []
    if spec['stride'] != [1, 1, 1]:
        extra.append('s' + ''.join(map(str, spec['stride'])))
    if any(spec['padding']):
        extra.append('p' + ''.join(map(str, spec['padding'])))
    if spec['dilation'] != [1, 1, 1]:
        extra.append('d' + ''.join(map(str, spec['dilation'])))
    if spec['groups'] != 1:
        extra.append(f'g{spec["groups"]}')
    return f'{spec["cls"]} {spec["cin"]}->{spec["cout"]} k{k} {" ".join(extra)}'.strip()


def modules_text(modules):
    if len(modules) <= 2:
        return ', '.join(modules)
    return f'{modules[0]} (+{len(modules) - 1})'


def markdown(report):
    variants = report['meta']['variants']
    lines = [f'# bench_amp: {report["meta"]["command"]}', '',
             f'torch {report["meta"]["torch"]}, {report["meta"]["threads"]} thread(s), '
             f'load average {report["meta"]["load_start"]:.1f} at the start, '
             f'{report["meta"].get("load_end", float("nan")):.1f} at the end, wall '
             f'{report["meta"].get("wall_s", 0):.0f} s, worker restarts '
             f'{report["meta"].get("restarts", 0)}', '']
    head = ['model', 'conv', 'input (amp dtype)', 'fp32 ms']
    for v in variants[1:]:
        head += [f'{v} ms', f'{v} / fp32', f'{v} err']
    head.append('modules')
    rows = report['convs']
    for title, sel in (('Worst bf16 / fp32 ratios', 'worst'), ('All convs', 'all')):
        lines += [f'## {title}', '', '| ' + ' | '.join(head) + ' |',
                  '|' + '---|' * len(head)]
        todo = [r for r in rows if 'res' in r]
        if sel == 'worst':
            todo = sorted(todo, key=lambda r: -(max(
                [ratio_value(r['res'].get(v), r['res']['fp32']) or 0 for v in variants[1:]])
                or 0))[:25]
        for r in todo:
            res = r['res']
            cells = [r['model_text'], conv_text(r['spec']),
                     f'{tuple(r["spec"]["input"])} ({_short_dtype(r["spec"]["amp_dtype"])})',
                     fmt_t(res['fp32'])]
            for v in variants[1:]:
                cells += [fmt_t(res.get(v)), fmt_ratio(res.get(v), res['fp32']),
                          fmt_err(res.get(v))]
            cells.append(modules_text(r['modules']))
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
    skipped = [r for r in rows if 'res' not in r]
    if skipped:
        lines += [f'Not run (budget): {len(skipped)} convs.', '']
    if report['whole']:
        head = ['model', 'input', 'fp32 ms'] + sum(
            ([f'{v} ms', f'{v} / fp32'] for v in variants[1:]), [])
        lines += ['## Whole models, forward+backward', '', '| ' + ' | '.join(head) + ' |',
                  '|' + '---|' * len(head)]
        for r in report['whole']:
            cells = [r['model_text'], str(tuple(r['input'])), fmt_t(r['res']['fp32'])]
            for v in variants[1:]:
                cells += [fmt_t(r['res'].get(v)), fmt_ratio(r['res'].get(v), r['res']['fp32'])]
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
    summary = report.get('summary')
    if summary:
        lines += ['## Summary', ''] + [f'- {s}' for s in summary] + ['']
    return '\n'.join(lines)


def summarize(report):
    variants = report['meta']['variants']
    out = []
    for v in variants[1:]:
        vals = [(ratio_value(r['res'].get(v), r['res']['fp32']), r) for r in report['convs']
                if 'res' in r]
        vals = [(x, r) for x, r in vals if x is not None]
        if not vals:
            continue
        worst, r = max(vals, key=lambda t: t[0])
        n_slow = sum(1 for x, _ in vals if x > 1.0)
        n_crash = sum(1 for _, r in vals if r['res'][v].get('crash'))
        n_to = sum(1 for _, r in vals if r['res'][v]['t'] is None) - n_crash
        finite = [x for x, _ in vals if x != float('inf')]
        errs = [max_err(r['res'][v]) for _, r in vals]
        n_bad = sum(1 for e in errs if e is not None and (e != e or e > ERR_BAD))
        out.append(f'{v}: {len(vals)} convs, {n_crash} crashes, {n_bad} wrong results (NaN or '
                   f'error > {ERR_BAD} vs fp32), worst {v}/fp32 {worst:.2f} '
                   f'({r["model_text"]}, {conv_text(r["spec"])}, {tuple(r["spec"]["input"])}), '
                   f'{n_slow} slower than fp32, {n_to} timeouts, median ratio '
                   f'{statistics.median(finite) if finite else float("nan"):.2f}')
    return out


def write_report(report, path):
    from acsdet.utils.atomic_write import write_text_atomic
    report['summary'] = summarize(report)
    write_text_atomic(path, json.dumps(report, indent=1))
    md = os.path.splitext(path)[0] + '.md'
    write_text_atomic(md, markdown(report))


def model_groups(args):
    """[(label, [model config, ...]), ...]: one group per densenet image size, then one for
    the FCN crop; the budget rule skips a whole group."""
    groups = []
    if 'densenet' in args.models:
        for size in args.sizes:
            groups.append((f'{size}px', [
                dict(name='densenet', conv_type=ct, slices=d, batch=args.batch, size=size)
                for ct in args.conv_types for d in args.slices]))
    if 'fcn' in args.models:
        groups.append((f'{FCN_CROP}^3', [
            dict(name='fcn', conv_type=ct, batch=args.fcn_batch, size=FCN_CROP)
            for ct in args.conv_types]))
    return groups


def model_text(m):
    if m['name'] == 'densenet':
        return f'densenet {m["conv_type"]} D={m["slices"]} {m["size"]}px'
    return f'fcn-r18 {m["conv_type"]} {m["size"]}^3'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    csv = lambda s: [v for v in s.split(',') if v]  # noqa: E731
    p.add_argument('--sizes', type=lambda s: [int(v) for v in csv(s)],
                   default=[64, 128, 256, 512])
    p.add_argument('--models', type=csv, default=['densenet'],
                   help='densenet and / or fcn (48^3 crops, one group after the sizes)')
    p.add_argument('--conv-types', type=csv, default=['acs', '2.5d', '3d'])
    p.add_argument('--slices', type=lambda s: [int(v) for v in csv(s)], default=[3, 7, 9])
    p.add_argument('--batch', type=int, default=2, help='densenet batch (the configs: 2)')
    p.add_argument('--fcn-batch', type=int, default=FCN_BATCH,
                   help=f'FCN batch (the configs: {FCN_BATCH})')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads of the worker (1: CPU time, else wall time)')
    p.add_argument('--budget-s', type=float, default=1500)
    p.add_argument('--timeout-factor', type=float, default=20)
    p.add_argument('--min-timeout-s', type=float, default=15)
    p.add_argument('--max-call-s', type=float, default=300,
                   help='timeout of a float32 call or a collection forward')
    p.add_argument('--variants', type=csv, default=None,
                   help='default: fp32,bf16 and bf16_stock where the routing switch exists')
    p.add_argument('--whole', action='store_true', help='also time whole models')
    p.add_argument('--whole-sizes', type=lambda s: [int(v) for v in csv(s)], default=[128])
    p.add_argument('--out', default='/tmp/bench_amp.json')
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker_main(args.threads)
        return 0
    t_start = time.perf_counter()
    if args.variants is None:
        args.variants = ['fp32', 'bf16'] + (['bf16_stock'] if _routing_available() else []) + \
            (['bf16_nofallback'] if _fallback_available() else [])
    if args.variants[0] != 'fp32':
        p.error('--variants must start with fp32')
    import torch
    report = dict(meta=dict(command='python benchmarks/bench_amp.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv), torch=torch.__version__,
        threads=args.threads, variants=args.variants, load_start=os.getloadavg()[0],
        cpu_count=os.cpu_count()), convs=[], whole=[], skipped=[])
    del torch
    pool = WorkerPool(args.threads)
    seen = set()

    def left():
        return args.budget_s - (time.perf_counter() - t_start)

    def timeout_for(v, times, n):
        """Seconds allowed for a request of ``n`` calls of variant ``v``."""
        if v == 'fp32':
            return args.max_call_s
        ref = times.get('fp32') or [args.min_timeout_s / args.timeout_factor]
        return max(args.min_timeout_s, args.timeout_factor * max(ref) * n)

    try:
        for label, models in model_groups(args):
            collected = []
            for m in models:
                if left() <= 0:
                    break
                res = pool.request(dict(op='collect', model=m), args.max_call_s)
                collected.append((m, res))
                print(f'[{time.perf_counter() - t_start:6.0f}s] {model_text(m)}: '
                      f'{res["n_calls"]} conv calls, {len(res["convs"])} distinct, fp32 forward '
                      f'{res["fwd_s"]:.2f} s', flush=True)
            fp32_est = sum(3 * r['fwd_s'] for _, r in collected) * (args.repeats + 1)
            if len(collected) < len(models) or fp32_est > left():
                print(f'{label}: skipped (fp32 alone ~{fp32_est:.0f} s, '
                      f'{max(left(), 0):.0f} s of budget left)', flush=True)
                report['skipped'].append(dict(group=label, fp32_est_s=fp32_est))
                continue
            for m, res in collected:
                for conv in res['convs']:
                    key = json.dumps(conv['spec'], sort_keys=True)
                    row = dict(model=m, model_text=model_text(m), spec=conv['spec'],
                               modules=conv['modules'])
                    if key in seen:  # measured for another model (same conv, same input)
                        continue
                    seen.add(key)
                    report['convs'].append(row)
                    if left() <= 0:
                        continue
                    row['res'] = timed_variants(
                        pool, lambda v: dict(op='layer', spec=conv['spec'], variant=v),
                        variants_for(args.variants, conv['spec']['cls']), args.repeats,
                        timeout_for)
                    print(f'[{time.perf_counter() - t_start:6.0f}s] {model_text(m):<26} '
                          f'{conv_text(conv["spec"]):<40} {str(tuple(conv["spec"]["input"])):<26}'
                          + ''.join(f' {v} {fmt_t(r)} ({fmt_ratio(r, row["res"]["fp32"])}, '
                                    f'err {fmt_err(r)})' for v, r in row['res'].items()),
                          flush=True)
            if args.whole and any(m['name'] == 'densenet' and m['size'] in args.whole_sizes
                                  for m in models):
                for m, res in collected:
                    if left() <= 0:
                        break
                    x_shape = ((m['batch'], 1, m['slices'], m['size'], m['size'])
                               if m['name'] == 'densenet' else (m['batch'], 1) + (m['size'], ) * 3)
                    r = timed_variants(pool, lambda v: dict(op='whole', model=m, variant=v),
                                       variants_for(args.variants, m['conv_type']),
                                       args.repeats, timeout_for)
                    report['whole'].append(dict(model=m, model_text=model_text(m),
                                                input=list(x_shape), res=r))
                    print(f'[{time.perf_counter() - t_start:6.0f}s] whole {model_text(m)}'
                          + ''.join(f' {v} {fmt_t(rv)} ({fmt_ratio(rv, r["fp32"])})'
                                    for v, rv in r.items()), flush=True)
            report['meta'].update(wall_s=time.perf_counter() - t_start,
                                  load_end=os.getloadavg()[0], restarts=pool.restarts)
            write_report(report, args.out)
    finally:
        pool.close()
    report['meta'].update(wall_s=time.perf_counter() - t_start, load_end=os.getloadavg()[0],
                          restarts=pool.restarts)
    write_report(report, args.out)
    print('\n'.join(report['summary']))
    print(f'wrote {args.out} and {os.path.splitext(args.out)[0]}.md '
          f'({time.perf_counter() - t_start:.0f} s)')
    return 0


def variants_for(variants, kind):
    """The variants timed for a conv class / model conv type (all of them)."""
    return list(variants)


def _routing_available():
    try:
        from acsdet.models.layers import flat_conv
    except ImportError:
        return False
    return hasattr(flat_conv, 'BF16_ROUTING')


def _fallback_available():
    try:
        from acsdet.models.layers import flat_conv
    except ImportError:
        return False
    return hasattr(flat_conv, 'BF16_FLOAT32_FALLBACK')


if __name__ == '__main__':
    sys.exit(main())
