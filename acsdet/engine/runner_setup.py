"""Config preparation shared by ``tools/train.py`` and ``tools/test.py``.

The tools stay thin entry points (as in mmdet / mmyolo); what they decide about a config lives
here so it is tested once and behaves the same in both.

Bad input is refused before the Runner starts, in one line (:class:`ConfigError`): unknown
``--cfg-options`` keys (:func:`check_cfg_option_key`), values that cannot work
(:func:`check_config`: batch sizes, conv types, DeepLesion depths), a work dir or ``--out``
that cannot be written (:func:`check_work_dir`, :func:`check_out_file`).  What fails while the
Runner is built leaves no log folder (:func:`build_runner`); the tools report both kinds with
:func:`exit_with_error` (:data:`TOOL_ERRORS`).
"""
import difflib
import inspect
import logging
import os
import os.path as osp
import re
import shutil
import sys
import tempfile
from typing import Iterable, List, NoReturn, Optional, Set, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from acsdet.models.layers import CONV_TYPES, NO_CONVERSION


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


#: What ``tools/train.py`` / ``tools/test.py`` report in one line (no traceback) when it is
#: raised while the config is read or checked or the Runner is built (:func:`build_runner`):
#: a bad config, override, type name or constructor argument, or a missing file.  Other
#: exception types (RuntimeError, AttributeError, ImportError, ...) are bugs rather than bad
#: input and keep their traceback; so does everything when ``ACSDET_TRACEBACK=1`` is set.
TOOL_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError)


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (a ``KeyError`` without its quotes)."""
    msg = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 \
        and isinstance(err.args[0], str) else str(err)
    return re.sub(r'\s*\n\s*', ' ', msg.strip()) or type(err).__name__


def exit_with_error(prog: str, err: BaseException) -> NoReturn:
    """Print ``<prog>: error: <message>`` (one line, on stderr) and exit with status 2, as
    argparse does; with ``ACSDET_TRACEBACK=1`` re-raise ``err`` instead."""
    if os.environ.get('ACSDET_TRACEBACK') == '1':
        raise err
    print(f'{prog}: error: {one_line(err)}', file=sys.stderr)
    sys.exit(2)


def load_config(path: str, cfg_options: Optional[dict] = None,
                launcher: str = 'none', work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and resolve the work dir.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides; every key must be one the
            config has or one its owner takes (:func:`check_cfg_option_key`).
        launcher (str): ``none`` / ``pytorch`` / ``slurm`` / ``mpi``.
        work_dir (str, optional): ``--work-dir``; default: the config's own ``work_dir``, else
            ``./work_dirs/<config name>``.

    Returns:
        Config: the prepared config.

    Raises:
        FileNotFoundError: No such config file.
        ConfigError: An unknown ``--cfg-options`` key (:func:`check_cfg_option_key`) or a config
            that cannot work (:func:`check_config`), before anything is built or written.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    # one key at a time, each checked against the config as the keys before it left it, so
    # ``a=... a.b=...`` works (and, unlike one merge of all keys, in either order)
    for key, value in (cfg_options or {}).items():
        check_cfg_option_key(cfg, key)
        cfg.merge_from_dict({key: value})
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    check_config(cfg)
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
    """Build mmengine's Runner (or ``cfg.runner_type`` from the registry).

    The Runner creates ``work_dir`` and ``work_dir/<timestamp>/`` (its log) before it builds
    the model, so a build that fails would leave an empty run behind: on any exception the
    folders this call created are removed again (the ``<timestamp>`` folder and the config
    dump that were not in ``work_dir`` before, then ``work_dir`` and its parents if this call
    created them and they are empty) and the exception is re-raised.  Anything that was there
    before is left alone.
    """
    from mmengine.runner import Runner

    from acsdet.registry import RUNNERS
    init_cpu_dist(cfg)
    _add_checkpoint_match_hook(cfg)
    work_dir = osp.abspath(cfg.work_dir)
    created, before = _new_folders(work_dir), _entries(work_dir)
    try:
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    except BaseException:
        dump = osp.basename(cfg.filename) if cfg.filename else None
        _remove_run_leftovers(work_dir, before, created, dump)
        raise


_TIMESTAMP = re.compile(r'\d{8}_\d{6}')  # mmengine's run folder, time.strftime('%Y%m%d_%H%M%S')


def _new_folders(path: str) -> List[str]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    out = []
    while not osp.exists(path) and osp.dirname(path) != path:
        out.append(path)
        path = osp.dirname(path)
    return out


def _entries(folder: str) -> Set[str]:
    return set(os.listdir(folder)) if osp.isdir(folder) else set()


def _remove_run_leftovers(work_dir: str, before: Set[str], created: List[str],
                          dump: Optional[str]) -> None:
    for name in _entries(work_dir) - before:
        path = osp.join(work_dir, name)
        if _TIMESTAMP.fullmatch(name) and osp.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif name == dump and osp.isfile(path):
            os.remove(path)
    for folder in created:
        if osp.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)


# ------------------------------------------------------------------------ output paths
def _nearest_existing(path: str) -> str:
    path = osp.abspath(path)
    while not osp.exists(path):
        path = osp.dirname(path)
    return path


def _probe_writable(folder: str) -> Optional[str]:
    """None if a file can be created (and is deleted again) in ``folder``, else the reason."""
    try:
        fd, probe = tempfile.mkstemp(prefix='.acsdet_write_probe_', dir=folder)
    except OSError as err:
        return err.strerror or type(err).__name__
    os.close(fd)
    os.remove(probe)
    return None


def check_work_dir(cfg: Config, from_flag: bool = True) -> None:
    """Refuse a work dir the run could not write, before anything is built.

    ``cfg.work_dir`` must be a folder, or not exist yet below a folder that exists; the
    nearest existing one is write-probed (a temporary file, deleted at once; nothing else is
    created).

    Args:
        cfg (Config): The prepared config (:func:`load_config`).
        from_flag (bool): The work dir came from ``--work-dir`` (named so in the message);
            else ``work_dir`` of the config. Defaults to True.

    Raises:
        ConfigError: One line naming the work dir and the reason.
    """
    name = '--work-dir' if from_flag else 'work_dir'
    work_dir = cfg.work_dir
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise ConfigError(f'{name} {work_dir} is a file, not a folder')
    base = _nearest_existing(work_dir)
    if not osp.isdir(base):
        raise ConfigError(f'{name} {work_dir}: {base} is a file, not a folder')
    reason = _probe_writable(base)
    if reason:
        raise ConfigError(f'{name} {work_dir} is not writable: cannot create files in {base} '
                          f'({reason})')


def check_out_file(out: str) -> None:
    """``tools/test.py --out``: a ``.pkl`` file in a folder the run can write, checked before
    the test run (mmdet's ``DumpDetResults`` writes it only at the end).

    The folder may not exist yet (it is created at the end); the nearest existing one is
    write-probed as in :func:`check_work_dir`.

    Raises:
        ConfigError: One line naming ``--out`` and the reason.
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out must name a .pkl file, got {out}')
    if osp.isdir(out):
        raise ConfigError(f'--out {out} is a folder; name a .pkl file')
    base = _nearest_existing(osp.dirname(osp.abspath(out)))
    if not osp.isdir(base):
        raise ConfigError(f'--out {out}: {base} is a file, not a folder')
    if osp.exists(out) and not os.access(out, os.W_OK):
        raise ConfigError(f'--out {out} is a read-only file')
    reason = _probe_writable(base)
    if reason:
        raise ConfigError(f'--out {out}: cannot write in {base} ({reason})')


# ------------------------------------------------------------------ --cfg-options keys
#: Top-level keys mmengine 0.10.7's Runner reads besides the arguments of its ``__init__``
#: (``self.cfg.get(...)``), and acsdet's ``runner_type``.
RUNNER_CFG_KEYS = ('model_wrapper_cfg', 'find_unused_parameters', 'sync_bn',
                   'activation_checkpointing', 'efficient_conv_bn_eval', 'compile',
                   'runner_type')

#: Keys of a dataloader dict that ``Runner.build_dataloader`` takes out before it calls
#: ``torch.utils.data.DataLoader(**rest)``.
DATALOADER_RUNNER_KEYS = ('dataset', 'sampler', 'batch_sampler', 'collate_fn',
                          'worker_init_fn', 'disable_subprocess_warning')

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _params(fn, skip_first: bool) -> Tuple[Set[str], bool]:
    """Keyword-able parameter names of ``fn`` and whether it takes ``**kwargs``."""
    params = list(inspect.signature(fn).parameters.values())
    if skip_first:
        params = params[1:]
    names = {p.name for p in params
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def accepted_arguments(obj) -> Optional[Set[str]]:
    """The keyword arguments a registered class (or function) accepts; None: any.

    A class: the parameters of its ``__init__``; where that ``__init__`` takes
    ``**kwargs``, also those of the next ``__init__`` in the MRO (``super().__init__(**kwargs)``),
    and so on until an ``__init__`` without ``**kwargs``.  When the ``**kwargs`` of a class
    would reach ``object`` / ``torch.nn.Module`` (which refuse keywords), the class keeps them
    itself (e.g. mmdet's ``RandomSampler``), so any keyword is accepted; except for the
    classes of :func:`_closed_kwargs`, whose ``**kwargs`` go where nothing more is taken.
    A signature that cannot be read also accepts any keyword.
    """
    try:
        if not inspect.isclass(obj):
            names, var_kw = _params(obj, skip_first=False)
            return None if var_kw else names
        names, through_kwargs = set(), False
        for klass in obj.__mro__:
            if klass in (object, torch.nn.Module):
                return None if through_kwargs and obj not in _closed_kwargs() else names
            init = klass.__dict__.get('__init__')
            if init is None:
                continue
            own, var_kw = _params(init, skip_first=True)
            names |= own
            if not var_kw:
                return names
            through_kwargs = True
        return None
    except (TypeError, ValueError):
        return None


def _closed_kwargs() -> tuple:
    """Classes whose ``**kwargs`` accept nothing: mmengine's ``CheckpointHook`` passes them
    on to ``Runner.save_checkpoint``, which takes no keyword the hook does not already pass
    (an extra one fails at the first checkpoint, after an epoch of training)."""
    from mmengine.hooks import CheckpointHook
    return (CheckpointHook, )


#: Keys of a ``Pretrained`` ``init_cfg`` beyond mmengine's ``PretrainedInit`` arguments: acsdet's
#: 2D-weight loading takes ``skip`` (``acsdet.models.converters.split_pretrained_init_cfg``).
PRETRAINED_EXTRA_KEYS = ('skip', )


def _registries_for(path: Tuple[str, ...]) -> list:
    """Registry nodes to look a ``type`` at ``path`` up in, the likeliest first."""
    from acsdet import registry as r
    top = path[0] if path else ''
    last = next((p for p in reversed(path) if not p.isdigit()), '')
    order = []
    if top in DATALOADERS and last in ('sampler', 'batch_sampler'):
        order.append(r.DATA_SAMPLERS)
    by_key = dict(init_cfg=r.WEIGHT_INITIALIZERS, optimizer=r.OPTIMIZERS,
                  pipeline=r.TRANSFORMS, transforms=r.TRANSFORMS, dataset=r.DATASETS,
                  datasets=r.DATASETS, vis_backends=r.VISBACKENDS)
    if last in by_key:
        order.append(by_key[last])
    by_top = dict(
        model=(r.MODELS, r.TASK_UTILS), train_cfg=(r.LOOPS, ), val_cfg=(r.LOOPS, ),
        test_cfg=(r.LOOPS, ), default_hooks=(r.HOOKS, ), custom_hooks=(r.HOOKS, ),
        optim_wrapper=(r.OPTIM_WRAPPERS, r.OPTIMIZERS), param_scheduler=(r.PARAM_SCHEDULERS, ),
        val_evaluator=(r.METRICS, r.EVALUATOR), test_evaluator=(r.METRICS, r.EVALUATOR),
        visualizer=(r.VISUALIZERS, r.VISBACKENDS), log_processor=(r.LOG_PROCESSORS, ),
        model_wrapper_cfg=(r.MODEL_WRAPPERS, ),
        **{name: (r.DATASETS, r.TRANSFORMS, r.DATA_SAMPLERS) for name in DATALOADERS})
    order += by_top.get(top, ())
    return order + [r.MODELS, r.TASK_UTILS, r.DATASETS, r.TRANSFORMS, r.DATA_SAMPLERS,
                    r.HOOKS, r.LOOPS, r.METRICS, r.EVALUATOR, r.OPTIM_WRAPPERS, r.OPTIMIZERS,
                    r.PARAM_SCHEDULERS, r.VISUALIZERS, r.VISBACKENDS, r.LOG_PROCESSORS,
                    r.MODEL_WRAPPERS, r.WEIGHT_INITIALIZERS, r.RUNNERS]


def resolve_type(type_, path: Tuple[str, ...] = ()):
    """The class (or function) a config ``type`` names, looked up from acsdet's registry nodes
    (as with ``default_scope='acsdet'``: acsdet, then mmdet, then mmengine; ``'mmdet.X'``
    scoped names work) in the node that fits ``path`` first; None when no node has it."""
    if not isinstance(type_, str):
        return type_ if callable(type_) else None
    for registry in _registries_for(tuple(path)):
        try:
            found = registry.get(type_)
        except Exception:  # a malformed name; Registry.get may try an import
            found = None
        if found is not None:
            return found
    return None


def _randomness_args() -> Set[str]:
    from mmengine.runner import Runner
    return _params(Runner.set_randomness, skip_first=True)[0]


def _dataloader_args() -> Set[str]:
    return _params(torch.utils.data.DataLoader.__init__, skip_first=True)[0] | set(
        DATALOADER_RUNNER_KEYS)


#: The typeless dicts whose reader is known: path -> (owner named in the error, its keys)
_SCHEMAS = {
    **{(name, ): ('DataLoader', _dataloader_args) for name in DATALOADERS},
    ('randomness', ): ('Runner.set_randomness', _randomness_args),
    ('auto_scale_lr', ): ('auto_scale_lr', lambda: {'enable', 'base_batch_size'}),
    ('env_cfg', ): ('env_cfg', lambda: {'cudnn_benchmark', 'mp_cfg', 'dist_cfg',
                                        'resource_limit'}),
    ('env_cfg', 'mp_cfg'): ('env_cfg.mp_cfg', lambda: {'mp_start_method',
                                                       'opencv_num_threads'}),
}


def _runner_args(cfg: Config) -> Set[str]:
    from mmengine.runner import Runner
    runner_cls = resolve_type(cfg.get('runner_type'), ('runner_type', )) \
        if 'runner_type' in cfg else Runner
    names = accepted_arguments(runner_cls) if inspect.isclass(runner_cls) else None
    return (names or set()) - {'cfg'} | set(RUNNER_CFG_KEYS)


def _hint(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1)
    return f'; did you mean {close[0]!r}?' if close else ''


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + '...'


def check_cfg_option_key(cfg: Config, key: str) -> None:
    """Refuse a ``--cfg-options`` key that would be ignored or fail later (a typo).

    ``key`` is split at the dots and followed from the top of ``cfg`` (a number indexes a
    list, as in ``merge_from_dict``).  A key that exists all the way is fine (the value is
    replaced).  Otherwise only its **last** component may be new, and only where something
    takes it:

    * a new first component (a top-level key): only a key of mmengine's Runner (an argument
      of ``Runner.__init__``, or of ``runner_type``'s class, or :data:`RUNNER_CFG_KEYS`,
      e.g. ``find_unused_parameters``); else "not in the config";
    * a new key in a dict with a ``type``: only if the class that ``type`` names
      (:func:`resolve_type`, from acsdet's registries) accepts it as a keyword argument
      (:func:`accepted_arguments`: its ``__init__`` and, through ``**kwargs``, its bases');
      a type that cannot be resolved (e.g. ``RoIAlign``, ``nms``: not registered), or a class
      that keeps any ``**kwargs``, accepts it.  A ``Pretrained`` ``init_cfg`` also takes
      ``skip`` (:data:`PRETRAINED_EXTRA_KEYS`);
    * a new key in a dict without ``type`` whose reader is known: the dataloaders
      (``torch.utils.data.DataLoader``'s arguments plus the keys ``Runner.build_dataloader``
      takes out: ``dataset``, ``sampler``, ...), ``randomness`` (``Runner.set_randomness``),
      ``auto_scale_lr``, ``env_cfg`` and ``env_cfg.mp_cfg``: only their keys;
    * any other dict without ``type`` (``model.train_cfg``, ``model.test_cfg``,
      ``data_prefix``, ``default_hooks``, ``env_cfg.dist_cfg``, ...) is an option bag its
      reader consults with ``.get()``: a new key is accepted.

    A new component before the last (``default_hooks.chekpoint.interval``) would create a dict
    without a ``type``, so it is refused; so is a path through a value that is not a dict
    (``model.backbone.init_cfg.checkpoint`` where ``init_cfg`` is None: set the whole value),
    a list index out of range and a list indexed with a name.  ``_delete_`` is always fine.

    Args:
        cfg (Config): The config the key is merged into (with the keys before it merged).
        key (str): One ``--cfg-options`` key, e.g. ``'model.backbone.conv_type'``.

    Raises:
        ConfigError: One line, e.g. ``--cfg-options: unknown key 'trian_cfg' (not in the
            config; did you mean 'train_cfg'?)``.
    """
    parts = key.split('.')
    node = cfg._cfg_dict
    for i, part in enumerate(parts):
        where = '.'.join(parts[:i])
        if isinstance(node, list):
            if not part.isdigit():
                raise ConfigError(f'--cfg-options: cannot set {key!r}: {where!r} is a list; '
                                  f'index it with a number ({where}.0.…)')
            if int(part) >= len(node):
                raise ConfigError(f'--cfg-options: cannot set {key!r}: {where!r} has '
                                  f'{len(node)} items (index {part})')
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f'--cfg-options: cannot set {key!r}: {where!r} is '
                              f'{_show(node)}, not a dict; set the whole value instead')
        if part in node or part == '_delete_':
            node = node.get(part)
            continue
        last = i == len(parts) - 1
        if i == 0:
            runner_keys = _runner_args(cfg)
            if part in runner_keys and last:
                return
            if part in runner_keys:
                raise ConfigError(f'--cfg-options: cannot set {key!r}: {part!r} is not in the '
                                  'config; set the whole value instead')
            raise ConfigError(f'--cfg-options: unknown key {part!r} (not in the config'
                              f'{_hint(part, list(node) + sorted(runner_keys))})')
        if not last:
            raise ConfigError(f'--cfg-options: unknown key {key!r} ({where!r} has no key '
                              f'{part!r}{_hint(part, node)})')
        _check_new_leaf(node, tuple(parts[:i]), part, key)
        return


def _check_new_leaf(node: dict, path: Tuple[str, ...], name: str, key: str) -> None:
    """A key ``name`` not yet in the dict ``node`` (at ``path``): see check_cfg_option_key."""
    if 'type' in node:
        obj = resolve_type(node['type'], path)
        if obj is None:
            return
        args = accepted_arguments(obj)
        if args is not None and 'init_cfg' in path and node['type'] in ('Pretrained',
                                                                        'mmengine.Pretrained'):
            args = args | set(PRETRAINED_EXTRA_KEYS)
        if args is None or name in args:
            return
        owner = getattr(obj, '__name__', str(obj))
    elif path in _SCHEMAS:
        owner, keys = _SCHEMAS[path]
        args = keys()
        if name in args:
            return
    else:
        return
    candidates = set(args) | {k for k in node if k != 'type'}
    raise ConfigError(f'--cfg-options: unknown key {key!r} ({owner} takes no argument '
                      f'{name!r}{_hint(name, candidates)})')


# ------------------------------------------------------------------ values of the config
def _walk(node, path: Tuple[str, ...] = ()):
    """Every dict in ``node`` (dicts and lists, recursively) with its path."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, path + (str(k), ))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, path + (str(i), ))


def _default(obj, name: str):
    """The default of argument ``name`` of a class / function, or None."""
    try:
        param = inspect.signature(obj).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if param is None or param.default is param.empty else param.default


def check_config(cfg: Config) -> None:
    """Values that cannot work, refused before the Runner is built (so before a log folder
    or data is written).

    * every ``*_dataloader``: ``batch_size`` an int >= 1, ``num_workers`` an int >= 0
      (when set);
    * every ``conv_type`` in ``model``: a key of :data:`acsdet.models.layers.CONV_TYPES`,
      or ``'2d'`` in a segmentation network (a ``ConvertibleNetwork``);
    * a DeepLesion detector (``model.backbone`` taking ``num_slices``, ``model.neck`` a
      ``DepthSqueezeNeck``): the ``num_slices`` of the backbone, the neck and every
      ``LoadDeepLesionSlices`` of the dataloaders agree (unset ones: their defaults).

    Raises:
        ConfigError: One line naming the key(s) and the values.
    """
    for name in DATALOADERS:
        loader = cfg.get(name, None)
        if not isinstance(loader, dict):
            continue
        for field, low in (('batch_size', 1), ('num_workers', 0)):
            if field not in loader:
                continue
            value = loader[field]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f'{name}.{field} must be an integer >= {low}, got '
                                  f'{value!r}')
    model = cfg.get('model', None)
    if isinstance(model, dict):
        _check_conv_types(model)
        _check_num_slices(cfg, model)


def _check_conv_types(model: dict) -> None:
    from acsdet.models.converters import ConvertibleNetwork
    for path, node in _walk(model, ('model', )):
        if 'conv_type' not in node:
            continue
        value = node['conv_type']
        cls = resolve_type(node.get('type'), path)
        seg = inspect.isclass(cls) and issubclass(cls, ConvertibleNetwork)
        choices = ([NO_CONVERSION] if seg else []) + list(CONV_TYPES)
        if value in choices:
            continue
        hint = ''
        if isinstance(value, str):  # the case first (ACS), then a near miss (acs3)
            same = [c for c in choices if c.lower() == value.lower()]
            close = same or difflib.get_close_matches(value.lower(), choices, n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
        raise ConfigError(f"{'.'.join(path)}.conv_type must be one of {choices}, got "
                          f'{value!r}{hint}')


def _check_num_slices(cfg: Config, model: dict) -> None:
    from acsdet.models.necks import DepthSqueezeNeck
    backbone, neck = model.get('backbone'), model.get('neck')
    if not (isinstance(backbone, dict) and isinstance(neck, dict)):
        return
    neck_cls = resolve_type(neck.get('type'), ('model', 'neck'))
    if not (inspect.isclass(neck_cls) and issubclass(neck_cls, DepthSqueezeNeck)):
        return
    backbone_cls = resolve_type(backbone.get('type'), ('model', 'backbone'))
    b = backbone.get('num_slices', _default(backbone_cls, 'num_slices'))
    if b is None:
        return
    n = neck.get('num_slices', _default(neck_cls, 'num_slices'))
    loads = {}  # value -> dataloaders
    for name in DATALOADERS:
        loader = cfg.get(name, None)
        if not isinstance(loader, dict):
            continue
        for path, node in _walk(loader.get('dataset'), (name, 'dataset')):
            if node.get('type') not in ('LoadDeepLesionSlices', 'acsdet.LoadDeepLesionSlices'):
                continue
            value = node.get('num_slices', _default(resolve_type(node['type'], path),
                                                    'num_slices'))
            if name not in loads.setdefault(value, []):
                loads[value].append(name)
    if len({b, n, *loads}) <= 1:
        return
    pipe = ', '.join(f'{v} ({", ".join(names)})' for v, names in loads.items())
    pipe = f', LoadDeepLesionSlices.num_slices={pipe}' if loads else ''
    raise ConfigError(f'num_slices must agree: model.backbone.num_slices={b}, '
                      f'model.neck.num_slices={n}{pipe}; set the same num_slices in the '
                      'backbone, the neck and the data pipeline')


def use_tta(cfg: Config) -> None:
    """Switch a test config to test-time augmentation, as mmdet's ``tools/test.py --tta``:
    the test dataset's pipeline becomes ``cfg.tta_pipeline`` (a ``TestTimeAug`` of views) and
    the model is wrapped by ``cfg.tta_model`` (e.g. ``LesionDetTTAModel``), which merges the
    views' predictions.

    Raises:
        ConfigError: ``tta_model`` or ``tta_pipeline`` is missing, the test dataloader has
            no ``dataset.pipeline`` to replace, or :func:`check_config` refuses the result.
    """
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise ConfigError(f'--tta needs {" and ".join(missing)} in the config (see '
                          "configs/_base_/datasets/deeplesion_multislice.py: tta_model = "
                          "dict(type='LesionDetTTAModel', ...), tta_pipeline = [..., "
                          "dict(type='TestTimeAug', ...)])")
    dataset = cfg.get('test_dataloader', {}).get('dataset', None)
    while isinstance(dataset, dict) and 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # dataset wrappers
    if not isinstance(dataset, dict) or 'pipeline' not in dataset:
        raise ConfigError('--tta: test_dataloader.dataset has no pipeline to replace by '
                          'tta_pipeline')
    dataset['pipeline'] = cfg.tta_pipeline
    check_config(cfg)  # e.g. the tta_pipeline's num_slices against the model's
    cfg.tta_model['module'] = cfg.model
    cfg.model = cfg.tta_model


def destroy_process_group() -> None:
    """End the distributed run (torchrun / ``tools/dist_*.sh``) cleanly, if one was started:
    a barrier, then ``torch.distributed.destroy_process_group``; nothing for a single process.

    The barrier keeps every rank's process group alive until all ranks are done: a rank that
    tore its group down and exited while rank 0 was still writing its results left rank 0's
    gloo threads facing closed sockets, and rank 0 aborted ("terminate called without an
    active exception", exit -6) after its work was done (seen once in a 2-process
    ``tools/dist_test.sh`` run)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
