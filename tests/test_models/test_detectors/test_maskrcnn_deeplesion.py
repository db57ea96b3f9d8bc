"""The DeepLesion Mask R-CNN (truncated DenseNet-121 3D backbone + DepthSqueezeNeck + mmdet's
2D heads) trains and predicts on the CPU for every conv type, D = 3 and 7."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData

from acsdet.apis import register_all_modules
from acsdet.registry import MODELS, TASK_UTILS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
MODEL_CFG = osp.join(REPO, 'configs/_base_/models/maskrcnn_densenet3d_deeplesion.py')


def _model_cfg(conv_type='acs', num_slices=7):
    cfg = copy.deepcopy(Config.fromfile(MODEL_CFG).model)
    cfg.backbone.conv_type = conv_type
    cfg.backbone.num_slices = num_slices
    cfg.neck.num_slices = num_slices
    return cfg


def _batch(num_slices, size=64, seed=0):
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    for _ in range(1):
        img = torch.from_numpy(rng.normal(0, 1, (1, num_slices, size, size)).astype(np.float32))
        mask = np.zeros((1, size, size), np.uint8)
        mask[0, 20:40, 16:44] = 1
        img[:, :, 20:40, 16:44] += 2.
        s = DetDataSample(metainfo=dict(img_id=0, img_path='x.png', ori_shape=(size, size),
                                        img_shape=(size, size), scale_factor=(1., 1.),
                                        flip=False, flip_direction=None, slice_interval=2.0))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[16., 20., 44., 40.]]),
                                      labels=torch.tensor([0]),
                                      masks=BitmapMasks(mask, size, size))
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module', autouse=True)
def _register():
    register_all_modules(init_default_scope=True)


@pytest.mark.slow
@pytest.mark.parametrize('conv_type', ['acs', '2.5d', '3d'])
@pytest.mark.parametrize('num_slices', [3, 7])
def test_loss_backward_predict(conv_type, num_slices):
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg(conv_type, num_slices))
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_batch(num_slices), training=True)
    assert data['inputs'].shape == (1, 1, num_slices, 64, 64)
    losses = model.loss(data['inputs'], data['data_samples'])
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert key in losses
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v) for v in losses.values())
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.denseblock1.denselayer1.conv2.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.neck.squeeze_convs[2].weight.grad.abs().sum() > 0
    assert losses['loss_mask'].item() > 0  # the Dice mask loss is live (see DiceFCNMaskHead)

    model.eval()
    data = model.data_preprocessor(_batch(num_slices, seed=1), training=False)
    with torch.no_grad():
        preds = model.predict(data['inputs'], data['data_samples'])
    pred = preds[0].pred_instances
    n = len(pred)
    assert n <= 50
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, )
    assert pred.masks.shape == (n, 64, 64)
    assert (pred.labels == 0).all()


def test_anchor_sizes_are_the_papers():
    gen = TASK_UTILS.build(Config.fromfile(MODEL_CFG).model.rpn_head.anchor_generator)
    (base, ) = gen.base_anchors
    w = base[:, 2] - base[:, 0]
    h = base[:, 3] - base[:, 1]
    assert gen.strides == [(4, 4)] and gen.num_base_anchors == [18]
    square = torch.isclose(w, h)
    assert sorted(w[square].tolist()) == [16., 24., 32., 48., 96., 192.]
    # every size at every ratio 0.5 / 1 / 2 (mmdet rounds the sides: 2% tolerance)
    sizes = torch.tensor([16., 24., 32., 48., 96., 192.])
    for ratio in (0.5, 1., 2.):
        sel = torch.isclose(h / w, torch.tensor(ratio), rtol=0.05)
        assert torch.allclose(torch.sort((w[sel] * h[sel]).sqrt()).values, sizes, rtol=0.02)


def test_paper_settings_in_config():
    cfg = Config.fromfile(MODEL_CFG).model
    assert cfg.roi_head.bbox_roi_extractor.roi_layer.output_size == 7
    assert cfg.roi_head.mask_roi_extractor.roi_layer.output_size == 14
    assert cfg.roi_head.bbox_roi_extractor.featmap_strides == [4]
    assert cfg.roi_head.bbox_head.type == 'Shared2FCBBoxHead'
    assert cfg.roi_head.bbox_head.num_classes == cfg.roi_head.mask_head.num_classes == 1
    assert cfg.roi_head.mask_head.loss_mask.type == 'DiceLoss'
    assert cfg.test_cfg.rcnn.max_per_img == 50


def test_dice_mask_head_loss_is_not_zero_unlike_the_stock_head():
    """mmdet's FCNMaskHead passes labels (all 0 for one class) as DiceLoss weights -> 0."""
    from mmengine.config import ConfigDict
    torch.manual_seed(0)
    kw = dict(num_convs=1, in_channels=4, conv_out_channels=4, num_classes=1,
              loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate=True))
    ours = MODELS.build(dict(type='DiceFCNMaskHead', **kw))
    stock = MODELS.build(dict(type='FCNMaskHead', **kw))
    preds = torch.randn(2, 1, 28, 28, requires_grad=True)
    targets = (torch.rand(2, 28, 28) > 0.5).float()

    class _Res:  # the two fields loss_and_target reads from a SamplingResult
        pos_gt_labels = torch.zeros(2, dtype=torch.long)

    for head in (ours, stock):
        head.get_targets = lambda **_: targets
    cfg = ConfigDict(mask_size=28)
    loss_ours = ours.loss_and_target(preds, [_Res()], [None], cfg)['loss_mask']['loss_mask']
    loss_stock = stock.loss_and_target(preds, [_Res()], [None], cfg)['loss_mask']['loss_mask']
    assert loss_stock.item() == 0.0
    p = preds.sigmoid().flatten(1)
    t = targets.flatten(1)
    dice = 1 - 2 * (p * t).sum(1) / ((p * p).sum(1) + 1e-3 + (t * t).sum(1) + 1e-3)
    assert torch.allclose(loss_ours, dice.mean(), atol=1e-6)
    loss_ours.backward()
    assert preds.grad.abs().sum() > 0


