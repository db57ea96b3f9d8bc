# 2.5D Mask R-CNN (per-slice 2D convolutions, ImageNet DenseNet-121), 7 slices: "2.5D p.".
_base_ = './acs_maskrcnn_deeplesion.py'
model = dict(backbone=dict(conv_type='2.5d'))
