"""The GSP-Conv paper's Tables 1-2 on the CPU benchmark, in one command.

Runs, each as ``tools/train.py`` on a config derived from ``configs/gsp/bench/`` (every setting
lives in the configs; this script only picks the variant and sizes the run), on both sets of
``acsdet/data_prep/gsp_bench_volumes.py`` (``organ``: a large target between same-intensity
neighbours, PROMISE12's property; ``lesion``: small lesions told by intensity, BraTS'):

* ``unet3d``: the tiny 3D U-Net with 3x3x3 convolutions (Table 1, "3D FCN");
* ``pointwise``: every convolution 1x1x1, no Group Shift (Table 1, "pointwise FCN");
* ``gsp_<position>_<groups>``: Group Shift at CSC / CCS / CSCS / CSCSUpShift with the spatial
  groups ``sg_v3`` and ``sg_v2`` (the paper's ProSGv3 / ProSGv2 scaled to the 16 x 48 x 48
  grid: ``configs/_base_/models/tiny_unet3d_gspbench.py``), C_s = C_k = C/2 (Table 2);
* ``gsp_CSC_sg_v3_cs_all``: C_s = C (the paper's 81.4 against 85.6);
* ``gsp_CSC_sg_v3_dec``: Group Shift in the decoder only (the paper's "CSC+Dec", best on
  BraTS: 82.6).

Per run: mDice (Dice per volume averaged over volumes and foreground classes, the paper's)
and Dice per class, HD95 and ASSD (mm), parameters, conv parameters, FLOPs (multiply-adds of
one 1 x 16 x 48 x 48 forward, mmengine's counter), steps, wall time; all of the final model
on the test split (one evaluation, no checkpoint chosen on it).  Then the issue's checks
(pointwise at least 10 mDice points below the 3x3x3 U-Net on the organ set, the best GSP run
within 4 points of it with at most 1/10 of its conv parameters, a smaller pointwise gap on
the lesion set) and the paper's Tables 1-2 beside.

    .venv/bin/python tools/analysis_tools/gsp_tables.py --work-dir work_dirs/gsp_tables \\
        --out docs/results/gsp_tables.json

Resumable per run and within a run: a run is done when ``<work-dir>/<set>/<run>/result.json``
exists; otherwise it trains with ``tools/train.py --resume`` from its last checkpoint (one
every ``--ckpt-interval`` epochs), so a killed run loses at most that many epochs.  A derived
config that changed under a run dir is an error (``--force`` starts the run again).  The
table json (``--out``) and its ``.md`` are rewritten atomically after every run.
``--epochs`` and ``--num-train`` / ``--num-test`` shrink a run (tests); ``--sets`` /
``--runs`` pick some.
"""
import argparse
import json
import math
import os
import os.path as osp
import shutil
import signal
import sys
from typing import Dict, List

from acsdet.utils.atomic_write import write_text_atomic
from acsdet.utils.cli_types import positive_int

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# the POC table scripts' helpers: last validation scalars, logged seconds, device, _run and
# the changed-config check
from poc_table4 import last_metrics, thread_env  # noqa: E402
from poc_table4_authors import (_run, device_text, refuse_changed_config,  # noqa: E402
                                train_seconds)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SETS = ('organ', 'lesion')
GS_POSITIONS = ('CSC', 'CCS', 'CSCS', 'CSCSUpShift')
GROUP_SETTINGS = ('sg_v3', 'sg_v2')
BATCH = 4
INPUT_SHAPE = (1, 1, 16, 48, 48)


def _runs() -> Dict[str, dict]:
    """run name -> dict(config=leaf config stem, network=overrides, position, groups, ratio,
    encoder)."""
    runs = {'unet3d': dict(config='unet3d', network={}, insert_position=None,
                           spatial_groups=None, shift_ratio=None, gs_in_encoder=None),
            'pointwise': dict(config='pointwise_unet', network={}, insert_position=None,
                              spatial_groups=None, shift_ratio=None, gs_in_encoder=None)}
    for groups in GROUP_SETTINGS:
        for pos in GS_POSITIONS:
            runs[f'gsp_{pos}_{groups}'] = dict(
                config='gsp_unet', network=dict(gs_position=pos, spatial_groups=groups),
                insert_position=pos, spatial_groups=groups, shift_ratio=0.5, gs_in_encoder=True)
    runs['gsp_CSC_sg_v3_cs_all'] = dict(
        config='gsp_unet', network=dict(gs_position='CSC', spatial_groups='sg_v3',
                                        shift_ratio=1.0),
        insert_position='CSC', spatial_groups='sg_v3', shift_ratio=1.0, gs_in_encoder=True)
    runs['gsp_CSC_sg_v3_dec'] = dict(
        config='gsp_unet', network=dict(gs_position='CSC', spatial_groups='sg_v3',
                                        gs_in_encoder=False),
        insert_position='CSC+Dec', spatial_groups='sg_v3', shift_ratio=0.5,
        gs_in_encoder=False)
    return runs


