"""The ACS paper's proof of concept (section IV-A, Table IV) in one command.

Two protocols (``--protocol``):

* ``authors``: the authors' public code (their U-Net, data rule, loss, schedules, Dice
  figures, feature mAUC): ``tools/analysis_tools/poc_table4_authors.py`` documents it and
  its options (``--protocol authors --help``);
* ``project`` (the default, described below): this project's first reading of the paper,
  before the authors' code was read (the classic 4-stage U-Net, the uniform orientation
  rule, Dice + CE).

Runs, each as ``tools/train.py`` on a config derived from ``configs/poc/`` (so every setting
lives in the configs; this script only sizes them):

1. ``unet2d``: 2D pretraining of ``UNet2D`` on the 2D POC shapes (circle / square);
2. the five Table IV rows on the 3D POC shapes: ACS r., ACS p., 3D r., 2.5D r., 2.5D p.
   ("p." = the whole 2D U-Net of step 1 loaded before conversion, its 3-class classifier
   skipped; "r." = the same random 2D initialisation, converted);

then prints Table IV's columns -- Dice and mIoU per case averaged over the 5 foreground
classes (%, the final model on the test split), model size (MB of fp32 parameters) -- next
to the paper's figures, the run time of each run, and which of the paper's orderings hold.

Defaults are the paper-sized run (10000 / 2000 2D images, 100 / 200 3D volumes, widths
16-32-64-128, 100 epochs, whole 48^3 volumes).  A CPU-sized run, as in docs/segmentation.md::

    nice -n 5 .venv/bin/python tools/analysis_tools/poc_table4.py --work-dir work_dirs/poc_t4 \
        --n2d 2000 200 --n3d 24 40 --epochs-2d 4 --epochs-3d 40 --widths 8 16 32 64 --crop 32

Each run trains in ``<work-dir>/<row>/`` from the derived config ``<work-dir>/configs/<row>.py``
and writes ``<work-dir>/<row>/result.json`` (atomically); a second call skips the rows
already done (``--force`` re-runs them, ``--rows`` picks some), so an interrupted table
resumes at the run it stopped in; a run whose training finished but whose result was not
written (this script stopped meanwhile) is recorded from its log and checkpoint instead of
trained again, when its derived config is unchanged.  Several calls with disjoint ``--rows``
may run at once on one work dir (the p. rows need ``unet2d`` done).  The table goes to
``<work-dir>/table4.{json,md}``.
"""
import argparse
import datetime
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

from acsdet.utils.atomic_write import write_text_atomic

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Table IV of the ACS paper: (Dice %, mIoU %, size as printed).
PAPER_TABLE4 = {
    'ACS p.': (95.4, 92.0, '1.6 Mb'),
    'ACS r.': (94.7, 90.7, '1.6 Mb'),
    '3D r.': (94.6, 90.8, '4.7 Mb'),
    '2.5D r.': (82.2, 72.5, '1.6 Mb'),
    '2.5D p.': (82.7, 73.3, '1.6 Mb'),
}

#: row -> (config under configs/poc, pretrained from the 2D run)
ROWS = {
    'unet2d': ('unet2d_poc2d.py', False),
    'ACS r.': ('acs_unet_poc3d.py', False),
    'ACS p.': ('acs_unet_poc3d.py', True),
    '3D r.': ('3d_unet_poc3d.py', False),
    '2.5D r.': ('2.5d_unet_poc3d.py', False),
    '2.5D p.': ('2.5d_unet_poc3d.py', True),
}
TABLE_ROWS = ['ACS p.', 'ACS r.', '3D r.', '2.5D r.', '2.5D p.']


