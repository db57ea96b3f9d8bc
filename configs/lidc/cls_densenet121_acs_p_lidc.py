# The "p." row of cls_densenet121_acs_lidc.py: torchvision's ImageNet weights, from a local file
# (no download at run time): save torchvision.models.densenet121(weights='DEFAULT').state_dict() to
# checkpoints/densenet121-a639ec97.pth, or pass another path with --cfg-options
# model.network.init_cfg.checkpoint=PATH.
_base_ = ['./cls_densenet121_acs_lidc.py']

model = dict(network=dict(init_cfg=dict(checkpoint='checkpoints/densenet121-a639ec97.pth')))
