"""Fixtures of the segmentation network tests: non-trivial BatchNorm statistics and a random
torchvision ResNet-18 state dict file (stand-in for the ImageNet file; no model hub)."""
import pytest
import torch
from torchvision.models import resnet18


def _randomise_bn(model: torch.nn.Module, seed: int = 1) -> None:
    """Random BN statistics / affine (2D or 3D BN, in module order) so that eval-mode
    equivalences mean something."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.fixture(scope='session')
def randomise_bn():
    """``randomise_bn(model, seed=1)``: random BN statistics and affine parameters."""
    return _randomise_bn


@pytest.fixture(scope='module')
def resnet18_file(tmp_path_factory):
    """(eval-mode torchvision resnet18 with random weights and BN, path of its state dict
    saved as torchvision's ImageNet file is laid out, ``fc.*`` included)."""
    torch.manual_seed(0)
    net = resnet18(weights=None)
    _randomise_bn(net)
    path = tmp_path_factory.mktemp('tv') / 'resnet18.pth'
    torch.save(net.state_dict(), path)
    return net.eval(), str(path)
