"""Table IV of the ACS paper in the authors' protocol: ``poc_table4.py --protocol authors``.

The protocol is the one of the authors' public code (M3DV/ACSConv ``experiments/poc/``), set
out in ``configs/poc/authors_*.py`` and docs/segmentation.md: their U-Net (``PocUNet2D``),
their generator's orientation rule (``make_poc_shapes.py --orientation authors``), their
soft Dice loss and schedules, the test split scored every epoch, and three Dice figures of
the same predictions (``PocTableDiceMetric``): the authors' (pooled per test batch of 20,
background in, cone out), the text's (5 foreground classes, Dice global) and Dice per case.

Steps (each a subprocess, so a crash or a kill loses at most the epoch in progress):

1. the POC data under ``<work-dir>/data`` (unless there with the same counts, seed, rule);
2. ``unet2d``: the 2D pretraining (``authors_unet2d_poc2d.py``); its best checkpoint by the
   authors' test Dice (their rule) is linked to ``<work-dir>/unet2d_best.pth``;
3. per row ACS p. / ACS r. / 3D r. / 2.5D r. / 2.5D p.: the feature mAUC of the untrained
   model (``poc_feature_mauc.py``), then the training (``tools/train.py --resume``: a killed
   row continues from its last epoch's checkpoint);
4. the table: per row the three Dice figures and the authors' mIoU at the best test epoch
   (by the authors' Dice: their selection rule, on the test set) and at the last epoch, the
   mAUC, the fp32 size, the steps, the wall time and the device, next to the paper's, plus
   the checks of the issue; ``--out`` (json) and the same path with ``.md``, atomically.

A row is done when ``<row dir>/result.json`` exists (a row whose training finished but whose
result was not written is recorded from its logs, not trained again); a derived config that
changed under a run dir is an error (``--force`` starts that row again).

``--jobs n`` trains n rows at a time, each on ``cpu count / n`` threads unless ``--threads``
says otherwise (the p. rows wait for ``unet2d``; rows a killed call left half-trained go
first): the POC runs are small convolutions that two threads speed up little (measured on
this 2-core machine: 4.9 s per ACS step on two threads, 5.3 s on one), so two rows side by
side nearly halve the table's time on two cores.

``--scale s`` multiplies the data counts (10000 / 2000 2D images, 100 / 200 3D volumes), the
epochs (50 / 50) and the widths (64, 128 / 64, 32) by s; ``--n2d``, ``--n3d``,
``--epochs-2d``, ``--epochs-3d``, ``--width-scale`` set one of them.  The 2D learning-rate
decay stays at half the 2D epochs (the authors' 25 of 50).
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Dict, List, Optional

from acsdet.utils.atomic_write import write_text_atomic
from acsdet.utils.cli_types import positive_float, positive_int

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# the sibling script's helpers: the same size rule, row folders, data check and log stamps
from poc_table4 import (ensure_data, fp32_size_mb, log_stamp, row_dir_name,  # noqa: E402,F401
                        thread_env)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Table IV of the ACS paper: (feature mAUC w/o training, Dice, mIoU, size as printed).
PAPER = {
    'ACS p.': (88.1, 95.4, 92.0, '1.6 Mb'),
    'ACS r.': (68.7, 94.7, 90.7, '1.6 Mb'),
    '3D r.': (72.1, 94.6, 90.8, '4.7 Mb'),
    '2.5D r.': (69.0, 82.2, 72.5, '1.6 Mb'),
    '2.5D p.': (85.1, 82.7, 73.3, '1.6 Mb'),
}
#: row -> config under configs/poc
ROWS = {
    'unet2d': 'authors_unet2d_poc2d.py',
    'ACS p.': 'authors_acs_p_poc3d.py',
    'ACS r.': 'authors_acs_r_poc3d.py',
    '3D r.': 'authors_3d_r_poc3d.py',
    '2.5D r.': 'authors_2.5d_r_poc3d.py',
    '2.5D p.': 'authors_2.5d_p_poc3d.py',
}
TABLE_ROWS = ['ACS p.', 'ACS r.', '3D r.', '2.5D r.', '2.5D p.']
PRETRAINED_ROWS = ('ACS p.', '2.5D p.')
FULL = dict(n2d=(10000, 2000), n3d=(100, 200), epochs_2d=50, epochs_3d=50,
            widths=(64, 128), decoder_widths=(64, 32), batch_2d=64, batch_3d=4)
#: the metric keys a row reports (val scalars, prefix dice/)
FIGURES = dict(dice_authors='dice/authors/mean', dice_fg_global='dice/global/mean',
               dice_per_case='dice/per_case/mean', miou_authors='dice/authors_iou/mean',
               miou_per_case='dice/per_case_iou/mean')


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='poc_table4.py --protocol authors',
                                description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--protocol', choices=['authors'], default='authors')
    p.add_argument('--work-dir', default='work_dirs/poc_table4_authors')
    p.add_argument('--scale', type=positive_float, default=1.0,
                   help='multiply data counts, epochs and widths (default 1: paper size)')
    p.add_argument('--n2d', type=positive_int, nargs=2, metavar=('TRAIN', 'TEST'))
    p.add_argument('--n3d', type=positive_int, nargs=2, metavar=('TRAIN', 'TEST'))
    p.add_argument('--epochs-2d', type=positive_int)
    p.add_argument('--epochs-3d', type=positive_int)
    p.add_argument('--width-scale', type=positive_float)
    p.add_argument('--threads', type=int, default=0,
                   help='OMP/MKL threads per run (0: the default, or cpu count / --jobs)')
    p.add_argument('--jobs', type=positive_int, default=1,
                   help='rows trained at a time (each a subprocess; default 1)')
    p.add_argument('--workers', type=int, default=0, help='dataloader workers')
    p.add_argument('--seed', type=int, default=0, help='data and training seed')
    p.add_argument('--rows', nargs='+', choices=list(ROWS), default=None,
                   help='runs to do (default all; the p. rows need unet2d)')
    p.add_argument('--force', action='store_true', help='start the chosen rows again')
    p.add_argument('--out', default=None,
                   help='table json (default <work-dir>/poc_table4_authors.json; .md beside)')
    return p.parse_args(argv)


def sizes(args) -> dict:
    """The run's counts, epochs and widths from ``--scale`` and the explicit options."""
    s = args.scale
    ws = args.width_scale if args.width_scale is not None else s
    scaled = lambda v, f: max(1, int(round(v * f)))  # noqa: E731
    return dict(
        n2d=tuple(args.n2d) if args.n2d else tuple(scaled(v, s) for v in FULL['n2d']),
        n3d=tuple(args.n3d) if args.n3d else tuple(scaled(v, s) for v in FULL['n3d']),
        epochs_2d=args.epochs_2d or scaled(FULL['epochs_2d'], s),
        epochs_3d=args.epochs_3d or scaled(FULL['epochs_3d'], s),
        widths=tuple(scaled(v, ws) for v in FULL['widths']),
        decoder_widths=tuple(scaled(v, ws) for v in FULL['decoder_widths']),
        batch_2d=FULL['batch_2d'], batch_3d=FULL['batch_3d'])


