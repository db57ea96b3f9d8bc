"""Build a config's model for inference and load its checkpoint: the one recipe behind
:func:`acsdet.apis.load_detector` and :func:`acsdet.apis.load_segmentor`."""
import copy
import os.path as osp
from typing import Callable, Optional, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict

from acsdet.engine.hooks.checkpoint_match_hook import verify_checkpoint
from acsdet.utils.safe_checkpoint import allow_mmengine_checkpoint_types, load_local_checkpoint

__all__ = ['model_from_config']


def model_from_config(config, checkpoint: Optional[str], device: str = 'cpu',
                      prepare: Optional[Callable[[Config], None]] = None,
                      strict: bool = False,
                      model_type: Optional[Tuple[str, str, str]] = None):
    """Register acsdet's modules, read the config, build ``cfg.model``, load the checkpoint
    (weights-only, see :mod:`acsdet.utils.safe_checkpoint`) and put the model in eval mode.

    The checkpoint must fill the whole model: it goes through
    :func:`acsdet.engine.hooks.checkpoint_match_hook.verify_checkpoint` with the inference rule
    (``min_fraction=None``), the same check :class:`~acsdet.engine.hooks.CheckpointMatchHook`
    applies on the Runner paths: every model tensor with the same name and shape (only
    ``*num_batches_tracked`` may be missing) and a floating tensor for every floating weight
    (float16 / bfloat16 / float64 are cast to the model's dtype, integers refused).  Nothing is
    copied into the model before the check passes.

    Args:
        config (str | Config): Config file or object (a copy is used).
        checkpoint (str, optional): Local ``.pth`` file; None keeps the random init.
        device (str): Default: ``'cpu'``.
        prepare (callable, optional): Edits or checks the config copy before the build.
        strict (bool): Also refuse tensors of the file that the model does not have (missing
            model tensors are always refused). Default: False.
        model_type (tuple[str, str, str], optional): ``(type, task, hint)``: refuse a config
            whose ``model.type`` is not ``type``, before the build (``config: model.type is
            'X'; <task> inference needs a '<type>' (<hint>)``). Default: None (any model).

    Returns:
        tuple: (model in eval mode with ``model.cfg`` set, Config).

    Raises:
        ValueError: ``model.type`` is not ``model_type``'s.
        FileNotFoundError: No checkpoint file (``checkpoint not found: FILE``).
        acsdet.utils.safe_checkpoint.CheckpointFormatError: Not a readable checkpoint: a
            directory, an empty, truncated or text file, a pickle that is not a dict of
            tensors (``checkpoint FILE: <what is wrong>``; a ``ValueError``).
        acsdet.utils.safe_checkpoint.UnsafeCheckpointError: Pickled code.
        acsdet.engine.hooks.CheckpointMismatchError: A checkpoint of another model, a partial
            one, or tensors of a non-floating dtype (``checkpoint FILE: not a checkpoint of the
            config's model (...)``; a ``ValueError``).
    """
    from acsdet.apis import register_all_modules
    from acsdet.registry import MODELS
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    init_default_scope(cfg.get('default_scope', 'acsdet'))
    if model_type is not None and cfg.model.get('type') != model_type[0]:
        wanted, task, hint = model_type
        raise ValueError(f'config: model.type is {cfg.model.get("type")!r}; {task} inference '
                         f'needs a {wanted!r} ({hint})')
    if prepare is not None:
        prepare(cfg)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not osp.exists(osp.expanduser(checkpoint)):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        allow_mmengine_checkpoint_types()
        ckpt = load_local_checkpoint(checkpoint, map_location='cpu')
        state = verify_checkpoint(model, ckpt, checkpoint, min_fraction=None,
                                  allow_unexpected=not strict)
        load_state_dict(model, state, strict=False)  # verified: only allowed names missing
    model.cfg = cfg
    return model.to(device).eval(), cfg
