"""Build a config's model for inference and load its checkpoint: the one recipe behind
:func:`acsdet.apis.load_detector` and :func:`acsdet.apis.load_segmentor`."""
import copy
import os.path as osp
from typing import Callable, Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

__all__ = ['model_from_config']


def model_from_config(config, checkpoint: Optional[str], device: str = 'cpu',
                      prepare: Optional[Callable[[Config], None]] = None,
                      strict: bool = False):
    """Register acsdet's modules, read the config, build ``cfg.model``, load the checkpoint
    (weights-only, see :mod:`acsdet.utils.safe_checkpoint`) and put the model in eval mode.

    Args:
        config (str | Config): Config file or object (a copy is used).
        checkpoint (str, optional): ``.pth`` file; None keeps the random init.
        device (str): Default: ``'cpu'``.
        prepare (callable, optional): Edits or checks the config copy before the build.
        strict (bool): Every model tensor must come from the checkpoint and vice versa;
            a mismatch is then a one-line ``ValueError`` naming the file and the first
            mismatches. Default: False (mmengine warns instead).

    Returns:
        tuple: (model in eval mode with ``model.cfg`` set, Config).

    Raises:
        FileNotFoundError: No checkpoint file.
    """
    from acsdet.apis import register_all_modules
    from acsdet.registry import MODELS
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    init_default_scope(cfg.get('default_scope', 'acsdet'))
    if prepare is not None:
        prepare(cfg)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        try:
            load_checkpoint(model, checkpoint, map_location='cpu', strict=strict)
        except RuntimeError as err:  # strict: mmengine's multi-line key / shape report
            if not strict:
                raise
            details = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
            raise ValueError(f'{checkpoint}: not a checkpoint of the config\'s model: '
                             f'{"; ".join(details[1:3]) or details[0]}') from err
    model.cfg = cfg
    return model.to(device).eval(), cfg