RUNS = _runs()

#: The paper's figures (mDice %): Table 1, Table 2 (PROMISE12, ProSGv2 / v3 rows), section
#: 3.1's C_s = C and section 3.2's BraTS18 averages over the position / encoder choices.
PAPER = {
    'organ': {  # PROMISE12
        'unet3d': 87.3, 'pointwise': 65.5,
        'gsp_CSC_sg_v3': 85.6, 'gsp_CCS_sg_v3': 84.3, 'gsp_CSCS_sg_v3': 84.8,
        'gsp_CSCSUpShift_sg_v3': 83.6,
        'gsp_CSC_sg_v2': 84.5, 'gsp_CCS_sg_v2': 85.4, 'gsp_CSCS_sg_v2': 85.2,
        'gsp_CSCSUpShift_sg_v2': 84.5,
        'gsp_CSC_sg_v3_cs_all': 81.4,
    },
    'lesion': {  # BraTS18 (its positions: averages over groups; CSC+Dec section 3.2)
        'unet3d': 80.5, 'pointwise': 79.6,
        'gsp_CSC_sg_v3': 81.2, 'gsp_CCS_sg_v3': 80.7, 'gsp_CSCS_sg_v3': 80.1,
        'gsp_CSCSUpShift_sg_v3': 80.2, 'gsp_CSC_sg_v3_dec': 82.6,
    },
}
PAPER_NOTE = ('paper columns: PROMISE12 beside the organ set (Tables 1-2, C_s = C from '
              'section 3.1), BraTS18 beside the lesion set (Table 1; the positions are '
              "section 3.2's averages with its own spatial groups, CSC+Dec its 82.6)")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/gsp_tables')
    p.add_argument('--data-root', default=None,
                   help='benchmark data root (gsp_organ/, gsp_lesion/ inside); written there '
                   'when missing or of other counts / seed. Defaults to <work-dir>/data')
    p.add_argument('--out', default=None,
                   help='table json (default <work-dir>/gsp_tables.json; .md beside)')
    p.add_argument('--sets', nargs='+', choices=SETS, default=list(SETS))
    p.add_argument('--runs', nargs='+', choices=list(RUNS), default=None,
                   help='runs to do (default all)')
    p.add_argument('--epochs', type=positive_int, default=80,
                   help='training epochs of every run (default 80: 800 steps on 40 volumes)')
    p.add_argument('--ckpt-interval', type=positive_int, default=10,
                   help='epochs between the checkpoints a killed run resumes from')
    p.add_argument('--num-train', type=positive_int, default=40)
    p.add_argument('--num-test', type=positive_int, default=20)
    p.add_argument('--seed', type=int, default=0, help='data and training seed')
    p.add_argument('--threads', type=int, default=0,
                   help='OMP/MKL threads of each run (0: torch default)')
    p.add_argument('--force', action='store_true', help='re-run runs already done')
    return p.parse_args(argv)


