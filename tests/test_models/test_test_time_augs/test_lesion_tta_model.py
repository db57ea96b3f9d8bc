"""LesionDetTTAModel: views mapped back (boxes and masks) and merged, through mmcv's real
TestTimeAug pipeline; and tools/test.py's --tta config switch."""
import numpy as np
import pytest
import torch
from mmcv import transforms as mmcv_transforms
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from scipy import ndimage

from acsdet.engine.runner_setup import ConfigError, use_tta
from acsdet.models.test_time_augs import LesionDetTTAModel, unflip_masks
from acsdet.registry import MODELS


class BlobDetector(BaseModel):
    """A flip-equivariant 'detector': each bright connected blob of the (C, H, W) input is
    one detection (its box, its mask, score = its mean intensity), in the view's frame."""

    def forward(self, *args, **kwargs):  # pragma: no cover - test_step is all TTA calls
        raise NotImplementedError

    def test_step(self, data):
        out = []
        for img, sample in zip(data['inputs'], data['data_samples']):
            img = img.float().mean(0).numpy()
            lab, n = ndimage.label(img > 0.5)
            boxes, masks, scores = [], [], []
            for i, sl in enumerate(ndimage.find_objects(lab)):
                ys, xs = sl
                boxes.append([xs.start, ys.start, xs.stop, ys.stop])
                masks.append(lab == i + 1)
                scores.append(float(img[lab == i + 1].mean()))
            pred = InstanceData()
            pred.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
            pred.scores = torch.tensor(scores, dtype=torch.float32)
            pred.labels = torch.zeros(n, dtype=torch.long)
            pred.masks = torch.from_numpy(np.stack(masks)) if masks else \
                torch.zeros((0,) + img.shape, dtype=torch.bool)
            sample = sample.clone()
            sample.pred_instances = pred
            out.append(sample)
        return out


def _image():
    """(H, W, 3) with two asymmetric, asymmetrically placed blobs of different brightness."""
    img = np.zeros((40, 64, 3), np.float32)
    img[5:12, 3:15] = 0.9
    img[20:34, 40:47] = 0.7
    img[20:24, 47:52] = 0.7  # an L shape: its mask is not mirror-symmetric
    return img


def _tta_data():
    aug = mmcv_transforms.TestTimeAug(transforms=[
        [dict(type='mmdet.RandomFlip', prob=1.0, direction='horizontal'),
         dict(type='mmdet.RandomFlip', prob=0.0, direction='horizontal')],
        [dict(type='mmdet.PackDetInputs',
              meta_keys=('img_id', 'ori_shape', 'img_shape', 'flip', 'flip_direction'))]])
    img = _image()
    results = aug(dict(img=img, img_id=0, ori_shape=img.shape[:2], img_shape=img.shape[:2]))
    return pseudo_collate([results])


def test_unflipped_views_give_the_original_boxes_and_masks():
    model = LesionDetTTAModel(module=BlobDetector(),
                              tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                           max_per_img=10))
    data = _tta_data()
    assert [view[0].flip for view in data['data_samples']] == [True, False]
    views = [model.module.test_step({'inputs': inp, 'data_samples': ds})[0]
             for inp, ds in zip(data['inputs'], data['data_samples'])]
    flipped, plain = (v.pred_instances for v in views)
    # the flipped view's raw predictions differ from the original's (the merge must undo it)
    assert not torch.equal(flipped.bboxes.sort(0)[0], plain.bboxes.sort(0)[0])

    merged = model.test_step(data)[0].pred_instances
    order = plain.scores.argsort(descending=True)
    assert len(merged) == 2  # each blob found twice, merged to one by NMS
    torch.testing.assert_close(merged.bboxes, plain.bboxes[order])
    torch.testing.assert_close(merged.scores, plain.scores[order])
    assert torch.equal(merged.masks, plain.masks[order])
    assert merged.labels.tolist() == [0, 0]


def test_max_per_img_and_empty_views():
    model = LesionDetTTAModel(module=BlobDetector(),
                              tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                           max_per_img=1))
    merged = model.test_step(_tta_data())[0].pred_instances
    assert len(merged) == 1 and merged.scores.item() == pytest.approx(0.9)
    sample = DetDataSample(metainfo=dict(flip=False, flip_direction=None, ori_shape=(8, 8)))
    sample.pred_instances = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                                         labels=torch.zeros(0, dtype=torch.long))
    assert len(model._merge_single_sample([sample, sample.clone()]).pred_instances) == 0


def test_tta_cfg_is_checked():
    with pytest.raises(ValueError, match=r"tta_cfg needs \['max_per_img'\]"):
        LesionDetTTAModel(module=BlobDetector(), tta_cfg=dict(nms=dict(type='nms')))


def test_unflip_masks_directions():
    m = torch.arange(12).reshape(1, 3, 4)
    assert torch.equal(unflip_masks(m, True, 'horizontal'), m.flip(-1))
    assert torch.equal(unflip_masks(m, True, 'vertical'), m.flip(-2))
    assert torch.equal(unflip_masks(m, True, 'diagonal'), m.flip(-1).flip(-2))
    assert unflip_masks(m, False, None) is m
    with pytest.raises(ValueError, match="unknown flip direction 'sideways'"):
        unflip_masks(m, True, 'sideways')


def test_registered_in_the_acsdet_scope():
    assert MODELS.get('LesionDetTTAModel') is LesionDetTTAModel


def test_use_tta_switches_the_test_config(repo_root):
    cfg = Config.fromfile(f'{repo_root}/configs/acs_maskrcnn_deeplesion_3slices.py')
    detector = cfg.model.copy()
    use_tta(cfg)
    assert cfg.model.type == 'LesionDetTTAModel' and cfg.model.module == detector
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline[0].num_slices == 3 and pipeline[-1].type == 'TestTimeAug'


def test_use_tta_errors(repo_root):
    cfg = Config.fromfile(f'{repo_root}/configs/acs_maskrcnn_deeplesion.py')
    cfg = Config({k: v for k, v in cfg.to_dict().items() if k != 'tta_model'})
    with pytest.raises(ConfigError, match='--tta needs tta_model in the config'):
        use_tta(cfg)
    cfg = Config.fromfile(f'{repo_root}/configs/acs_maskrcnn_deeplesion_3slices.py')
    cfg.tta_pipeline[0]['num_slices'] = 7  # not the model's 3
    with pytest.raises(ConfigError, match='num_slices must agree'):
        use_tta(cfg)
