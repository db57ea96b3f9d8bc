"""The ACS paper's Table VII (DeepLesion detection: 2.5D / 3D / ACS x r. / p.) in miniature,
on the demo data, in one command.

Steps (each ``tools/train.py`` / ``tools/test.py`` in a subprocess, configs derived from
``configs/deeplesion_mini/``, every setting in those configs; this script picks the row and
sizes the run):

1. **2D pretraining** (``pretrain_2d``): the 2D truncated DenseNet-121 Mask R-CNN
   (``densenet2d_maskrcnn_keyslices.py``: 2.5D kernels on one slice) on many single key
   slices (1000 generated key slices, 600 used for training, training anatomy only, no
   look-alikes), then ``tools/model_converters/export_2d_backbone.py``: its backbone as a
   torchvision DenseNet-121 state dict (``pretrain_2d/densenet121_2d.pth``).
2. **Six rows** on the demo's 3D data (120 training stacks of 3 slices, look-alikes in):
   ``2.5d_r``, ``2.5d_p``, ``3d_r``, ``3d_p`` (I3D-inflated), ``acs_r``, ``acs_p``
   (``<conv>_maskrcnn_mini_<init>.py``), same schedule each; "p." rows load the exported
   file through ``init_cfg=dict(type='Pretrained', ...)``, the ImageNet door.
3. Each row's **last** checkpoint (no checkpoint is chosen, on any split) is tested on the
   test split (60 key slices from held-out anatomy): FROC sensitivity at 0.5 ... 16 FPs per
   image and the mean over 0.5-4, and the look-alike figures at 2 FPs per image
   (``FROCMetric(distractor_file=...)``: FPs per image on look-alikes, their share of the
   FPs, the share of look-alikes detected).

    .venv/bin/python tools/analysis_tools/deeplesion_table7_mini.py \\
        --work-dir work_dirs/deeplesion_table7_mini --out docs/results/deeplesion_table7_mini.json

Resumable per row and within a row: a row is done when ``<work-dir>/<row>/result.json``
exists; otherwise it trains with ``--resume`` from its last checkpoint (one per epoch) and is
tested.  A derived config that changed under a run dir is an error (``--force`` starts it
again).  The table json (``--out``) and its ``.md`` are rewritten atomically after every
row.  ``--epochs``, ``--pretrain-epochs``, ``--num-series``, ``--pretrain-series`` and
``--image-size`` shrink the runs (tests); ``--rows`` picks some.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import signal
import sys
from typing import Dict, List, Tuple

from acsdet.utils.atomic_write import write_text_atomic
from acsdet.utils.cli_types import positive_int

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# the POC table scripts' helpers: subprocess threads, logged seconds, device, _run and the
# changed-config check
from poc_table4 import thread_env  # noqa: E402
from poc_table4_authors import (_run, device_text, refuse_changed_config,  # noqa: E402
                                train_seconds)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'deeplesion_mini')
ROWS = ('2.5d_r', '2.5d_p', '3d_r', '3d_p', 'acs_r', 'acs_p')
FP_RATES = ('0.5', '1', '2', '4', '8', '16')
BATCH = 2
NUM_SLICES = 3
# Table VII of the ACS paper, the x3-slice rows (real DeepLesion, ImageNet "p.", 512 px):
# Sens@0.5, 1, 2, 4, 8, 16 and the mean over 0.5-4, in %.
PAPER = {
    '2.5d_r': (70.34, 79.11, 86.16, 90.94, 94.04, 96.01, 81.64),
    '2.5d_p': (72.57, 79.89, 86.80, 91.04, 94.24, 96.32, 82.58),
    '3d_r': (63.58, 74.63, 82.88, 88.03, 91.39, 93.99, 77.28),
    '3d_p': (72.01, 80.09, 86.54, 91.29, 93.91, 95.68, 82.48),
    'acs_r': (72.52, 80.85, 87.10, 91.05, 94.39, 96.12, 82.88),
    'acs_p': (73.00, 81.17, 87.05, 91.78, 94.63, 95.48, 83.25),
}
PAPER_NOTE = ('paper: real DeepLesion, 3 slices, 512 px, "p." = ImageNet DenseNet-121; here: '
              'the generated demo data, 3 slices, 128 px, "p." = the 2D pretraining on '
              'generated key slices')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/deeplesion_table7_mini')
    p.add_argument('--data-root', default=None,
                   help='where the 3D and 2D sets are written (demo_3d/, keyslices_2d/); '
                   'default <work-dir>/data')
    p.add_argument('--out', default=None,
                   help='table json (default <work-dir>/deeplesion_table7_mini.json; .md beside)')
    p.add_argument('--rows', nargs='+', choices=ROWS, default=list(ROWS))
    p.add_argument('--epochs', type=positive_int, default=None,
                   help='epochs of every row (default: the demo config\'s)')
    p.add_argument('--pretrain-epochs', type=positive_int, default=None,
                   help='epochs of the 2D pretraining (default: its config\'s)')
    p.add_argument('--num-series', type=positive_int, default=200,
                   help='series of the 3D set (default 200: 120 / 20 / 60)')
    p.add_argument('--pretrain-series', type=positive_int, default=1000,
                   help='key slices of the 2D set (default 1000: 600 train)')
    p.add_argument('--image-size', type=positive_int, default=256,
                   help='generated slice size (default 256, resized to 128 by the configs)')
    p.add_argument('--seed', type=int, default=0, help='training seed')
    p.add_argument('--threads', type=int, default=0,
                   help='OMP/MKL threads of each run (0: torch default)')
    p.add_argument('--force', action='store_true', help='redo rows already done')
    return p.parse_args(argv)


def _config_epochs(config: str) -> int:
    from mmengine.config import Config
    return int(Config.fromfile(config).train_cfg.max_epochs)


def derived_config(base: str, run: str, data_root: str, demo_cfg: dict, epochs: int,
                   args, pretrained: str = None) -> str:
    """A config inheriting ``base`` with the run's data, epochs, checkpointing and seed; the
    base's epoch-based step milestones scale with the epochs."""
    from mmengine.config import Config
    cfg = Config.fromfile(base)
    schedule = []
    for t in cfg.param_scheduler:
        t = t.to_dict()
        if t.get('by_epoch', True) and 'milestones' in t:
            scale = epochs / cfg.train_cfg.max_epochs
            t.update(end=epochs, milestones=[max(1, round(m * scale)) for m in t['milestones']])
        schedule.append(t)
    root = osp.abspath(data_root) + '/'
    init = (f"model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
            f"checkpoint={pretrained!r})))\n" if pretrained else '')
    return f'''# written by tools/analysis_tools/deeplesion_table7_mini.py: {run!r}
_base_ = [{base!r}]
{init}data_root = {root!r}
demo_cfg = {demo_cfg!r}
train_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
test_dataloader = dict(dataset=dict(data_root=data_root, demo_cfg=demo_cfg))
val_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/deeplesion_test.json',
                      distractor_file=data_root + 'distractors.json')
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
param_scheduler = {schedule!r}
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1, save_best=None))
randomness = dict(seed={args.seed})
'''