def ensure_data(root: str, num_train: int, num_test: int, seed: int) -> None:
    """Write the benchmark sets under ``root`` unless their ``meta.json`` says they are
    there with the same counts and seed."""
    from acsdet.data_prep import generate_gsp_bench
    want = {'train': num_train, 'test': num_test}
    missing = []
    for name in SETS:
        meta_path = osp.join(root, f'gsp_{name}', 'meta.json')
        if osp.isfile(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
            if meta.get('seed') == seed and meta.get('counts') == want:
                continue
        missing.append(name)
    if missing:
        print(f'gsp_tables: writing {missing} ({num_train} train / {num_test} test) to {root}',
              flush=True)
        generate_gsp_bench(root, seed=seed, counts=want, sets=missing)


def derived_config(name: str, run: str, args, data_root: str) -> str:
    """Text of a config inheriting ``configs/gsp/bench/<config>_<set>.py`` with the run's
    network overrides, data root, epochs and checkpoint interval."""
    spec = RUNS[run]
    base = osp.join(REPO_ROOT, 'configs', 'gsp', 'bench', f'{spec["config"]}_{name}.py')
    overrides = []
    for key, value in spec['network'].items():
        # the spatial groups by their name in the model base (tiny_unet3d_gspbench.py)
        text = f'{{{{_base_.bench_{value}}}}}' if key == 'spatial_groups' else repr(value)
        overrides.append(f'{key}={text}')
    root = osp.join(osp.abspath(data_root), f'gsp_{name}') + '/'
    epochs = args.epochs
    return f'''# written by tools/analysis_tools/gsp_tables.py: set {name!r}, run {run!r}
_base_ = [{base!r}]
model = dict(network=dict({", ".join(overrides)}))
train_dataloader = dict(dataset=dict(data_root={root!r}))
val_dataloader = dict(dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end={epochs},
                        by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval={min(args.ckpt_interval, epochs)},
                                     max_keep_ckpts=1, save_best=None))
randomness = dict(seed={args.seed})
'''


def network_counts(config: str) -> dict:
    """Parameters, conv parameters (weights and biases of every Conv3d) and FLOPs of the
    config's network on :data:`INPUT_SHAPE` (mmengine's counter)."""
    import torch.nn as nn
    from mmengine.config import Config

    from acsdet.apis import register_all_modules
    from acsdet.models.utils import count_complexity
    from acsdet.registry import MODELS
    register_all_modules()
    network = MODELS.build(Config.fromfile(config).model).network
    counts = count_complexity(network, INPUT_SHAPE)
    counts['conv_params'] = sum(p.numel() for m in network.modules()
                                if isinstance(m, nn.Conv3d) for p in m.parameters())
    return counts


def run_result(name: str, run: str, run_dir: str, config: str, args) -> dict:
    """The run's figures from its logged final validation; saved as ``result.json``."""
    metrics = last_metrics(run_dir)
    spec = RUNS[run]
    classes = {'organ': ('organ', ), 'lesion': ('rim', 'core')}[name]
    groups = None
    if spec['spatial_groups']:
        from mmengine.config import Config
        groups = [list(g) for g in Config.fromfile(config).model.network.spatial_groups]
    result = dict(
        network=run, dataset=name, insert_position=spec['insert_position'],
        spatial_groups_name=spec['spatial_groups'], spatial_groups=groups,
        shift_ratio=spec['shift_ratio'], gs_in_encoder=spec['gs_in_encoder'],
        mdice=100 * metrics['dice/per_case/mean'],
        dice_per_class={c: 100 * metrics[f'dice/per_case/class_{i + 1}']
                        for i, c in enumerate(classes)},
        hd95_mm=metrics['surface/hd95/mean'], assd_mm=metrics['surface/assd/mean'],
        hd95_mm_per_class={c: metrics[f'surface/hd95/class_{i + 1}']
                           for i, c in enumerate(classes)},
        steps=args.epochs * math.ceil(args.num_train / BATCH), epochs=args.epochs,
        wall_s=train_seconds(run_dir), device=device_text(args.threads), config=config)
    result.update(network_counts(config))
    write_text_atomic(osp.join(run_dir, 'result.json'), json.dumps(result, indent=1))
    return result


def run_one(name: str, run: str, args, data_root: str, work_dir: str) -> dict:
    """Train one run (resumed when a checkpoint is there) and return its result."""
    run_dir = osp.join(work_dir, name, run)
    config = osp.join(work_dir, 'configs', f'{name}__{run}.py')
    text = derived_config(name, run, args, data_root)
    if args.force and osp.isdir(run_dir):
        shutil.rmtree(run_dir)
    refuse_changed_config(config, text, run_dir, f'gsp_tables: {name}/{run}',
                          'other epochs / data?', 'run')
    os.makedirs(run_dir, exist_ok=True)
    write_text_atomic(config, text)
    env = thread_env(args.threads)
    done = osp.isfile(osp.join(run_dir, f'epoch_{args.epochs}.pth'))
    if not done:
        print(f'gsp_tables: {name}/{run}: training (log {osp.join(run_dir, "train.log")})',
              flush=True)
        _run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
              run_dir, '--resume'], osp.join(run_dir, 'train.log'), env, f'{name}/{run}')
    result = run_result(name, run, run_dir, config, args)
    print(f'gsp_tables: {name}/{run}: mDice {result["mdice"]:.1f}, HD95 '
          f'{result["hd95_mm"]:.1f} mm, {result["params"] / 1e6:.3f} M params, '
          f'{result["wall_s"]:.0f} s', flush=True)
    return result


def checks(results: Dict[str, Dict[str, dict]]) -> List[dict]:
    """The issue's checks on the runs present."""
    out = []
    organ, lesion = results.get('organ', {}), results.get('lesion', {})
    if 'unet3d' in organ and 'pointwise' in organ:
        gap = organ['unet3d']['mdice'] - organ['pointwise']['mdice']
        out.append(dict(check='organ: pointwise >= 10 mDice points below the 3x3x3 U-Net',
                        value=round(gap, 1), holds=bool(gap >= 10)))
    gsp = {k: r for k, r in organ.items() if k.startswith('gsp_')}
    if 'unet3d' in organ and gsp:
        best = max(gsp, key=lambda k: gsp[k]['mdice'])
        gap = organ['unet3d']['mdice'] - gsp[best]['mdice']
        ratio = gsp[best]['conv_params'] / organ['unet3d']['conv_params']
        out.append(dict(check=f'organ: best GSP run ({best}) within 4 mDice points of the '
                        f'3x3x3 U-Net', value=round(gap, 1), holds=bool(gap <= 4)))
        out.append(dict(check=f'organ: {best} has at most 1/10 of the 3x3x3 U-Net\'s conv '
                        f'parameters', value=round(ratio, 4), holds=bool(ratio <= 0.1)))
    if all(k in r for r in (organ, lesion) for k in ('unet3d', 'pointwise')):
        gaps = [r['unet3d']['mdice'] - r['pointwise']['mdice'] for r in (organ, lesion)]
        out.append(dict(check='lesion: pointwise gap smaller than on the organ set',
                        value=[round(g, 1) for g in gaps], holds=bool(gaps[1] < gaps[0])))
    return out