def thread_env(threads: int) -> dict:
    """The environment of a training subprocess: this one's, with ``OMP_NUM_THREADS`` /
    ``MKL_NUM_THREADS`` set to ``threads`` (0: left as they are)."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def row_dir_name(row: str) -> str:
    """'ACS p.' -> 'acs_p' (the row's folder in the work dir)."""
    return row.replace('.', '').replace(' ', '_').lower()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--protocol', choices=['project', 'authors'], default='project',
                   help="'project' (default; this help) or 'authors' (see --protocol authors "
                   '--help)')
    p.add_argument('--work-dir', default='work_dirs/poc_table4')
    p.add_argument('--data-root', default=None,
                   help='POC data root (poc_2d/, poc_3d/ inside); written there when missing '
                   'or of other counts / seed. Defaults to <work-dir>/data')
    p.add_argument('--n2d', type=int, nargs=2, default=(10000, 2000), metavar=('TRAIN', 'TEST'),
                   help='2D images (paper: 10000 2000)')
    p.add_argument('--n3d', type=int, nargs=2, default=(100, 200), metavar=('TRAIN', 'TEST'),
                   help='3D volumes (paper: 100 200)')
    p.add_argument('--epochs-2d', type=int, default=100)
    p.add_argument('--epochs-3d', type=int, default=100)
    p.add_argument('--batch-2d', type=int, default=16)
    p.add_argument('--batch-3d', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3, help='Adam lr of every run')
    p.add_argument('--widths', type=int, nargs='+', default=(16, 32, 64, 128),
                   help='U-Net stage widths (2D and 3D alike)')
    p.add_argument('--crop', type=int, default=0,
                   help='3D training on random crops of this size (0: whole 48^3 volumes); '
                   'testing is always on whole volumes')
    p.add_argument('--threads', type=int, default=0,
                   help='OMP/MKL threads of each run (0: torch default)')
    p.add_argument('--workers', type=int, default=0, help='dataloader workers')
    p.add_argument('--seed', type=int, default=0, help='data and training seed')
    p.add_argument('--rows', nargs='+', default=None, choices=list(ROWS),
                   help='runs to do (default all; the p. rows need unet2d done)')
    p.add_argument('--force', action='store_true', help='re-run rows already done')
    p.add_argument('--equal-tolerance', type=float, default=2.0,
                   help='Dice points within which ACS r. and 3D r. count as equal')
    return p.parse_args(argv)


