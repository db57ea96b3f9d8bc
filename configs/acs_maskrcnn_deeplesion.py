# ACS Mask R-CNN on DeepLesion, 7 slices, ImageNet-pretrained (the ACS paper's "ACS p." row of
# Table VII).  Siblings: 3d_maskrcnn_deeplesion.py (I3D-inflated 3D), 2.5d_maskrcnn_deeplesion.py,
# and *_3slices.py / *_9slices.py.  Swap the convolution in one line:
#   tools/train.py configs/acs_maskrcnn_deeplesion.py --cfg-options model.backbone.conv_type=3d
#
# ImageNet weights: a torchvision DenseNet-121 state dict saved to a local file, e.g. on a
# machine with internet access:
#   python -c "import torch, torchvision; torch.save(torchvision.models.densenet121(
#       weights='IMAGENET1K_V1').state_dict(), 'checkpoints/densenet121_torchvision.pth')"
# (or checkpoint='torchvision://densenet121' where the model hub is reachable).  The backbone
# loads it directly for ACS / 2.5D, I3D-inflated for 3D, the RGB stem summed to 1 channel
# (docs/detector.md).  Train from scratch ("r." rows) with model.backbone.init_cfg=None.
_base_ = [
    './_base_/models/maskrcnn_densenet3d_deeplesion.py',
    './_base_/datasets/deeplesion_multislice.py',
    './_base_/schedules/schedule_20e_paper.py',
    './_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        conv_type='acs',
        init_cfg=dict(type='Pretrained',
                      checkpoint='checkpoints/densenet121_torchvision.pth')))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best='froc/mean', rule='greater'))