def derived_config(row: str, size: dict, data_root: str, work_dir: str, args) -> str:
    """Text of a config that inherits the row's ``configs/poc/authors_*`` file and sizes it."""
    is_2d = row == 'unet2d'
    dim_root = osp.join(osp.abspath(data_root), 'poc_2d' if is_2d else 'poc_3d') + '/'
    widths = f'widths={size["widths"]!r}, decoder_widths={size["decoder_widths"]!r}'
    if is_2d:
        network = f'dict({widths})'
    elif row in PRETRAINED_ROWS:
        ckpt = osp.join(osp.abspath(work_dir), 'unet2d_best.pth')
        network = f'dict(unet=dict({widths}), init_cfg=dict(checkpoint={ckpt!r}))'
    else:
        network = f'dict(unet=dict({widths}))'
    epochs = size['epochs_2d'] if is_2d else size['epochs_3d']
    loader = f'num_workers={args.workers}, persistent_workers={args.workers > 0}'
    text = f'''# written by tools/analysis_tools/poc_table4.py --protocol authors: row {row!r}
_base_ = [{osp.join(REPO_ROOT, 'configs', 'poc', ROWS[row])!r}]
model = dict(network={network})
train_dataloader = dict({loader}, dataset=dict(data_root={dim_root!r}))
val_dataloader = dict({loader}, dataset=dict(data_root={dim_root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs})
randomness = dict(seed={args.seed})
'''
    if is_2d:  # the authors' single effective decay, at half the epochs
        text += (f"param_scheduler = [dict(type='MultiStepLR', begin=0, end={epochs}, "
                 f"by_epoch=True, milestones=[{max(1, epochs // 2)}], gamma=0.1)]\n")
    return text


