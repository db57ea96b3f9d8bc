"""The proof-of-concept pieces: 2D -> 3D transfer skipping the classifier (3 vs 6 classes),
the ``loss_ce`` name of the segmentation cross-entropy, and VolumeSegmentor on 2D images."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from acsdet.models.converters import load_2d_weights
from acsdet.models.losses import SegCrossEntropyLoss, SoftDiceLoss
from acsdet.models.seg_networks import ConvertedUNet3D, UNet2D
from acsdet.models.segmentors import VolumeSegmentor
from acsdet.testing import with_2d_weights

WIDTHS = (4, 8, 12)
UNET3D = dict(type='UNet2D', in_channels=1, num_classes=6, widths=WIDTHS)


@pytest.fixture
def unet2d_3cls(tmp_path):
    """A 3-class 2D U-Net (the poc_2d task) saved as a VolumeSegmentor checkpoint of the
    layout before issue 13 (``backbone.`` keys: such files still load)."""
    torch.manual_seed(0)
    net = UNet2D(in_channels=1, num_classes=3, widths=WIDTHS)
    for m in net.modules():  # non-default BN statistics, so that their transfer is visible
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / 'unet2d_poc2d.pth'
    torch.save(dict(meta=dict(epoch=3),
                    state_dict={f'backbone.{k}': v for k, v in net.state_dict().items()}), path)
    return net, str(path)


@pytest.mark.parametrize('conv_type', ['acs', '2.5d'])
def test_transfer_skips_only_the_classifier(unet2d_3cls, conv_type):
    net2d, path = unet2d_3cls
    torch.manual_seed(1)
    model = with_2d_weights(ConvertedUNet3D, path, skip=('classifier', ), unet=UNET3D,
                            conv_type=conv_type)
    torch.manual_seed(1)
    fresh = ConvertedUNet3D(UNET3D, conv_type=conv_type)  # same random init, nothing loaded
    own, src = model.unet.state_dict(), net2d.state_dict()
    assert set(own) == set(src)
    for key, value in own.items():
        if key.startswith('classifier.'):  # 6 classes: kept from the random initialisation
            assert value.shape[0] == 6
            assert torch.equal(value, fresh.unet.state_dict()[key])
        else:  # ACS / 2.5D keep the 2D tensors (2.5D as (Cout, Cin, 1, 3, 3))
            assert torch.equal(value.reshape(src[key].shape), src[key]), key
    assert not torch.equal(model.unet.encoder[0][0].weight.reshape(-1),
                           fresh.unet.encoder[0][0].weight.reshape(-1))
    assert model(torch.randn(1, 1, 8, 8, 8)).shape == (1, 6, 8, 8, 8)


def test_transfer_without_skip_or_with_other_mismatch_fails(unet2d_3cls, tmp_path):
    _, path = unet2d_3cls
    with pytest.raises(KeyError, match=r'unet2d_poc2d.pth: not a 2D checkpoint of '
                       r"ConvertedUNet3D: missing keys \[\], unexpected keys \[\], other shapes "
                       r"\['unet.classifier.weight: \(3, 4, 1, 1\) -> \(6, 4, 1, 1\)', "
                       r"'unet.classifier.bias: \(3,\) -> \(6,\)'\]"):
        with_2d_weights(ConvertedUNet3D, path, unet=UNET3D, conv_type='acs')
    # skipping the classifier does not excuse any other mismatch (other widths)
    other = tmp_path / 'wide.pth'
    torch.save(UNet2D(num_classes=3, widths=(4, 8, 16)).state_dict(), other)
    with pytest.raises(KeyError, match=r"wide.pth: .*other shapes \['unet.encoder.2.0.weight: "
                       r"\(16, 8, 3, 3\) -> \(12, 8, 3, 3\)'"):
        with_2d_weights(ConvertedUNet3D, str(other), skip=['classifier'], unet=UNET3D,
                        conv_type='acs')
    # a prefix matches whole module names only: 'classifier' does not cover 'classifier2'
    model = UNet2D(num_classes=3, widths=WIDTHS)
    model.classifier2 = torch.nn.Conv2d(4, 2, 1)
    with pytest.raises(KeyError, match=r"missing keys \['classifier2.weight', "
                       r"'classifier2.bias'\]"):
        load_2d_weights(model, path, require='all', skip=('classifier', ))


def test_seg_cross_entropy_named_loss_ce():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 3, 5, 6)
    labels = torch.randint(0, 4, (2, 3, 5, 6))
    loss = SegCrossEntropyLoss()
    assert loss.loss_name == 'loss_ce'
    torch.testing.assert_close(loss(logits, labels), F.cross_entropy(logits, labels))
    weighted = SegCrossEntropyLoss(loss_weight=0.5, class_weight=[1.0, 2.0, 1.0, 3.0])
    torch.testing.assert_close(weighted(logits, labels), 0.5 * F.cross_entropy(
        logits, labels, weight=torch.tensor([1.0, 2.0, 1.0, 3.0]), reduction='none').mean())

    seg = VolumeSegmentor(
        network=dict(type='ConvertedUNet3D', unet=UNET3D, conv_type='acs'),
        loss=[dict(type='SoftDiceLoss', ignore_background=True, loss_name='loss_dice'),
              dict(type='SegCrossEntropyLoss')])
    losses = seg(torch.randn(1, 1, 8, 8, 8),
                 [BaseDataElement(gt_sem_seg=torch.randint(0, 6, (8, 8, 8)))], mode='loss')
    assert sorted(losses) == ['loss_ce', 'loss_dice']


def test_volume_segmentor_on_2d_images():
    torch.manual_seed(0)
    seg = VolumeSegmentor(network=dict(type='UNet2D', num_classes=3, widths=WIDTHS),
                          loss=[dict(type='SoftDiceLoss', loss_name='loss_dice'),
                                dict(type='SegCrossEntropyLoss')])
    images = [torch.randn(1, 16, 12) for _ in range(2)]
    labels = [torch.randint(0, 3, (16, 12)) for _ in range(2)]
    samples = [BaseDataElement(gt_sem_seg=BaseDataElement(data=lab)) for lab in labels]
    logits = seg(images, mode='tensor')
    assert logits.shape == (2, 3, 16, 12)
    losses = seg(images, samples, mode='loss')
    ce = F.cross_entropy(logits, torch.stack(labels))
    torch.testing.assert_close(losses['loss_ce'], ce)
    torch.testing.assert_close(losses['loss_dice'], SoftDiceLoss()(logits, torch.stack(labels)))
    seg.eval()
    preds = seg(images, [BaseDataElement() for _ in images], mode='predict')
    assert torch.equal(preds[1].pred_sem_seg.data, seg(images, mode='tensor')[1].argmax(0))
    with pytest.raises(ValueError, match=r'gt_sem_seg of data sample 0 must be \(H, W\) or '
                                         r'\(1, H, W\), got shape \(2, 16, 12\)'):
        seg(images, [BaseDataElement(gt_sem_seg=torch.zeros(2, 16, 12))] * 2, mode='loss')
    with pytest.raises(ValueError, match=r'inputs must be \(B, C, D, H, W\) or \(B, C, H, W\), '
                                         r'got shape \(1, 16, 12\)'):
        seg(torch.randn(1, 16, 12))
    # sliding windows over images: window (h, w)
    slide = VolumeSegmentor(network=dict(type='UNet2D', num_classes=3, widths=WIDTHS),
                            test_cfg=dict(mode='slide', window=(8, 8), overlap=0.5)).eval()
    out = slide(images, [BaseDataElement() for _ in images], mode='predict')
    assert out[0].pred_sem_seg.data.shape == (16, 12)
