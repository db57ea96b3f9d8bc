# The "p." row of cls_r18_2.5d_lidc.py: torchvision's ImageNet weights, from a local file (no
# download at run time): save torchvision.models.resnet18(weights='DEFAULT').state_dict() to
# checkpoints/resnet18-f37072fd.pth, or pass another path with --cfg-options
# model.network.init_cfg.checkpoint=PATH.
_base_ = ['./cls_r18_2.5d_lidc.py']

model = dict(network=dict(init_cfg=dict(checkpoint='checkpoints/resnet18-f37072fd.pth')))