def val_records(run_dir: str) -> Dict[int, dict]:
    """epoch -> the validation scalars logged under ``run_dir`` (all its timestamped runs:
    a resumed row has several; a later record of an epoch replaces an earlier one)."""
    records = {}
    for stamp in sorted(os.listdir(run_dir)) if osp.isdir(run_dir) else ():
        path = osp.join(run_dir, stamp, 'vis_data', 'scalars.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if FIGURES['dice_authors'] in record:
                    records[int(record['step'])] = record
    return records


#: A gap between two consecutive log lines of one run longer than this is a pause (the
#: process was stopped, e.g. with SIGSTOP while another job was timed), not training.
PAUSE_GAP_S = 1800.0


def train_seconds(run_dir: str) -> float:
    """Seconds of training logged under ``run_dir``: per timestamped run, its first to its
    last log line (a resumed row's gaps between runs are not counted), less the gaps of more
    than :data:`PAUSE_GAP_S` between consecutive lines (a paused process; every log interval
    of these runs is well under a minute or two)."""
    total = 0.0
    for stamp in sorted(os.listdir(run_dir)) if osp.isdir(run_dir) else ():
        log = osp.join(run_dir, stamp, f'{stamp}.log')
        if not osp.isfile(log):
            continue
        with open(log) as f:
            times = [t for t in map(log_stamp, f) if t is not None]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        total += sum(g for g in gaps if g <= PAUSE_GAP_S)
    return total


def device_text(threads: int) -> str:
    """The machine the runs train on, in words (the POC runs use the GPU when there is one)."""
    import torch
    if torch.cuda.is_available():
        return f'cuda: {torch.cuda.get_device_name(0)}'
    cpu = platform.processor() or 'cpu'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return (f'cpu: {cpu}, {os.cpu_count()} cores, {threads or torch.get_num_threads()} threads '
            f'per run')


def _run(cmd: List[str], log_path: str, env: dict, what: str) -> None:
    with open(log_path, 'a') as log:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'poc_table4: {what} failed (exit {proc.returncode}), end of '
                           f'{log_path}:\n{tail}')


