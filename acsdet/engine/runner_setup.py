"""Config preparation shared by ``tools/train.py`` and ``tools/test.py``.

The tools stay thin entry points (as in mmdet / mmyolo); what they decide about a config lives
here so it is tested once and behaves the same in both.
"""
import logging
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log


def add_config_and_launcher_args(parser, cfg_options_example: str) -> None:
    """The flags ``tools/train.py`` and ``tools/test.py`` share with mmdet's tools:
    ``--cfg-options``, ``--launcher`` and ``--local_rank`` / ``--local-rank``."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override config keys, e.g. {cfg_options_example} '
        '(lists as key="[a,b]"; no spaces)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser, argv=None):
    """Parse, and export ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


class ConfigError(ValueError):
    """A config (or a command-line override) that cannot work."""


def load_config(path: str, cfg_options: Optional[dict] = None,
                launcher: str = 'none', work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and resolve the work dir.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): ``none`` / ``pytorch`` / ``slurm`` / ``mpi``.
        work_dir (str, optional): ``--work-dir``; default: the config's own ``work_dir``, else
            ``./work_dirs/<config name>``.

    Returns:
        Config: the prepared config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    _fit_dist_backend(cfg)
    return cfg


def _fit_dist_backend(cfg: Config) -> None:
    """NCCL needs CUDA: fall back on gloo so the same config runs distributed on CPUs.

    mmengine 0.10.7 also assumes one GPU per process when it wraps the model
    (``DistributedDataParallel(device_ids=[LOCAL_RANK])``, which DDP refuses for CPU modules):
    on CPUs the wrapper gets ``device_ids=None`` through ``model_wrapper_cfg``.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log('no CUDA device: using the gloo backend instead of nccl', logger='current')
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg', None) or dict(type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def init_cpu_dist(cfg: Config) -> None:
    """Start the process group of a CPU-only ``--launcher pytorch`` run (torchrun).

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device(LOCAL_RANK)`` first,
    which fails without a GPU; the Runner skips ``init_dist`` when a process group exists, so
    we start it here from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``) with ``env_cfg.dist_cfg`` (backend gloo, optional ``timeout`` in s).
    """
    import datetime

    import torch.distributed as dist
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if dist.is_initialized():
        return
    kwargs = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = kwargs.pop('backend', 'gloo')
    if isinstance(kwargs.get('timeout'), (int, float)):
        kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
    dist.init_process_group(backend=backend, **kwargs)


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to mixed precision (``--amp``).

    On a GPU this is mmengine's ``AmpOptimWrapper`` (float16, dynamic loss scaling).  mmengine
    0.10.7 refuses ``AmpOptimWrapper`` without an accelerator, so on a CPU-only machine it is
    acsdet's ``CPUAmpOptimWrapper`` (bfloat16 autocast, no loss scaling needed).
    """
    if 'optim_wrapper' not in cfg:
        raise ConfigError('--amp: the config has no optim_wrapper to switch to mixed precision')
    if cfg.optim_wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper',
                                                             'mmengine.OptimWrapper'):
        raise ConfigError(f'--amp: the config already uses optim_wrapper.type='
                          f'{cfg.optim_wrapper.type!r}; set its precision in the config instead')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        print_log('--amp without CUDA: bfloat16 autocast on the CPU (CPUAmpOptimWrapper)',
                  logger='current')
        cfg.optim_wrapper.type = 'CPUAmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'


def enable_auto_scale_lr(cfg: Config) -> None:
    """Turn on mmengine's linear LR scaling (``--auto-scale-lr``)."""
    scale = cfg.get('auto_scale_lr', None)
    if not scale or 'base_batch_size' not in scale:
        raise ConfigError('--auto-scale-lr: the config needs '
                          'auto_scale_lr=dict(enable=False, base_batch_size=N)')
    scale.enable = True


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (no path) continues from, robust to a killed run.

    mmengine writes ``<work_dir>/last_checkpoint`` (the path of the newest checkpoint) with a
    plain ``open('w')`` right after saving the checkpoint, so a run killed in between leaves
    it empty, and mmengine 0.10.7 then tries to load the path ``''``.  The rule here: the
    file named by ``last_checkpoint`` when it exists; otherwise the newest ``*.pth`` of the
    work dir (a kill during ``torch.save`` leaves ``last_checkpoint`` on the previous, complete
    checkpoint, so the newest file is complete whenever ``last_checkpoint`` is torn);
    None when there is none.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str or None: Path of the checkpoint.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
        print_log(f'{marker} is empty or names a missing file ({named!r}): resuming from the '
                  'newest checkpoint of the work dir instead', logger='current',
                  level=logging.WARNING)
    if not osp.isdir(work_dir):
        return None
    ckpts = [osp.join(work_dir, n) for n in os.listdir(work_dir) if n.endswith('.pth')]
    return max(ckpts, key=osp.getmtime) if ckpts else None


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume``: ``'auto'`` resumes from the latest checkpoint in the work dir
    (:func:`find_resumable_checkpoint`; a fresh start when there is none), a path resumes
    from that checkpoint."""
    if resume is None:
        return
    cfg.resume = True
    if resume == 'auto':
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
        if cfg.load_from is None:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}: starting from scratch',
                      logger='current')
            cfg.resume = False
    else:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume: checkpoint not found: {resume}')
        cfg.load_from = resume


def _add_checkpoint_match_hook(cfg: Config) -> None:
    """Every run refuses a checkpoint of another architecture (``CheckpointMatchHook``):
    mmengine alone loads it with ``strict=False`` and goes on with random weights."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(isinstance(h, dict) and h.get('type') in ('CheckpointMatchHook',
                                                           'acsdet.CheckpointMatchHook')
               or type(h).__name__ == 'CheckpointMatchHook' for h in hooks):
        hooks.append(dict(type='acsdet.CheckpointMatchHook'))
    cfg.custom_hooks = hooks


def build_runner(cfg: Config):
    """Build mmengine's Runner (or ``cfg.runner_type`` from the registry)."""
    from mmengine.runner import Runner

    from acsdet.registry import RUNNERS
    init_cpu_dist(cfg)
    _add_checkpoint_match_hook(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
