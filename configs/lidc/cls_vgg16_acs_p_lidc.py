# The "p." row of cls_vgg16_acs_lidc.py: torchvision's ImageNet weights, from a local file (no
# download at run time): save torchvision.models.vgg16_bn(weights='DEFAULT').state_dict() to
# checkpoints/vgg16_bn-6c64b313.pth, or pass another path with --cfg-options
# model.network.init_cfg.checkpoint=PATH.
_base_ = ['./cls_vgg16_acs_lidc.py']

model = dict(network=dict(init_cfg=dict(checkpoint='checkpoints/vgg16_bn-6c64b313.pth')))