def row_result(row: str, run_dir: str, config: str, size: dict, args,
               mauc: Optional[dict]) -> dict:
    """The row's figures from its logged validations (best epoch by the authors' Dice)."""
    records = val_records(run_dir)
    epochs = size['epochs_2d'] if row == 'unet2d' else size['epochs_3d']
    if max(records, default=0) < epochs:
        raise RuntimeError(f'poc_table4: {row}: {run_dir} logged validations up to epoch '
                           f'{max(records, default=0)} of {epochs}')
    best_epoch = max(sorted(records), key=lambda e: records[e][FIGURES['dice_authors']])
    n_train = size['n2d'][0] if row == 'unet2d' else size['n3d'][0]
    batch = size['batch_2d'] if row == 'unet2d' else size['batch_3d']
    result = dict(name=row, best_epoch=best_epoch, last_epoch=epochs)
    for key, metric in FIGURES.items():
        result[key] = 100 * records[best_epoch][metric]
        result[f'{key}_last'] = 100 * records[epochs][metric]
    result['per_epoch_dice_authors'] = [100 * records[e][FIGURES['dice_authors']]
                                        for e in sorted(records)]
    result.update(
        mauc=None if mauc is None else 100 * mauc['mauc'],
        mauc_raw=None if mauc is None else 100 * mauc['mauc_raw'],
        size_mb=fp32_size_mb(config), steps=epochs * math.ceil(n_train / batch),
        train_seconds=train_seconds(run_dir), device=device_text(args.threads), config=config)
    # wall time: the logged training (all resumed parts) + the mAUC run
    result['seconds'] = result['train_seconds'] + (mauc['seconds'] if mauc else 0.0)
    write_text_atomic(osp.join(run_dir, 'result.json'), json.dumps(result, indent=1))
    return result


def refuse_changed_config(config: str, text: str, run_dir: str, who: str, cause: str,
                          unit: str) -> None:
    """Refuse to continue a run whose derived config ``config`` (beside ``run_dir``) differs
    from ``text``, the config the run would now get: resuming would mix two settings.

    Raises:
        RuntimeError: ``<who>: <run_dir> was trained from another config than <config> would
            now be (<cause>); --force starts the <unit> again``.
    """
    if osp.isfile(config) and osp.isdir(run_dir):
        with open(config) as f:
            if f.read() != text:
                raise RuntimeError(f'{who}: {run_dir} was trained from another config than '
                                   f'{config} would now be ({cause}); --force starts the '
                                   f'{unit} again')


def best_checkpoint(run_dir: str) -> str:
    """The ``best_*.pth`` the CheckpointHook kept in ``run_dir``."""
    found = sorted(f for f in os.listdir(run_dir) if f.startswith('best_') and
                   f.endswith('.pth'))
    if len(found) != 1:
        raise RuntimeError(f'poc_table4: {run_dir}: expected one best_*.pth, found {found}')
    return osp.join(run_dir, found[0])


def run_row(row: str, size: dict, args, data_root: str, work_dir: str) -> dict:
    """mAUC (3D rows), then the training (resumed when a checkpoint is there), then the row."""
    run_dir = osp.join(work_dir, row_dir_name(row))
    config = osp.join(work_dir, 'configs', f'{row_dir_name(row)}.py')
    text = derived_config(row, size, data_root, work_dir, args)
    if args.force and osp.isdir(run_dir):
        shutil.rmtree(run_dir)
    refuse_changed_config(config, text, run_dir, f'poc_table4: {row}', 'other sizes?', 'row')
    if row in PRETRAINED_ROWS and not osp.isfile(osp.join(work_dir, 'unet2d_best.pth')):
        raise FileNotFoundError(f'poc_table4: {row} needs the 2D pretraining: '
                                f'{osp.join(work_dir, "unet2d_best.pth")} missing (run with '
                                f'--rows unet2d first)')
    os.makedirs(run_dir, exist_ok=True)
    write_text_atomic(config, text)
    env = thread_env(args.threads)
    mauc = None
    if row != 'unet2d':
        mauc_path = osp.join(run_dir, 'mauc.json')
        if not osp.isfile(mauc_path):
            print(f'poc_table4: {row}: feature mAUC of the untrained model', flush=True)
            _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                                           'poc_feature_mauc.py'), config, '--seed',
                  str(args.seed), '--out', mauc_path], osp.join(run_dir, 'mauc.log'), env,
                 f'{row} mAUC')
        with open(mauc_path) as f:
            mauc = json.load(f)
    epochs = size['epochs_2d'] if row == 'unet2d' else size['epochs_3d']
    if max(val_records(run_dir), default=0) >= epochs:  # trained; the result not recorded
        print(f'poc_table4: {row}: recording the finished training in {run_dir}', flush=True)
    else:
        print(f'poc_table4: {row}: training (log {osp.join(run_dir, "train.log")})',
              flush=True)
        _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
              run_dir, '--resume'], osp.join(run_dir, 'train.log'), env, f'{row} training')
    if row == 'unet2d':
        link = osp.join(work_dir, 'unet2d_best.pth')
        tmp = link + '.tmp'
        if osp.lexists(tmp):
            os.remove(tmp)
        os.symlink(osp.relpath(best_checkpoint(run_dir), work_dir), tmp)
        os.replace(tmp, link)
    result = row_result(row, run_dir, config, size, args, mauc)
    print(f'poc_table4: {row}: Dice (authors) {result["dice_authors"]:.1f} at epoch '
          f'{result["best_epoch"]}, {result["dice_authors_last"]:.1f} at the last', flush=True)
    return result


