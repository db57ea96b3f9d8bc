"""Whole classification feature extractors, (B, C, [D,] H, W) -> features (B, C', ...),
built in 2D from torchvision and converted as a whole; wrapped by
:class:`acsdet.models.classifiers.VolumeClassifier` (config key ``network``)."""
from .cls_densenet3d import ClsDenseNet3D
from .cls_resnet3d import ClsResNet3D
from .cls_vgg3d import ClsVGG3D
from .torchvision_cls_network import TorchvisionClsNetwork, torchvision_features

__all__ = ['TorchvisionClsNetwork', 'torchvision_features', 'ClsResNet3D', 'ClsVGG3D',
           'ClsDenseNet3D']