def _prepare(run: str, base: str, work_dir: str, data_root: str, demo_cfg: dict,
             epochs: int, args, pretrained: str = None) -> str:
    """Write ``run``'s derived config (refusing one that changed under a trained run dir);
    returns its path."""
    run_dir = osp.join(work_dir, run)
    config = osp.join(work_dir, 'configs', f'{run}.py')
    text = derived_config(base, run, data_root, demo_cfg, epochs, args, pretrained)
    refuse_changed_config(config, text, run_dir, f'deeplesion_table7_mini: {run}',
                          'other epochs / data?', 'run')
    os.makedirs(run_dir, exist_ok=True)
    write_text_atomic(config, text)
    return config


def train(run: str, config: str, work_dir: str, epochs: int, args) -> str:
    """Train ``run`` (resumed when a checkpoint is there); returns its last checkpoint."""
    run_dir = osp.join(work_dir, run)
    last = osp.join(run_dir, f'epoch_{epochs}.pth')
    if not osp.isfile(last):
        print(f'deeplesion_table7_mini: {run}: training (log '
              f'{osp.join(run_dir, "train.log")})', flush=True)
        _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
              run_dir, '--resume'], osp.join(run_dir, 'train.log'), thread_env(args.threads), run)
    return last


def pretrain_2d(work_dir: str, data_root: str, args) -> Tuple[str, int]:
    """Step 1: the 2D pretraining and the export; returns the exported file and the epochs."""
    out = osp.join(work_dir, 'pretrain_2d', 'densenet121_2d.pth')
    base = osp.join(CONFIG_DIR, 'densenet2d_maskrcnn_keyslices.py')
    epochs = args.pretrain_epochs or _config_epochs(base)
    demo_cfg = dict(num_series=args.pretrain_series, image_size=args.image_size, seed=1,
                    distractors=False)
    config = _prepare('pretrain_2d', base, work_dir, osp.join(data_root, 'keyslices_2d'),
                      demo_cfg, epochs, args)
    if osp.isfile(out):
        return out, epochs
    last = train('pretrain_2d', config, work_dir, epochs, args)
    _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'model_converters',
                                   'export_2d_backbone.py'), last, out],
         osp.join(work_dir, 'pretrain_2d', 'export.log'), thread_env(args.threads), 'export')
    return out, epochs