def resume_order(todo: List[str], work_dir: str, force: bool) -> List[str]:
    """``todo`` with the rows a killed call left half-trained (a ``last_checkpoint`` in their
    folder) first, each group in table order: a resumed table finishes what it started.
    With ``force`` nothing is resumed, so the order stays."""
    if force:
        return list(todo)
    started = [row for row in todo if osp.isfile(osp.join(work_dir, row_dir_name(row),
                                                          'last_checkpoint'))]
    return started + [row for row in todo if row not in started]


def run_rows(todo: List[str], jobs: int, run_one: Callable[[str], dict]) -> Dict[str, dict]:
    """``run_one(row)`` for each row of ``todo``, ``jobs`` at a time, in ``todo``'s order; a
    p. row starts only once ``unet2d`` (when it is in ``todo``) has finished.  When a row fails
    no further row starts, the running ones finish, and the first failure is raised.

    Returns:
        dict: row -> ``run_one``'s result, for the rows that finished.
    """
    pending = list(todo)
    running: Dict[Future, str] = {}
    results: Dict[str, dict] = {}
    failure: Optional[BaseException] = None

    def ready(row):
        return row not in PRETRAINED_ROWS or 'unet2d' not in pending + list(running.values())

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while running or (pending and failure is None):
            for row in [r for r in pending if ready(r)]:
                if failure is not None or len(running) >= jobs:
                    break
                pending.remove(row)
                running[pool.submit(run_one, row)] = row
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                row = running.pop(fut)
                if fut.exception() is not None:
                    failure = failure or fut.exception()
                else:
                    results[row] = fut.result()
    if failure is not None:
        raise failure
    return results


def checks(results: Dict[str, dict]) -> List[dict]:
    """The issue's checks on the rows present: each row within 2 Dice points of the paper
    (authors' figure, best test epoch), ACS r. within 2 of 3D r., the mAUC ordering."""
    out = []
    for row in TABLE_ROWS:
        if row in results:
            gap = results[row]['dice_authors'] - PAPER[row][1]
            out.append(dict(check=f'{row} Dice within 2 of the paper\'s {PAPER[row][1]}',
                            holds=abs(gap) <= 2, value=round(gap, 1)))
    d = {row: r['dice_authors'] for row, r in results.items()}
    if 'ACS r.' in d and '3D r.' in d:
        out.append(dict(check='|ACS r. - 3D r.| <= 2', holds=abs(d['ACS r.'] - d['3D r.']) <= 2,
                        value=round(d['ACS r.'] - d['3D r.'], 1)))
    m = {row: r['mauc'] for row, r in results.items() if r.get('mauc') is not None}
    for a, b in (('ACS p.', '2.5D p.'), ('2.5D p.', '3D r.'), ('2.5D p.', '2.5D r.'),
                 ('2.5D p.', 'ACS r.')):
        if a in m and b in m:
            out.append(dict(check=f'mAUC {a} > {b}', holds=m[a] > m[b],
                            value=round(m[a] - m[b], 1)))
    return out


