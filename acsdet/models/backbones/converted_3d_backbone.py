"""Any 2D mmdet backbone turned into an ACS / 2.5D / 3D backbone that keeps the depth."""
import copy
from typing import List, Optional, Union

from mmengine.model import BaseModule
from torch import Tensor

from acsdet.models.converters import convert_2d_to_3d, load_2d_weights, split_pretrained_init_cfg
from acsdet.models.layers import check_conv_type
from acsdet.registry import MODELS

__all__ = ['Converted3DBackbone']


@MODELS.register_module()
class Converted3DBackbone(BaseModule):
    """Wrap a 2D backbone config (e.g. mmdet ``ResNet``) and convert it to 3D, depth kept.

    The 2D backbone is built from ``backbone`` as usual, then every layer is converted by
    :func:`acsdet.models.converters.convert_2d_to_3d` with ``keep_depth=True`` (strides and pools
    1 x s x s), so its outputs are (B, C_i, D, H_i, W_i) and it pairs with
    :class:`acsdet.models.necks.DepthSqueezeNeck`.  The 2D backbone's own
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (a local file or e.g.
    ``'torchvision://resnet50'``) is honoured by :meth:`init_weights`, through the 2D -> 3D
    rules of :mod:`acsdet.models.converters.weight_transfer` (direct for ACS / 2.5D,
    I3D-inflated for 3D, an RGB stem summed when the backbone is built with ``in_channels=1``).
    Like every converted model, functional 2D calls in the backbone's ``forward`` are not
    converted: mmdet's ``ResNet`` has none.

    Args:
        backbone (dict): Config of the 2D backbone, e.g.
            ``dict(type='mmdet.ResNet', depth=50, in_channels=1, ...)``.
        conv_type (str): 'acs', '2.5d', '3d', 'mean_acs' or 'soft_acs'. Defaults to 'acs'.
        num_slices (int, optional): When set, ``forward`` refuses another input depth.
            Defaults to None.
        init_cfg (dict | list[dict], optional): As :class:`mmengine.model.BaseModule`; a
            ``Pretrained`` entry here is used like the inner one. Defaults to None.

    Shapes:
        - x (Tensor): (B, C, D, H, W).
        - outputs: the 2D backbone's outputs with the depth axis kept, (B, C_i, D, H_i, W_i).
    """

    def __init__(self,
                 backbone: dict,
                 conv_type: str = 'acs',
                 num_slices: Optional[int] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        name = type(self).__name__
        outer_ckpt, rest = split_pretrained_init_cfg(init_cfg, name)
        super().__init__(init_cfg=rest)
        check_conv_type(conv_type, name)

        backbone = copy.deepcopy(backbone)
        inner_ckpt, inner_rest = split_pretrained_init_cfg(backbone.pop('init_cfg', None), name)
        if inner_rest is not None:
            backbone['init_cfg'] = inner_rest
        self.pretrained = outer_ckpt or inner_ckpt
        self.conv_type = conv_type
        self.num_slices = num_slices
        model2d = MODELS.build(backbone)
        self.backbone = convert_2d_to_3d(model2d, conv=conv_type, keep_depth=True,
                                         i3d_inflate=True)

    def init_weights(self) -> None:
        """The inner backbone's own initialisation, then the 2D checkpoint (if any)."""
        super().init_weights()
        if self.pretrained is not None:
            load_2d_weights(self.backbone, self.pretrained['checkpoint'],
                            key_map={'backbone.': '', '': ''}, skip=self.pretrained['skip'],
                            expected_unused=(r'fc\.', r'classifier\.', r'head\.'))

    def forward(self, x: Tensor):
        """Args: x (Tensor): (B, C, D, H, W). Returns the converted backbone's outputs."""
        name = type(self).__name__
        if x.dim() != 5:
            raise ValueError(f'{name} expects input (B, C, D, H, W), got {tuple(x.shape)}')
        if self.num_slices is not None and x.shape[2] != self.num_slices:
            raise ValueError(f'{name} was built for num_slices={self.num_slices} but the input '
                             f'has D={x.shape[2]} (input shape {tuple(x.shape)})')
        return self.backbone(x)
