"""Mixed precision on the CPU: bfloat16 autocast for the training forward pass.

mmengine 0.10.7's ``AmpOptimWrapper`` refuses to start without an accelerator, so ``--amp``
had no CPU path.  bfloat16 keeps float32's exponent range, so no loss scaling is needed: the
wrapper is mmengine's plain ``OptimWrapper`` whose ``optim_context`` (the context mmengine's
``train_step`` runs the forward pass in) also turns on ``torch.autocast('cpu', bfloat16)``.
Parameters, gradients and optimizer state stay float32.

mmcv's CPU kernels (``nms``, ``RoIAlign``, ...) accept float32 only, so by default autocast
covers the feature extractor (``backbone`` and ``neck``, where the 3D convolutions spend the
time) and their outputs are cast back to float32 for mmdet's 2D heads.  A model without those
attributes (or ``autocast_modules=None``) runs its whole forward under autocast.
"""
from contextlib import contextmanager
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper

from acsdet.registry import OPTIM_WRAPPERS

__all__ = ['CPUAmpOptimWrapper']


def _to_float32(out):
    """Cast the (nested) floating-point tensors of a module output back to float32."""
    if torch.is_tensor(out):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (list, tuple)):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float32(v) for k, v in out.items()}
    return out


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` with CPU autocast (``tools/train.py --amp`` on a machine without CUDA).

    Args:
        dtype (str): Autocast dtype, ``'bfloat16'`` (default; native on CPUs with
            AVX512-BF16 / AMX, emulated and slower elsewhere) or ``'float16'``.
        autocast_modules (sequence of str, optional): Child modules of the model run under
            autocast, their outputs cast back to float32. Default ``('backbone', 'neck')``;
            None, or a model with none of them, autocasts the whole forward.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16',
                 autocast_modules: Optional[Sequence[str]] = ('backbone', 'neck'),
                 **kwargs) -> None:
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"CPUAmpOptimWrapper: dtype must be 'bfloat16' or 'float16', "
                             f'got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)
        self.autocast_modules = tuple(autocast_modules or ())

    @contextmanager
    def optim_context(self, model: nn.Module):
        inner = model.module if is_model_wrapper(model) else model
        parts = [getattr(inner, name) for name in self.autocast_modules
                 if isinstance(getattr(inner, name, None), nn.Module)]
        with super().optim_context(model):
            if not parts:
                with torch.autocast('cpu', dtype=self.cast_dtype):
                    yield
                return
            active = []

            def enter(module, args):
                ctx = torch.autocast('cpu', dtype=self.cast_dtype)
                ctx.__enter__()
                active.append(ctx)

            def leave(module, args, output):
                active.pop().__exit__(None, None, None)
                return _to_float32(output)

            handles = [h for m in parts for h in (m.register_forward_pre_hook(enter),
                                                  m.register_forward_hook(leave))]
            try:
                yield
            finally:
                for h in handles:
                    h.remove()
                while active:  # an exception inside a part's forward
                    active.pop().__exit__(None, None, None)