def _f(v, fmt='.1f'):
    return '-' if v is None else format(v, fmt)


def table_markdown(results: Dict[str, dict], check_list: List[dict], meta: dict) -> str:
    lines = [
        '| Model | Dice authors (best ep.) | Dice authors (last) | Dice fg global (best / last) '
        '| Dice per case (best / last) | mIoU authors (best) | mAUC | mAUC plain mean | Size '
        '(MB fp32) | Best epoch | Steps | Wall (s) | Paper mAUC | Paper Dice | Paper mIoU | '
        'Paper size |', '| --- ' * 16 + '|'
    ]
    for row in ['unet2d'] + TABLE_ROWS:
        if row not in results:
            continue
        r = results[row]
        paper = PAPER.get(row, ('-', '-', '-', '-'))
        name = '2D UNet (pretraining, poc_2d; Dice of circle + background)' \
            if row == 'unet2d' else row.replace(' ', ' UNet ')
        lines.append(
            f'| {name} | {_f(r["dice_authors"])} | {_f(r["dice_authors_last"])} | '
            f'{_f(r["dice_fg_global"])} / {_f(r["dice_fg_global_last"])} | '
            f'{_f(r["dice_per_case"])} / {_f(r["dice_per_case_last"])} | '
            f'{_f(r["miou_authors"])} | {_f(r.get("mauc"))} | {_f(r.get("mauc_raw"))} | '
            f'{r["size_mb"]:.2f} | {r["best_epoch"]} | {r["steps"]} | {r["seconds"]:.0f} | '
            f'{paper[0]} | {paper[1]} | {paper[2]} | {paper[3]} |')
    lines += ['', f'Device: {meta["device"]}. Sizes: {json.dumps(meta["sizes"])}. Wall time '
              f'of the rows (training, logged, and mAUC; data generation not included): '
              f'{meta["total_seconds"]:.0f} s'
              + (f', the rows trained {meta["jobs"]} at a time' if meta.get('jobs', 1) > 1
                 else '') + '.', '']
    for c in check_list:
        lines.append(f'* {c["check"]}: {"yes" if c["holds"] else "NO"} ({c["value"]:+.1f})')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    args = parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    data_root = osp.join(work_dir, 'data')
    size = sizes(args)
    if not args.threads and args.jobs > 1:
        args.threads = max(1, (os.cpu_count() or 1) // args.jobs)
    rows = args.rows or list(ROWS)
    out = args.out or osp.join(work_dir, 'poc_table4_authors.json')
    from acsdet.data_prep.output_guard import check_writable
    check_writable(work_dir)
    check_writable(osp.dirname(osp.abspath(out)))
    t0 = time.time()
    ensure_data(data_root, size['n2d'], size['n3d'], args.seed, orientation='authors')
    results, todo = {}, []
    for row in ROWS:
        path = osp.join(work_dir, row_dir_name(row), 'result.json')
        if row in rows and (args.force or not osp.isfile(path)):
            todo.append(row)
        elif osp.isfile(path):
            with open(path) as f:
                results[row] = json.load(f)
    results.update(run_rows(resume_order(todo, work_dir, args.force), args.jobs,
                            lambda row: run_row(row, size, args, data_root, work_dir)))
    check_list = checks(results)
    command = 'tools/analysis_tools/poc_table4.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    meta = dict(command=command, device=device_text(args.threads), sizes=size, jobs=args.jobs,
                seconds_this_call=time.time() - t0,
                total_seconds=sum(r['seconds'] for r in results.values()))
    table = table_markdown(results, check_list, meta)
    md = osp.splitext(out)[0] + '.md'
    write_text_atomic(out, json.dumps(dict(rows=[results[r] for r in ROWS if r in results],
                                           checks=check_list, paper=PAPER, **meta), indent=1))
    write_text_atomic(md, f'<!-- written by {command} -->\n' + table)
    print(table, end='')
    return 0