def test_metrics(run_dir: str) -> Dict[str, float]:
    """The metrics of the newest ``tools/test.py`` run under ``<run_dir>/test``."""
    found = sorted(glob.glob(osp.join(run_dir, 'test', '2*', '2*.json')))
    if not found:
        raise RuntimeError(f'{run_dir}/test: no test result json')
    with open(found[-1]) as f:
        return json.load(f)


def row_config(row: str, work_dir: str, data_root: str, args, pretrained: str):
    """(config path, epochs) of a row, its derived config written (or refused)."""
    conv, init = row.split('_')
    base = osp.join(CONFIG_DIR, f'{conv}_maskrcnn_mini_{init}.py')
    epochs = args.epochs or _config_epochs(base)
    demo_cfg = dict(num_series=args.num_series, image_size=args.image_size, seed=0)
    config = _prepare(row, base, work_dir, osp.join(data_root, 'demo_3d'), demo_cfg, epochs,
                      args, pretrained if init == 'p' else None)
    return config, epochs


def run_row(row: str, config: str, epochs: int, work_dir: str, data_root: str, args,
            pretrained: str) -> dict:
    """Train (or resume) and test a row from its derived ``config``; returns its result."""
    conv, init = row.split('_')
    last = train(row, config, work_dir, epochs, args)
    run_dir = osp.join(work_dir, row)
    test_dir = osp.join(run_dir, 'test')
    if osp.isdir(test_dir):  # a test killed half-way: start it again
        shutil.rmtree(test_dir)
    print(f'deeplesion_table7_mini: {row}: testing {last}', flush=True)
    _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), config, last, '--work-dir',
          test_dir], osp.join(run_dir, 'test.log'), thread_env(args.threads), f'{row} test')
    m = test_metrics(run_dir)
    with open(osp.join(data_root, 'demo_3d', 'annotations', 'deeplesion_train.json')) as f:
        num_train = len(json.load(f)['images'])
    steps = epochs * -(-num_train // BATCH)
    result = dict(
        row=row, conv_type=conv, init=f'{init}.', num_slices=NUM_SLICES,
        sens={f: 100 * m[f'froc/sens@{f}'] for f in FP_RATES},
        froc_mean=100 * m['froc/mean'],
        distractor_fp_per_image=m['froc/distractor/fp_per_image'],
        distractor_fp_share=m['froc/distractor/fp_share'],
        distractors_detected=m['froc/distractor/detected'],
        steps=steps, epochs=epochs, wall_s=train_seconds(run_dir),
        device=device_text(args.threads), config=config, checkpoint=last,
        pretrained=pretrained if init == 'p' else None)
    write_text_atomic(osp.join(run_dir, 'result.json'), json.dumps(result, indent=1))
    print(f'deeplesion_table7_mini: {row}: FROC mean {result["froc_mean"]:.1f} %, '
          f'{result["distractor_fp_per_image"]:.2f} FPs / image on look-alikes at 2 FPs / '
          f'image, {result["wall_s"]:.0f} s', flush=True)
    return result


def table_markdown(results: Dict[str, dict], meta: dict) -> str:
    lines = [f'Command: `{meta["command"]}`  ', f'Device: {meta["device"]}  ',
             f'2D pretraining: {meta.get("pretrain_wall_s", 0):.0f} s, '
             f'{meta.get("pretrain_steps", "-")} steps; rows: {NUM_SLICES} slices, '
             f'batch {BATCH}, the last checkpoint tested on the test split', '',
             '| row | ' + ' | '.join(f'sens@{f} %' for f in FP_RATES) +
             ' | mean 0.5-4 % | look-alike FPs / image @2 | look-alike share of FPs @2 | '
             'look-alikes detected @2 | steps | train s | paper sens@0.5 ... @16 / mean % |',
             '| --- ' * 13 + '|']
    for row in ROWS:
        if row not in results:
            continue
        r = results[row]
        paper = ' / '.join(f'{v:.1f}' for v in PAPER[row])
        lines.append(f'| {r["conv_type"]} {r["init"]} | ' +
                     ' | '.join(f'{r["sens"][f]:.1f}' for f in FP_RATES) +
                     f' | {r["froc_mean"]:.1f} | {r["distractor_fp_per_image"]:.2f} | '
                     f'{r["distractor_fp_share"]:.0%} | {r["distractors_detected"]:.0%} | '
                     f'{r["steps"]} | {r["wall_s"]:.0f} | {paper} |')
    lines += ['', f'({PAPER_NOTE})', '']
    return '\n'.join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root or osp.join(work_dir, 'data')
    out = args.out or osp.join(work_dir, 'deeplesion_table7_mini.json')
    meta = dict(command='python tools/analysis_tools/deeplesion_table7_mini.py ' +
                ' '.join(argv), device=device_text(args.threads), num_slices=NUM_SLICES,
                num_series=args.num_series, pretrain_series=args.pretrain_series,
                image_size=args.image_size, seed=args.seed, paper=PAPER,
                paper_note=PAPER_NOTE)
    results: Dict[str, dict] = {}

    def write_table() -> str:
        table = table_markdown(results, meta)
        rows: List[dict] = [results[r] for r in ROWS if r in results]
        write_text_atomic(out, json.dumps(dict(meta, rows=rows), indent=1))
        write_text_atomic(osp.splitext(out)[0] + '.md', table)
        return table

    if args.force:  # the selected rows (and the pretraining they need) start again
        runs = list(args.rows) + (['pretrain_2d'] if any(r.endswith('_p') for r in args.rows)
                                  else [])
        for run in runs:
            if osp.isdir(osp.join(work_dir, run)):
                shutil.rmtree(osp.join(work_dir, run))
    pretrained = None
    if any(r.endswith('_p') for r in args.rows):
        pretrained, epochs_2d = pretrain_2d(work_dir, data_root, args)
        pre_dir = osp.join(work_dir, 'pretrain_2d')
        meta['pretrain_wall_s'] = train_seconds(pre_dir)
        meta['pretrain_file'] = pretrained
        with open(osp.join(data_root, 'keyslices_2d', 'annotations',
                           'deeplesion_train.json')) as f:
            n2d = len(json.load(f)['images'])
        meta['pretrain_steps'] = epochs_2d * -(-n2d // BATCH)
    for row in ROWS:
        path = osp.join(work_dir, row, 'result.json')
        if row in args.rows:  # written, or refused when it changed, done rows too
            config, epochs = row_config(row, work_dir, data_root, args, pretrained)
        if row in args.rows and not osp.isfile(path):
            results[row] = run_row(row, config, epochs, work_dir, data_root, args, pretrained)
            write_table()
        elif osp.isfile(path):
            with open(path) as f:
                results[row] = json.load(f)
    print(write_table(), end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())
