"""The ACS paper's LiTS liver / tumour model (section IV-C): DeepLabv3+ (Chen et al. 2018,
ref. [34]) on a torchvision ResNet-101, built in 2D and converted as a whole to ACS / 2.5D / 3D.

Layout (DeepLabv3+ paper; the ACS paper gives no further detail):

* Encoder: torchvision ResNet (stem 7x7 stride 2 + max-pool), the last stage(s) dilated instead
  of strided for output stride 16 (``layer4`` dilation 2, ASPP rates 6 / 12 / 18: the v3+
  training setting, the default here) or 8 (``layer3`` / ``layer4`` dilations 2 / 4, rates
  12 / 24 / 36: the geometry of torchvision's ``deeplabv3_resnet101``).
* ASPP: torchvision's ``ASPP`` module (1x1, three dilated 3x3, image pooling, 1x1 projection
  with dropout 0.5); its image-pooling branch upsamples with a functional call, which the
  converter handles (class swap to ``acsdet.models.converters.ASPPPooling3d``).
* v3+ decoder: ASPP output upsampled (bilinear, x output_stride / 4) to the ``layer1`` (stride
  4) features, which get a 1x1 conv to 48 channels + BN + ReLU; concatenation, two 3x3 conv 256
  + BN + ReLU, a 1x1 classifier and x4 bilinear upsampling to the input size.

Only modules do spatial work in ``forward``, so the same ``forward`` runs on (B, C, H, W) and,
converted, on (B, C, D, H, W) (bilinear ``nn.Upsample`` becomes trilinear; depth is strided and
dilated like height).  Written here because torchvision has DeepLabv3 but not v3+, and its
``DeepLabHead`` has no low-level branch.
"""
import torch
import torch.nn as nn
from torchvision.models.segmentation.deeplabv3 import ASPP

from acsdet.models.backbones.resnet_body import ResNetBody
from acsdet.models.converters import ConvertibleNetwork
from acsdet.registry import MODELS

__all__ = ['DeepLabV3PlusResNet3D']

#: output stride -> (strides of layer1..4, dilations of layer1..4, ASPP rates)
_GEOMETRY = {
    16: ((1, 2, 2, 1), (1, 1, 1, 2), (6, 12, 18)),
    8: ((1, 2, 1, 1), (1, 1, 2, 4), (12, 24, 36)),
}


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> list:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True)
    ]


@MODELS.register_module()
class DeepLabV3PlusResNet3D(ConvertibleNetwork):
    """DeepLabv3+ with a ResNet encoder, in 2D or converted to 3D (ACS paper, LiTS).

    Args:
        num_classes (int): Output channels (logits). Defaults to 3 (background, liver,
            tumour).
        in_channels (int): Input channels. Defaults to 1.
        depth (int): ResNet depth: 101 in the paper; 18 / 34 / 50 for smaller models (tests).
            Defaults to 101.
        output_stride (int): 16 or 8 (see the module docstring). Defaults to 16.
        aspp_channels (int): Channels of the ASPP branches. Defaults to 256.
        low_level_channels (int): Channels of the 1x1 projection of the ``layer1`` features.
            Defaults to 48.
        decoder_channels (int): Channels of the two 3x3 decoder convs. Defaults to 256.
        conv_type (str): ``'acs'``, ``'2.5d'``, ``'3d'``, ``'mean_acs'``, ``'soft_acs'``, or
            ``'2d'`` (the 2D network). Defaults to ``'acs'``.
        i3d_inflate (bool): With ``conv_type='3d'``, I3D-inflate the 2D kernels; False keeps
            random 3x3x3 kernels. Defaults to True.
        init_cfg (dict | None): ``dict(type='Pretrained', checkpoint=PATH)``: 2D weights
            applied by ``init_weights()`` (RGB stem summed to the input channel;
            :class:`.ConvertibleNetwork`): a torchvision ResNet state dict of the same
            depth (the encoder: the paper's "p."), a torchvision ``deeplabv3_resnet{50,101}``
            state dict (encoder + ASPP, its ``classifier.0``: the paper's whole-network "p.WN"
            up to the v3+ decoder; use ``output_stride=8`` for its ASPP rates), or a
            checkpoint of this network in 2D (everything). Parts not in the file start random.
            Defaults to None ("r.").

    Shape:
        x (Tensor): (B, in_channels, D, H, W) -> logits (B, num_classes, D, H, W) (2D: (B, C,
        H, W) -> (B, K, H, W)); every spatial size divisible by ``output_stride``. Training
        needs a batch of at least 2 (BatchNorm of the ASPP image-pooling branch sees one value
        per channel and sample).
    """

    #: checkpoint prefix -> module prefix: this network in 2D, torchvision's DeepLabV3 (ASPP =
    #: ``classifier.0``), a bare ResNet
    key_map = {
        'backbone.': 'backbone.', 'aspp.': 'aspp.', 'low_level.': 'low_level.',
        'decoder.': 'decoder.', 'classifier.0.': 'aspp.', 'classifier.': 'classifier.',
        '': 'backbone.'
    }

    def __init__(self,
                 num_classes: int = 3,
                 in_channels: int = 1,
                 depth: int = 101,
                 output_stride: int = 16,
                 aspp_channels: int = 256,
                 low_level_channels: int = 48,
                 decoder_channels: int = 256,
                 conv_type: str = 'acs',
                 i3d_inflate: bool = True,
                 init_cfg=None) -> None:
        if output_stride not in _GEOMETRY:
            raise ValueError(f'DeepLabV3PlusResNet3D: output_stride must be 8 or 16, got '
                             f'{output_stride}')
        super().__init__(conv_type, i3d_inflate, init_cfg=init_cfg)
        strides, dilations, rates = _GEOMETRY[output_stride]
        self.num_classes = num_classes
        self.output_stride = self.size_divisor = output_stride
        self.backbone = ResNetBody(depth, in_channels, stem_stride=2, max_pool=True,
                                   strides=strides, dilations=dilations)
        _, c1_ch, _, _, c4_ch = self.backbone.out_channels
        self.aspp = ASPP(c4_ch, list(rates), aspp_channels)
        self.aspp_up = nn.Upsample(scale_factor=output_stride // 4, mode='bilinear',
                                   align_corners=False)
        self.low_level = nn.Sequential(*_conv_bn_relu(c1_ch, low_level_channels, 1))
        self.decoder = nn.Sequential(
            *_conv_bn_relu(aspp_channels + low_level_channels, decoder_channels, 3),
            *_conv_bn_relu(decoder_channels, decoder_channels, 3))
        self.classifier = nn.Conv2d(decoder_channels, num_classes, 1)
        self.out_up = nn.Upsample(scale_factor=4, mode='bilinear', align_corners=False)
        self.convert()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor): (B, C, D, H, W) (2D: (B, C, H, W)) -> logits of the same size."""
        self.check_input(x)
        _, c1, _, _, c4 = self.backbone(x)
        y = torch.cat([self.aspp_up(self.aspp(c4)), self.low_level(c1)], dim=1)
        return self.out_up(self.classifier(self.decoder(y)))