def _f(v, fmt='.1f'):
    return '-' if v is None else format(v, fmt)


def table_markdown(results: Dict[str, Dict[str, dict]], check_list: List[dict],
                   meta: dict) -> str:
    lines = [f'Command: `{meta["command"]}`  ', f'Device: {meta["device"]}  ',
             f'Steps per run: {meta["steps"]} (batch {BATCH}, {meta["epochs"]} epochs); '
             f'FLOPs: multiply-adds of one {"x".join(map(str, INPUT_SHAPE[1:]))} forward', '']
    for name in SETS:
        if name not in results:
            continue
        classes = ('organ', ) if name == 'organ' else ('rim', 'core')
        paper_name = 'PROMISE12' if name == 'organ' else 'BraTS18'
        lines += [f'### {name} set', '',
                  '| run | GS position | groups | C_s/C | mDice % | ' +
                  ' | '.join(f'Dice {c} %' for c in classes) + ' | HD95 mm | ' +
                  ''.join(f'HD95 {c} mm | ' for c in classes if len(classes) > 1) +
                  f'ASSD mm | params | conv params | MFLOPs | wall s | '
                  f'paper ({paper_name}) mDice % |',
                  '| --- ' * (12 + len(classes) + (len(classes) if len(classes) > 1 else 0))
                  + '|']
        for run in RUNS:
            if run not in results[name]:
                continue
            r = results[name][run]
            per_class_hd = ''.join(f'{r["hd95_mm_per_class"][c]:.2f} | ' for c in classes
                                   if len(classes) > 1)
            lines.append(
                f'| {run} | {r["insert_position"] or "-"} | '
                f'{r["spatial_groups_name"] or "-"} | {_f(r["shift_ratio"], "g")} | '
                f'{r["mdice"]:.2f} | ' +
                ' | '.join(f'{r["dice_per_class"][c]:.2f}' for c in classes) +
                f' | {r["hd95_mm"]:.2f} | {per_class_hd}{r["assd_mm"]:.2f} | {r["params"]:,} | '
                f'{r["conv_params"]:,} | {r["flops"] / 1e6:.0f} | {r["wall_s"]:.0f} | '
                f'{_f(PAPER[name].get(run))} |')
        lines.append('')
    lines.append(f'({PAPER_NOTE})')
    lines.append('')
    for c in check_list:
        lines.append(f'* {c["check"]}: {"yes" if c["holds"] else "NO"} ({c["value"]})')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    # a SIGTERM stops the training subprocess too (subprocess.run kills it on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root or osp.join(work_dir, 'data')
    out = args.out or osp.join(work_dir, 'gsp_tables.json')
    runs = args.runs or list(RUNS)
    ensure_data(data_root, args.num_train, args.num_test, args.seed)
    meta = dict(command='python tools/analysis_tools/gsp_tables.py ' + ' '.join(argv),
                device=device_text(args.threads), epochs=args.epochs,
                steps=args.epochs * math.ceil(args.num_train / BATCH),
                num_train=args.num_train, num_test=args.num_test, seed=args.seed,
                input_shape=list(INPUT_SHAPE), paper=PAPER, paper_note=PAPER_NOTE)
    results: Dict[str, Dict[str, dict]] = {}

    def write_table() -> str:
        check_list = checks(results)
        table = table_markdown(results, check_list, meta)
        rows = [r for name in SETS for r in results.get(name, {}).values()]
        write_text_atomic(out, json.dumps(dict(meta, runs=rows, checks=check_list), indent=1))
        write_text_atomic(osp.splitext(out)[0] + '.md', table)
        return table

    for name in SETS:
        for run in RUNS:
            path = osp.join(work_dir, name, run, 'result.json')
            if name in args.sets and run in runs and (args.force or not osp.isfile(path)):
                results.setdefault(name, {})[run] = run_one(name, run, args, data_root,
                                                            work_dir)
                write_table()
            elif osp.isfile(path):
                with open(path) as f:
                    results.setdefault(name, {})[run] = json.load(f)
    print(write_table(), end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())