def ensure_data(root: str, n2d, n3d, seed: int, orientation: str = 'uniform') -> None:
    """Write the POC data sets under ``root`` unless a ``meta.json`` says they are there
    with the same counts and seed (and, for 3D, the same orientation rule: a meta.json
    written before the rule was recorded is ``'uniform'``)."""
    from acsdet.data_prep import generate_poc_shapes
    for dim, (n_train, n_test) in (('2d', n2d), ('3d', n3d)):
        meta_path = osp.join(root, f'poc_{dim}', 'meta.json')
        want = {'train': n_train, 'test': n_test}
        rule = orientation if dim == '3d' else None
        if osp.isfile(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
            found = meta.get('orientation', 'uniform' if dim == '3d' else None)
            if meta.get('seed') == seed and found == rule and all(
                    meta.get('counts', {}).get(k) == v for k, v in want.items()):
                continue
        rule_text = f', {rule} orientation rule' if rule else ''
        print(f'poc_table4: writing poc_{dim} ({n_train} train / {n_test} test{rule_text}) to '
              f'{root}', flush=True)
        generate_poc_shapes(root, seed=seed, counts={dim: want}, dims=(dim, ),
                            orientation=orientation)


def derived_config(row: str, args, data_root: str, pretrained: Optional[str]) -> str:
    """Text of a config that inherits the row's ``configs/poc`` file and sizes it."""
    base, _ = ROWS[row]
    is_2d = row == 'unet2d'
    dim_root = osp.join(osp.abspath(data_root), 'poc_2d' if is_2d else 'poc_3d') + '/'
    epochs = args.epochs_2d if is_2d else args.epochs_3d
    widths = tuple(args.widths)
    if is_2d:
        network = f'dict(widths={widths!r})'
    else:
        skip = ('classifier', ) if pretrained else ()
        network = (f"dict(unet=dict(widths={widths!r}), init_cfg=dict(type='Pretrained', "
                   f'checkpoint={pretrained!r}, skip={skip!r}))')
    pipeline = ''
    if not is_2d and args.crop:
        pipeline = (f", pipeline=[dict(type='LoadVolumeFromFile'), "
                    f"dict(type='RandomCropVolume', crop_size={args.crop}), "
                    f"dict(type='PackVolumeInputs')]")
    workers = args.workers
    loader = f'num_workers={workers}, persistent_workers={workers > 0}'
    # the configs' x0.1 at 50% and 75% of the epochs (a milestone 0 would decay at once)
    milestones = sorted({max(1, epochs // 2), max(1, epochs * 3 // 4)})
    return f'''# written by tools/analysis_tools/poc_table4.py: row {row!r}
_base_ = [{osp.join(REPO_ROOT, 'configs', 'poc', base)!r}]
model = dict(network={network})
train_dataloader = dict(batch_size={args.batch_2d if is_2d else args.batch_3d}, {loader},
                        dataset=dict(data_root={dim_root!r}{pipeline}))
val_dataloader = dict({loader}, dataset=dict(data_root={dim_root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
optim_wrapper = dict(optimizer=dict(lr={args.lr!r}))
param_scheduler = [dict(type='MultiStepLR', begin=0, end={epochs}, by_epoch=True,
                        milestones={milestones!r}, gamma=0.1)]
default_hooks = dict(checkpoint=dict(interval={epochs}, max_keep_ckpts=1, save_best=None))
randomness = dict(seed={args.seed})
'''


def fp32_size_mb(config_path: str) -> float:
    """MB (1e6 bytes) of the fp32 parameters of the model of a config (built untrained)."""
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.registry import MODELS
    register_all_modules()
    cfg = Config.fromfile(config_path)
    model = MODELS.build(cfg.model)  # reads no weight file (init_weights is not called)
    return sum(p.numel() for p in model.parameters()) * 4 / 1e6


def last_metrics(run_dir: str) -> Dict[str, float]:
    """The last validation scalars (``dice/...``) logged under ``run_dir``."""
    found = None
    for stamp in sorted(os.listdir(run_dir)):
        path = osp.join(run_dir, stamp, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'dice/per_case/mean' in record:
                    found = record
    if found is None:
        raise RuntimeError(f'{run_dir}: no validation result (dice/per_case/mean) logged')
    return found


#: An mmengine log line's time: ``2026/12/01 12:17:13 - mmengine - ...`` in the timestamped
#: log file, ``12/01 12:17:13 - mmengine - ...`` on the console (a captured train.log).
_LOG_STAMP = re.compile(r'(\d{4}/)?(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine - ')


def log_stamp(line: str) -> Optional[datetime.datetime]:
    """The time of an mmengine log line (either format above), else None.  The console
    format has no year: a run across New Year's Eve is not expected."""
    m = _LOG_STAMP.match(line)
    if not m:
        return None
    return datetime.datetime.strptime((m.group(1) or '1900/') + m.group(2), '%Y/%m/%d %H:%M:%S')


def logged_seconds(log_path: str) -> float:
    """Seconds between the first and the last mmengine log line of a log file, to the whole
    second the log stamps carry."""
    with open(log_path) as f:
        stamps = [t for t in map(log_stamp, f) if t is not None]
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else float('nan')


def finished_run(run_dir: str, config: str, config_text: str, checkpoint: str) -> bool:
    """Whether ``run_dir`` holds a finished training of exactly this config (its final
    checkpoint and a logged validation) whose result was never recorded, e.g. because this
    script was stopped after the training subprocess had finished."""
    if not (osp.isfile(checkpoint) and osp.isfile(config)):
        return False
    with open(config) as f:
        if f.read() != config_text:
            return False
    try:
        last_metrics(run_dir)
    except (OSError, RuntimeError):
        return False
    return True


def row_result(row: str, run_dir: str, config: str, checkpoint: str, seconds: float) -> dict:
    """The row's result from its logged validation; saved as ``run_dir/result.json``."""
    metrics = last_metrics(run_dir)
    result = dict(row=row, dice=100 * metrics['dice/per_case/mean'],
                  miou=100 * metrics['dice/per_case_iou/mean'],
                  dice_global=100 * metrics['dice/global/mean'],
                  size_mb=fp32_size_mb(config), seconds=seconds, checkpoint=checkpoint,
                  config=config)
    write_text_atomic(osp.join(run_dir, 'result.json'), json.dumps(result, indent=1))
    return result


def run_row(row: str, args, data_root: str, work_dir: str) -> dict:
    """Train one row through tools/train.py; return (and save) its result.

    Without ``--force``, a finished but unrecorded training of the same config is recorded
    instead of trained again (its time taken from its log)."""
    run_dir = osp.join(work_dir, row_dir_name(row))
    pretrained = None
    if ROWS[row][1]:
        src = osp.join(work_dir, row_dir_name('unet2d'), 'result.json')
        if not osp.isfile(src):
            raise FileNotFoundError(f'poc_table4: {row} needs the 2D pretraining: {src} missing '
                                    f'(run with --rows unet2d first)')
        with open(src) as f:
            pretrained = json.load(f)['checkpoint']
    # outside run_dir: mmengine dumps the merged config into the work dir under the same name
    config = osp.join(work_dir, 'configs', f'{row_dir_name(row)}.py')
    config_text = derived_config(row, args, data_root, pretrained)
    epochs = args.epochs_2d if row == 'unet2d' else args.epochs_3d
    checkpoint = osp.join(run_dir, f'epoch_{epochs}.pth')
    log_path = osp.join(run_dir, 'train.log')
    if not args.force and finished_run(run_dir, config, config_text, checkpoint):
        result = row_result(row, run_dir, config, checkpoint, logged_seconds(log_path))
        print(f'poc_table4: {row}: recorded the finished training in {run_dir}: Dice '
              f'{result["dice"]:.1f}, mIoU {result["miou"]:.1f}', flush=True)
        return result
    os.makedirs(run_dir, exist_ok=True)
    write_text_atomic(config, config_text)
    env = thread_env(args.threads)
    print(f'poc_table4: {row}: training (log {log_path})', flush=True)
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config,
                               '--work-dir', run_dir], cwd=REPO_ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    seconds = time.time() - start
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'poc_table4: {row} failed (exit {proc.returncode}), end of '
                           f'{log_path}:\n{tail}')
    result = row_result(row, run_dir, config, checkpoint, seconds)
    print(f'poc_table4: {row}: Dice {result["dice"]:.1f}, mIoU {result["miou"]:.1f}, '
          f'{seconds:.0f} s', flush=True)
    return result


_NUM_CHECKS = 5  # the comparisons ordering_checks makes when all rows are there


def ordering_checks(results: Dict[str, dict], tol: float) -> List[dict]:
    """The paper's ordering ACS p. >= ACS r. ~ 3D r. > 2.5D r. (and 2.5D p. below ACS p.)
    on Dice, as a list of ``dict(check, holds)`` for the rows present."""
    d = {row: r['dice'] for row, r in results.items()}
    checks = [
        ('ACS p. >= ACS r.', ('ACS p.', 'ACS r.'), lambda a, b: a >= b),
        (f'|ACS r. - 3D r.| <= {tol:g}', ('ACS r.', '3D r.'), lambda a, b: abs(a - b) <= tol),
        ('ACS r. > 2.5D r.', ('ACS r.', '2.5D r.'), lambda a, b: a > b),
        ('3D r. > 2.5D r.', ('3D r.', '2.5D r.'), lambda a, b: a > b),
        ('ACS p. > 2.5D p.', ('ACS p.', '2.5D p.'), lambda a, b: a > b),
    ]
    return [dict(check=name, holds=bool(test(d[a], d[b])))
            for name, (a, b), test in checks if a in d and b in d]


def table_markdown(results: Dict[str, dict], checks: List[dict]) -> str:
    """Table IV as markdown: ours next to the paper's, then the ordering checks."""
    lines = ['| Model | Dice % | mIoU % | Dice global % | Size (MB fp32) | Run time (s) | '
             'Paper Dice | Paper mIoU | Paper size |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for row in ['unet2d'] + TABLE_ROWS:
        if row not in results:
            continue
        r = results[row]
        paper = PAPER_TABLE4.get(row, ('-', '-', '-'))
        name = '2D UNet (pretraining, poc_2d)' if row == 'unet2d' else row.replace(' ', ' UNet ')
        lines.append(f'| {name} | {r["dice"]:.1f} | {r["miou"]:.1f} | {r["dice_global"]:.1f} | '
                     f'{r["size_mb"]:.2f} | {r["seconds"]:.0f} | {paper[0]} | {paper[1]} | '
                     f'{paper[2]} |')
    lines.append('')
    for c in checks:
        lines.append(f'* {c["check"]}: {"yes" if c["holds"] else "NO"}')
    if checks:
        verdict = 'yes' if all(c['holds'] for c in checks) else 'no'
        if verdict == 'yes' and len(checks) < _NUM_CHECKS:  # some rows are missing
            verdict = f'yes on the {len(checks)} of {_NUM_CHECKS} checks the rows allow'
        lines.append(f'* paper ordering reproduced: {verdict}')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--protocol', choices=['project', 'authors'], default='project')
    if pre.parse_known_args(argv)[0].protocol == 'authors':
        sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
        import poc_table4_authors
        return poc_table4_authors.main(argv)
    args = parse_args(argv)
    # a SIGTERM stops the training subprocess too (subprocess.run kills it on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root or osp.join(work_dir, 'data')
    rows = args.rows or list(ROWS)
    ensure_data(data_root, args.n2d, args.n3d, args.seed)
    results = {}
    for row in ROWS:
        path = osp.join(work_dir, row_dir_name(row), 'result.json')
        if row in rows and (args.force or not osp.isfile(path)):
            results[row] = run_row(row, args, data_root, work_dir)
        elif osp.isfile(path):
            with open(path) as f:
                results[row] = json.load(f)
    checks = ordering_checks(results, args.equal_tolerance)
    table = table_markdown(results, checks)
    write_text_atomic(osp.join(work_dir, 'table4.md'), table)
    write_text_atomic(osp.join(work_dir, 'table4.json'), json.dumps(
        dict(results=results, checks=checks, paper=PAPER_TABLE4, args=vars(args)), indent=1))
    print(table, end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())
