"""Build a model with 2D weights the way training does (``init_cfg`` + ``init_weights()``)."""
from typing import Callable, Sequence

from torch import nn

__all__ = ['with_2d_weights']


def with_2d_weights(model_cls: Callable[..., nn.Module], checkpoint: str, *args,
                    skip: Sequence[str] = (), **kwargs) -> nn.Module:
    """``model_cls(*args, **kwargs, init_cfg=dict(type='Pretrained', checkpoint=...,
    skip=...))`` with its ``init_weights()`` applied (what the Runner does before training)."""
    model = model_cls(*args, **kwargs,
                      init_cfg=dict(type='Pretrained', checkpoint=checkpoint, skip=tuple(skip)))
    model.init_weights()
    return model