def test_wrong_depth_between_backbone_and_neck_fails_clearly():
    cfg = _model_cfg('2.5d', 3)
    cfg.neck.num_slices = 7
    model = MODELS.build(cfg)
    model.eval()
    data = model.data_preprocessor(_batch(3), training=False)
    with pytest.raises(ValueError, match=r'DepthSqueezeNeck was built for num_slices=7 but '
                                         r'level 0 has shape \(1, 256, 3, 16, 16\)'):
        model.predict(data['inputs'], data['data_samples'])


@pytest.mark.slow
def test_converted_resnet50_acs_maskrcnn_trains_and_predicts():
    """backbone=dict(type='Converted3DBackbone', conv_type='acs', backbone=ResNet-50) + the
    depth-squeezing neck (FPN style) + mmdet's Mask R-CNN heads."""
    cfg = copy.deepcopy(Config.fromfile(MODEL_CFG).model)
    cfg.backbone = dict(type='Converted3DBackbone', conv_type='acs', num_slices=3,
                        backbone=dict(type='mmdet.ResNet', depth=50, in_channels=1,
                                     frozen_stages=-1, norm_eval=False))
    cfg.neck = dict(type='DepthSqueezeNeck', in_channels=[256, 512, 1024, 2048],
                    num_slices=3, out_channels=64, num_outs=4)
    cfg.rpn_head.in_channels = cfg.rpn_head.feat_channels = 64
    cfg.rpn_head.anchor_generator = dict(type='AnchorGenerator', scales=[8],
                                         ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32])
    for ext in ('bbox_roi_extractor', 'mask_roi_extractor'):
        cfg.roi_head[ext].out_channels = 64
        cfg.roi_head[ext].featmap_strides = [4, 8, 16, 32]
    cfg.roi_head.bbox_head.in_channels = cfg.roi_head.mask_head.in_channels = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_batch(3), training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert torch.isfinite(loss)
    # (mmdet zero-inits each residual branch's last BN, so check the stem's gradient)
    assert model.backbone.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    data = model.data_preprocessor(_batch(3, seed=1))
    with torch.no_grad():
        pred = model.predict(data['inputs'], data['data_samples'])
    assert pred[0].pred_instances.masks.shape[1:] == (64, 64)
