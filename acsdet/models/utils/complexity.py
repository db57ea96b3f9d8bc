"""Parameters and FLOPs of a model by mmengine's counter (``mmengine.analysis``).

``count_complexity`` wraps :func:`mmengine.analysis.get_model_complexity_info` (fvcore's
jit-traced counter): one multiply-add counts as one FLOP (the convention of mmengine, fvcore
and the GSP-Conv paper's GFLOPs), for convolutions, linear layers and matrix products.
Element-wise ops, batch norm, pooling, upsampling and ``GroupShift`` count 0 (GroupShift is
a parameter-free index shift: 0 parameters and 0 multiply-adds, as the paper counts it).
Checked against a hand count: a 3x3x3 ``nn.Conv3d`` of Cin -> Cout on an output of V voxels
is Cout * Cin * 27 * V FLOPs and Cout * (Cin * 27 + 1) parameters (tests).
"""
import logging
from typing import Dict, Sequence

import torch
import torch.nn as nn

__all__ = ['count_complexity']


def count_complexity(model: nn.Module, input_shape: Sequence[int]) -> Dict[str, int]:
    """Parameters and FLOPs (multiply-adds) of one forward of ``model``.

    Args:
        model (nn.Module): Any module taking one tensor, e.g. a segmentation network.
        input_shape (Sequence[int]): The input's full shape, batch included, e.g.
            (1, 1, 64, 64, 64).

    Returns:
        dict: ``params`` (all parameters, counted once) and ``flops`` (int).
    """
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    was_training = model.training
    model.eval()
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # "Unsupported operator aten::add ..." per op kind
    try:
        with torch.no_grad():
            info = get_model_complexity_info(model, inputs=(torch.zeros(tuple(input_shape)), ),
                                             show_table=False, show_arch=False)
    finally:
        logger.setLevel(level)
        model.train(was_training)
    return dict(params=int(info['params']), flops=int(info['flops']))
